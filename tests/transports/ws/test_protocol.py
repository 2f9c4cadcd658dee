"""The sans-I/O connection (ws/protocol.py) without sockets: every protocol violation
and its close code, max_size from the header, the closing handshake both ways, ping and
pong, a handler that closes mid-read, and what a client end refuses."""

from __future__ import annotations

import struct

import pytest

from wavewire.transports.connection import ConnState

from ._peer import End, frame


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (frame(2, b"x", masked=False), 1002),
        (frame(2, b"x", rsv=0x40), 1002),
        (frame(3, b"x"), 1002),
        (frame(11, b"x"), 1002),
        (frame(9, b"x" * 126), 1002),
        (frame(9, b"x", fin=False), 1002),
        (frame(0, b"x"), 1002),
        (frame(2, b"x", fin=False) + frame(2, b"y"), 1002),
        (frame(1, b"\xff\xfe"), 1007),
        (frame(1, b"ok", fin=False) + frame(0, b"\xc3"), 1007),
        (frame(8, b"\x03"), 1002),
        (frame(8, struct.pack("!H", 1005)), 1002),
        (frame(8, struct.pack("!H", 2999)), 1002),
        (frame(8, struct.pack("!H", 1000) + b"\xff"), 1007),
        (bytes((0x82, 0xFF)) + (1 << 63).to_bytes(8, "big"), 1002),
    ],
    ids=["unmasked", "rsv", "data-opcode", "control-opcode", "long-ping", "fragmented-ping",
         "lone-continuation", "interleaved", "bad-utf8", "bad-utf8-fragmented",
         "short-close", "reserved-code", "unassigned-code", "bad-reason", "length-bit-63"],
)
def test_violations_fail_with_their_close_code(data: bytes, code: int) -> None:
    server = End()
    server.ws.receive_data(frame(2, b"before") + data + frame(2, b"after"))
    assert server.messages == [b"before"]  # nothing from or after the bad frame
    assert server.close_sent() == code
    assert server.ws.state is ConnState.CLOSING and server.ws.sent_code == code
    assert server.ends == 1
    server.ws.receive_data(frame(2, b"later"))  # input has ended
    assert server.messages == [b"before"] and server.written == []


@pytest.mark.parametrize("code", [1000, 1001, 1003, 1007, 1011, 1014, 3000, 4999])
def test_valid_close_codes_are_accepted_and_echoed(code: int) -> None:
    server = End()
    server.ws.receive_data(frame(8, struct.pack("!H", code) + "bye ☃".encode()))
    assert server.close_sent() == code
    assert (server.ws.rcvd_code, server.ws.rcvd_reason) == (code, "bye ☃")
    assert server.ws.state is ConnState.CLOSING and server.ends == 1


def test_oversize_is_refused_from_the_header_alone() -> None:
    server = End(max_size=1000)
    server.ws.receive_data(frame(2, b"a" * 1000))
    assert server.messages == [b"a" * 1000]
    server.ws.receive_data(bytes((0x82, 0x80 | 127)) + (10_000_000).to_bytes(8, "big"))
    assert server.close_sent() == 1009
    assert server.ws.buffered == 0


def test_oversize_counts_every_fragment_and_none_means_no_limit() -> None:
    server = End(max_size=100)
    server.ws.receive_data(frame(2, b"a" * 60, fin=False) + frame(0, b"b" * 60))
    assert server.messages == [] and server.close_sent() == 1009
    unlimited = End(max_size=None)
    assert unlimited.ws.max_size is None
    unlimited.ws.receive_data(frame(2, b"c" * 70000))
    assert unlimited.messages == [b"c" * 70000]


def test_a_peer_close_is_answered_and_ends_input() -> None:
    server = End()
    server.ws.receive_data(frame(8, struct.pack("!H", 4001) + b"bye") + frame(2, b"after"))
    assert server.close_sent() == 4001 and server.ws.sent_code == 4001
    assert server.messages == [] and server.ends == 1
    server.ws.connection_lost()
    assert server.ws.state is ConnState.CLOSED and server.ws.rcvd_code == 4001


def test_an_empty_close_is_1005_and_answered_empty() -> None:
    server = End()
    server.ws.receive_data(frame(8))
    assert server.frames() == [(8, True, b"")]
    assert server.ws.rcvd_code == 1005 and server.ws.sent_code is None


def test_our_close_drops_data_until_the_answer_then_ends() -> None:
    server = End()
    server.ws.close(1000, "done")
    assert server.frames() == [(8, True, struct.pack("!H", 1000) + b"done")]
    assert server.ws.state is ConnState.CLOSING and server.ends == 0
    server.ws.receive_data(frame(2, b"ignored") + frame(9, b"p"))
    assert server.messages == [] and server.written == []  # no pong while closing
    assert server.ws.messages_in == 1  # counted, not delivered
    server.ws.receive_data(frame(8, struct.pack("!H", 1000)))
    assert server.written == [] and server.ends == 1  # answered: nothing more to send
    assert server.ws.rcvd_code == 1000


def test_a_long_close_reason_is_cut_to_fit_a_control_frame() -> None:
    server = End()
    server.ws.close(1000, "x" * 500)
    ((_, _, payload),) = server.frames()
    assert len(payload) == 125


def test_a_connection_lost_without_a_close_frame_is_1006() -> None:
    server = End()
    server.ws.connection_lost()
    error = server.ws.closed_error()
    assert (error.code, error.sent_code) == (1006, None)


def test_pings_are_answered_and_only_our_pong_counts() -> None:
    server = End()
    server.ws.receive_data(frame(9, b"hello"))
    assert server.frames() == [(10, True, b"hello")]
    payload = server.ws.ping()
    assert server.frames() == [(9, True, payload)] and server.ws.ping_payload == payload
    server.ws.receive_data(frame(10, b"other"))
    assert server.ws.ping_payload == payload
    server.ws.receive_data(frame(10, payload))
    assert server.ws.ping_payload is None


def test_failing_after_our_close_sends_no_second_close() -> None:
    server = End()
    server.ws.close(1001)
    server.frames()
    server.ws.receive_data(frame(2, b"x", masked=False))
    assert server.written == [] and server.ends == 1 and server.ws.sent_code == 1001


def test_a_handler_that_closes_mid_read_gets_nothing_after() -> None:
    got: list[bytes | str] = []
    server = End()

    def handler(message: bytes | str) -> None:
        got.append(message)
        if message == b"s" * 200:
            server.ws.close(1000)

    server.ws.on_message = handler
    data = b"".join(frame(2, m) for m in (b"a" * 200, b"s" * 200, b"c" * 200))
    server.ws.read_buffer[:len(data)] = data
    server.ws.receive_into(len(data))
    assert got == [b"a" * 200, b"s" * 200]


def test_a_client_end_refuses_masked_frames_and_masks_its_own() -> None:
    client = End(client=True)
    client.ws.receive_data(frame(2, b"x", masked=True))
    assert client.ws.state is ConnState.CLOSING
    ((op, _, payload),) = client.frames()  # its close frame, masked, parses back
    assert op == 8 and struct.unpack("!H", payload[:2])[0] == 1002
    client2 = End(client=True)
    client2.ws.send(b"abc")
    assert client2.written[0][1] & 0x80 and client2.frames() == [(2, True, b"abc")]
