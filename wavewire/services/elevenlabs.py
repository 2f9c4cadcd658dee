"""ElevenLabs TTS over ``stream-input`` (protocols.md §8.1) as a service, on
:class:`~wavewire.services._tts.WebSocketTTSService` and
:class:`~wavewire.serializers.elevenlabs.ElevenLabsSerializer`.

A ``stream-input`` socket carries one generation and says it is complete
(``isFinal``) only when its input ends, after which the server closes it. So
:class:`ElevenLabsTTSService` uses one socket per bot turn: LLM text (:class:`TextFrame`,
not :class:`TTSTextFrame`) is sent in whole words as it comes; at
:class:`LLMFullResponseEndFrame` (or with a :class:`TTSSpeakFrame`) the rest is sent with
``flush`` and the input is ended (``{"text": ""}``); ``isFinal`` gives
:class:`TTSStoppedFrame` (the response's end is held until then, so the turn's words come
before it), the server closes normally, and the client reconnects at once
for the next turn (``open()`` initializes it again). Text that comes while a turn's socket
is ending waits, then goes to the next socket (a socket dropped mid-turn loses the text
already sent on it: ElevenLabs keeps no state across sockets).

It pushes :class:`TTSStartedFrame`, :class:`TTSAudioFrame` s, :class:`TTSTextFrame` s
with word timestamps from the alignment (seconds from the start of the turn's audio) and
:class:`TTSStoppedFrame`. A single-context socket cannot cancel: on an interruption the
turn's input is ended and everything that socket still sends is dropped (counted as
``interrupted``). ``{"text": " "}`` keeps an idle socket open. TTFB is from a turn's
first text to its first audio.

Defaults: ``ELEVENLABS_API_KEY`` (sent as the ``xi-api-key`` header),
``ELEVENLABS_BASE_URL`` else ``wss://api.elevenlabs.io``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..errors import RemoteClosedError, WavewireError
from ..frames import (
    ErrorFrame,
    InterruptionFrame,
    LLMFullResponseEndFrame,
    TTSAudioFrame,
    TTSSpeakFrame,
)
from ..processors.base import DOWNSTREAM, FrameDirection
from ..serializers.elevenlabs import ElevenLabsSerializer
from ..transports.backoff import Backoff
from ._tts import WebSocketTTSService, is_text_to_speak

if TYPE_CHECKING:
    from ..frames import Frame
    from ..serializers.base import Message
    from ..transports.client import WebSocketClient

__all__ = ["ElevenLabsTTSService"]

_NEXT_TURN = Backoff(initial=0.0, max=2.0, jitter=0.0, max_attempts=8)


class ElevenLabsTTSService(WebSocketTTSService[ElevenLabsSerializer]):
    """See the module docstring. ``voice_id`` is required; ``model_id``,
    ``output_format``, ``voice_settings`` and ``chunk_length_schedule`` go to the
    serializer."""

    api_key_env = "ELEVENLABS_API_KEY"
    base_url_env = "ELEVENLABS_BASE_URL"
    default_base_url = "wss://api.elevenlabs.io"
    reconnect_on_normal_close = True
    keepalive_interval = 15.0

    def __init__(
        self,
        *,
        voice_id: str,
        model_id: str = "eleven_flash_v2_5",
        output_format: str = "pcm_24000",
        voice_settings: dict[str, Any] | None = None,
        chunk_length_schedule: list[int] | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("reconnect", _NEXT_TURN)
        super().__init__(**kwargs)
        self.voice_id = voice_id
        self.model_id = model_id
        self.output_format = output_format
        self.voice_settings = voice_settings
        self.chunk_length_schedule = chunk_length_schedule
        self._words = ""  # text not yet sent: an unfinished word
        self._waiting: list[Frame] = []  # frames for the next socket
        self._turn_open = False
        self._ending = False
        self._discard = False
        self._audio_seen = False

    def websocket_url(self) -> str:
        path = self.make_serializer().path()
        if self.gateway is not None:
            return self.gateway.provider_url("elevenlabs", path, websocket=True)
        return f"{self.base_url}{path}"

    def websocket_headers(self) -> dict[str, str]:
        headers = super().websocket_headers()
        if self.api_key is not None:
            headers["xi-api-key"] = self.api_key.reveal()
        return headers

    def make_serializer(self) -> ElevenLabsSerializer:
        return ElevenLabsSerializer(self.voice_id, model_id=self.model_id,
                                    output_format=self.output_format,
                                    voice_settings=self.voice_settings,
                                    chunk_length_schedule=self.chunk_length_schedule)

    def keepalive_messages(self) -> Sequence[Message]:
        return [] if self._ending else ['{"text":" "}']

    def close_error(self, code: int | None, reason: str) -> WavewireError | None:
        if code == 1008 and "timeout" in reason.lower():  # the inactivity timeout
            err = RemoteClosedError(f"elevenlabs closed an idle socket: {reason}",
                                    close_code=code, reason=reason)
            return err
        return None

    # -- text in ------------------------------------------------------------------------------

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        if direction is DOWNSTREAM and self.client is not None:
            if is_text_to_speak(frame):
                await self._text(frame)
                return
            if isinstance(frame, LLMFullResponseEndFrame):
                await self._response_end(frame)
                return
        if isinstance(frame, InterruptionFrame):
            await self._interrupted()
        await super().process_frame(frame, direction)

    async def _text(self, frame: Frame) -> None:
        if self._ending:
            self._waiting.append(frame)
            return
        end = isinstance(frame, TTSSpeakFrame | LLMFullResponseEndFrame)
        self._words += getattr(frame, "text", "")
        cut = len(self._words) if end else max(self._words.rfind(" "), self._words.rfind("\n")) + 1
        text, self._words = self._words[:cut], self._words[cut:]
        if text.strip():
            if not self._turn_open:
                self._turn_open = True
                self._serializer.context_id = cid = self.next_turn_id()
                await self.start_turn(cid)
            for message in self._serializer.text(text, flush=end):
                await self.send_message(message)
        if end and self._turn_open:
            await self._end_input()

    async def _response_end(self, frame: LLMFullResponseEndFrame) -> None:
        """End the turn's input; the frame goes on once the turn's audio and words are
        out (it waits for the next socket while this one is ending)."""
        if self._ending:
            self._waiting.append(frame)
            return
        turn = self._turn_open
        await self._text(frame)
        if turn:
            self._ends.hold(self._serializer.context_id, frame)
        else:
            await self.push(frame)

    async def _end_input(self) -> None:
        self._ending = True
        for message in self._serializer.close():
            await self.send_message(message)

    async def _interrupted(self) -> None:
        self._words = ""
        if self._waiting:
            self.count_drop("interrupted", len(self._waiting))
        self._waiting.clear()
        if self._turn_open and not self._ending:
            await self._end_input()
        if self._ending:
            self._discard = True

    async def on_socket_dropped(self, client: WebSocketClient, code: int | None,
                                reason: str) -> None:
        """The turn's socket closed: what waited goes to the next one (held by the
        client until it is open, after its initializing message)."""
        if client.closed:
            return
        self._ending = self._discard = self._turn_open = False
        self._audio_seen = False
        self._serializer.start_utterance()
        waiting, self._waiting = self._waiting, []
        for frame in waiting:
            if isinstance(frame, LLMFullResponseEndFrame):
                await self._response_end(frame)
            else:
                await self._text(frame)

    # -- audio back -----------------------------------------------------------------------------

    async def on_service_frames(self, frames: list[Frame]) -> None:
        if self._discard:
            self.count_drop("interrupted", sum(not isinstance(f, ErrorFrame) for f in frames))
            frames = [f for f in frames if isinstance(f, ErrorFrame)]
        elif not self._audio_seen and any(isinstance(f, TTSAudioFrame) for f in frames):
            self._audio_seen = True
            await self.stop_ttfb_metrics()
        await super().on_service_frames(frames)
