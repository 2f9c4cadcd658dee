"""A media clock: when to send the next chunk of audio so it plays out in real time.

The timeline is absolute: the chunk that starts at sample *n* is due at
``anchor + n / sample_rate``. Deriving every send time from the sample count (never
from "sleep one chunk after the last send") means scheduling jitter never accumulates.

Policy
------
* **Lead.** A chunk may go up to ``max_lead`` seconds before it is due, so the
  receiver's jitter buffer holds a little audio against network and event-loop jitter.
* **Catch-up.** When the sender is late (a stall in the producer or the event loop),
  :meth:`MediaPacer.delay` returns 0 and chunks go out back to back until the timeline
  is met again; the send times then return to the *original* timeline, so a stall adds
  no delay for the rest of the session (Pipecat 1.14 keeps ≈ 83 ms extra after a
  100 ms stall).
* **Bounded burst.** If the lag exceeds ``max_lag`` (a long stall, or an idle gap the
  caller did not :meth:`~MediaPacer.reset` after), the timeline is re-anchored so the
  chunk is exactly ``max_lag`` late: at most ``max_lag`` of audio is ever sent in one
  burst. Each re-anchor shifts the timeline once by ``lag - max_lag`` and is counted in
  :attr:`MediaPacer.reanchors`; stalls up to ``max_lag`` never shift it.
* **Realign.** If the timeline was anchored late (the first chunk of a stream was
  delayed, say by a busy event loop at session start, or the first chunks came in a
  burst) while the producer then delivers audio in real time, later chunks would wait
  by that much forever. The caller reports each arrival with
  :meth:`~MediaPacer.arrived`; when, over a window of ``realign_window`` seconds, the
  producer delivered no more than real time (at most 10 % over), *every* chunk arrived
  before it was due and at least one had to wait (it came more than ``max_lead``
  early), the timeline moves earlier by the smallest of those margins, so the earliest
  chunk of the window would have been exactly on time (counted in
  :attr:`MediaPacer.realigns`). A stream whose chunks straddle the lead (some go at
  once, some wait) is realigned too. A producer faster than real time (TTS) is paced
  as before, also when the caller's full queue holds it back to real time: the caller
  says so with :meth:`~MediaPacer.held`, and such a window proves nothing.
* **Reset.** Call :meth:`MediaPacer.reset` when playback restarts after an interruption
  or when the queue ran dry (end of an utterance): the timeline starts again from now.

The pacer only computes; it never sleeps by itself except in :meth:`MediaPacer.wait`,
which sleeps on the injected clock (so a fake clock makes pacing tests instant).
"""

from __future__ import annotations

from wavewire.audio.pcm import check_rate
from wavewire.clock import Clock
from wavewire.errors import FrameFormatError

__all__ = ["MediaPacer"]


class MediaPacer:
    """Paces one outgoing audio stream against ``clock``.

    Use::

        pacer.start()                     # or let the first delay() start it
        for chunk in chunks:
            await pacer.wait()            # or: await clock.sleep(pacer.delay())
            send(chunk)
            pacer.advance(samples_in(chunk))
    """

    __slots__ = (
        "_anchor",
        "_clock",
        "_sent",
        "_win_audio",
        "_win_max_ahead",
        "_win_min_ahead",
        "_win_t0",
        "max_lag",
        "max_lead",
        "reanchors",
        "realign_window",
        "realigns",
        "sample_rate",
    )

    def __init__(
        self,
        sample_rate: int,
        clock: Clock,
        *,
        max_lead: float = 0.04,
        max_lag: float = 0.2,
        realign_window: float = 1.0,
    ) -> None:
        self.sample_rate = check_rate(sample_rate)
        """Samples per second per channel of the stream being paced."""
        if max_lead < 0 or max_lag < 0:
            raise FrameFormatError("max_lead and max_lag must be >= 0")
        self.max_lead = float(max_lead)
        """Seconds a chunk may be sent ahead of its due time."""
        self.max_lag = float(max_lag)
        """Most audio (seconds) ever sent in one catch-up burst."""
        self.reanchors = 0
        """How many times the timeline was moved because the lag exceeded max_lag."""
        self.realign_window = float(realign_window)
        """Seconds of arrivals judged together by :meth:`arrived`."""
        self.realigns = 0
        """How many times the timeline moved earlier (see :meth:`arrived`)."""
        self._clock = clock
        self._anchor: float | None = None
        self._sent = 0
        self._win_t0: float | None = None
        self._win_audio = 0.0
        self._win_min_ahead = 0.0
        self._win_max_ahead = 0.0

    @property
    def started(self) -> bool:
        """True once the timeline is anchored (by :meth:`start` or the first delay)."""
        return self._anchor is not None

    @property
    def samples_sent(self) -> int:
        """Samples advanced since the timeline was (re)started."""
        return self._sent

    def start(self) -> None:
        """Anchor the timeline at the clock's current time, with nothing sent."""
        self._anchor = self._clock.now()
        self._sent = 0

    def reset(self) -> None:
        """Forget the timeline; the next :meth:`delay` (or :meth:`start`) anchors it anew."""
        self._anchor = None
        self._sent = 0
        self._win_t0 = None

    def arrived(self, seconds: float, queued: float = 0.0, now: float | None = None) -> None:
        """The producer has just delivered ``seconds`` of audio, behind ``queued``
        seconds still waiting to be sent (``now``: the clock's time, if the caller has
        it). Realigns a late-anchored timeline (see the module docstring)."""
        anchor = self._anchor
        if anchor is None:
            return
        if now is None:
            now = self._clock.now()
        self._note(seconds, anchor + self._sent / self.sample_rate + queued - now, now)

    def held(self) -> None:
        """The producer is being held back (the caller's queue is full): its arrivals now
        come at the rate the queue drains, not at its own, so they say nothing about
        whether it delivers in real time. The realignment window starts again; a
        producer that keeps running into the limit is never realigned."""
        self._win_t0 = None

    def _note(self, seconds: float, ahead: float, now: float) -> None:
        """The realignment window: an arrival of ``seconds`` of audio, ``ahead`` of its
        due time (negative when late)."""
        t0 = self._win_t0
        if t0 is None:
            self._win_t0 = now
            self._win_audio = seconds
            self._win_min_ahead = self._win_max_ahead = ahead
            return
        self._win_audio += seconds
        if ahead < self._win_min_ahead:
            self._win_min_ahead = ahead
        elif ahead > self._win_max_ahead:
            self._win_max_ahead = ahead
        elapsed = now - t0
        if elapsed < self.realign_window:
            return
        self._win_t0 = None
        if (
            self._win_min_ahead > 0.0
            and self._win_max_ahead > self.max_lead
            and self._win_audio <= 1.1 * elapsed + seconds
            and self._anchor is not None
        ):
            self._anchor -= self._win_min_ahead
            self.realigns += 1

    def admit(self, seconds: float, queued: float, now: float) -> float:
        """A sender's per-chunk call: ``seconds`` of audio just arrived behind ``queued``
        seconds still waiting, at clock time ``now``. Returns :meth:`delay` for it.

        Starts the timeline at ``now`` if it has none; starts it afresh if the stream
        arrives more than ``max_lag`` after its due time (a silence or a stall: sending
        what comes now is a new stretch of audio, not a catch-up); otherwise reports the
        arrival (as :meth:`arrived`, which may realign the timeline)."""
        anchor = self._anchor
        if anchor is None:
            self._anchor = now
            self._sent = 0
            self._win_t0 = None
            return 0.0
        due = anchor + self._sent / self.sample_rate
        if now - due > self.max_lag:
            self._anchor = now
            self._sent = 0
            self._win_t0 = None
            return 0.0
        self._note(seconds, due + queued - now, now)
        if self._anchor != anchor:  # realigned: earlier, so perhaps later than max_lag
            return self.delay(now)
        wait = due - self.max_lead - now  # delay(), knowing it is not late beyond max_lag
        return wait if wait > 0.0 else 0.0

    def due(self) -> float:
        """Clock time at which the next sample is due to play (starts the timeline)."""
        if self._anchor is None:
            self.start()
        assert self._anchor is not None
        return self._anchor + self._sent / self.sample_rate

    def lag(self) -> float:
        """Seconds the next sample is overdue (negative when ahead of time)."""
        return self._clock.now() - self.due()

    def delay(self, now: float | None = None) -> float:
        """Seconds to wait before sending the next chunk; 0 when it may go now
        (``now``: the clock's time, if the caller has it).

        Applies the bounded catch-up policy (see the module docstring)."""
        if now is None:
            now = self._clock.now()
        due = self.due()
        late = now - due
        if late > self.max_lag:
            # Shift the timeline so this chunk is exactly max_lag late.
            assert self._anchor is not None
            self._anchor += late - self.max_lag
            self.reanchors += 1
            return 0.0
        return max(0.0, due - self.max_lead - now)

    async def wait(self) -> None:
        """Sleep on the clock until the next chunk may be sent (no sleep when late)."""
        seconds = self.delay()
        if seconds > 0:
            await self._clock.sleep(seconds)

    def advance(self, num_samples: int) -> None:
        """Record that ``num_samples`` (per channel) have just been sent."""
        if num_samples < 0:
            raise FrameFormatError(f"num_samples must be >= 0, got {num_samples}")
        if self._anchor is None:
            self.start()
        self._sent += num_samples
