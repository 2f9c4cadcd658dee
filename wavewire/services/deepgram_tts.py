"""Deepgram streaming text-to-speech (Aura, ``/v1/speak``) as a service, on
:class:`~wavewire.services._tts.WebSocketTTSService` and
:class:`~wavewire.serializers.deepgram_speak.DeepgramSpeakSerializer`.

:class:`DeepgramTTSService` consumes LLM text (:class:`TextFrame`, not
:class:`TTSTextFrame`) and :class:`TTSSpeakFrame`, and pushes
:class:`TTSStartedFrame`, :class:`TTSAudioFrame` s, one :class:`TTSTextFrame` per
sentence (just before that sentence's audio; Deepgram gives no word timing) and
:class:`TTSStoppedFrame` once the last sentence of the turn has been ``Flushed`` (the
response's :class:`LLMFullResponseEndFrame` is held until then, so the turn's words come
before it):

* each complete sentence is sent as ``Speak`` + ``Flush``, the rest of the turn at
  :class:`LLMFullResponseEndFrame`; a flush beyond Deepgram's 20 per 60 s waits (on the
  session clock) until it is allowed, the text staying in Deepgram's buffer;
* on an interruption ``Clear`` is sent, the audio still in flight is dropped (by the
  serializer until ``Cleared``, and by epoch), and the turn's pending sentences are
  forgotten;
* after a dropped socket (the client reconnects), the sentences whose audio had not
  started are sent again; the one being spoken is taken as done;
* TTFB is from the first ``Speak`` of a turn to its first audio.

Defaults: ``DEEPGRAM_API_KEY``, ``DEEPGRAM_BASE_URL`` else ``wss://api.deepgram.com``;
through an AI Gateway: ``{gateway}/deepgram/v1/speak``.
"""

from __future__ import annotations

import re
from collections import deque
from typing import TYPE_CHECKING, Any

from ..errors import WavewireError
from ..frames import (
    InputTransportMessageFrame,
    InterruptionFrame,
    LLMFullResponseEndFrame,
    TTSAudioFrame,
    TTSSpeakFrame,
    TTSStoppedFrame,
    TTSTextFrame,
)
from ..processors.base import DOWNSTREAM, FrameDirection
from ..serializers.deepgram import close_error
from ..serializers.deepgram_speak import DeepgramSpeakSerializer, SpeakOptions
from ._tts import WebSocketTTSService, is_text_to_speak

if TYPE_CHECKING:
    from ..frames import Frame
    from ..transports.client import WebSocketClient

__all__ = ["DeepgramTTSService", "split_sentences"]

_SENTENCE_END = re.compile("[.!?;:\u2026\u3002\uff01\uff1f][\"')\\]]*\\s")


def split_sentences(text: str) -> tuple[list[str], str]:
    """(complete sentences, the rest) of ``text``: a sentence ends at ``.!?;:`` (and
    their CJK forms) followed by whitespace."""
    sentences = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        sentences.append(text[start : match.end()])
        start = match.end()
    return sentences, text[start:]


class DeepgramTTSService(WebSocketTTSService[DeepgramSpeakSerializer]):
    """See the module docstring."""

    api_key_env = "DEEPGRAM_API_KEY"
    base_url_env = "DEEPGRAM_BASE_URL"
    default_base_url = "wss://api.deepgram.com"

    def __init__(self, *, options: SpeakOptions | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.options = options or SpeakOptions()
        self._text = ""
        self._turn_open = False
        self._turn_ended = False
        self._unflushed: list[str] = []  # sentences sent, not yet flushed
        self._segments: deque[str] = deque()  # the text of each flush awaiting its audio
        self._segment_started = False
        self._flush_task: Any = None

    def websocket_url(self) -> str:
        path, _, query = self.options.path().partition("?")
        if self.gateway is not None:
            return self.gateway.deepgram_url(path, query)
        return f"{self.base_url}{path}?{query}"

    def websocket_headers(self) -> dict[str, str]:
        headers = super().websocket_headers()
        if self.api_key is not None:
            headers["Authorization"] = f"Token {self.api_key.reveal()}"
        return headers

    def make_serializer(self) -> DeepgramSpeakSerializer:
        return DeepgramSpeakSerializer(self.options)

    def close_error(self, code: int | None, reason: str) -> WavewireError | None:
        return close_error(code, reason)

    async def on_socket_dropped(self, client: WebSocketClient, code: int | None,
                                reason: str) -> None:
        """The text Deepgram had not spoken yet goes again on the next socket: the
        sentences whose audio had not started (one that had started is taken as done:
        repeating it would repeat what was heard)."""
        if client.closed or self._closing:
            return
        pending = list(self._segments)
        if self._segment_started and pending:
            pending = pending[1:]
        unflushed, self._unflushed = self._unflushed, []
        self._segments.clear()
        self._segment_started = False
        client.clear()  # what was held is in the state above
        for text in pending:
            for message in self._serializer.speak(text + " "):
                await client.send(message)
            self._segments.append(text)
            for message in self._serializer.flush(self.clock.now()):
                await client.send(message)
        for text in unflushed:
            for message in self._serializer.speak(text + " "):
                await client.send(message)
            self._unflushed.append(text)

    # -- text in ------------------------------------------------------------------------------

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        if direction is DOWNSTREAM and self.client is not None:
            if isinstance(frame, TTSSpeakFrame):
                await self._speak(frame.text, end=True)
                return
            if is_text_to_speak(frame):
                await self._speak(frame.text, end=False)
                return
            if isinstance(frame, LLMFullResponseEndFrame):
                await self._speak("", end=True)
                if self._turn_open:
                    cid = self._serializer.context_id
                    if not self._segments and not self._unflushed:  # all heard already
                        self._turn_open = False
                        await self.push(TTSStoppedFrame(context_id=cid))
                    else:  # held until the turn's audio and words are out
                        self._ends.hold(cid, frame)
                        return
        if isinstance(frame, InterruptionFrame):
            self._reset()
        await super().process_frame(frame, direction)

    async def _speak(self, text: str, *, end: bool) -> None:
        self._text += text
        sentences, self._text = split_sentences(self._text)
        if end and self._text.strip():
            sentences.append(self._text)
        if end:
            self._text = ""
        for sentence in sentences:
            if not sentence.strip():
                continue
            if not self._turn_open:
                self._turn_open = True
                self._turn_ended = False
                self._serializer.context_id = cid = self.next_turn_id()
                await self.start_turn(cid)
            for message in self._serializer.speak(sentence):
                await self.send_message(message)
            self._unflushed.append(sentence.strip())
            await self._flush()
        if end and self._turn_open:
            self._turn_ended = True

    async def _flush(self) -> None:
        if self._flush_task is not None:
            return  # a deferred flush will cover this text too
        delay = self._serializer.flush_delay(self.clock.now())
        if delay > 0:
            self._flush_task = self.create_task(self._flush_later(delay), "flush-later")
            return
        if not self._unflushed:
            return
        self._segments.append(" ".join(self._unflushed))
        self._unflushed = []
        for message in self._serializer.flush(self.clock.now()):
            await self.send_message(message)

    async def _flush_later(self, delay: float) -> None:
        await self.clock.sleep(delay)
        self._flush_task = None
        await self._flush()

    def _reset(self) -> None:
        self._text = ""
        self._unflushed = []
        self._segments.clear()
        self._segment_started = False
        self._turn_open = False
        if self._flush_task is not None:
            self._flush_task.cancel()
            self._flush_task = None

    # -- audio back -----------------------------------------------------------------------------

    async def on_service_frames(self, frames: list[Frame]) -> None:
        out: list[Frame] = []
        for frame in frames:
            if isinstance(frame, TTSAudioFrame):
                if not self._turn_open:
                    self.count_drop("unrequested-audio")
                    continue
                if not self._segment_started and self._segments:
                    self._segment_started = True
                    out.append(TTSTextFrame(self._segments[0],
                                            context_id=self._serializer.context_id))
                await self.stop_ttfb_metrics()
                out.append(frame)
            elif isinstance(frame, InputTransportMessageFrame):
                if isinstance(frame.message, dict) and frame.message.get("type") == "Flushed":
                    out += self._flushed()
            else:
                out.append(frame)
        await super().on_service_frames(out)

    def _flushed(self) -> list[Frame]:
        if not self._segments:
            return []
        self._segments.popleft()  # (a flush that made no audio has no text frame)
        self._segment_started = False
        if self._segments or self._unflushed or not self._turn_ended or not self._turn_open:
            return []
        self._turn_open = False
        return [TTSStoppedFrame(context_id=self._serializer.context_id)]
