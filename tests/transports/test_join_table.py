"""The joined-session lifecycle table (wavewire.transports.join), walked transition by
transition: first the table itself, exhaustively; then a real server, socket by socket,
checking the session's join state after every step -- including both sockets of a call
arriving at the same moment (made deterministic by holding the bot factory on an event)
and an output socket alone that leaves (issue 15, holes 1 and 2)."""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from wavewire.bots.echo import echo_bot
from wavewire.errors import InvalidStateError
from wavewire.transports.endpoints import raw_serializer
from wavewire.transports.join import JOIN_EVENTS, JOIN_TABLE, Join, JoinState
from wavewire.transports.routes import Route

from .conftest import pcm, recv_bytes, running, wait_for, ws_url

S = JoinState
pytestmark = pytest.mark.usefixtures("no_leaked_tasks")


# --- the table itself --------------------------------------------------------------------


@pytest.mark.parametrize("state", list(JoinState))
@pytest.mark.parametrize("event", JOIN_EVENTS)
def test_every_state_and_event_is_either_a_transition_or_refused(state, event):
    join = Join("k")
    join.state = state
    expected = JOIN_TABLE.get((state, event))
    if expected is None:
        with pytest.raises(InvalidStateError):
            join.step(event)
        assert join.state is state
    else:
        assert join.step(event) is expected
        assert join.state is expected


def test_every_state_is_reachable_and_every_live_state_can_close():
    seen = {S.OPENING}
    todo = deque([S.OPENING])
    while todo:
        state = todo.popleft()
        for (src, _event), dst in JOIN_TABLE.items():
            if src is state and dst not in seen:
                seen.add(dst)
                todo.append(dst)
    assert seen == set(JoinState)
    for state in JoinState:
        if state is S.CLOSED:
            continue
        # from every state, some path of events reaches CLOSED
        reach, frontier = {state}, [state]
        while frontier:
            src = frontier.pop()
            for (s, _e), d in JOIN_TABLE.items():
                if s is src and d not in reach:
                    reach.add(d)
                    frontier.append(d)
        assert S.CLOSED in reach, state


def test_only_the_waiting_states_wait_and_nothing_joins_an_ending_session():
    join = Join("k")
    for state in JoinState:
        join.state = state
        assert join.waiting is (state in (S.AWAY, S.GONE))
        assert join.joinable is (state not in (S.ENDING, S.CLOSED))


@pytest.mark.parametrize(
    ("events", "states"),
    [
        # input first, output joins, input drops and resumes, hangs up
        (["opened", "input", "output", "input_left", "input", "input_ended", "closed"],
         [S.WAITING, S.INPUT, S.JOINED, S.AWAY, S.JOINED, S.ENDING, S.CLOSED]),
        # output first (hole 1: it leaves alone, the window runs out)
        (["opened", "output", "output_left", "expired", "closed"],
         [S.WAITING, S.OUTPUT, S.GONE, S.ENDING, S.CLOSED]),
        # both leave, the output comes back first, then the input
        (["opened", "output", "input", "input_left", "output_left", "output", "input"],
         [S.WAITING, S.OUTPUT, S.JOINED, S.AWAY, S.GONE, S.AWAY, S.JOINED]),
        # replacements are self-loops; the output leaving a joined session keeps it
        (["opened", "input", "input", "output", "output", "output_left", "end", "closed"],
         [S.WAITING, S.INPUT, S.INPUT, S.JOINED, S.JOINED, S.INPUT, S.ENDING, S.CLOSED]),
        # the claim fails (bot factory, drain): partners are released
        (["failed"], [S.CLOSED]),
    ],
)
def test_named_walks(events, states):
    join = Join("k")
    assert [join.step(e) for e in events] == states
    if states[0] is S.WAITING or states == [S.CLOSED]:
        assert join.ready.is_set()


# --- a real server, step by step ----------------------------------------------------------


def split_routes(resume_window: float = 0.0) -> list[Route]:
    return [
        Route("/call/{call_id}/in", raw_serializer, role="input", key="call:{call_id}",
              resume_window=resume_window),
        Route("/call/{call_id}/out", raw_serializer, role="output", key="call:{call_id}",
              resume_window=resume_window),
    ]


async def _state(server: Any, want: JoinState) -> Any:
    """Wait until the one session's join reaches ``want``; returns the session."""
    await wait_for(lambda: len(server.sessions) == 1 and server.sessions[0].join.state is want)
    return server.sessions[0]


async def _closed(ws: Any) -> int | None:
    with pytest.raises(ConnectionClosed):
        async with asyncio.timeout(10):
            while True:
                await ws.recv()
    return ws.close_code


async def test_walk_output_first_input_drops_and_resumes_output_cycles_then_hang_up():
    async with running(routes=split_routes(resume_window=30.0)) as server:
        url_in, url_out = ws_url(server, "/call/w/in"), ws_url(server, "/call/w/out")
        out = await connect(url_out, proxy=None)
        session = await _state(server, S.OUTPUT)
        inp = await connect(url_in, proxy=None)
        await _state(server, S.JOINED)
        await inp.send(pcm(320, 1))
        assert await recv_bytes(out, 640) == pcm(320, 1)
        inp.transport.abort()  # a drop: the window applies
        await _state(server, S.AWAY)
        assert session.live
        inp = await connect(url_in, proxy=None)
        await _state(server, S.JOINED)
        await out.close()
        await _state(server, S.INPUT)
        out = await connect(url_out, proxy=None)
        await _state(server, S.JOINED)
        await inp.send(pcm(320, 2))
        assert await recv_bytes(out, 640) == pcm(320, 2)
        assert server.sessions == [session] and server.metrics.sessions_total == 1
        await inp.close()  # 1000: a hang-up ends the session at once
        assert await _closed(out) == 1000
        await wait_for(lambda: session.join.state is S.CLOSED and not server.sessions)


@pytest.mark.parametrize("window", [0.0, 0.05])
async def test_an_output_socket_alone_that_leaves_does_not_leave_its_session(window):
    """Hole 1: an ingest socket alone, once closed, kept its session forever."""
    async with running(routes=split_routes(resume_window=window)) as server:
        out = await connect(ws_url(server, "/call/lone/out"), proxy=None)
        session = await _state(server, S.OUTPUT)
        await out.close()
        await wait_for(lambda: not server.sessions)
        assert session.join.state is S.CLOSED and not session.live
        assert len(server.registry) == 0 and server.metrics.connections_active == 0


async def test_lone_output_sockets_do_not_lock_clients_out_of_the_cap():
    async with running(routes=split_routes(resume_window=0.05), max_sessions=2) as server:
        for i in range(4):  # more than the cap, one after another
            out = await connect(ws_url(server, f"/call/c{i}/out"), proxy=None)
            await _state(server, S.OUTPUT)
            await out.close()
            await wait_for(lambda: not server.sessions)
        assert server.metrics.sessions_total == 4
        assert server.metrics.refusals.get("cap", 0) == 0


async def test_input_drops_then_the_output_leaves_the_window_still_ends_it():
    async with running(routes=split_routes(resume_window=0.2)) as server:
        inp = await connect(ws_url(server, "/call/g/in"), proxy=None)
        await _state(server, S.INPUT)
        out = await connect(ws_url(server, "/call/g/out"), proxy=None)
        await _state(server, S.JOINED)
        inp.transport.abort()
        await _state(server, S.AWAY)
        await out.close()
        session = await _state(server, S.GONE)
        await wait_for(lambda: session.join.state is S.CLOSED)
        assert not server.sessions


async def test_an_output_coming_back_does_not_restart_the_window():
    async with running(routes=split_routes(resume_window=0.3)) as server:
        inp = await connect(ws_url(server, "/call/r/in"), proxy=None)
        await _state(server, S.INPUT)
        inp.transport.abort()
        session = await _state(server, S.GONE)
        deadline = session.resume_deadline
        assert deadline is not None
        out = await connect(ws_url(server, "/call/r/out"), proxy=None)
        await _state(server, S.AWAY)
        assert session.resume_deadline == deadline  # the same deadline
        assert await _closed(out) == 1000  # the window passed: the session ended
        await wait_for(lambda: session.join.state is S.CLOSED)


# --- the race: both sockets at the same moment ----------------------------------------------


class GatedBot:
    """A bot factory that waits on an event, so a second socket arrives while the first
    one's session is being built."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.calls = 0

    async def __call__(self, info: Any) -> list[Any]:
        self.calls += 1
        await self.gate.wait()
        return echo_bot(info)


@pytest.mark.parametrize("first", ["in", "out"])
async def test_race_both_sockets_while_the_session_is_built_make_one_session(first):
    """Hole 2: the partner arriving during the build made a second, unregistered session."""
    bot = GatedBot()
    async with running(bot, routes=split_routes(resume_window=30.0)) as server:
        second = "out" if first == "in" else "in"
        a = await connect(ws_url(server, f"/call/x/{first}"), proxy=None)
        await wait_for(lambda: bot.calls == 1)
        (join,) = server.registry.joins
        assert join.state is S.OPENING and not server.sessions
        b = await connect(ws_url(server, f"/call/x/{second}"), proxy=None)
        await wait_for(lambda: server.metrics.connections_active == 2)
        assert server.registry.joins == [join] and join.state is S.OPENING
        bot.gate.set()
        session = await _state(server, S.JOINED)
        assert session.join is join and bot.calls == 1
        assert server.metrics.sessions_total == 1 and len(server.registry) == 1
        inp, out = (a, b) if first == "in" else (b, a)
        await inp.send(pcm(320, 3))
        assert await recv_bytes(out, 640) == pcm(320, 3)
        await inp.close()
        await out.close()
        await wait_for(lambda: not server.sessions)


async def test_race_a_drain_while_the_session_is_built_drains_everything_at_once():
    bot = GatedBot()
    async with running(bot, routes=split_routes(), drain_timeout=30.0) as server:
        a = await connect(ws_url(server, "/call/d/in"), proxy=None)
        b = await connect(ws_url(server, "/call/d/out"), proxy=None)
        await wait_for(lambda: server.metrics.connections_active == 2)
        drain = asyncio.ensure_future(server.drain())
        await wait_for(lambda: server.draining)
        bot.gate.set()
        async with asyncio.timeout(10):  # far below drain_timeout: nothing unregistered
            await drain
        assert await _closed(a) in (1001, 1011, 1013)
        assert await _closed(b) in (1001, 1011, 1013)
        assert not server.sessions and len(server.registry) == 0


async def test_race_the_claiming_socket_fails_its_partner_is_told():
    class Failing(GatedBot):
        async def __call__(self, info: Any) -> list[Any]:
            self.calls += 1
            await self.gate.wait()
            raise RuntimeError("no bot today")

    bot = Failing()
    async with running(bot, routes=split_routes()) as server:
        a = await connect(ws_url(server, "/call/f/in"), proxy=None)
        await wait_for(lambda: bot.calls == 1)
        (join,) = server.registry.joins
        b = await connect(ws_url(server, "/call/f/out"), proxy=None)
        await wait_for(lambda: server.metrics.connections_active == 2)
        bot.gate.set()
        assert await _closed(a) == 1011
        assert await _closed(b) == 1011
        assert join.state is S.CLOSED and len(server.registry) == 0 and bot.calls == 1


async def test_cloudflare_lone_ingest_sockets_free_the_cap_after_the_window():
    """Issue 15 hole 1 as reported: lone ``/cloudflare/{id}/ingest`` sockets, once closed,
    kept their sessions, and with a session cap locked every new client out (1013)."""
    from wavewire.transports.providers import cloudflare_routes

    routes = cloudflare_routes(resume_window=0.05)
    async with running(routes=routes, max_sessions=2) as server:
        for i in range(3):
            ws = await connect(ws_url(server, f"/cloudflare/call{i}/ingest"), proxy=None)
            await _state(server, S.OUTPUT)
            await ws.close()
            await wait_for(lambda: len(server.registry) == 0)
        stream = await connect(ws_url(server, "/cloudflare/live/stream"), proxy=None)
        session = await _state(server, S.INPUT)  # admitted: the cap is free
        assert server.metrics.refusals.get("cap", 0) == 0
        await stream.close()
        await wait_for(lambda: session.join.state is S.CLOSED)


async def test_walk_drain_of_a_joined_session_closes_both_sockets_going_away():
    async with running(routes=split_routes(resume_window=30.0)) as server:
        inp = await connect(ws_url(server, "/call/dr/in"), proxy=None)
        out = await connect(ws_url(server, "/call/dr/out"), proxy=None)
        session = await _state(server, S.JOINED)
        drain = asyncio.ensure_future(server.drain())
        assert await _closed(inp) == 1001
        assert await _closed(out) == 1001
        async with asyncio.timeout(10):
            await drain
        assert session.join.state is S.CLOSED and len(server.registry) == 0
