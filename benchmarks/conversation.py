"""Conversation-turn benchmark: wavewire vs pipecat-ai 1.14 on the same fake LLM.

Run from a checkout (pipecat-ai is optional)::

    python benchmarks/conversation.py            # 200 turns each
    python benchmarks/conversation.py --smoke    # a few turns, to check it runs
    python benchmarks/conversation.py --json results.json

What is measured: the framework's time per conversation turn, from the user's final
transcript going in to the first piece of text reaching the TTS, with the fake LLM's
own time taken out. One turn: ``UserStartedSpeakingFrame``, a ``TranscriptionFrame``,
``UserStoppedSpeakingFrame`` into the user context aggregator → the OpenAI-compatible LLM
service (a real HTTP/1.1 + SSE request on loopback to
:class:`wavewire.testing.fakes.openai.FakeOpenAI`, in the same process) → a sentence
aggregator → a stand-in TTS that notes when the first sentence arrives → the assistant
context aggregator. The turn is over when the response has ended; the context is reset
to the system message before each turn, so every turn does the same work.

* wavewire: ``LLMUserAggregator``, ``OpenAILLMService`` (its lean HTTP/1.1 client;
  with ``--httpx`` also through an ``httpx.AsyncClient`` + httpx-sse, as a third row),
  ``SentenceAggregator``, ``LLMAssistantAggregator``.
* pipecat: ``LLMContextAggregatorPair`` (user turns driven by the external turn
  strategies, i.e. by the turn frames sent, as wavewire's are; pipecat processes system
  frames ahead of queued data, so the stop would overtake the transcript and pipecat
  would then wait out its 0.5 s transcript timeout: the benchmark sends the stop once
  pipecat's stop strategy holds the transcript, polling with ``sleep(0)``, inside the
  timed span),
  ``OpenAILLMService`` (the openai SDK over httpx), its ``SentenceAggregator``; lean
  worker settings (no RTVI, turn tracking, metrics, heartbeats, idle timeout).

The fake writes a whole reply without yielding to the event loop and records when it
began reading the request and when it had written the reply
(``RecordedRequest.started_at`` / ``finished_at``); that span is subtracted from the
turn's wall time. Turns alternate between the frameworks so both see the same machine
state, with a 10 ms pause after each so one framework's leftover work does not run in the
other's turn; the garbage collector is paused during each turn. Figures are medians and 90th
percentiles of the framework time, in milliseconds.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import gc_paused, percentile, pipecat_version, print_table, quiet_logs, write_json

SYSTEM = "You are a helpful voice assistant. Keep your answers short."
USER = "What's the weather like in Paris today?"
REPLY = "It is sunny in Paris today. The high is 24 degrees, so enjoy your afternoon outside!"
FIRST = "It is sunny in Paris today."


@dataclass
class Runner:
    """One framework's pipeline, ready to run turns."""

    name: str
    turn: Callable[[], Awaitable[None]]
    stop: Callable[[], Awaitable[None]]
    marks: dict[str, float] = field(default_factory=dict)


# --- wavewire ------------------------------------------------------------------------


async def wavewire_runner(base_url: str, via_httpx: bool = False) -> Runner:
    from wavewire.context import LLMContext
    from wavewire.frames import (
        Frame,
        LLMFullResponseEndFrame,
        LLMTextFrame,
        TranscriptionFrame,
        UserStartedSpeakingFrame,
        UserStoppedSpeakingFrame,
    )
    from wavewire.pipelines import PipelineTask
    from wavewire.processors.aggregators import context_aggregators
    from wavewire.processors.base import FrameDirection, FrameProcessor
    from wavewire.processors.sentences import SentenceAggregator
    from wavewire.services.openai import OpenAILLMService
    from wavewire.testing import start_task

    marks: dict[str, float] = {}
    done = asyncio.Event()

    class FirstText(FrameProcessor):
        async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
            if isinstance(frame, LLMTextFrame) and "first" not in marks:
                marks["first"] = time.perf_counter()
                marks["text"] = frame.text  # type: ignore[assignment]
            elif isinstance(frame, LLMFullResponseEndFrame):
                done.set()
            await self.push(frame, direction)

    context = LLMContext([{"role": "system", "content": SYSTEM}])
    user, assistant = context_aggregators(context)
    http_client = None
    if via_httpx:
        import httpx

        http_client = httpx.AsyncClient()
    llm = OpenAILLMService(model="fake", base_url=base_url, api_key="sk-bench",
                           http_client=http_client)
    task = PipelineTask([user, llm, SentenceAggregator(early_first=False), FirstText(),
                         assistant])
    run = await start_task(task)

    async def turn() -> None:
        del context.messages[1:]
        marks.clear()
        done.clear()
        marks["t0"] = time.perf_counter()
        await task.queue_frame(UserStartedSpeakingFrame())
        await task.queue_frame(TranscriptionFrame(USER))
        await task.queue_frame(UserStoppedSpeakingFrame())
        await asyncio.wait_for(done.wait(), 10)

    async def stop() -> None:
        await task.cancel("benchmark done")
        await asyncio.wait_for(run, 10)
        if http_client is not None:
            await http_client.aclose()

    return Runner("wavewire (httpx)" if via_httpx else "wavewire", turn, stop, marks)


# --- pipecat -------------------------------------------------------------------------


async def pipecat_runner(base_url: str) -> Runner:
    from pipecat.frames.frames import (
        LLMFullResponseEndFrame,
        StartFrame,
        TextFrame,
        TranscriptionFrame,
        UserStartedSpeakingFrame,
        UserStoppedSpeakingFrame,
    )
    from pipecat.pipeline.pipeline import Pipeline
    from pipecat.pipeline.worker import PipelineParams, PipelineWorker
    from pipecat.processors.aggregators.llm_context import LLMContext
    from pipecat.processors.aggregators.llm_response_universal import (
        LLMContextAggregatorPair,
        LLMUserAggregatorParams,
    )
    from pipecat.processors.aggregators.sentence import SentenceAggregator
    from pipecat.processors.frame_processor import FrameProcessor
    from pipecat.services.openai.llm import OpenAILLMService
    from pipecat.turns.user_start.external_user_turn_start_strategy import (
        ExternalUserTurnStartStrategy,
    )
    from pipecat.turns.user_stop.external_user_turn_stop_strategy import (
        ExternalUserTurnStopStrategy,
    )
    from pipecat.turns.user_turn_strategies import UserTurnStrategies
    from pipecat.workers.runner import WorkerRunner

    marks: dict[str, Any] = {}
    done = asyncio.Event()
    started = asyncio.Event()

    class FirstText(FrameProcessor):
        async def process_frame(self, frame: Any, direction: Any) -> None:
            await super().process_frame(frame, direction)
            if isinstance(frame, StartFrame):
                started.set()
            elif isinstance(frame, TextFrame) and "first" not in marks:
                marks["first"] = time.perf_counter()
                marks["text"] = frame.text
            elif isinstance(frame, LLMFullResponseEndFrame):
                done.set()
            await self.push_frame(frame, direction)

    context = LLMContext([{"role": "system", "content": SYSTEM}])
    stop_strategy = ExternalUserTurnStopStrategy()
    strategies = UserTurnStrategies(start=[ExternalUserTurnStartStrategy()], stop=[stop_strategy])
    pair = LLMContextAggregatorPair(context, user_params=LLMUserAggregatorParams(
        user_turn_strategies=strategies, audio_idle_timeout=0))
    llm = OpenAILLMService(api_key="sk-bench", base_url=base_url,
                           settings=OpenAILLMService.Settings(model="fake"))
    params = PipelineParams(enable_metrics=False, enable_usage_metrics=False,
                            enable_heartbeats=False)
    worker = PipelineWorker(
        Pipeline([pair.user(), llm, SentenceAggregator(), FirstText(), pair.assistant()]),
        params=params, enable_rtvi=False, enable_turn_tracking=False,
        idle_timeout_secs=None, enable_tracing=False)
    runner = WorkerRunner(handle_sigint=False)
    await runner.add_workers(worker)
    run = asyncio.ensure_future(runner.run())
    await asyncio.wait_for(started.wait(), 30)

    async def turn() -> None:
        context.set_messages([{"role": "system", "content": SYSTEM}])
        marks.clear()
        done.clear()
        marks["t0"] = time.perf_counter()
        await worker.queue_frame(UserStartedSpeakingFrame())
        await worker.queue_frame(TranscriptionFrame(USER, "user", ""))
        # The stop (a system frame) would overtake the queued transcript, and pipecat
        # would then wait out its transcript timeout: wait until the transcript is in.
        while not stop_strategy._text:  # noqa: ASYNC110 (polled: an Event would add a hop)
            await asyncio.sleep(0)
        await worker.queue_frame(UserStoppedSpeakingFrame())
        await asyncio.wait_for(done.wait(), 10)

    async def stop() -> None:
        await worker.cancel(reason="benchmark done")
        try:
            await asyncio.wait_for(asyncio.shield(run), 10)
        except TimeoutError:
            await runner.cancel("benchmark done")
            await asyncio.wait_for(run, 10)

    return Runner("pipecat", turn, stop, marks)


# --- the run ---------------------------------------------------------------------------


async def measure(turns: int, warmup: int, with_pipecat: bool,
                  with_httpx: bool) -> dict[str, Any]:
    from wavewire.testing.fakes.openai import FakeOpenAI, Reply

    results: dict[str, dict[str, list[float]]] = {}
    async with FakeOpenAI([Reply(REPLY)], api_key=None) as fake:
        runners = [await wavewire_runner(fake.base_url)]
        if with_httpx:
            runners.append(await wavewire_runner(fake.base_url, via_httpx=True))
        if with_pipecat:
            runners.append(await pipecat_runner(fake.base_url))
        try:
            for i in range(warmup + turns):
                for r in runners:
                    n = fake.request_count
                    with gc_paused():
                        await r.turn()
                    await asyncio.sleep(0.01)  # let the turn's tail (aggregators...) settle
                    if fake.request_count != n + 1:
                        raise RuntimeError(f"{r.name}: expected one request per turn")
                    if r.marks.get("text") != FIRST:
                        raise RuntimeError(f"{r.name}: first text {r.marks.get('text')!r}")
                    req = fake.requests[-1]
                    wall = r.marks["first"] - r.marks["t0"]
                    own = req.finished_at - req.started_at
                    if i >= warmup:
                        res = results.setdefault(r.name, {"wall": [], "fake": [], "framework": []})
                        res["wall"].append(wall * 1e3)
                        res["fake"].append(own * 1e3)
                        res["framework"].append((wall - own) * 1e3)
        finally:
            for r in runners:
                await r.stop()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--turns", type=int, default=200)
    parser.add_argument("--smoke", action="store_true", help="a few turns, to check it runs")
    parser.add_argument("--no-pipecat", action="store_true")
    parser.add_argument("--httpx", action="store_true",
                        help="also run wavewire's service through an httpx.AsyncClient")
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args()
    turns, warmup = (5, 2) if args.smoke else (args.turns, 10)
    quiet_logs()
    have_pipecat = not args.no_pipecat and pipecat_version() is not None
    results = asyncio.run(measure(turns, warmup, have_pipecat, args.httpx))
    rows = []
    for name, res in results.items():
        fw = res["framework"]
        rows.append([name, f"{statistics.median(fw):.2f}", f"{percentile(fw, 90):.2f}",
                     f"{statistics.median(res['wall']):.2f}",
                     f"{statistics.median(res['fake']):.2f}", str(len(fw))])
    print(f"Framework time per turn (transcript in → first TTS text out, fake LLM time "
          f"excluded), ms; pipecat-ai {pipecat_version() if have_pipecat else 'not run'}")
    print_table(["framework", "median", "p90", "wall median", "fake median", "turns"], rows)
    if "pipecat" in results:
        ratio = (statistics.median(results["pipecat"]["framework"])
                 / statistics.median(results["wavewire"]["framework"]))
        print(f"\npipecat / wavewire (median framework time): {ratio:.1f}x")
    if args.json:
        write_json(args.json, {"turns": turns, "results": results})


if __name__ == "__main__":
    main()
