"""What the streaming TTS services share: the end of an LLM response is held back until
the TTS output of its turn has been pushed, so that downstream (the assistant
aggregator) sees the turn's :class:`~wavewire.frames.TTSTextFrame` s before its
:class:`~wavewire.frames.LLMFullResponseEndFrame`, as it would from a synchronous TTS."""

from __future__ import annotations

from ..frames import Frame, TTSStoppedFrame

__all__ = ["HeldEnds"]


class HeldEnds:
    """Response ends waiting for the :class:`TTSStoppedFrame` of their turn (by its
    ``context_id``)."""

    def __init__(self) -> None:
        self._held: dict[str | None, Frame] = {}

    def hold(self, context_id: str | None, frame: Frame) -> None:
        """Keep ``frame`` until the turn ``context_id`` stops."""
        self._held[context_id] = frame

    def after(self, frames: list[Frame]) -> list[Frame]:
        """``frames`` with each held end put right after its turn's stop."""
        if not self._held:
            return frames
        out: list[Frame] = []
        for frame in frames:
            out.append(frame)
            if isinstance(frame, TTSStoppedFrame) and frame.context_id in self._held:
                out.append(self._held.pop(frame.context_id))
        return out

    def drop(self) -> int:
        """Forget every held end (an interruption); returns how many."""
        n = len(self._held)
        self._held.clear()
        return n
