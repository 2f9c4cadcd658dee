"""The session registry: an input socket and an output socket with the same key join ONE
session, whichever arrives first; the output policy while the output socket is absent;
resuming after the input socket drops."""

from __future__ import annotations

import asyncio

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from wavewire.transports.endpoints import raw_serializer
from wavewire.transports.routes import Route

from .conftest import pcm, recv_bytes, running, wait_for, ws_url

pytestmark = pytest.mark.usefixtures("no_leaked_tasks")


def split_routes(resume_window: float = 0.0) -> list[Route]:
    return [
        Route("/call/{call_id}/in", raw_serializer, role="input", key="call:{call_id}",
              resume_window=resume_window),
        Route("/call/{call_id}/out", raw_serializer, role="output", key="call:{call_id}"),
    ]


@pytest.mark.parametrize("first", ["input", "output"])
async def test_two_sockets_either_order_one_session(first):
    async with running(routes=split_routes()) as server:
        url_in, url_out = ws_url(server, "/call/c1/in"), ws_url(server, "/call/c1/out")
        if first == "input":
            ws_in = await connect(url_in, proxy=None)
            await wait_for(lambda: len(server.sessions) == 1)
            ws_out = await connect(url_out, proxy=None)
        else:
            ws_out = await connect(url_out, proxy=None)
            await wait_for(lambda: len(server.sessions) == 1)
            ws_in = await connect(url_in, proxy=None)
        (session,) = server.sessions
        await wait_for(lambda: session.input_attached and session.output_attached)
        assert session.key == "call:c1"
        assert session.info.params == {"call_id": "c1"}
        audio = pcm(960, seed=7)
        for i in range(0, len(audio), 640):
            await ws_in.send(audio[i : i + 640])
        assert await recv_bytes(ws_out, len(audio)) == audio
        assert server.metrics.sessions_total == 1
        assert server.metrics.connections_total == 2
        await ws_in.close()  # the input leaving ends the session, which closes the output
        with pytest.raises(ConnectionClosed):
            async with asyncio.timeout(10):
                await ws_out.recv()
        assert ws_out.close_code == 1000
        await wait_for(lambda: not server.sessions)


async def test_different_keys_are_different_sessions():
    async with running(routes=split_routes()) as server:
        a = await connect(ws_url(server, "/call/a/in"), proxy=None)
        b = await connect(ws_url(server, "/call/b/in"), proxy=None)
        await wait_for(lambda: len(server.sessions) == 2)
        assert {s.key for s in server.sessions} == {"call:a", "call:b"}
        await a.close()
        await b.close()
        await wait_for(lambda: not server.sessions)


async def test_output_held_until_the_output_socket_attaches():
    async with running(routes=split_routes()) as server:
        ws_in = await connect(ws_url(server, "/call/h/in"), proxy=None)
        audio = pcm(1600, seed=2)  # 5 chunks of 20 ms
        for i in range(0, len(audio), 640):
            await ws_in.send(audio[i : i + 640])
        await wait_for(lambda: len(server.sessions) == 1)
        (session,) = server.sessions
        await wait_for(lambda: session.output_edge.stats.messages_out == 5)
        assert session.held == 5 and session.dropped_no_output == 0
        ws_out = await connect(ws_url(server, "/call/h/out"), proxy=None)
        assert await recv_bytes(ws_out, len(audio)) == audio
        assert session.held == 0
        await ws_in.close()
        await ws_out.close()


async def test_output_buffer_is_bounded_drop_oldest_counted():
    async with running(routes=split_routes(), output_buffer=2) as server:
        ws_in = await connect(ws_url(server, "/call/d/in"), proxy=None)
        chunks = [pcm(320, seed=s) for s in range(5)]
        for chunk in chunks:
            await ws_in.send(chunk)
        await wait_for(lambda: len(server.sessions) == 1)
        (session,) = server.sessions
        await wait_for(lambda: session.output_edge.stats.messages_out == 5)
        assert session.held == 2 and session.dropped_no_output == 3
        assert session.task.stats.dropped == {"output-absent": 3}
        ws_out = await connect(ws_url(server, "/call/d/out"), proxy=None)
        assert await recv_bytes(ws_out, 1280) == chunks[3] + chunks[4]  # the newest two
        await ws_in.close()
        await ws_out.close()


async def test_input_reconnect_within_the_window_resumes_the_session():
    async with running(routes=split_routes(resume_window=30.0)) as server:
        ws_out = await connect(ws_url(server, "/call/r/out"), proxy=None)
        ws_in = await connect(ws_url(server, "/call/r/in"), proxy=None)
        await ws_in.send(pcm(320, 1))
        assert await recv_bytes(ws_out, 640) == pcm(320, 1)
        (session,) = server.sessions
        ws_in.transport.abort()  # a drop (1006), not a hang-up: the window applies
        await wait_for(lambda: not session.input_attached)
        assert session.live
        ws_in = await connect(ws_url(server, "/call/r/in"), proxy=None)
        await ws_in.send(pcm(320, 2))
        assert await recv_bytes(ws_out, 640) == pcm(320, 2)
        assert server.sessions == [session] and server.metrics.sessions_total == 1
        await ws_in.close()
        await ws_out.close()


async def test_session_ends_when_the_window_passes():
    # The session outlives the drop by the window (timers never fire early), and it ends
    # because the input did not come back, not because the socket dropped.
    window = 0.3
    async with running(routes=split_routes(resume_window=window)) as server:
        ws_in = await connect(ws_url(server, "/call/w/in"), proxy=None)
        await wait_for(lambda: len(server.sessions) == 1)
        (session,) = server.sessions
        ended: list[tuple[float, str]] = []
        loop = asyncio.get_running_loop()
        session.task.add_event_handler(
            "on_pipeline_cancelled", lambda _t, frame: ended.append((loop.time(), frame.reason)))
        dropped_at = loop.time()
        ws_in.transport.abort()
        await wait_for(lambda: not server.sessions)
        assert server.metrics.sessions_total == 1
    [(ended_at, reason)] = ended
    assert reason == "input did not come back"
    assert ended_at - dropped_at >= window


async def test_a_clean_close_of_the_input_ends_the_session_without_waiting():
    async with running(routes=split_routes(resume_window=30.0)) as server:
        ws_in = await connect(ws_url(server, "/call/h/in"), proxy=None)
        await wait_for(lambda: len(server.sessions) == 1)
        await ws_in.close()  # 1000: the peer hung up
        await wait_for(lambda: not server.sessions)


async def test_a_newer_input_socket_replaces_the_older():
    async with running(routes=split_routes(resume_window=30.0)) as server:
        old = await connect(ws_url(server, "/call/n/in"), proxy=None)
        await wait_for(lambda: len(server.sessions) == 1)
        new = await connect(ws_url(server, "/call/n/in"), proxy=None)
        with pytest.raises(ConnectionClosed):
            async with asyncio.timeout(10):
                await old.recv()
        assert old.close_code == 1008
        assert len(server.sessions) == 1 and server.sessions[0].live
        await new.close()
        await wait_for(lambda: all(not s.input_attached for s in server.sessions))


def test_partner_routes_must_exist_and_roles_need_keys():
    with pytest.raises(ValueError):
        Route("/x/in", raw_serializer, role="input")
    with pytest.raises(ValueError):
        Route("/x", raw_serializer, role="sideways")  # type: ignore[arg-type]


async def test_a_route_without_partner_refuses_to_start():
    from wavewire.bots.echo import echo_bot
    from wavewire.transports.server import WebSocketServer

    server = WebSocketServer(echo_bot, port=0, routes=split_routes()[:1])
    with pytest.raises(ValueError):
        await server.start()
