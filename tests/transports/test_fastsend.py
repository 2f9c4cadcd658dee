"""send_now: the direct write happens only when awaiting send() would not wait."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from websockets.protocol import State

from wavewire.transports._fastsend import send_now


class Protocol:
    def __init__(self, state=State.OPEN):
        self.state = state
        self.sent: list[tuple[str, bytes]] = []

    def send_binary(self, data):
        self.sent.append(("binary", data))

    def send_text(self, data):
        self.sent.append(("text", data))


def conn(**over):
    c = SimpleNamespace(
        paused=False,
        send_in_progress=None,
        protocol=Protocol(),
        transport=SimpleNamespace(is_closing=lambda: False),
        writes=0,
    )

    def send_data():
        c.writes += 1

    c.send_data = send_data
    for k, v in over.items():
        setattr(c, k, v)
    return c


def test_open_connection_is_written_at_once():
    c = conn()
    assert send_now(c, b"\x01\x02") and send_now(c, "hi")
    assert c.protocol.sent == [("binary", b"\x01\x02"), ("text", b"hi")]
    assert c.writes == 2


@pytest.mark.parametrize(
    "over",
    [
        {"paused": True},  # back-pressured: send() must drain first
        {"send_in_progress": object()},  # a fragmented message is being sent
        {"protocol": Protocol(State.CLOSING)},  # send() raises ConnectionClosed properly
        {"transport": SimpleNamespace(is_closing=lambda: True)},
    ],
)
def test_anything_else_falls_back_to_send(over):
    c = conn(**over)
    assert not send_now(c, b"x")
    assert c.writes == 0 and not getattr(c.protocol, "sent", [])


def test_unknown_connection_objects_fall_back():
    assert not send_now(object(), b"x")
