"""The offline responder: what it understands, and that its tools go through the same
function-calling path (frames and context messages) as the OpenAI service's."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from wavewire.context import LLMContext
from wavewire.frames import (
    ErrorFrame,
    FunctionCallInProgressFrame,
    FunctionCallResultFrame,
    LLMContextFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    LLMRunFrame,
    LLMTextFrame,
    MetricsFrame,
)
from wavewire.services.local_brain import (
    GREETING,
    LocalBrainService,
    understand,
    words_to_numbers,
)
from wavewire.services.openai import OpenAILLMService
from wavewire.testing import FakeClock, run_test
from wavewire.testing.run import Sleep

pytestmark = pytest.mark.usefixtures("no_leaked_tasks")

NOON = datetime(2026, 12, 3, 13, 5, tzinfo=timezone(timedelta(hours=1)))


@pytest.mark.parametrize(("text", "digits"), [
    ("twenty five", "25"), ("one hundred and two", "102"), ("three plus four", "3 plus 4"),
    ("set a timer for one minute", "set a timer for 1 minute"), ("a thousand", "1000"),
    ("two thousand twenty six", "2026"), ("what is it", "what is it"),
])
def test_number_words_become_digits(text, digits):
    assert words_to_numbers(text) == digits


@pytest.mark.parametrize(("text", "tool", "arguments"), [
    ("What time is it?", "get_time", {}),
    ("what time is", "get_time", {}),  # what a grammar decoder may leave of it
    ("What's the date today?", "get_date", {}),
    ("what day is it", "get_date", {}),
    ("what is three plus four", "calculate", {"a": 3, "operator": "+", "b": 4}),
    ("How much is 12 x 7?", "calculate", {"a": 12, "operator": "*", "b": 7}),
    ("what is twenty five divided by four", "calculate", {"a": 25, "operator": "/", "b": 4}),
    ("nine minus two", "calculate", {"a": 9, "operator": "-", "b": 2}),
    ("set a timer for ten seconds", "start_timer", {"seconds": 10}),
    ("Start a countdown of 2 minutes", "start_timer", {"seconds": 120}),
    ("Repeat after me: Hello, World!", "repeat", {"text": "Hello, World!"}),
    ("say good morning", "repeat", {"text": "good morning"}),
])
def test_requests_become_tool_calls(text, tool, arguments):
    intent = understand(text)
    assert (intent.tool, intent.arguments) == (tool, arguments)


def test_what_it_does_not_understand_says_how_to_plug_in_a_real_llm():
    intent = understand("Tell me a joke about penguins.")
    assert intent.tool is None
    assert "I heard: Tell me a joke about penguins." in intent.reply
    for hint in ("not a language model", "OPENAI_API_KEY", "OPENAI_BASE_URL", "--llm openai"):
        assert hint in intent.reply
    assert understand("set a timer").reply.startswith("For how long?")
    assert "not a language model" in understand("what can you do").reply


async def _turn(text: str, brain: LocalBrainService | None = None, **kwargs):
    brain = brain or LocalBrainService(now=lambda: NOON)
    context = LLMContext([{"role": "user", "content": text}])
    result = await run_test([brain], frames_to_send=[LLMContextFrame(context)], **kwargs)
    spoken = "".join(f.text for f in result.down if isinstance(f, LLMTextFrame))
    return result, context, spoken


async def test_a_tool_round_has_the_frames_and_context_of_an_llm_tool_round():
    result, context, spoken = await _turn("what time is it")
    kinds = [type(f) for f in result.down]
    assert kinds == [LLMFullResponseStartFrame, FunctionCallInProgressFrame,
                     FunctionCallResultFrame, LLMTextFrame, MetricsFrame,
                     LLMFullResponseEndFrame]
    assert spoken == "It's 1:05 PM."
    call, result_frame = result.down[1], result.down[2]
    assert (call.function_name, call.arguments) == ("get_time", {})
    assert (result_frame.tool_call_id, result_frame.result) == (call.tool_call_id, "1:05 PM")
    _user, asked, answered = context.messages
    assert asked == {"role": "assistant", "content": None, "tool_calls": [{
        "id": call.tool_call_id, "type": "function",
        "function": {"name": "get_time", "arguments": "{}"}}]}
    assert answered == {"role": "tool", "tool_call_id": call.tool_call_id, "content": "1:05 PM"}


async def test_the_same_context_is_what_the_openai_service_writes_for_the_same_call():
    """The tool schemas are the typed-function ones, so a real LLM could call them."""
    brain = LocalBrainService()
    schema = {t.name: t.schema()["function"] for t in brain.tools.values()}
    assert schema["calculate"]["parameters"] == {
        "type": "object", "required": ["a", "operator", "b"], "properties": {
            "a": {"type": "number", "description": "the left operand"},
            "operator": {"enum": ["+", "-", "*", "/"], "type": "string",
                         "description": "one of + - * /"},
            "b": {"type": "number", "description": "the right operand"}}}
    llm = OpenAILLMService(tools=list(brain.tools.values()))
    assert set(llm.tools) == {"get_time", "get_date", "calculate", "start_timer", "repeat"}


async def test_date_arithmetic_and_repeat_are_worded_from_their_results():
    assert (await _turn("what is the date"))[2] == "Today is Thursday, December 3, 2026."
    assert (await _turn("what is twelve times seven"))[2] == "12 times 7 is 84."
    assert (await _turn("what is 10 divided by 4"))[2] == "10 divided by 4 is 2.5."
    assert (await _turn("repeat after me the quick brown fox"))[2] == "the quick brown fox"


async def test_a_failing_tool_is_an_error_result_worded_as_an_apology():
    result, context, spoken = await _turn("what is five divided by zero")
    failed = next(f for f in result.down if isinstance(f, FunctionCallResultFrame))
    assert failed.error and "division by zero" in failed.error
    assert json.loads(context.messages[-1]["content"]) == {"error": failed.error}
    assert spoken == "Sorry, I couldn't do that: division by zero."
    assert not [f for f in result.up if isinstance(f, ErrorFrame)]


async def test_a_run_on_a_fresh_context_is_the_greeting():
    brain = LocalBrainService()
    result = await run_test([brain], frames_to_send=[LLMRunFrame()])
    assert [f.text for f in result.down if isinstance(f, LLMTextFrame)] == [GREETING]


async def test_a_timer_speaks_when_it_ends_on_the_session_clock():
    clock = FakeClock()
    brain = LocalBrainService()
    context = LLMContext([{"role": "user", "content": "set a timer for 90 seconds"}])
    result = await run_test([brain], clock=clock, frames_to_send=[
        LLMContextFrame(context), Sleep(0.1), Sleep(89.0)], send_end_frame=False)
    said = [f.text for f in result.down if isinstance(f, LLMTextFrame)]
    assert said == ["Okay, a timer for 1 minute and 30 seconds. I'll tell you when it ends."]
    assert brain.timers == 0  # the session's end cancelled it

    brain = LocalBrainService()
    context = LLMContext([{"role": "user", "content": "set a timer for 90 seconds"}])
    result = await run_test([brain], clock=clock, frames_to_send=[
        LLMContextFrame(context), Sleep(0.1), Sleep(90.0)])
    said = [f.text for f in result.down if isinstance(f, LLMTextFrame)]
    assert said[-1] == "Time's up! Your 1 minute and 30 seconds timer has ended."
    assert [type(f) for f in result.down[-3:]] == [LLMFullResponseStartFrame, LLMTextFrame,
                                                   LLMFullResponseEndFrame]
    assert brain.timers == 0


async def test_timers_are_bounded():
    brain = LocalBrainService(max_timers=1)
    first = LLMContext([{"role": "user", "content": "set a timer for 10 seconds"}])
    long = LLMContext([{"role": "user", "content": "set a timer for 5 hours"}])
    second = LLMContext([{"role": "user", "content": "set a timer for 20 seconds"}])
    result = await run_test([brain], clock=FakeClock(), send_end_frame=False, frames_to_send=[
        LLMContextFrame(first), Sleep(0.1), LLMContextFrame(long), Sleep(0.1),
        LLMContextFrame(second), Sleep(0.1)])
    said = [f.text for f in result.down if isinstance(f, LLMTextFrame)]
    assert said == ["Okay, a timer for 10 seconds. I'll tell you when it ends.",
                    "Sorry, I couldn't do that: a timer lasts between 1 second and 1 hour.",
                    "Sorry, I couldn't do that: too many timers are running (1)."]
