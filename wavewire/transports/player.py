"""The output edge's player: the playback queue, pacing, and the end of playback.

A :class:`Player` takes wire-sized audio chunks and the messages between them, in order,
from the output edge, and plays them out from one task: each chunk at its time on the
media clock (:class:`~wavewire.audio.pacer.MediaPacer`), each message after the audio
before it. It knows when playback really ends (the audio sent has played, plus a grace
period, or the peer echoed the last playback mark) and then tells the edge the
utterance is over. What it sends, it sends through the edge (a :class:`PlayerOutput`):
the player decides *when*, the edge *how*.

Queue policy: the queue holds up to ``max_queue_ms`` of audio. A producer that gets
further ahead waits (:meth:`Player.queue_chunks`) until playback catches up, so TTS that
runs a thousand times faster than real time loses nothing; nothing is dropped except by
an interruption, a cancel or a stale epoch, and each drop is counted.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from ..clock import coarse_timer
from ..frames import DATA, EndFrame, Frame, TTSStartedFrame

if TYPE_CHECKING:
    from ..audio.chunker import Chunker
    from ..audio.pacer import MediaPacer
    from ..clock import Clock
    from .utterance import Utterance

__all__ = ["AUDIO", "END", "MESSAGE", "UTT_END", "Player", "PlayerOutput"]

AUDIO, MESSAGE, UTT_END, END = range(4)
"""Kinds of queue entries: a wire audio chunk, a frame to send, the end of a TTS
utterance (a playback mark may follow), the EndFrame (drain, then close)."""


class PlayerOutput(Protocol):
    """What the player asks of the output edge."""

    @property
    def epoch(self) -> int:
        """The session's current epoch (older audio is stale)."""
        ...

    def count_dropped(self, reason: str, n: int = 1) -> None:
        """Count ``n`` chunks or messages dropped for ``reason``."""
        ...

    async def play_chunk(self, chunk: bytes) -> None:
        """Send one wire audio chunk now (and move the media clock past it)."""
        ...

    async def play_message(self, frame: Frame) -> None:
        """Send a frame's messages now."""
        ...

    async def mark_utterance_end(self) -> None:
        """Send a playback mark for the end of the utterance (if the protocol has marks)."""
        ...

    async def stop_speaking(self) -> None:
        """Playback of the utterance has ended: the bot stopped speaking."""
        ...

    async def close_output(self, frame: EndFrame) -> None:
        """Everything was played: say goodbye to the peer and pass ``frame`` on."""
        ...


def _not_started(*args: Any) -> Any:
    raise RuntimeError("the player has not started")


class Player:
    """Plays queued audio and messages in order, paced (see the module docstring).

    :param out: the output edge it plays through.
    :param utterance: the edge's utterance bookkeeping (the player reads whether the
        bot speaks and which marks are out).
    :param pace: send audio in real time from the media clock.
    :param max_queue_ms: audio the queue may hold before producers wait.
    :param stop_grace: seconds after the last audio has played before playback counts as
        ended.
    :param reset_after: silence after which the pacing timeline restarts.
    :param marks: the protocol has playback marks (the peer says when audio played).
    :param bytes_per_ms: bytes of wire audio per millisecond.
    """

    __slots__ = ("_call_coarse", "_end_timer", "bytes_per_ms", "busy", "chunker", "clock",
                 "closing", "marks", "max_queue_ms", "out", "pace", "pacer", "queue",
                 "queued_ms", "reset_after", "space", "stop_grace", "utterance", "wake",
                 "watching")

    def __init__(self, out: PlayerOutput, utterance: Utterance, *, pace: bool,
                 max_queue_ms: int, stop_grace: float, reset_after: float, marks: bool,
                 bytes_per_ms: float) -> None:
        self.out = out
        self.utterance = utterance
        self.pace = pace
        self.max_queue_ms = max_queue_ms
        self.stop_grace = stop_grace
        self.reset_after = reset_after
        self.marks = marks
        self.bytes_per_ms = bytes_per_ms
        self.queue: deque[tuple[int, int, Any]] = deque()  # (kind, epoch, payload)
        """What is waiting to be played, in order."""
        self.queued_ms = 0.0
        """Audio in the queue, in milliseconds."""
        self.busy = False
        """An entry is being played now."""
        self.watching = False
        """The player is timing the end of playback (its timer re-checks by itself)."""
        self.closing = False
        self.wake: asyncio.Event | None = None
        self.space: asyncio.Event | None = None
        self.chunker: Chunker | None = None
        self.pacer: MediaPacer = _not_started  # type: ignore[assignment]
        self.clock: Clock | None = None
        self._end_timer: Any = None
        self._call_coarse: Callable[..., Any] = _not_started

    def start(self, clock: Clock, chunker: Chunker, pacer: MediaPacer) -> None:
        """Bind to the session's clock; :meth:`run` may then be started as a task."""
        self.clock = clock
        self.chunker = chunker
        self.pacer = pacer
        self._call_coarse = coarse_timer(clock)
        self.wake = asyncio.Event()
        self.space = asyncio.Event()

    # -- the queue ---------------------------------------------------------------------

    def put(self, kind: int, payload: Any, epoch: int) -> None:
        """Queue one entry and wake the player."""
        self.queue.append((kind, epoch, payload))
        wake = self.wake
        if wake is not None:
            wake.set()

    def wake_up(self) -> None:
        """Wake the player (more to play, or playback may have ended)."""
        wake = self.wake
        if wake is not None:
            wake.set()

    async def queue_chunks(self, chunks: list[bytes], chunk_ms: float, epoch: int) -> None:
        """Queue audio chunks, waiting while the queue is full (back-pressure)."""
        space = self.space
        assert space is not None
        out = self.out
        for i, chunk in enumerate(chunks):
            while self.queued_ms >= self.max_queue_ms and not self.closing:
                self.pacer.held()  # its arrival rate is now the queue's drain rate
                space.clear()
                await space.wait()  # playback frees space in real time; clears release it
                if epoch < out.epoch:
                    out.count_dropped("stale", len(chunks) - i)
                    return
            self.put(AUDIO, chunk, epoch)
            self.queued_ms += chunk_ms
            self.utterance.queued_ms += chunk_ms

    def drop(self, reason: str) -> None:
        """Drop queued audio and data messages, and the partial chunk (counted); control
        frames and the EndFrame stay, in order."""
        kept: deque[tuple[int, int, Any]] = deque()
        dropped = 0
        for item in self.queue:
            kind, _, payload = item
            if kind == END or (kind == MESSAGE and payload.tier != DATA):
                kept.append(item)
            elif kind != UTT_END:
                dropped += 1
        if dropped:
            self.out.count_dropped(reason, dropped)
        self.queue = kept
        self.queued_ms = 0.0
        if self.chunker is not None and self.chunker.clear():
            self.out.count_dropped(reason)
        if self.space is not None:
            self.space.set()

    # -- the playback task -------------------------------------------------------------

    async def run(self) -> None:
        """The playback task: play the queue in order until the EndFrame is played."""
        wake = self.wake
        assert wake is not None
        out, utterance = self.out, self.utterance
        while True:
            queue = self.queue
            if not queue:
                if utterance.speaking:
                    self.watching = True
                    try:
                        await self._idle_while_speaking()
                    finally:
                        self.watching = False
                    continue
                wake.clear()
                await wake.wait()
                continue
            kind, epoch, payload = queue.popleft()
            self.busy = True
            try:
                if kind == AUDIO:
                    self.queued_ms = max(0.0, self.queued_ms - len(payload) / self.bytes_per_ms)
                    if self.space is not None:
                        self.space.set()
                    if epoch < out.epoch:
                        out.count_dropped("stale")
                        continue
                    if self.pace:
                        self._resync()
                        await self.pacer.wait()
                        if epoch < out.epoch:  # interrupted while waiting
                            out.count_dropped("interrupted")
                            continue
                    await out.play_chunk(payload)
                elif kind == MESSAGE:
                    if type(payload) is TTSStartedFrame and not utterance.speaking:
                        self.pacer.reset()  # a new utterance: a fresh timeline
                    await out.play_message(payload)
                elif kind == UTT_END:
                    if utterance.speaking:
                        await out.mark_utterance_end()
                else:  # END
                    await self._finish(payload)
                    return
            finally:
                self.busy = False

    def _resync(self) -> None:
        """Restart the timeline after a silence longer than ``reset_after``."""
        pacer = self.pacer
        if pacer.started and pacer.lag() > self.reset_after:
            pacer.reset()

    def _remaining(self) -> float:
        """Seconds until the audio sent has played, plus the grace period."""
        assert self.clock is not None
        return self.pacer.due() - self.clock.now() + self.stop_grace

    async def _idle_while_speaking(self) -> None:
        """Nothing queued but the bot is speaking: wait for the audio already sent to
        play out (or for the peer's mark), then declare the utterance over."""
        wake = self.wake
        assert wake is not None
        utterance = self.utterance
        if utterance.marks_out:
            wake.clear()
            await wake.wait()  # the mark comes back, or more audio arrives
            if utterance.marks_out or self.queue:
                return
            await self.out.stop_speaking()
            return
        remaining = self._remaining()
        if remaining > 0:
            # A timer that re-arms itself while inline sends keep extending playback, so
            # the player task wakes once when playback ends, not every stop_grace.
            wake.clear()
            self._end_timer = self._call_coarse(remaining, self._check_end)
            try:
                await wake.wait()
            finally:
                if self._end_timer is not None:
                    self._end_timer.cancel()
                    self._end_timer = None
            if self.queue or self._remaining() > 1e-6:
                return
        if self.marks and not utterance.marks_out:
            await self.out.mark_utterance_end()
            return
        await self.out.stop_speaking()

    def _check_end(self) -> None:
        self._end_timer = None
        remaining = self._remaining()
        if remaining > 1e-6 and not self.queue:
            self._end_timer = self._call_coarse(remaining, self._check_end)
            return
        self.wake_up()

    async def _finish(self, frame: EndFrame) -> None:
        """Drain: the EndFrame reached the head of the queue, so everything before it was
        sent. Flush the last partial chunk, let it play, then close the output."""
        self.closing = True
        assert self.chunker is not None and self.clock is not None
        tail = self.chunker.flush(pad=True)
        if tail:
            if self.pace:
                await self.pacer.wait()
            await self.out.play_chunk(tail)
        if self.utterance.speaking:
            if self.pace:
                remaining = self.pacer.due() - self.clock.now()
                if remaining > 0:
                    await self.clock.sleep(remaining)
            await self.out.stop_speaking()
        await self.out.close_output(frame)
