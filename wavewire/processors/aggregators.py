"""The context aggregators: what the user said and what the bot said, into one
:class:`~wavewire.context.LLMContext`.

:class:`LLMUserAggregator` (after turn taking, before the LLM) gathers the final
transcriptions of one user turn (between ``UserStartedSpeakingFrame`` and
``UserStoppedSpeakingFrame``) into one ``user`` message and runs the LLM by pushing an
:class:`~wavewire.frames.LLMContextFrame`. A turn with no words adds nothing. A final
transcription that arrives after the turn ended, before the bot answered, joins the
turn's message and runs the LLM again.

:class:`LLMAssistantAggregator` (after the TTS, right before the output edge) turns the
LLM's text into an ``assistant`` message at the end of each response. When the user
interrupts, the message keeps **only the words the user heard**: the output edge reports
each utterance's played and total audio (:class:`~wavewire.frames.BotUtterancePlayedFrame`,
sent upstream, so this aggregator must sit before the edge). With TTS word timestamps
the edge's own account of the heard words is used; without them, the text's proportion
played, rounded down to a whole word. A response the user heard nothing of adds nothing.
Tool calls and their results are written by the LLM service, all together, so the
context never holds half a call.

Create both with :func:`context_aggregators`.
"""

from __future__ import annotations

from typing import Any

from ..context import LLMContext
from ..frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    BotUtterancePlayedFrame,
    Frame,
    InterruptionFrame,
    LLMContextFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    LLMTextFrame,
    TextFrame,
    TranscriptionFrame,
    TTSTextFrame,
    UserStartedSpeakingFrame,
    UserStoppedSpeakingFrame,
)
from .base import DOWNSTREAM, UPSTREAM, FrameDirection, FrameProcessor

__all__ = ["LLMAssistantAggregator", "LLMUserAggregator", "context_aggregators", "heard_prefix"]


def context_aggregators(
    context: LLMContext | None = None,
) -> tuple[LLMUserAggregator, LLMAssistantAggregator]:
    """A user and an assistant aggregator sharing ``context`` (a new one by default)."""
    context = context if context is not None else LLMContext()
    return LLMUserAggregator(context), LLMAssistantAggregator(context)


def heard_prefix(text: str, played_ms: float, total_ms: float) -> str:
    """The part of ``text`` spoken in ``played_ms`` of ``total_ms``, assuming speech runs
    evenly through the text, rounded down to a whole word."""
    if total_ms <= 0 or played_ms <= 0:
        return ""
    if played_ms >= total_ms:
        return text.strip()
    cut = int(len(text) * played_ms / total_ms)
    head = text[:cut]
    if cut < len(text) and not text[cut].isspace() and head and not head[-1].isspace():
        head = head[: len(head) - len(head.split()[-1])] if head.split() else ""
    return head.strip()


class LLMUserAggregator(FrameProcessor):
    """User turns → ``user`` messages → an LLM run (see the module docstring)."""

    def __init__(self, context: LLMContext, *, name: str | None = None) -> None:
        super().__init__(name=name)
        self.context = context
        self._parts: list[str] = []
        self._in_turn = False
        self._last_user: dict[str, Any] | None = None  # the message of the last turn

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        if direction is UPSTREAM:
            await self.push(frame, direction)
            return
        if isinstance(frame, UserStartedSpeakingFrame):
            self._in_turn = True
        elif isinstance(frame, TranscriptionFrame):
            text = frame.text.strip()
            await self.push(frame, direction)
            if text:
                self._parts.append(text)
                if not self._in_turn:
                    await self._commit()  # no turn open: a turn of its own (or a late part)
            return
        elif isinstance(frame, UserStoppedSpeakingFrame):
            self._in_turn = False
            await self.push(frame, direction)
            await self._commit()
            return
        await self.push(frame, direction)

    async def _commit(self) -> None:
        parts, self._parts = self._parts, []
        if not parts:
            return  # a turn with no words adds nothing
        text = " ".join(parts)
        messages = self.context.messages
        last = self._last_user
        if last is not None and messages and messages[-1] is last:
            last["content"] = f"{last['content']} {text}"  # a late part of the same turn
        else:
            last = {"role": "user", "content": text}
            self.context.add_message(last)
            self._last_user = last
        await self.push(LLMContextFrame(self.context), DOWNSTREAM)


class LLMAssistantAggregator(FrameProcessor):
    """LLM responses → ``assistant`` messages holding what the user heard (see the module
    docstring)."""

    def __init__(self, context: LLMContext, *, name: str | None = None) -> None:
        super().__init__(name=name)
        self.context = context
        self._active = False  # a response is streaming
        self._text: list[str] = []  # its LLM text
        self._tts_text: list[str] = []  # its TTS text (when the LLM text does not get here)
        self._heard = 0  # words of the current response heard in finished utterances
        self._message: dict[str, Any] | None = None  # the last response's message
        self._words: list[str] = []  # all the words of the last response
        self._utt_tts: list[str] = []  # text on its way to the edge, this utterance
        self._utt_other: list[str] = []
        self._utt_timed = False  # some of it carried TTS word timestamps
        self._speaking = False

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        if direction is UPSTREAM:
            if isinstance(frame, BotUtterancePlayedFrame):
                self._played(frame)
            elif isinstance(frame, BotStartedSpeakingFrame):
                self._speaking = True
            elif isinstance(frame, BotStoppedSpeakingFrame):
                self._speaking = False
            await self.push(frame, direction)
            return
        if isinstance(frame, TextFrame):
            if 0 <= frame.epoch < self.epoch:
                await self.push(frame, direction)  # stale: the edge drops it
                return
            if isinstance(frame, TTSTextFrame):
                self._utt_tts.append(frame.text)
                self._utt_timed = self._utt_timed or frame.start_s is not None
                if self._active:
                    self._tts_text.append(frame.text)
            else:
                self._utt_other.append(frame.text)
                if self._active and type(frame) is LLMTextFrame:
                    self._text.append(frame.text)
        elif isinstance(frame, LLMFullResponseStartFrame):
            self._start()
        elif isinstance(frame, LLMFullResponseEndFrame):
            if self._active:
                interrupted = 0 <= frame.epoch < self.epoch
                self._commit(None if not interrupted else self._heard)
        elif isinstance(frame, InterruptionFrame):
            await self.push(frame, direction)  # the edge reports what was played, at once
            if self._active:
                self._commit(self._heard)  # nothing more of it was heard
            return
        await self.push(frame, direction)

    def _start(self) -> None:
        if self._active:
            self._commit(None)
        self._active = True
        self._text, self._tts_text = [], []
        self._heard = 0
        self._message, self._words = None, []
        if not self._speaking:
            self._utt_tts, self._utt_other, self._utt_timed = [], [], False

    def _response_words(self) -> list[str]:
        text = "".join(self._text) if self._text else " ".join(self._tts_text)
        return text.split()

    def _commit(self, keep: int | None) -> None:
        """End the current response: its message gets its first ``keep`` words (all if
        None); none heard, no message."""
        self._active = False
        words = self._response_words()
        self._words = words
        kept = words if keep is None else words[:keep]
        if kept:
            content = "".join(self._text).strip() if keep is None and self._text else " ".join(kept)
            self._message = {"role": "assistant", "content": content}
            self.context.add_message(self._message)

    def _played(self, frame: BotUtterancePlayedFrame) -> None:
        """The edge's report of one utterance."""
        if self._utt_timed or not (self._utt_tts or self._utt_other):
            heard = len(frame.text.split())
        else:
            spoken = " ".join(self._utt_tts) if self._utt_tts else "".join(self._utt_other)
            heard = len(heard_prefix(spoken, frame.played_ms, frame.total_ms).split())
        self._utt_tts, self._utt_other, self._utt_timed = [], [], False
        if not frame.interrupted:
            self._heard += heard
            return
        keep = self._heard + heard
        if self._active:
            self._commit(keep)
            return
        message = self._message
        if message is None or len(self._words) <= keep:
            return
        # The response was complete but its audio was cut short: keep what was heard.
        messages = self.context.messages
        if keep:
            message["content"] = " ".join(self._words[:keep])
        elif messages and messages[-1] is message:
            messages.pop()
            self._message = None
        else:
            message["content"] = ""
        self._words = self._words[:keep]
