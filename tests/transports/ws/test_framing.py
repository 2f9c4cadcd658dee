"""The one frame serializer and parser (ws/framing.py) without sockets: RFC 6455 §5.7's
examples byte for byte, round trips in both roles for every length encoding, fragments,
any segmentation of the stream, the read-buffer entry and its usual-frame case."""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wavewire.transports.ws import framing
from wavewire.transports.ws.handshake import accept_key

from ._peer import End, frame, parse

RFC_KEY = bytes((0x37, 0xFA, 0x21, 0x3D))


def fixed_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(framing.os, "urandom", lambda n: RFC_KEY)


def test_rfc_single_frame_unmasked_text() -> None:
    server = End()
    assert server.ws.encode("Hello") == bytes((0x81, 0x05, 0x48, 0x65, 0x6C, 0x6C, 0x6F))
    client = End(client=True)
    client.ws.receive_data(bytes((0x81, 0x05, 0x48, 0x65, 0x6C, 0x6C, 0x6F)))
    assert client.messages == ["Hello"]


def test_rfc_single_frame_masked_text(monkeypatch: pytest.MonkeyPatch) -> None:
    wire = bytes((0x81, 0x85, 0x37, 0xFA, 0x21, 0x3D, 0x7F, 0x9F, 0x4D, 0x51, 0x58))
    fixed_key(monkeypatch)
    assert End(client=True).ws.encode("Hello") == wire
    server = End()
    server.ws.receive_data(wire)
    assert server.messages == ["Hello"]


def test_rfc_fragmented_unmasked_text() -> None:
    client = End(client=True)
    client.ws.receive_data(bytes((0x01, 0x03, 0x48, 0x65, 0x6C)))
    assert client.messages == []
    client.ws.receive_data(bytes((0x80, 0x02, 0x6C, 0x6F)))
    assert client.messages == ["Hello"]


def test_rfc_unmasked_ping_and_masked_pong(monkeypatch: pytest.MonkeyPatch) -> None:
    fixed_key(monkeypatch)
    client = End(client=True)
    client.ws.receive_data(bytes((0x89, 0x05, 0x48, 0x65, 0x6C, 0x6C, 0x6F)))
    assert client.written == [bytes((0x8A, 0x85, 0x37, 0xFA, 0x21, 0x3D, 0x7F, 0x9F, 0x4D,
                                     0x51, 0x58))]


@pytest.mark.parametrize(("size", "head"), [(256, b"\x82\x7e\x01\x00"),
                                            (65536, b"\x82\x7f" + (65536).to_bytes(8, "big"))])
def test_rfc_binary_in_one_unmasked_frame(size: int, head: bytes) -> None:
    payload = os.urandom(size)
    assert End().ws.encode(payload) == head + payload
    client = End(client=True)
    client.ws.receive_data(head + payload)
    assert client.messages == [payload]


@pytest.mark.parametrize("size", [0, 1, 125, 126, 640, 65535, 65536, 70000])
@pytest.mark.parametrize("client", [False, True], ids=["server-sends", "client-sends"])
def test_round_trip_every_length_encoding_in_both_roles(size: int, client: bool) -> None:
    sender, receiver = End(client=client), End(client=not client)
    payload = os.urandom(size)
    data = sender.ws.encode(payload) + sender.ws.encode("é" * (size // 2))
    assert parse(data)[0] == (2, True, payload)  # masked exactly when the client sends
    assert (data[1] & 0x80 != 0) is client
    receiver.ws.receive_data(data)
    assert receiver.messages == [payload, "é" * (size // 2)]
    assert sender.ws.messages_out == 2 == receiver.ws.messages_in
    assert sender.ws.bytes_out == size + 2 * (size // 2) == receiver.ws.bytes_in


def test_fragments_are_reassembled_with_control_frames_between() -> None:
    server = End()
    text = "ünïcode".encode()
    server.ws.receive_data(frame(2, b"ab", fin=False) + frame(9, b"p1") + frame(0, b"cd", fin=False)
                           + frame(0, b"ef") + frame(1, text[:3], fin=False) + frame(0, text[3:]))
    assert server.messages == [b"abcdef", "ünïcode"]
    assert server.frames() == [(10, True, b"p1")]  # the ping was answered in between
    assert server.ws.messages_in == 2 and server.ws.bytes_in == 6 + len(text)


@settings(max_examples=60, deadline=None)
@given(sizes=st.lists(st.integers(0, 3000), min_size=1, max_size=10),
       cuts=st.lists(st.integers(1, 700), min_size=1, max_size=30),
       into=st.booleans())
def test_any_segmentation_delivers_the_same_messages(sizes: list[int], cuts: list[int],
                                                     into: bool) -> None:
    messages = [os.urandom(n) for n in sizes]
    stream = b"".join(frame(2, m, fin=i % 3 != 1) + (frame(0, b"") if i % 3 == 1 else b"")
                      for i, m in enumerate(messages))
    server = End()
    pos = i = 0
    while pos < len(stream):
        chunk = stream[pos:pos + cuts[i % len(cuts)]]
        if into:  # through the read buffer, as the driver feeds it
            server.ws.read_buffer[:len(chunk)] = chunk
            server.ws.receive_into(len(chunk))
        else:
            server.ws.receive_data(chunk)
        pos += len(chunk)
        i += 1
    assert server.messages == messages
    assert server.ws.buffered == 0


def feed(end: End, data: bytes) -> None:
    end.ws.read_buffer[:len(data)] = data
    end.ws.receive_into(len(data))


def test_the_read_buffer_entry_takes_one_whole_audio_frame_and_copies_it_out() -> None:
    server = End(max_size=1000)
    audio = [os.urandom(640), os.urandom(640), os.urandom(700)]
    for a in audio:
        feed(server, frame(2, a))
    feed(server, frame(2, b"x" * 1000))  # at the limit: still the usual frame
    assert server.messages == [*audio, b"x" * 1000]
    assert all(type(m) is bytes for m in server.messages)  # nothing refers to the buffer
    feed(server, frame(2, b"y" * 1001))
    assert server.ws.state.name == "CLOSING" and server.close_sent() == 1009


def test_several_audio_frames_in_one_read_then_anything_else() -> None:
    server = End(max_size=1000)
    audio = [bytes([i]) * 640 for i in range(3)]
    tail = frame(2, b"z" * 500)
    feed(server, b"".join(frame(2, a) for a in audio) + frame(9, b"hi") + frame(1, b"text")
         + frame(2, b"f" * 200, fin=False) + frame(0, b"g" * 200) + tail[:100])
    assert server.messages == [*audio, "text", b"f" * 200 + b"g" * 200]
    assert server.frames() == [(10, True, b"hi")]
    feed(server, tail[100:])
    assert server.messages[-1] == b"z" * 500
    feed(server, frame(2, b"a" * 640) + frame(2, b"b" * 1001) + frame(2, b"c" * 640))
    assert server.messages[-1] == b"a" * 640 and server.close_sent() == 1009


def test_a_fragment_is_never_taken_for_the_usual_frame() -> None:
    server = End()
    feed(server, frame(2, b"b" * 200, fin=False))
    feed(server, frame(2, b"c" * 200))  # inside a fragmented message: a violation
    assert server.messages == [] and server.close_sent() == 1002


KEY = "MDEyMzQ1Njc4OWFiY2RlZg=="
HEAD = (f"GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode()


def test_the_request_head_then_frames_held_until_accepted() -> None:
    server = End(accept=False)
    data = HEAD + frame(2, b"early") + frame(1, b"te")
    for i in range(0, len(data), 7):  # the head split anywhere, even inside its end
        server.ws.receive_data(data[i:i + 7])
    ((request,),) = (server.requests,)
    assert request.path == "/ws" and server.ws.request is request
    assert server.messages == [] and server.ws.buffered > 0
    server.ws.accept(request.headers["Sec-WebSocket-Key"], "chat")
    assert server.written[0].startswith(b"HTTP/1.1 101 ")
    assert b"Sec-WebSocket-Accept: " + accept_key(KEY).encode() in server.written[0]
    assert b"Sec-WebSocket-Protocol: chat" in server.written[0]
    assert server.messages == [b"early", "te"] and server.ws.buffered == 0


@pytest.mark.parametrize(("data", "status"), [(b"GARBAGE\r\n\r\n", b"400"),
                                              (b"GET / HTTP/1.0\r\n\r\n", b"505"),
                                              (b"GET / HTTP/1.1\r\nX: " + b"a" * 20000, b"431")])
def test_a_bad_request_head_is_answered_with_its_http_error(data: bytes, status: bytes) -> None:
    server = End(accept=False)
    server.ws.receive_data(data)
    assert server.requests == [] and server.ends == 1
    assert server.written[0].split(b" ")[1] == status
    assert server.ws.state.name == "CLOSING"


def test_a_client_end_holds_everything_before_the_handshake() -> None:
    client = End(client=True, accept=False)
    client.ws.receive_data(frame(2, b"early", masked=False))
    assert client.requests == [] and client.ws.buffered == 7
    client.ws.accept()
    assert client.messages == [b"early"]



def test_reads_of_many_audio_frames_at_changing_places_deliver_fresh_bytes() -> None:
    # Views of the read buffer are kept per frame position: a later read with other
    # sizes at those places, or more frames than are kept, must still deliver its own.
    server = End()
    for sizes in ([640] * 20, [700, 600] * 10, [640] * 20, [126, 65535 - 20000]):
        audio = [os.urandom(n) for n in sizes]
        feed(server, b"".join(frame(2, a) for a in audio))
        assert server.messages[-len(audio):] == audio
    assert server.ws.messages_in == 62
