"""The context aggregators: user turns in, assistant messages holding what was heard."""

from __future__ import annotations

from wavewire.context import LLMContext
from wavewire.frames import (
    BotStartedSpeakingFrame,
    BotUtterancePlayedFrame,
    InterruptionFrame,
    LLMContextFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    LLMTextFrame,
    TranscriptionFrame,
    TTSTextFrame,
    UserStartedSpeakingFrame,
    UserStoppedSpeakingFrame,
)
from wavewire.processors.aggregators import (
    LLMAssistantAggregator,
    LLMUserAggregator,
    context_aggregators,
    heard_prefix,
)
from wavewire.testing import Up, run_test


async def test_one_user_turn_is_one_message_and_one_llm_run():
    ctx = LLMContext([{"role": "system", "content": "Be brief."}])
    user = LLMUserAggregator(ctx)
    result = await run_test(user, frames_to_send=[
        UserStartedSpeakingFrame(), TranscriptionFrame("What's the"),
        TranscriptionFrame(" weather? "), UserStoppedSpeakingFrame(),
        UserStartedSpeakingFrame(), TranscriptionFrame("  "), UserStoppedSpeakingFrame(),
    ])
    runs = [f for f in result.down if isinstance(f, LLMContextFrame)]
    assert len(runs) == 1 and runs[0].context is ctx  # the empty turn added nothing
    assert ctx.messages[1:] == [{"role": "user", "content": "What's the weather?"}]


async def test_a_late_transcription_joins_the_turn_and_runs_the_llm_again():
    ctx = LLMContext()
    result = await run_test(LLMUserAggregator(ctx), frames_to_send=[
        UserStartedSpeakingFrame(), TranscriptionFrame("Book a table"),
        UserStoppedSpeakingFrame(), TranscriptionFrame("for two")])
    assert ctx.messages == [{"role": "user", "content": "Book a table for two"}]
    assert len([f for f in result.down if isinstance(f, LLMContextFrame)]) == 2


def _response(text: str) -> list:
    words = text.split(" ")
    return [LLMFullResponseStartFrame(),
            *[LLMTextFrame(w if i == 0 else f" {w}") for i, w in enumerate(words)],
            LLMFullResponseEndFrame()]


async def test_a_whole_response_becomes_one_assistant_message():
    _, assistant = context_aggregators()
    await run_test(assistant, frames_to_send=_response("Hello there. How are you?"))
    assert assistant.context.messages == [
        {"role": "assistant", "content": "Hello there. How are you?"}]


async def test_without_timestamps_the_heard_proportion_rounds_down_to_a_word():
    assert heard_prefix("one two three four", 50, 100) == "one two"  # cut inside "three"
    assert heard_prefix("one two three four", 40, 100) == "one two"  # just after "two"
    assert heard_prefix("one two three four", 30, 100) == "one"  # cut inside "two"
    assert heard_prefix("one two three four", 0, 100) == ""
    assert heard_prefix("one two three four", 100, 100) == "one two three four"
    _, assistant = context_aggregators()
    text = "one two three four five six seven eight"
    await run_test(assistant, frames_to_send=[
        *_response(text), Up(BotStartedSpeakingFrame()),
        Up(BotUtterancePlayedFrame("", played_ms=500, total_ms=1000, interrupted=True))])
    assert assistant.context.messages == [
        {"role": "assistant", "content": "one two three four"}]


async def test_with_timestamps_the_edge_report_decides_and_nothing_heard_adds_nothing():
    ctx = LLMContext()
    assistant = LLMAssistantAggregator(ctx)
    spoken = [TTSTextFrame(w, start_s=i * 0.3, end_s=i * 0.3 + 0.25)
              for i, w in enumerate(["Alpha", "beta", "gamma."])]
    await run_test(assistant, frames_to_send=[
        LLMFullResponseStartFrame(), LLMTextFrame("Alpha beta"), LLMTextFrame(" gamma."),
        *spoken, Up(BotStartedSpeakingFrame()),
        Up(BotUtterancePlayedFrame("Alpha", played_ms=400, total_ms=900, interrupted=True)),
        # the next response is interrupted before a sound of it was played
        *_response("Never heard")[:-1], InterruptionFrame()])
    assert ctx.messages == [{"role": "assistant", "content": "Alpha"}]


async def test_an_interruption_before_the_response_ends_keeps_only_heard_utterances():
    ctx = LLMContext()
    assistant = LLMAssistantAggregator(ctx)
    await run_test(assistant, frames_to_send=[
        LLMFullResponseStartFrame(), LLMTextFrame("First part."),
        Up(BotStartedSpeakingFrame()),
        Up(BotUtterancePlayedFrame("First part.", played_ms=800, total_ms=800)),  # all heard
        LLMTextFrame(" Second part"), InterruptionFrame()])
    assert ctx.messages == [{"role": "assistant", "content": "First part."}]
