"""The offline assistant's responder: :class:`LocalBrainService`, a small deterministic
rule-based stand-in for an LLM. It is not a language model and says so.

It reads the last user message and either answers at once (a greeting, help, or, when it
does not understand, how to plug in a real LLM) or asks for one of its tools, which then
run **through the same function-calling path as a real LLM's**
(:class:`~wavewire.services.llm.LLMService`): the same tool-call structure, the same
``FunctionCallInProgressFrame`` / ``FunctionCallResultFrame``, the same ``assistant``
``tool_calls`` + ``tool`` messages in the context; its next round words the results.

Tools: ``get_time``, ``get_date``, ``calculate`` (``+ - * /`` on two numbers),
``start_timer`` (a countdown owned by the session that speaks when it ends) and
``repeat``. Numbers may be digits or words ("twenty five"), as a speech recogniser writes
them. A response with no user message to answer (an ``LLMRunFrame`` on a fresh context)
is the greeting.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from ..context import LLMContext
from ..frames import LLMFullResponseEndFrame, LLMFullResponseStartFrame, LLMTextFrame
from .llm import Completion, LLMService, ToolCallRequest

__all__ = ["GREETING", "HELP", "NOT_UNDERSTOOD", "Intent", "LocalBrainService", "understand",
           "words_to_numbers"]

GREETING = ("Hello! I'm the wavewire offline assistant. Ask me the time, the date, "
            "a sum like three plus four, or to set a timer.")
"""What the assistant says when a session starts."""
HELP = ("I'm a small rule-based responder, not a language model. I can tell the time and "
        "the date, add, subtract, multiply and divide two numbers, set a timer, and repeat "
        "after you.")
"""The answer to "help" and "what can you do"."""
NOT_UNDERSTOOD = ("I heard: {heard}. I'm a small offline responder, not a language model, "
                  "so I only know the time, the date, simple sums, timers and repeating. "
                  "For real conversation, set OPENAI_API_KEY, or OPENAI_BASE_URL for a local "
                  "server such as Ollama, and start wavewire with --llm openai.")
"""The answer to what it does not understand (``{heard}``: the user's words)."""

Operator = Literal["+", "-", "*", "/"]

_UNITS = {"zero": 0, "oh": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
          "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
          "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17,
          "eighteen": 18, "nineteen": 19, "a": 1, "an": 1}
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
         "eighty": 80, "ninety": 90}
_SCALES = {"hundred": 100, "thousand": 1000, "million": 1_000_000}
_NUM = r"-?\d+(?:\.\d+)?"
_OPS: list[tuple[str, Operator]] = [
    (r"\+|plus|and|add(?:ed to)?", "+"),
    (r"-|minus|take away|less", "-"),
    (r"\*|x|times|multiplied by", "*"),
    (r"/|divided by|over", "/"),
]
_MATH = re.compile(rf"({_NUM})\s*({'|'.join(p for p, _ in _OPS)})\s*({_NUM})")
_TIMER = re.compile(rf"(?:timer|count ?down|countdown|remind me)\D*?({_NUM})\s*"
                    r"(seconds?|secs?|minutes?|mins?|hours?)?")
_REPEAT = re.compile(r"^(?:please )?(?:repeat after me|repeat|say)\b[\s,:]*(.*)$")
_SECONDS = {"s": 1, "m": 60, "h": 3600}


def words_to_numbers(text: str) -> str:
    """``text`` with runs of number words written as digits ("twenty five" → "25",
    "one hundred and two" → "102"); "a"/"an" alone stay words."""
    out: list[str] = []
    run: list[str] = []

    def flush() -> None:
        if run and not (len(run) == 1 and run[0] in ("a", "an", "oh")):
            total = current = 0
            for word in run:
                if word in _UNITS:
                    current += _UNITS[word]
                elif word in _TENS:
                    current += _TENS[word]
                elif word == "hundred":
                    current = max(current, 1) * 100
                else:
                    total += max(current, 1) * _SCALES[word]
                    current = 0
            out.append(str(total + current))
        else:
            out.extend(run)
        run.clear()

    words = text.split()
    for i, word in enumerate(words):
        nxt = words[i + 1] if i + 1 < len(words) else ""
        numeric = word in _UNITS or word in _TENS or word in _SCALES
        if word in ("a", "an") and nxt not in _SCALES:
            numeric = False
        if word == "and" and run and nxt in {**_UNITS, **_TENS} and run[-1] in _SCALES:
            continue  # "one hundred and two"
        if numeric:
            run.append(word)
        else:
            flush()
            out.append(word)
    flush()
    return " ".join(out)


def _normalize(text: str) -> str:
    text = text.lower().replace("what's", "what is").replace("\u00d7", "*").replace("\u00f7", "/")
    text = re.sub(r"[^\w\s.+*/'-]", " ", text)
    text = re.sub(r"(?<!\d)\.|\.(?!\d)", " ", text)  # periods that are not decimal points
    text = re.sub(r"(?<=\d)-|-(?=\s)", " - ", text)  # "7-2" → "7 - 2"
    return words_to_numbers(" ".join(text.split()))


@dataclass(frozen=True, slots=True)
class Intent:
    """What the responder makes of one user message: a tool call or a reply."""

    tool: str | None = None
    """The tool to call, or ``None`` for a direct reply."""
    arguments: dict[str, Any] | None = None
    """The tool's arguments."""
    reply: str = ""
    """The direct reply (when ``tool`` is ``None``)."""


def understand(text: str) -> Intent:
    """The :class:`Intent` of one user message (see the module docstring)."""
    plain = _normalize(text)
    words = set(plain.split())
    repeat = _REPEAT.match(plain)
    if repeat is not None and repeat.group(1):
        start = len(text) - len(text.lstrip())
        said = re.sub(r"^(?:please )?(?:repeat after me|repeat|say)\b[\s,:]*", "",
                      text[start:], flags=re.IGNORECASE)
        return Intent("repeat", {"text": said.strip() or repeat.group(1)})
    timer = _TIMER.search(plain)
    if timer is not None:
        unit = (timer.group(2) or "seconds")[0]
        return Intent("start_timer", {"seconds": float(timer.group(1)) * _SECONDS[unit]})
    if words & {"timer", "countdown"}:
        return Intent(reply="For how long? Say, for example: set a timer for ten seconds.")
    math = _MATH.search(plain)
    if math is not None:
        op = next(o for p, o in _OPS if re.fullmatch(p, math.group(2)))
        return Intent("calculate", {"a": float(math.group(1)), "operator": op,
                                    "b": float(math.group(3))})
    if "time" in words:
        return Intent("get_time", {})
    if words & {"date", "day", "today"}:
        return Intent("get_date", {})
    if words & {"help"} or "what can you do" in plain or "who are you" in plain:
        return Intent(reply=HELP)
    if words & {"hello", "hi", "hey", "morning", "evening"}:
        return Intent(reply="Hello! " + HELP)
    if words & {"thanks", "thank"}:
        return Intent(reply="You're welcome.")
    if words & {"bye", "goodbye"}:
        return Intent(reply="Goodbye!")
    return Intent(reply=NOT_UNDERSTOOD.format(heard=text.strip().rstrip(".?!") or "nothing"))


def _number(value: float) -> str:
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.6g}"


def _duration(seconds: float) -> str:
    parts = []
    whole = round(seconds)
    for size, unit in ((3600, "hour"), (60, "minute"), (1, "second")):
        n, whole = divmod(whole, size)
        if n:
            parts.append(f"{n} {unit}{'s' if n != 1 else ''}")
    return " and ".join(parts) or "0 seconds"


class LocalBrainService(LLMService):
    """The offline responder (see the module docstring).

    :param now: the local time (``datetime.now().astimezone()`` by default).
    :param max_timers: timers running at once in a session.
    :param max_timer_s: the longest timer.
    """

    def __init__(
        self,
        *,
        context: LLMContext | None = None,
        now: Callable[[], datetime] | None = None,
        max_timers: int = 5,
        max_timer_s: float = 3600.0,
        name: str | None = None,
    ) -> None:
        super().__init__(tools=[self.get_time, self.get_date, self.calculate,
                                self.start_timer, self.repeat],
                         context=context, tool_timeout=2.0, name=name)
        self.now = now or (lambda: datetime.now().astimezone())
        self.max_timers = max_timers
        self.max_timer_s = max_timer_s
        self.timers = 0
        """Timers running now."""
        self._calls = 0

    # -- tools (what an LLM would call) --------------------------------------------------

    async def get_time(self) -> str:
        """The current local time, as spoken: "1:05 PM"."""
        now = self.now()
        return f"{now.hour % 12 or 12}:{now.minute:02d} {'AM' if now.hour < 12 else 'PM'}"

    async def get_date(self) -> str:
        """Today's date, as spoken: "Thursday, December 3, 2026"."""
        now = self.now()
        return f"{now:%A}, {now:%B} {now.day}, {now.year}"

    async def calculate(self, a: float, operator: Operator, b: float) -> str:
        """Apply an arithmetic operator to two numbers.

        :param a: the left operand
        :param operator: one of + - * /
        :param b: the right operand
        """
        if operator == "/" and b == 0:
            raise ValueError("division by zero")
        value = {"+": a + b, "-": a - b, "*": a * b}.get(operator)
        if value is None:
            value = a / b
        return f"{_number(a)} {_SPOKEN_OPS[operator]} {_number(b)} is {_number(round(value, 6))}"

    async def start_timer(self, seconds: float) -> str:
        """Start a countdown that speaks when it ends.

        :param seconds: how long, in seconds
        """
        if not 0 < seconds <= self.max_timer_s:
            raise ValueError(f"a timer lasts between 1 second and {_duration(self.max_timer_s)}")
        if self.timers >= self.max_timers:
            raise ValueError(f"too many timers are running ({self.max_timers})")
        self.timers += 1
        self.create_task(self._ring(seconds), "timer")
        return _duration(seconds)

    async def repeat(self, text: str) -> str:
        """Say the given text back.

        :param text: what to say
        """
        return text

    async def _ring(self, seconds: float) -> None:
        try:
            await self.clock.sleep(seconds)
        finally:
            self.timers -= 1
        await self.speak(f"Time's up! Your {_duration(seconds)} timer has ended.")

    async def speak(self, text: str) -> None:
        """Say ``text`` as a response of its own (the timers' announcements)."""
        epoch = self.epoch
        await self._send(LLMFullResponseStartFrame(), epoch)
        await self._send(LLMTextFrame(text), epoch)
        await self._send(LLMFullResponseEndFrame(), epoch)

    # -- one round ---------------------------------------------------------------------------

    async def _complete(self, context: LLMContext, epoch: int, started: float,
                        ttfb: list[float]) -> Completion:
        messages = context.messages
        last = messages[-1] if messages else {}
        out = Completion()
        if last.get("role") == "tool":
            text = _word_results(messages)
        elif last.get("role") == "user":
            intent = understand(_text_of(last))
            if intent.tool is not None:
                self._calls += 1
                out.calls[0] = ToolCallRequest(f"local_{self._calls}", intent.tool,
                                               json.dumps(intent.arguments or {}))
                text = ""
            else:
                text = intent.reply
        else:
            text = GREETING
        if not ttfb:
            ttfb.append(self.clock.now() - started)
        if text:
            await self._send(LLMTextFrame(text), epoch)
        return out


_SPOKEN_OPS = {"+": "plus", "-": "minus", "*": "times", "/": "divided by"}


def _text_of(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, list):  # content parts
        return " ".join(p.get("text", "") for p in content if isinstance(p, dict))
    return str(content or "")


def _word_results(messages: list[dict[str, Any]]) -> str:
    """The reply to the tool round at the end of ``messages``."""
    results: dict[str, str] = {}
    i = len(messages)
    while i and messages[i - 1].get("role") == "tool":
        i -= 1
        results[messages[i].get("tool_call_id", "")] = _text_of(messages[i])
    calls = messages[i - 1].get("tool_calls") or [] if i else []
    sentences = []
    for call in calls:
        name = call.get("function", {}).get("name", "")
        content = results.get(call.get("id", ""), "")
        try:
            value = json.loads(content)
        except ValueError:
            value = content
        if isinstance(value, dict) and "error" in value:
            error = str(value["error"]).split(": ")[-1]
            sentences.append(f"Sorry, I couldn't do that: {error}.")
        elif name == "get_time":
            sentences.append(f"It's {value}.")
        elif name == "get_date":
            sentences.append(f"Today is {value}.")
        elif name == "calculate":
            sentences.append(f"{value}.")
        elif name == "start_timer":
            sentences.append(f"Okay, a timer for {value}. I'll tell you when it ends.")
        else:
            sentences.append(str(value))
    return " ".join(sentences)
