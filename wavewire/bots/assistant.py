"""The ``assistant`` bot: a voice assistant that works offline, and the same pipeline with
hosted providers.

The pipeline (after the input edge, which runs a VAD and pushes its evidence)::

    error relay → STT → TurnTaking → user aggregator → Greeter → LLM → LLM events tap → sentences
        → TTS → assistant aggregator → RTVI → (output edge)

* STT: ``local`` is pocketsphinx, restricted to :data:`GRAMMAR` (what the local responder
  understands) when the LLM is local, the general model otherwise; ``deepgram``.
* LLM: ``local`` is :class:`~wavewire.services.local_brain.LocalBrainService`;
  ``openai`` is any OpenAI-compatible server (``OPENAI_API_KEY`` / ``OPENAI_BASE_URL`` /
  ``OPENAI_MODEL``).
* TTS: ``local`` is espeak-ng; ``deepgram``, ``cartesia``, ``elevenlabs``.

The turn ends at the final transcript that follows the VAD's stop (``stt_stop_secs``
later), or ``stop_secs`` after the VAD's stop when nothing was recognised. The bot
greets when the client says ``client-ready`` (RTVI), or ``greet_after`` seconds into the
session for clients that never do. :func:`check` says, in one line, what a choice is
missing (a key, an extra) before anything starts.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..context import LLMContext
from ..doctor import has_module
from ..frames import (
    ErrorFrame,
    Frame,
    InputTransportMessageFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    LLMRunFrame,
    LLMTextFrame,
    OutputTransportMessageUrgentFrame,
    StartFrame,
)
from ..processors.base import DOWNSTREAM, FrameDirection, FrameProcessor

if TYPE_CHECKING:
    from ..audio.vad import VAD
    from ..transports.routes import ConnectionInfo

__all__ = ["AssistantBot", "AssistantConfig", "ErrorRelay", "GRAMMAR", "Greeter", "LLMTextTap",
           "assistant_bot", "check", "SYSTEM_PROMPT"]

SYSTEM_PROMPT = ("You are a friendly voice assistant. Your answers are spoken aloud, so keep "
                 "them short and plain: no lists, no markup. Greet the user briefly when the "
                 "conversation starts.")
"""The system message of the conversation (a hosted LLM follows it; the local responder
has its own rules)."""

_NUMBER = ("zero | one | two | three | four | five | six | seven | eight | nine | ten | eleven"
           " | twelve | thirteen | fourteen | fifteen | sixteen | seventeen | eighteen"
           " | nineteen | twenty | thirty | forty | fifty | sixty | seventy | eighty | ninety")
_WORDS = "hello world good morning night goodbye thank you please yes no okay nice day"
GRAMMAR = f"""#JSGF V1.0;
grammar assistant;
<digit> = {_NUMBER};
<number> = <digit> [<digit>] [hundred];
<word> = {' | '.join(_WORDS.split())};
<op> = plus | minus | times | multiplied by | divided by;
<unit> = second | seconds | minute | minutes;
public <request> = <time> | <date> | <math> | <timer> | <repeat> | <other>;
<time> = what time is it | what is the time | tell me the time;
<date> = what is the date [today] | what day is it [today] | what is today's date;
<math> = (what is | how much is) <number> <op> <number>;
<timer> = (set a timer for | start a timer for) <number> <unit>;
<repeat> = (repeat after me | say) <word> [<word>] [<word>];
<other> = hello | hi | thank you | goodbye | how are you | who are you | what can you do
    | tell me a joke | what is the weather [today] | help;
"""
"""What the offline recogniser listens for with the local responder: exact recognition
of the requests it answers (and a few it declines), fast enough to keep up in real time
on a small machine; the general model is slower and much less accurate on these."""

STT_CHOICES = ("local", "deepgram")
LLM_CHOICES = ("local", "openai")
TTS_CHOICES = ("local", "deepgram", "cartesia", "elevenlabs")
OFFLINE_HINT = "pip install 'wavewire[offline]'"
CARTESIA_VOICE = "71a7ad14-091c-4e8e-a314-022ece01c121"
ELEVENLABS_VOICE = "21m00Tcm4TlvDq8EDACf"


def default_llm() -> str:
    """``openai`` when ``OPENAI_API_KEY`` or ``OPENAI_BASE_URL`` is set, else ``local``."""
    if os.environ.get("OPENAI_API_KEY") or os.environ.get("OPENAI_BASE_URL"):
        return "openai"
    return "local"


@dataclass(frozen=True, slots=True)
class AssistantConfig:
    """The assistant's choices and timings."""

    stt: str = "local"
    """``local`` (pocketsphinx) or ``deepgram``."""
    llm: str = "local"
    """``local`` (the rule-based responder) or ``openai`` (any compatible server)."""
    tts: str = "local"
    """``local`` (espeak-ng), ``deepgram``, ``cartesia`` or ``elevenlabs``."""
    vad_start_ms: float = 100.0
    """Speech needed before the VAD reports a start (and the bot is interrupted)."""
    vad_stop_ms: float = 200.0
    """Silence before the VAD reports a stop."""
    stt_stop_secs: float = 0.02
    """After the VAD's stop, the turn ends this long after the final transcript."""
    stop_secs: float = 0.5
    """After the VAD's stop, the turn ends after this long with no transcript."""
    greet_after: float | None = 1.0
    """Greet this long into the session if the client never sent ``client-ready``."""


_PROVIDERS = {  # choice → (service module, key variable, base URL variable)
    "deepgram": ("wavewire.services.deepgram", "DEEPGRAM_API_KEY", "DEEPGRAM_BASE_URL"),
    "cartesia": ("wavewire.services.cartesia", "CARTESIA_API_KEY", "CARTESIA_BASE_URL"),
    "elevenlabs": ("wavewire.services.elevenlabs", "ELEVENLABS_API_KEY", "ELEVENLABS_BASE_URL"),
}


def _hosted_problem(flag: str, choice: str, find: Callable[[str], bool]) -> str | None:
    module, key, base = _PROVIDERS[choice]
    if not find(module):
        return f"{flag} {choice}: the {choice} service is not available in this build yet"
    if not (os.environ.get(key) or os.environ.get(base) or os.environ.get("CF_AIG_GATEWAY_URL")):
        return f"{flag} {choice} needs {key} (or {base}, or CF_AIG_GATEWAY_URL for the AI Gateway)"
    return None


def check(config: AssistantConfig, find: Callable[[str], bool] = has_module) -> str | None:
    """What is missing for ``config``, as one line, or ``None`` if nothing is (``find``
    tells whether a module is installed)."""
    if config.stt == "local" and not find("pocketsphinx"):
        return f"--stt local needs pocketsphinx: {OFFLINE_HINT}"
    if config.tts == "local" and not find("espeakng_loader"):
        return f"--tts local needs espeak-ng: {OFFLINE_HINT}"
    if config.llm == "openai" and not (os.environ.get("OPENAI_API_KEY")
                                       or os.environ.get("OPENAI_BASE_URL")):
        return ("--llm openai needs OPENAI_API_KEY (or OPENAI_BASE_URL for a local "
                "OpenAI-compatible server such as Ollama or llama.cpp)")
    for flag, choice in (("--stt", config.stt), ("--tts", config.tts)):
        if choice != "local":
            problem = _hosted_problem(flag, choice, find)
            if problem is not None:
                return problem
    return None


class Greeter(FrameProcessor):
    """Runs the LLM once at the start of a session (an :class:`LLMRunFrame`): when an
    RTVI client says ``client-ready``, else ``greet_after`` seconds in."""

    def __init__(self, greet_after: float | None = 1.0, *, name: str | None = None) -> None:
        super().__init__(name=name)
        self.greet_after = greet_after
        self.greeted = False
        self._timer: Any = None

    async def on_start(self, frame: StartFrame) -> None:
        if self.greet_after is not None:
            self._timer = self.clock.call_later(self.greet_after, self._late)

    def _late(self) -> None:
        self._timer = None
        if not self.greeted:
            self.create_task(self.greet(), "greet")

    async def greet(self) -> None:
        """Greet now, unless done already."""
        if self.greeted:
            return
        self.greeted = True
        timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()
        await self.push(LLMRunFrame(), DOWNSTREAM)

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await self.push(frame, direction)
        if isinstance(frame, InputTransportMessageFrame):
            message = frame.message
            if isinstance(message, dict) and message.get("type") == "client-ready":
                await self.greet()


class LLMTextTap(FrameProcessor):
    """Sends RTVI ``bot-llm-started`` / ``bot-llm-text`` / ``bot-llm-stopped`` as the
    LLM's frames leave it, in their order (the TTS consumes the text and holds the
    boundaries back behind its speech; the RTVI processor at the end,
    :class:`SpokenRTVI`, leaves these three to this tap)."""

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await self.push(frame, direction)
        if direction is not DOWNSTREAM:
            return
        from ..serializers.rtvi import message

        kind = type(frame)
        if kind is LLMTextFrame:
            out = message("bot-llm-text", {"text": frame.text})  # type: ignore[attr-defined]
        elif kind is LLMFullResponseStartFrame:
            out = message("bot-llm-started")
        elif kind is LLMFullResponseEndFrame:
            out = message("bot-llm-stopped")
        else:
            return
        await self.push(OutputTransportMessageUrgentFrame(out), DOWNSTREAM)


class ErrorRelay(FrameProcessor):
    """First in the bot: tells the client (RTVI ``error``) about every error reported
    upstream, wherever it began (the services report theirs upstream, so the RTVI
    processor at the end never sees them)."""

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await self.push(frame, direction)
        if type(frame) is ErrorFrame and direction is not DOWNSTREAM:
            from ..serializers.rtvi import error

            await self.push(OutputTransportMessageUrgentFrame(
                error(frame.error, frame.fatal)), DOWNSTREAM)  # type: ignore[attr-defined]


def _spoken_rtvi() -> FrameProcessor:
    from ..processors.rtvi import RTVIProcessor

    class SpokenRTVI(RTVIProcessor):
        """The RTVI processor after the TTS, leaving the LLM's events to the tap and the
        errors reported upstream to the :class:`ErrorRelay`."""

        async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
            kind = type(frame)
            if kind in (LLMFullResponseStartFrame, LLMFullResponseEndFrame) or (
                    kind is ErrorFrame and direction is not DOWNSTREAM):
                await self.push(frame, direction)
                return
            await super().process_frame(frame, direction)

    return SpokenRTVI(llm_text=False, name="rtvi")


class AssistantBot:
    """The bot factory of ``assistant`` for a given :class:`AssistantConfig`; also
    builds each session's VAD (:meth:`vad`), which the server gives the input edge."""

    def __init__(self, config: AssistantConfig | None = None) -> None:
        self.config = config or AssistantConfig(llm=default_llm())

    def vad(self) -> VAD:
        """A per-session VAD: WebRTC's (mode 3) if installed, else the energy VAD."""
        from ..audio.vad import VAD, EnergyVAD, VADAnalyzer, VADParams

        analyzer: VADAnalyzer
        if has_module("webrtcvad"):
            from ..audio.vad import WebRTCVAD

            analyzer = WebRTCVAD(16000, mode=3)
        else:
            analyzer = EnergyVAD(16000)
        params = VADParams(start_ms=self.config.vad_start_ms, stop_ms=self.config.vad_stop_ms)
        return VAD(analyzer, params)

    def __call__(self, info: ConnectionInfo | None = None) -> list[FrameProcessor]:
        from ..processors.aggregators import context_aggregators
        from ..processors.sentences import SentenceAggregator
        from ..processors.turns import TurnTaking

        config = self.config
        context = LLMContext([{"role": "system", "content": SYSTEM_PROMPT}])
        user, assistant = context_aggregators(context)
        return [
            ErrorRelay(name="errors"),
            self._stt(),
            TurnTaking(stop_secs=config.stop_secs, stt_stop_secs=config.stt_stop_secs,
                       name="turns"),
            user,
            Greeter(config.greet_after, name="greeter"),
            self._llm(context),
            LLMTextTap(name="llm-text"),
            SentenceAggregator(name="sentences"),
            self._tts(),
            assistant,
            _spoken_rtvi(),
        ]

    def _stt(self) -> FrameProcessor:
        if self.config.stt == "local":
            from ..services.pocketsphinx import PocketsphinxSTTService

            grammar = GRAMMAR if self.config.llm == "local" else None
            return PocketsphinxSTTService(grammar=grammar, name="stt")
        return _hosted("deepgram", "DeepgramSTTService", name="stt")

    def _llm(self, context: LLMContext) -> FrameProcessor:
        from ..services.local_brain import LocalBrainService

        if self.config.llm == "local":
            return LocalBrainService(context=context, name="llm")
        from ..services.openai import OpenAILLMService

        # The same typed tools as the local responder's, now chosen by the model.
        tools = LocalBrainService()
        return OpenAILLMService(model=os.environ.get("OPENAI_MODEL", "gpt-4.1-mini"),
                                context=context, tools=[tools.get_time, tools.get_date,
                                                        tools.calculate, tools.repeat],
                                name="llm")

    def _tts(self) -> FrameProcessor:
        choice = self.config.tts
        if choice == "local":
            from ..services.espeak import EspeakTTSService

            return EspeakTTSService(aggregate_sentences=False, name="tts")  # sentences come whole
        if choice == "deepgram":
            return _hosted("deepgram_tts", "DeepgramTTSService", name="tts")
        if choice == "cartesia":
            return _hosted("cartesia", "CartesiaTTSService", name="tts",
                           voice_id=os.environ.get("CARTESIA_VOICE_ID", CARTESIA_VOICE))
        return _hosted("elevenlabs", "ElevenLabsTTSService", name="tts",
                       voice_id=os.environ.get("ELEVENLABS_VOICE_ID", ELEVENLABS_VOICE))


def _hosted(module: str, cls: str, **kwargs: Any) -> FrameProcessor:
    """A hosted provider's service from ``wavewire.services.<module>`` (keys and base URLs
    from its environment variables)."""
    import importlib

    service: FrameProcessor = getattr(importlib.import_module(f"wavewire.services.{module}"),
                                      cls)(**kwargs)
    return service


def assistant_bot(info: ConnectionInfo | None = None) -> list[FrameProcessor]:
    """Bot factory of ``assistant`` with the defaults (local services, or ``--llm openai``
    when its environment is set)."""
    return AssistantBot()(info)


assistant_bot.vad = AssistantBot().vad  # type: ignore[attr-defined]
