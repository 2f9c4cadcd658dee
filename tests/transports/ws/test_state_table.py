"""The connection's state table (ws/protocol.py): every (state, event) pair, legal ones
to their next state and every other one an error; and the protocol's own methods refuse
what the table refuses."""

from __future__ import annotations

import itertools

import pytest

from wavewire.errors import ConnectionClosedError, InvalidStateError
from wavewire.transports.connection import ConnState
from wavewire.transports.ws.protocol import (
    TRANSITIONS,
    ConnEvent,
    WebSocketProtocol,
    next_state,
)

C, OP, CL, X = ConnState.CONNECTING, ConnState.OPEN, ConnState.CLOSING, ConnState.CLOSED
E = ConnEvent

# Written out from RFC 6455 §4 and §7 independently of the module's table.
EXPECTED = {
    (C, E.ACCEPT): OP,
    (C, E.REJECT): CL,
    (C, E.LOST): X,
    (OP, E.CLOSE_SENT): CL,
    (OP, E.CLOSE_RECEIVED): CL,
    (OP, E.FAIL): CL,
    (OP, E.LOST): X,
    (CL, E.CLOSE_RECEIVED): CL,
    (CL, E.FAIL): CL,
    (CL, E.LOST): X,
}

PAIRS = list(itertools.product(ConnState, ConnEvent))


@pytest.mark.parametrize(("state", "event"), PAIRS,
                         ids=[f"{s.name}-{e.name}" for s, e in PAIRS])
def test_every_state_event_pair(state: ConnState, event: ConnEvent) -> None:
    if (state, event) in EXPECTED:
        assert next_state(state, event) is EXPECTED[state, event]
    else:
        with pytest.raises(InvalidStateError, match=event.value):
            next_state(state, event)


def test_the_table_is_exactly_the_expected_one() -> None:
    assert TRANSITIONS == EXPECTED
    assert len(PAIRS) == 24 and len(EXPECTED) == 10


def opened() -> WebSocketProtocol:
    ws = WebSocketProtocol()
    ws.accept()
    return ws


def test_the_protocol_moves_only_by_the_table() -> None:
    ws = WebSocketProtocol()
    assert ws.state is C
    with pytest.raises(InvalidStateError):
        ws.close()  # (CONNECTING, CLOSE_SENT)
    with pytest.raises(InvalidStateError):
        ws.fail(1002, "x")  # (CONNECTING, FAIL)
    ws.accept()
    assert ws.state is OP
    with pytest.raises(InvalidStateError):
        ws.accept()  # (OPEN, ACCEPT)
    with pytest.raises(InvalidStateError):
        ws.reject()  # (OPEN, REJECT)
    ws.close()
    assert ws.state is CL
    with pytest.raises(InvalidStateError):
        ws.close()  # (CLOSING, CLOSE_SENT): and nothing was written for it
    ws.connection_lost()
    assert ws.state is X
    with pytest.raises(InvalidStateError):
        ws.connection_lost()  # (CLOSED, LOST)


def test_a_refused_close_writes_nothing() -> None:
    written: list[bytes] = []
    ws = WebSocketProtocol(write=written.append)
    ws.accept()
    ws.close(1000)
    assert len(written) == 1
    with pytest.raises(InvalidStateError):
        ws.close(1001)
    assert len(written) == 1


@pytest.mark.parametrize("state", [C, CL, X])
def test_sending_is_refused_unless_open(state: ConnState) -> None:
    ws = WebSocketProtocol()
    if state is not C:
        ws.accept()
        ws.close(4000)
    if state is X:
        ws.connection_lost()
    with pytest.raises(ConnectionClosedError) as info:
        ws.encode(b"x")
    assert info.value.sent_code == (None if state is C else 4000)
    assert ws.messages_out == 0


def test_rejecting_writes_the_response_and_ends() -> None:
    written: list[bytes] = []
    ended: list[bool] = []
    ws = WebSocketProtocol(write=written.append, on_end=lambda: ended.append(True))
    ws.reject(b"HTTP/1.1 403 Forbidden\r\n\r\n")
    assert ws.state is CL and written == [b"HTTP/1.1 403 Forbidden\r\n\r\n"] and ended
    ws.receive_data(b"\x82\x80abcd")  # nothing is read after the end
    assert ws.messages_in == 0
