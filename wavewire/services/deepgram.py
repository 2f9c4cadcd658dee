"""Deepgram speech-to-text (``/v1/listen`` and Flux ``/v2/listen``) as a service, on
:class:`~wavewire.services.base.WebSocketService` and
:class:`~wavewire.serializers.deepgram.DeepgramListenSerializer`. Deepgram TTS is
:class:`~wavewire.services.deepgram_tts.DeepgramTTSService` (re-exported here).

:class:`DeepgramSTTService` takes user audio (:class:`InputAudioFrame`, passed on) and
pushes :class:`InterimTranscriptionFrame` / :class:`TranscriptionFrame` with words (Flux:
also :class:`STTTurnFrame`; with ``vad_events`` Deepgram's VAD frames):

* audio is converted to the socket's rate and channels (``options``); 20 ms of silence
  opens the stream (Deepgram's keep-alive only counts once audio was sent);
* ``KeepAlive`` after ``keepalive_s`` without anything sent (never a 10 s gap);
* ``Finalize`` when the user's turn ends (:class:`UserStoppedSpeakingFrame`), which also
  starts the TTFB metric that the next final transcription stops;
* ``CloseStream`` at the end, waiting up to ``end_drain_s`` for the last results;
* a dropped socket reconnects (the client's backoff) and the audio not yet covered by a
  final result (up to ``replay_s`` seconds) is sent again first, with word times kept on
  the session's audio clock; finals that end before the last one are dropped
  (``duplicate``), so nothing is lost or repeated;
* close codes are typed (``DATA-*`` not retried); a refused key is one error, no retry.

Defaults: ``DEEPGRAM_API_KEY``, ``DEEPGRAM_BASE_URL`` else ``wss://api.deepgram.com``;
through an AI Gateway: ``{gateway}/deepgram/v1/listen``, or with ``workers_ai_model``
(``@cf/deepgram/nova-3``…) Workers AI's Deepgram at ``{gateway}/workers-ai?model=…``
(the gateway token is the only credential).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..errors import WavewireError
from ..frames import (
    InputAudioFrame,
    InputTransportMessageFrame,
    StartFrame,
    TranscriptionFrame,
    UserStoppedSpeakingFrame,
)
from ..processors.base import DOWNSTREAM, FrameDirection
from ..serializers.deepgram import DeepgramListenSerializer, ListenOptions, close_error
from ..serializers.deepgram_flux import DeepgramFluxSerializer, FluxOptions
from .base import WebSocketService
from .deepgram_tts import DeepgramTTSService

if TYPE_CHECKING:
    from ..frames import Frame
    from ..serializers.base import Message
    from ..transports.client import WebSocketClient

__all__ = ["DeepgramSTTService", "DeepgramTTSService"]


class DeepgramSTTService(WebSocketService):
    """See the module docstring. ``options`` is a :class:`ListenOptions` (``/v1/listen``)
    or :class:`FluxOptions` (Flux, ``/v2/listen``)."""

    api_key_env = "DEEPGRAM_API_KEY"
    base_url_env = "DEEPGRAM_BASE_URL"
    default_base_url = "wss://api.deepgram.com"
    replies_follow_work = False

    def __init__(
        self,
        *,
        options: ListenOptions | FluxOptions | None = None,
        finalize_on_turn_end: bool = True,
        keepalive_s: float = 4.0,
        replay_s: float = 30.0,
        end_drain_s: float = 2.0,
        user_id: str = "",
        workers_ai_model: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.workers_ai_model = workers_ai_model
        """A Workers AI Deepgram model (``@cf/deepgram/nova-3``, ``@cf/deepgram/flux``)
        reached through the AI Gateway's ``/workers-ai`` (the gateway token only)."""
        if workers_ai_model is not None and self.gateway is None:
            raise ValueError("deepgram: workers_ai_model needs an AI Gateway")
        self.options = options or ListenOptions()
        self.flux = isinstance(self.options, FluxOptions)
        self.finalize_on_turn_end = finalize_on_turn_end and not self.flux
        self.keepalive_interval = None if self.flux else keepalive_s
        self.replay_s = replay_s
        self.end_drain_s = end_drain_s
        self.user_id = user_id
        self.rate = self.options.sample_rate
        self.channels = getattr(self.options, "channels", 1)
        self._resamplers: dict[int, Any] = {}
        self._sent_s = 0.0  # seconds of audio given to the client
        self._replay: deque[tuple[float, bytes]] = deque()
        self._replay_bytes = 0
        self._final_end = 0.0

    # -- the connection ----------------------------------------------------------------------

    def websocket_url(self) -> str:
        path, _, query = self.options.path().partition("?")
        if self.gateway is not None and self.workers_ai_model is not None:
            rest = "&".join(p for p in query.split("&") if not p.startswith("model="))
            return self.gateway.workers_ai_url(self.workers_ai_model, rest)
        if self.gateway is not None:
            return self.gateway.deepgram_url(path, query)
        return f"{self.base_url}{path}?{query}"

    def websocket_headers(self) -> dict[str, str]:
        headers = super().websocket_headers()
        if self.api_key is not None and self.workers_ai_model is None:
            headers["Authorization"] = f"Token {self.api_key.reveal()}"
        return headers

    def make_serializer(self) -> DeepgramListenSerializer | DeepgramFluxSerializer:
        if isinstance(self.options, FluxOptions):
            return DeepgramFluxSerializer(self.options, user_id=self.user_id)
        return DeepgramListenSerializer(self.options, user_id=self.user_id)

    def keepalive_messages(self) -> Sequence[Message]:
        return ['{"type":"KeepAlive"}']

    def close_error(self, code: int | None, reason: str) -> WavewireError | None:
        return close_error(code, reason)

    def make_client(self) -> WebSocketClient:
        client = super().make_client()
        client.add_event_handler("on_disconnected", self._replay_after_drop)
        return client

    async def on_start(self, frame: StartFrame) -> None:
        await super().on_start(frame)
        await self._send_audio(bytes(self.rate // 50 * 2 * self.channels))

    # -- audio out -----------------------------------------------------------------------------

    def _convert(self, frame: InputAudioFrame) -> bytes:
        """The frame's audio at the socket's rate and channels."""
        from ..audio.channels import convert_channels
        from ..audio.resample import StreamResampler

        pcm = frame.audio
        if frame.num_channels != self.channels:
            pcm = convert_channels(pcm, frame.num_channels, self.channels)
        if frame.sample_rate != self.rate:
            resampler = self._resamplers.get(frame.sample_rate)
            if resampler is None:
                resampler = StreamResampler(frame.sample_rate, self.rate, self.channels)
                self._resamplers[frame.sample_rate] = resampler
            pcm = resampler.process(pcm)
        return pcm

    async def _send_audio(self, pcm: bytes) -> None:
        client = self.client
        if not pcm or client is None:
            return
        start = self._sent_s
        self._sent_s += len(pcm) / (2 * self.channels * self.rate)
        # Flux has no finals; on /v1/listen empty finals (silence) cover audio too.
        finalized = getattr(client.serializer, "finalized_s", 0.0)
        if finalized > self._final_end:
            self._final_end = finalized
            self._trim_replay()
        self._replay.append((start, pcm))
        self._replay_bytes += len(pcm)
        limit = self.replay_s * self.rate * 2 * self.channels
        while self._replay_bytes > limit and len(self._replay) > 1:
            self._replay_bytes -= len(self._replay.popleft()[1])
            self.count_drop("replay-overflow")
        for message in client.serializer.audio(pcm):  # type: ignore[attr-defined]
            await self.send_message(message)

    async def _replay_after_drop(self, client: WebSocketClient, code: int | None,
                                 reason: str) -> None:
        """Queue (ahead of newer audio) what no final result covers yet, and keep word
        times on the session's clock: the new socket's time 0 is the replay's start."""
        if self._closing or client.closed:
            return
        serializer: Any = client.serializer
        serializer.time_offset = self._replay[0][0] if self._replay else self._sent_s
        client.clear()  # anything held already is in the replay, or a stale KeepAlive
        for _, pcm in self._replay:
            for message in serializer.audio(pcm):
                await client.send(message)

    # -- frames ----------------------------------------------------------------------------------

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        if isinstance(frame, InputAudioFrame) and direction is DOWNSTREAM:
            await self._send_audio(self._convert(frame))
            await self.push(frame, direction)
            return
        if isinstance(frame, UserStoppedSpeakingFrame) and self.finalize_on_turn_end:
            client = self.client
            if client is not None and self.failed is None:
                self.start_ttfb_metrics()
                for message in client.serializer.finalize():  # type: ignore[attr-defined]
                    await self.send_message(message)
        await super().process_frame(frame, direction)

    async def on_service_frames(self, frames: list[Frame]) -> None:
        out: list[Frame] = []
        for frame in frames:
            if isinstance(frame, InputTransportMessageFrame):
                continue  # Metadata, Connected…: the serializer keeps what matters
            if isinstance(frame, TranscriptionFrame):
                if not self._covers_new_audio(frame):
                    self.count_drop("duplicate")
                    continue
                await self.stop_ttfb_metrics()
            out.append(frame)
        if out:
            await super().on_service_frames(out)

    def _covers_new_audio(self, frame: TranscriptionFrame) -> bool:
        """Advance the finalized time with this final; False if it ends before the last
        one did (a replayed span transcribed again)."""
        result = frame.result if isinstance(frame.result, dict) else {}
        client = self.client
        offset = getattr(client.serializer, "time_offset", 0.0) if client else 0.0
        start, duration = result.get("start"), result.get("duration")
        if isinstance(start, int | float) and isinstance(duration, int | float):
            end = offset + float(start) + float(duration)
        elif frame.words:
            end = frame.words[-1].end_s
        else:
            return True
        if frame.words and frame.words[-1].end_s <= self._final_end - 1e-3:
            return False
        self._final_end = max(self._final_end, end)
        self._trim_replay()
        return True

    def _trim_replay(self) -> None:
        """Forget the audio that final results cover: it will never need sending again."""
        per_s = 2 * self.channels * self.rate
        while self._replay and self._replay[0][0] + len(self._replay[0][1]) / per_s <= (
            self._final_end + 1e-9
        ):
            self._replay_bytes -= len(self._replay.popleft()[1])

    @property
    def replay_seconds(self) -> float:
        """Seconds of sent audio kept for a replay after a reconnect (not yet covered by
        a final result)."""
        return self._replay_bytes / (2 * self.channels * self.rate)
