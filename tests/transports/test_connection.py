"""The connection contract (transports/connection.py): ``send`` is the one now-or-wait
path, the ``Outbox`` is bounded, drop-oldest and counts every drop; and
``wavewire.testing.FakeConnection`` keeps the contract with no socket."""

from __future__ import annotations

import asyncio

import pytest

from wavewire.errors import ConnectionClosedError
from wavewire.testing import FakeConnection
from wavewire.transports.connection import Connection, ConnState, Outbox, send

pytestmark = pytest.mark.usefixtures("no_leaked_tasks")


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def test_the_fake_satisfies_the_contract():
    assert isinstance(FakeConnection(), Connection)


# --- Outbox -------------------------------------------------------------------------


def test_outbox_overflow_drops_the_oldest_and_counts_each_drop():
    drops: list[int] = []
    box = Outbox(3, on_drop=drops.append)
    for m in (b"1", b"2", b"3", b"4", b"5"):
        box.put(m)
    assert list(box) == [b"3", b"4", b"5"] and len(box) == 3
    assert box.dropped == 2 and drops == [1, 1] and box.held == 5


def test_outbox_of_size_zero_drops_everything_counted():
    drops: list[int] = []
    box = Outbox(0, on_drop=drops.append)
    box.put(b"a")
    box.put("b")
    assert len(box) == 0 and box.dropped == 2 and drops == [1, 1]


def test_outbox_clear_drops_what_it_holds_counted():
    drops: list[int] = []
    box = Outbox(10, on_drop=drops.append)
    assert box.clear() == 0 and drops == []  # nothing held: nothing counted
    for m in (b"a", b"b", "c"):
        box.put(m)
    assert box.clear() == 3 and len(box) == 0
    assert box.dropped == 3 and drops == [3]


async def test_outbox_flush_sends_in_order_and_empties():
    conn = FakeConnection()
    box = Outbox(5)
    for m in (b"a", "b", b"c"):
        box.put(m)
    assert await box.flush(conn) == 3
    assert conn.sent == [b"a", "b", b"c"] and len(box) == 0 and box.dropped == 0


async def test_outbox_flush_waits_for_a_slow_peer_and_takes_what_is_put_meanwhile():
    conn = FakeConnection(writable=False)
    box = Outbox(5)
    box.put(b"a")
    flushing = asyncio.ensure_future(box.flush(conn))
    await settle()
    assert conn.sent == [] and len(box) == 1  # a message leaves only once written
    box.put(b"b")
    conn.set_writable()
    assert await asyncio.wait_for(flushing, 2) == 2
    assert conn.sent == [b"a", b"b"] and len(box) == 0
    assert conn.stats.waits == 1


async def test_outbox_flush_on_a_closed_connection_keeps_the_rest():
    conn = FakeConnection()
    await conn.close()
    box = Outbox(5)
    box.put(b"a")
    box.put(b"b")
    with pytest.raises(ConnectionClosedError):
        await box.flush(conn)
    assert list(box) == [b"a", b"b"] and box.dropped == 0


# --- send ---------------------------------------------------------------------------


async def test_send_writes_at_once_when_the_peer_keeps_up():
    conn = FakeConnection()
    await send(conn, b"x")
    assert conn.sent == [b"x"] and conn.stats.waits == 0
    assert conn.stats.messages_out == 1 and conn.stats.bytes_out == 1


async def test_send_waits_on_a_slow_connection_then_writes_once():
    conn = FakeConnection(writable=False)
    sending = asyncio.ensure_future(send(conn, "héllo"))
    await settle()
    assert not sending.done() and conn.sent == [] and conn.stats.waits == 1
    conn.set_writable()
    await asyncio.wait_for(sending, 2)
    assert conn.sent == ["héllo"] and conn.stats.bytes_out == len("héllo".encode())


async def test_send_waiting_raises_when_the_peer_closes_meanwhile():
    conn = FakeConnection(writable=False)
    sending = asyncio.ensure_future(send(conn, b"x"))
    await settle()
    conn.peer_close(1001, "going away")
    with pytest.raises(ConnectionClosedError) as info:
        await asyncio.wait_for(sending, 2)
    assert info.value.code == 1001 and info.value.reason == "going away"
    assert info.value.sent_code is None and conn.sent == []


# --- FakeConnection -----------------------------------------------------------------


async def test_fake_closed_by_the_test_refuses_sends_with_its_code():
    conn = FakeConnection()
    await conn.close(4000, "bye")
    assert conn.state is ConnState.CLOSED and conn.closed and not conn.closed_by_peer
    with pytest.raises(ConnectionClosedError) as info:
        conn.send_nowait(b"x")
    assert info.value.code == 4000 and info.value.sent_code == 4000


async def test_fake_not_open_yet_refuses_sends_until_open():
    conn = FakeConnection(state=ConnState.CONNECTING)
    with pytest.raises(ConnectionClosedError):
        conn.send_nowait(b"x")
    conn.open()
    assert conn.send_nowait(b"x") and conn.sent == [b"x"]


async def test_fake_not_writable_writes_nothing_until_set_writable():
    conn = FakeConnection()
    conn.set_writable(False)
    assert conn.send_nowait(b"x") is False and conn.sent == []
    waiting = asyncio.ensure_future(conn.wait_writable())
    await settle()
    assert not waiting.done()
    conn.set_writable()
    await asyncio.wait_for(waiting, 2)
    assert conn.send_nowait(b"x") is True and conn.sent == [b"x"]


async def test_fake_feeds_messages_to_recv_and_async_for_until_the_peer_closes():
    conn = FakeConnection()
    conn.feed(b"\x01\x02", "hi")
    assert await asyncio.wait_for(conn.recv(), 2) == b"\x01\x02"
    reading = asyncio.ensure_future(_collect(conn))
    await settle()
    conn.feed("later")
    conn.peer_close(1006)
    assert await asyncio.wait_for(reading, 2) == ["hi", "later"]
    assert conn.stats.messages_in == 3 and conn.stats.bytes_in == 2 + 2 + 5
    with pytest.raises(ConnectionClosedError) as info:
        await conn.recv()
    assert info.value.code == 1006


async def _collect(conn: FakeConnection) -> list:
    return [m async for m in conn]
