"""``SentenceAggregator``: turns an LLM's token stream into speakable pieces for a TTS.

Tokens (:class:`~wavewire.frames.LLMTextFrame`) are buffered and pushed on as one
``LLMTextFrame`` per sentence (or per clause once a piece is long enough). A boundary is
``.`` ``!`` ``?`` ``…`` (with closing quotes or brackets) followed by whitespace, or a
newline; abbreviations (``Dr.``, ``e.g.``, ``etc.``), initials and decimals (``3.5``) do
not end a sentence. With ``early_first`` the first short phrase of a response (up to a
comma, say) goes at once, so the TTS can start speaking sooner. The rest is flushed at
:class:`~wavewire.frames.LLMFullResponseEndFrame`; an interruption discards it.

The pieces are exact substrings of the stream, so their concatenation is the LLM's text.
"""

from __future__ import annotations

import re

from ..frames import (
    Frame,
    InterruptionFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    LLMTextFrame,
)
from .base import DOWNSTREAM, FrameDirection, FrameProcessor

__all__ = ["ABBREVIATIONS", "SentenceAggregator", "split_sentences"]

ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof sr jr st mt vs etc e.g i.e eg ie approx dept est fig inc ltd co corp "
    "no nos vol ch jan feb mar apr jun jul aug sep sept oct nov dec mon tue wed thu fri sat "
    "sun a.m p.m u.s u.k".split()
)
"""Words that end with a period without ending a sentence (lower case, no final dot)."""

_CLOSERS = "\"')\\]\u00bb\u201d\u2019"  # closing quotes and brackets
_OPENERS = "\"'([\u00ab\u201c\u2018"
_END = re.compile(f"[.!?\u2026]+[{_CLOSERS}]*(?=\\s)|\n")
_CLAUSE = re.compile(f"[,;:\u2014\u2013][{_CLOSERS}]*(?=\\s)")


def _is_abbreviation(text: str, dot: int) -> bool:
    """Whether the period at ``text[dot]`` belongs to an abbreviation or an initial."""
    start = dot
    while start > 0 and not text[start - 1].isspace():
        start -= 1
    word = text[start:dot].lstrip(_OPENERS).lower()
    if not word:
        return False
    if word in ABBREVIATIONS:
        return True
    return len(word) == 1 and word.isalpha() and text[dot - 1].isupper() and text[dot - 1] != "I"


def split_sentences(text: str, *, clause_min: int = 0, final: bool = False) -> tuple[list[str], str]:
    """Split ``text`` into complete pieces and the rest still pending.

    ``clause_min``: a clause boundary also ends a piece once it is at least that many
    characters long (0: never). ``final``: the rest is complete too."""
    pieces: list[str] = []
    start = 0
    pos = 0
    while True:
        match = _END.search(text, pos)
        clause = _CLAUSE.search(text, pos) if clause_min else None
        if clause is not None and (match is None or clause.start() < match.start()):
            if clause.end() - start >= clause_min:
                pieces.append(text[start:clause.end()])
                start = pos = clause.end()
            else:
                pos = clause.end()
            continue
        if match is None:
            break
        end = match.end()
        if text[match.start()] == "." and match.end() - match.start() == 1 and \
                _is_abbreviation(text, match.start()):
            pos = end
            continue
        if text[start:end].strip():
            pieces.append(text[start:end])
            start = end
        pos = end
    rest = text[start:]
    if final and rest.strip():
        pieces.append(rest)
        rest = ""
    return pieces, rest


class SentenceAggregator(FrameProcessor):
    """LLM tokens in, sentences out (see the module docstring).

    :param clause_min: characters after which a clause boundary (``,`` ``;`` ``:`` ``—``)
        also ends a piece (0: sentences only).
    :param early_first: let the first piece of each response end at a clause boundary
        once it has ``early_min`` characters.
    :param early_min: see ``early_first``.
    """

    def __init__(self, *, clause_min: int = 80, early_first: bool = True, early_min: int = 12,
                 name: str | None = None) -> None:
        super().__init__(name=name)
        self.clause_min = clause_min
        self.early_first = early_first
        self.early_min = early_min
        self._buffer = ""
        self._at_start = True

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        if type(frame) is LLMTextFrame and direction is DOWNSTREAM:
            if 0 <= frame.epoch < self.epoch:
                self.count_drop("stale")
                return
            self._buffer += frame.text
            clause_min = self.early_min if (self._at_start and self.early_first) else self.clause_min
            pieces, self._buffer = split_sentences(self._buffer, clause_min=clause_min)
            for piece in pieces:
                self._at_start = False
                await self.push(LLMTextFrame(piece), DOWNSTREAM)
            return
        if isinstance(frame, LLMFullResponseEndFrame):
            await self._flush()
        elif isinstance(frame, LLMFullResponseStartFrame):
            self._buffer, self._at_start = "", True
        elif isinstance(frame, InterruptionFrame):
            if self._buffer:
                self.count_drop("interrupted")
            self._buffer = ""
        await self.push(frame, direction)

    async def _flush(self) -> None:
        rest, self._buffer = self._buffer, ""
        self._at_start = True
        if rest.strip():
            await self.push(LLMTextFrame(rest), DOWNSTREAM)
