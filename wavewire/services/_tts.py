"""What the text-to-speech services share.

* :func:`is_text_to_speak`: what a TTS consumes: a :class:`TTSSpeakFrame`, or a
  :class:`TextFrame` that is not a :class:`TTSTextFrame` (words already spoken). The
  offline espeak service tests the same inline rather than import this module, which
  would load the WebSocket client it has no use for.
* :class:`HeldEnds`: the end of an LLM response is held back until the TTS output of its
  turn has been pushed, so that downstream (the assistant aggregator) sees the turn's
  :class:`~wavewire.frames.TTSTextFrame` s before its
  :class:`~wavewire.frames.LLMFullResponseEndFrame`, as it would from a synchronous TTS.
* :class:`WebSocketTTSService`: the base of the streaming TTS services over one provider
  WebSocket (Cartesia, Deepgram, ElevenLabs): its serializer, typed; numbered turns
  (``turn-N``) that start TTFB timing and push :class:`TTSStartedFrame`; the held
  response ends, released after their turn's :class:`TTSStoppedFrame` in what the
  provider sends and dropped (counted as ``interrupted``) on an interruption; and
  :meth:`~WebSocketTTSService.on_socket_dropped`, called whenever the provider socket
  closes, for a service to resend or settle what the socket carried.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Generic, TypeGuard, TypeVar

from ..frames import (
    Frame,
    TextFrame,
    TTSSpeakFrame,
    TTSStartedFrame,
    TTSStoppedFrame,
    TTSTextFrame,
)
from ..serializers.base import FrameSerializer
from .base import WebSocketService

if TYPE_CHECKING:
    from ..transports.client import WebSocketClient

__all__ = ["HeldEnds", "WebSocketTTSService", "is_text_to_speak"]

S = TypeVar("S", bound=FrameSerializer)


def is_text_to_speak(frame: Frame) -> TypeGuard[TextFrame | TTSSpeakFrame]:
    """Whether ``frame`` is text a TTS speaks (see the module docstring)."""
    return isinstance(frame, TTSSpeakFrame) or (
        isinstance(frame, TextFrame) and not isinstance(frame, TTSTextFrame)
    )


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


class WebSocketTTSService(WebSocketService, Generic[S]):
    """Base of a streaming TTS service whose serializer is an ``S`` (module docstring).
    A subclass holds a response end with ``self._ends.hold(context_id, frame)``."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._ends = HeldEnds()
        self._turns = 0

    @property
    def _serializer(self) -> S:
        """The serializer of the current connection."""
        assert self.client is not None
        return self.client.serializer  # type: ignore[return-value]

    def next_turn_id(self) -> str:
        """A new turn's context id, ``turn-N``."""
        self._turns += 1
        return f"turn-{self._turns}"

    async def start_turn(self, context_id: str) -> None:
        """A turn (context) starts: time to first audio is timed from now, and its
        :class:`TTSStartedFrame` goes downstream."""
        self.start_ttfb_metrics()
        await self.push(TTSStartedFrame(context_id=context_id))

    def make_client(self) -> WebSocketClient:
        client = super().make_client()
        client.add_event_handler("on_disconnected", self.on_socket_dropped)
        return client

    async def on_socket_dropped(self, client: WebSocketClient, code: int | None,
                                reason: str) -> None:
        """The provider socket closed (``client.closed`` when the service closed it).
        Nothing by default."""

    async def on_interruption(self) -> None:
        """Forget the held response ends (counted as ``interrupted``), then as the base."""
        if n := self._ends.drop():
            self.count_drop("interrupted", n)
        await super().on_interruption()

    async def on_service_frames(self, frames: list[Frame]) -> None:
        """Push ``frames`` with each held response end right after its turn's stop."""
        if frames:
            await super().on_service_frames(self._ends.after(frames))
