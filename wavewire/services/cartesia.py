"""Cartesia TTS (WebSocket, protocols.md §7) as a service, on
:class:`~wavewire.services._tts.WebSocketTTSService` and
:class:`~wavewire.serializers.cartesia.CartesiaSerializer`.

:class:`CartesiaTTSService` keeps one Cartesia context per bot turn: LLM text
(:class:`TextFrame`, not :class:`TTSTextFrame`) streams into it with ``continue: true``
as it comes (Cartesia buffers it), :class:`LLMFullResponseEndFrame` ends it, and a
:class:`TTSSpeakFrame` is a context of its own. It pushes :class:`TTSStartedFrame` when a
context opens, then :class:`TTSAudioFrame` s, :class:`TTSTextFrame` s with word
timestamps (``start_s``/``end_s`` from the start of the turn's audio, which the
assistant aggregator uses to keep only the heard words), and :class:`TTSStoppedFrame` at
``done`` (the response's :class:`LLMFullResponseEndFrame` is held until then, so the
turn's words come before it). On an interruption every context still speaking is cancelled, and its late
audio dropped.
TTFB is from a context's first text to its first audio. After a dropped socket, contexts
whose audio had not started are requested again on the next one; one being spoken is
taken as done.

Defaults: ``CARTESIA_API_KEY``, ``CARTESIA_BASE_URL`` else ``wss://api.cartesia.ai``;
the key and ``cartesia_version`` go in the query (as Cartesia asks of server clients);
through an AI Gateway: ``{gateway}/cartesia?cartesia_version=…&api_key=…``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..frames import (
    InputTransportMessageFrame,
    LLMFullResponseEndFrame,
    TTSAudioFrame,
    TTSSpeakFrame,
    TTSStoppedFrame,
)
from ..processors.base import DOWNSTREAM, FrameDirection
from ..serializers.cartesia import DEFAULT_VERSION, CartesiaSerializer
from ._tts import WebSocketTTSService, is_text_to_speak

if TYPE_CHECKING:
    from ..frames import Frame
    from ..transports.client import WebSocketClient

__all__ = ["CartesiaTTSService"]


class CartesiaTTSService(WebSocketTTSService[CartesiaSerializer]):
    """See the module docstring. ``voice_id`` is required; ``model_id``, ``language``,
    ``encoding``, ``sample_rate`` and ``add_timestamps`` go to the serializer."""

    api_key_env = "CARTESIA_API_KEY"
    base_url_env = "CARTESIA_BASE_URL"
    default_base_url = "wss://api.cartesia.ai"

    def __init__(
        self,
        *,
        voice_id: str,
        model_id: str = "sonic-2",
        language: str | None = "en",
        sample_rate: int = 24000,
        version: str = DEFAULT_VERSION,
        serializer_options: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.voice_id = voice_id
        self.model_id = model_id
        self.language = language
        self.sample_rate = sample_rate
        self.version = version
        self.serializer_options = dict(serializer_options or {})
        self._started: set[str] = set()
        self._open_contexts: set[str] = set()
        self._sent: dict[str, list[Any]] = {}  # context → [text sent, ended]

    def websocket_url(self) -> str:
        key = self.api_key.reveal() if self.api_key is not None else ""
        if self.gateway is not None:
            return self.gateway.cartesia_url(key, self.version)
        return f"{self.base_url}/tts/websocket?{CartesiaSerializer.query_string(key, self.version)}"

    def make_serializer(self) -> CartesiaSerializer:
        prefix = f"{self.name}-{id(self):x}"
        return CartesiaSerializer(self.voice_id, model_id=self.model_id, language=self.language,
                                  sample_rate=self.sample_rate, context_prefix=prefix,
                                  **self.serializer_options)

    async def on_socket_dropped(self, client: WebSocketClient, code: int | None,
                                reason: str) -> None:
        """Contexts live on one socket. Those whose audio had started are taken as done
        (:class:`TTSStoppedFrame`: repeating them would repeat what was heard), except the
        current turn's, which goes on with its next text; the others are requested again,
        whole, on the next socket."""
        if client.closed or self._closing:
            return
        client.clear()  # what was held is in ``_sent``
        ser = self._serializer
        for cid in sorted(self._open_contexts):
            text, ended = self._sent.get(cid, ["", False])
            if cid in self._started:
                if cid == ser.context_id:  # the turn goes on: its next text, new socket
                    self._sent[cid] = ["", False]
                    continue
                self._started.discard(cid)
                self._open_contexts.discard(cid)
                self._sent.pop(cid, None)
                for frame in self._ends.after([TTSStoppedFrame(context_id=cid)]):
                    await self.push(frame)
            elif text or ended:
                for message in ser.request(cid, text, more=not ended):
                    await client.send(message)

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        if direction is DOWNSTREAM and self.client is not None:
            ser = self._serializer
            if isinstance(frame, TTSSpeakFrame):
                cid = ser.next_id()
                await self._open(cid)
                self._sent[cid] = [frame.text, True]
                for message in ser.request(cid, frame.text, more=False):
                    await self.send_message(message)
                return
            if is_text_to_speak(frame):
                if not frame.text:
                    return
                if ser.context_id is None:
                    await self._open(ser.new_context())
                self._sent.setdefault(str(ser.context_id), ["", False])[0] += frame.text
                await self.send_frame(frame)
                return
            if isinstance(frame, LLMFullResponseEndFrame) and ser.context_id is not None:
                self._sent.setdefault(str(ser.context_id), ["", False])[1] = True
                self._ends.hold(ser.context_id, frame)
                await self.send_frame(frame)
                return
        await super().process_frame(frame, direction)

    async def on_interruption(self) -> None:
        """Cancel every context still speaking (the current turn's by the base, through
        the serializer; a :class:`TTSSpeakFrame`'s here), so none of their audio plays."""
        self._started.clear()
        client = self.client
        if client is not None and not client.closed:
            current = self._serializer.context_id
            for cid in sorted(self._open_contexts - {current}):
                for message in self._serializer.cancel(cid):
                    await client.send(message)
        self._open_contexts.clear()
        self._sent.clear()
        await super().on_interruption()

    async def _open(self, context_id: str) -> None:
        self._open_contexts.add(context_id)
        await self.start_turn(context_id)

    async def on_service_frames(self, frames: list[Frame]) -> None:
        out: list[Frame] = []
        for frame in frames:
            if isinstance(frame, InputTransportMessageFrame):
                continue  # flush_done / phoneme timestamps
            if isinstance(frame, TTSAudioFrame) and frame.context_id not in self._started:
                self._started.add(str(frame.context_id))
                await self.stop_ttfb_metrics()
            if isinstance(frame, TTSStoppedFrame):
                self._started.discard(str(frame.context_id))
                self._open_contexts.discard(str(frame.context_id))
                self._sent.pop(str(frame.context_id), None)
            out.append(frame)
        await super().on_service_frames(out)
