"""The Cloudflare emulator's ``reconnect_at`` is a real network drop: the SFU's first
stream socket ends with no close frame (the server side sees 1006), then the SFU dials
the same URL again and ends that one normally. The bot is a raw loopback server that
records how each socket ended; every wait has a deadline."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from wavewire.emulators.cloudflare import CloudflareEmulator
from wavewire.transports.raw_server import RawConnection, serve

pytestmark = pytest.mark.usefixtures("no_leaked_tasks")


async def test_reconnect_at_drops_the_stream_socket(speech_wav: Path) -> None:
    ended: list[tuple[str, int | None]] = []

    async def bot(conn: RawConnection) -> None:
        async for _message in conn:
            pass
        ended.append((conn.path.rsplit("/", 1)[-1], conn.close_code))

    async with serve(bot, "127.0.0.1", 0) as server:
        emulator = CloudflareEmulator(
            f"{server.url}/cloudflare", speech_wav, call_id="drop", reconnect_at=0.2,
            reconnect_gap=0.05, tail=0.1, max_tail=1.0,
        )
        async with asyncio.timeout(20):
            summary = await emulator.run()
            while len(ended) < 3:  # noqa: ASYNC110 - the bot's own record
                await asyncio.sleep(0.01)
    assert summary["reconnects"] == 1
    streams = [code for path, code in ended if path == "stream"]
    assert streams == [1006, 1000]  # dropped, then closed at the end of the call
    assert ("ingest", 1000) in ended
