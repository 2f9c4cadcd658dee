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
* **Reset.** Call :meth:`MediaPacer.reset` when playback restarts after an interruption
  or when the queue ran dry (end of an utterance): the timeline starts again from now.

The pacer only computes; it never sleeps by itself except in :meth:`MediaPacer.wait`,
which sleeps on the injected clock (so a fake clock makes pacing tests instant).
"""

from __future__ import annotations

from wavewire.audio._pcm import check_rate
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
        "max_lag",
        "max_lead",
        "reanchors",
        "sample_rate",
    )

    def __init__(
        self,
        sample_rate: int,
        clock: Clock,
        *,
        max_lead: float = 0.04,
        max_lag: float = 0.2,
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
        self._clock = clock
        self._anchor: float | None = None
        self._sent = 0

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

    def due(self) -> float:
        """Clock time at which the next sample is due to play (starts the timeline)."""
        if self._anchor is None:
            self.start()
        assert self._anchor is not None
        return self._anchor + self._sent / self.sample_rate

    def lag(self) -> float:
        """Seconds the next sample is overdue (negative when ahead of time)."""
        return self._clock.now() - self.due()

    def delay(self) -> float:
        """Seconds to wait before sending the next chunk; 0 when it may go now.

        Applies the bounded catch-up policy (see the module docstring)."""
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
