"""SentenceAggregator: LLM tokens → speakable pieces for the TTS."""

from __future__ import annotations

import pytest

from wavewire.frames import (
    InterruptionFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    LLMTextFrame,
)
from wavewire.processors.sentences import SentenceAggregator, split_sentences
from wavewire.testing import run_test


@pytest.mark.parametrize("text, pieces, rest", [
    ("Dr. Smith paid 3.5 dollars. Then", ["Dr. Smith paid 3.5 dollars."], " Then"),
    ("Use tea, e.g. green tea. Or", ["Use tea, e.g. green tea."], " Or"),
    ("It works! Really? Yes", ["It works!", " Really?"], " Yes"),
    ("He said \u201cno.\u201d Then", ["He said \u201cno.\u201d"], " Then"),
    ("J. R. R. Tolkien wrote it. Ok", ["J. R. R. Tolkien wrote it."], " Ok"),
    ("Wait... what", ["Wait..."], " what"),
    ("Line one\nline two", ["Line one\n"], "line two"),
    ("It costs 3.", [], "It costs 3."),  # the period may still be a decimal point
])
def test_split_sentences(text, pieces, rest):
    assert split_sentences(text) == (pieces, rest)


def test_clause_boundaries_need_a_long_enough_piece():
    text = "Well, if you ask me, the answer depends on many things; mostly the weather. Ok"
    assert split_sentences(text, clause_min=30) == (
        ["Well, if you ask me, the answer depends on many things;", " mostly the weather."], " Ok")


def _tokens(text: str) -> list[LLMTextFrame]:
    words = text.split(" ")
    return [LLMTextFrame(w if i == 0 else f" {w}") for i, w in enumerate(words)]


async def test_tokens_become_sentences_and_the_rest_is_flushed_at_the_end():
    text = "Sure, Dr. Who is here. The value is 3.5 today! And more"
    result = await run_test(SentenceAggregator(early_first=False), frames_to_send=[
        LLMFullResponseStartFrame(), *_tokens(text), LLMFullResponseEndFrame()])
    out = [f.text for f in result.down if isinstance(f, LLMTextFrame)]
    assert out == ["Sure, Dr. Who is here.", " The value is 3.5 today!", " And more"]
    assert "".join(out) == text
    assert isinstance(result.down[-1], LLMFullResponseEndFrame)


async def test_the_first_short_phrase_may_go_early():
    text = "Hello there, my friend, how are you doing today? Fine, thanks."
    result = await run_test(SentenceAggregator(early_first=True, early_min=10), frames_to_send=[
        LLMFullResponseStartFrame(), *_tokens(text), LLMFullResponseEndFrame()])
    out = [f.text for f in result.down if isinstance(f, LLMTextFrame)]
    assert out == ["Hello there,", " my friend, how are you doing today?", " Fine, thanks."]


async def test_an_interruption_discards_the_unfinished_sentence():
    agg = SentenceAggregator(early_first=False)
    result = await run_test(agg, frames_to_send=[
        LLMFullResponseStartFrame(), *_tokens("Half a sentence"), InterruptionFrame(),
        LLMFullResponseStartFrame(), *_tokens("New one."), LLMFullResponseEndFrame()])
    out = [f.text for f in result.down if isinstance(f, LLMTextFrame)]
    assert out == ["New one."]
    assert result.task is not None and sum(result.task.stats.dropped.values()) == 1
