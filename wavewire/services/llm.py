"""``LLMService``: what every LLM service shares, whatever produces the words.

A subclass implements one model round, :meth:`LLMService._complete`: given the context,
push the round's text (``LLMTextFrame`` via :meth:`LLMService._send`) and return the tool
calls it asks for (:class:`Completion`). The base class does the rest, the same for a
hosted model (:class:`~wavewire.services.openai.OpenAILLMService`) and the offline
responder (:class:`~wavewire.services.local_brain.LocalBrainService`):

* runs a response on an :class:`~wavewire.frames.LLMContextFrame` (or
  :class:`~wavewire.frames.LLMMessagesFrame`, :class:`~wavewire.frames.LLMRunFrame`) in a
  task of the session, between ``LLMFullResponseStartFrame`` and
  ``LLMFullResponseEndFrame``, with a ``MetricsFrame`` (TTFB, processing time, tokens);
* the tool rounds: each round's calls are announced (``FunctionCallInProgressFrame``),
  run concurrently under ``tool_timeout`` (:func:`~wavewire.services.tools.run_calls`),
  and appended to the context together with their results, in one step, once every call
  has finished (so the context never holds half a tool call), then reported
  (``FunctionCallResultFrame``); then the model is asked again, up to
  ``max_tool_rounds`` times;
* an :class:`~wavewire.frames.InterruptionFrame` (or a newer context) cancels the
  response in flight;
* a :class:`~wavewire.errors.ServiceError` or
  :class:`~wavewire.errors.ProtocolError` (a malformed answer), or any other failure of
  a round, is an ``ErrorFrame`` upstream, never fatal.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from ..context import LLMContext
from ..errors import ProtocolError, ServiceError
from ..frames import (
    EndFrame,
    Frame,
    FunctionCallInProgressFrame,
    FunctionCallResultFrame,
    InterruptionFrame,
    LLMContextFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    LLMMessagesFrame,
    LLMRunFrame,
    MetricsData,
    MetricsFrame,
)
from ..processors.base import DOWNSTREAM, FrameDirection, FrameProcessor
from ..transports.metrics import service_metrics
from .tools import PendingCall, Tool, exchange_messages, run_calls, tools_from

__all__ = ["Completion", "LLMService", "ToolCallRequest"]


@dataclass(slots=True)
class ToolCallRequest:
    """One tool call a model asked for (merged from stream fragments, for a streamed
    model)."""

    id: str = ""
    """The call's id (empty: the service makes one)."""
    name: str = ""
    """The tool's name."""
    arguments: str = ""
    """The arguments as a JSON text, as a model writes them."""


@dataclass(slots=True)
class Completion:
    """What one model round gave besides its text."""

    calls: dict[int, ToolCallRequest] = field(default_factory=dict)
    """Tool calls by their index in the round (none: the response is complete)."""
    prompt_tokens: int = 0
    """Tokens of the prompt, as the model reports them."""
    completion_tokens: int = 0
    """Tokens of the completion, as the model reports them."""


class LLMService(FrameProcessor):
    """The response lifecycle and tool rounds of an LLM (see the module docstring).

    :param tools: typed Python functions (or :class:`~wavewire.services.tools.Tool`) the
        model may call.
    :param context: the conversation for :class:`~wavewire.frames.LLMRunFrame` (an
        ``LLMContextFrame`` replaces it).
    :param tool_timeout: seconds each tool call may take.
    :param max_tool_rounds: tool rounds per response before it is stopped.
    """

    end_timeout: float = 10.0
    """Seconds a response in flight may take to finish at an ``EndFrame``."""

    def __init__(
        self,
        *,
        tools: Iterable[Tool | Callable[..., Any]] = (),
        context: LLMContext | None = None,
        tool_timeout: float = 10.0,
        max_tool_rounds: int = 4,
        name: str | None = None,
    ) -> None:
        super().__init__(name=name)
        self.tools = tools_from(tools)
        self.context = context if context is not None else LLMContext()
        self.tool_timeout = tool_timeout
        self.max_tool_rounds = max_tool_rounds
        self._running: asyncio.Task | None = None

    # -- what a subclass provides ----------------------------------------------------------

    async def _complete(self, context: LLMContext, epoch: int, started: float,
                        ttfb: list[float]) -> Completion:
        """One model round on ``context``: push its text with :meth:`_send` (as work of
        ``epoch``), append the time from ``started`` to the first output to ``ttfb`` if it
        is empty, and return the tool calls asked for."""
        raise NotImplementedError

    def _redact(self, text: str) -> str:
        """``text`` without secrets (an error message about to be reported)."""
        return text

    # -- frames ----------------------------------------------------------------------------

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        if isinstance(frame, LLMContextFrame | LLMMessagesFrame | LLMRunFrame):
            if isinstance(frame, LLMContextFrame):
                self.context = frame.context
            elif isinstance(frame, LLMMessagesFrame):
                self.context.messages = list(frame.messages)
            if frame.epoch >= 0 and frame.epoch < self.epoch:
                self.count_drop("stale")
                return
            self.run()
            return
        if isinstance(frame, EndFrame):
            # Graceful end: the response in flight finishes first (within its deadlines).
            await self.wait_idle(self.end_timeout + self.tool_timeout)
        elif isinstance(frame, InterruptionFrame):
            task, self._running = self._running, None
            if task is not None and not task.done():
                task.cancel()  # nothing is half-written to the context
        await self.push(frame, direction)

    def run(self) -> asyncio.Task:
        """Start a response on :attr:`context` (cancelling the one in flight, if any)."""
        previous = self._running
        if previous is not None and not previous.done():
            previous.cancel()
        self._running = self.create_task(self._respond(self.context, self.epoch), "response")
        return self._running

    async def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait until no response is in flight; False after ``timeout``."""
        task = self._running
        if task is None:
            return True
        done, _ = await asyncio.wait({task}, timeout=timeout)
        return bool(done)

    async def _stop_response(self) -> None:
        task, self._running = self._running, None
        if task is not None and not task.done():
            task.cancel()
            await asyncio.wait({task}, timeout=1.0)

    # -- one response ------------------------------------------------------------------------

    async def _send(self, frame: Frame, epoch: int) -> None:
        """Push ``frame`` downstream as work of ``epoch``."""
        frame.epoch = epoch
        await self.push(frame, DOWNSTREAM)

    async def _respond(self, context: LLMContext, epoch: int) -> None:
        clock = self.clock
        started = clock.now()
        usage = [0, 0]
        ttfb: list[float] = []
        await self._send(LLMFullResponseStartFrame(), epoch)
        try:
            for _ in range(self.max_tool_rounds + 1):
                rnd = await self._complete(context, epoch, started, ttfb)
                usage[0] += rnd.prompt_tokens
                usage[1] += rnd.completion_tokens
                if not rnd.calls:
                    break
                await self._run_tools(context, rnd.calls, epoch)
            else:
                await self.push_error(f"{self.name}: stopped after {self.max_tool_rounds} "
                                      "tool rounds")
        except (ServiceError, ProtocolError) as exc:  # (their messages are clipped)
            await self.push_error(f"{self.name}: {exc}", exception=exc)
        except Exception as exc:  # a bug or bad settings: reported, the session goes on
            text = self._redact(f"{type(exc).__name__}: {exc}")
            await self.push_error(f"{self.name}: {text}", exception=exc)
        data = [MetricsData(self.name, "processing", clock.now() - started),
                MetricsData(self.name, "prompt_tokens", usage[0]),
                MetricsData(self.name, "completion_tokens", usage[1])]
        if ttfb:
            data.insert(0, MetricsData(self.name, "ttfb", ttfb[0]))
        service_metrics.record(type(self).__name__, data)
        await self._send(MetricsFrame(data), epoch)
        await self._send(LLMFullResponseEndFrame(), epoch)

    async def _run_tools(self, context: LLMContext, calls: dict[int, ToolCallRequest],
                         epoch: int) -> None:
        pending = [PendingCall.decode(c.id or f"call_{epoch}_{n}", c.name, c.arguments)
                   for n, c in enumerate(calls[i] for i in sorted(calls))]
        for call in pending:
            await self._send(FunctionCallInProgressFrame(call.id, call.name, call.args), epoch)
        results = await run_calls(self.tools, pending, self.tool_timeout, self.create_task)
        # Appended together, with no await in between: never half a tool call.
        context.messages.extend(exchange_messages(pending, results))
        for call, res in zip(pending, results, strict=True):
            await self._send(FunctionCallResultFrame(call.id, call.name, call.args, res.result,
                                                     res.error), epoch)
