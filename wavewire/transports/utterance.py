"""What the bot said and what the user heard: the output edge's utterance bookkeeping.

An :class:`Utterance` follows the bot's current utterance through the output edge: whether
the bot is speaking, how much audio was queued and how much was really played, where in
that audio each text is heard (from the TTS's word timestamps when it gives them), and
the playback marks sent to the peer and not yet echoed back. When the utterance ends,
:meth:`Utterance.end` says what was heard
(:class:`~wavewire.frames.BotUtterancePlayedFrame`), so a context aggregator can keep
only that. No I/O: the edge pushes the frames.
"""

from __future__ import annotations

from ..frames import BotUtterancePlayedFrame, TextFrame, TTSStartedFrame

__all__ = ["Utterance"]


class Utterance:
    """The bot's current utterance, as the output edge plays it (see the module docstring)."""

    __slots__ = ("_mark_seq", "_text", "_tts_base_ms", "marks_out", "played_ms", "queued_ms",
                 "speaking")

    def __init__(self) -> None:
        self.speaking = False
        """The bot is speaking (its audio is playing)."""
        self.queued_ms = 0.0
        """Audio queued or sent in this utterance, in milliseconds."""
        self.played_ms = 0.0
        """Audio of this utterance actually sent to the peer, in milliseconds."""
        self.marks_out: set[str] = set()
        """Playback marks sent and not yet echoed back by the peer."""
        self._text: list[tuple[float, str]] = []  # (position ms, text)
        self._tts_base_ms = 0.0  # where the current TTS utterance's audio starts
        self._mark_seq = 0

    def note(self, frame: TextFrame | TTSStartedFrame) -> None:
        """Place a text where it is heard in the utterance's audio: the word's end (a word
        cut short does not count) from the TTS's timestamps, relative to the start of its
        audio, when it gives them; else where the audio queued so far ends. A
        :class:`TTSStartedFrame` marks where the next TTS audio starts."""
        if isinstance(frame, TTSStartedFrame):
            self._tts_base_ms = self.queued_ms
            return
        at_s = getattr(frame, "end_s", None)
        if at_s is None:
            at_s = getattr(frame, "start_s", None)
        pos = self.queued_ms if at_s is None else self._tts_base_ms + at_s * 1000
        self._text.append((pos, frame.text))  # type: ignore[union-attr]

    def start(self) -> None:
        """The bot starts speaking: nothing of this utterance is played yet."""
        self.speaking = True
        self.played_ms = 0.0

    def end(self, interrupted: bool) -> BotUtterancePlayedFrame:
        """The bot stops speaking: what was heard of the utterance (all of its text if it
        played to the end, else the text placed before the point playback reached)."""
        self.speaking = False
        played, total = self.played_ms, max(self.queued_ms, self.played_ms)
        heard = " ".join(t for pos, t in self._text if pos <= played or not interrupted)
        self._text.clear()
        self._tts_base_ms = max(0.0, self._tts_base_ms - self.queued_ms)
        self.queued_ms = 0.0
        return BotUtterancePlayedFrame(heard.strip(), played, total, interrupted)

    def new_mark(self, prefix: str) -> str:
        """The name of a new playback mark, counted as out until it comes back."""
        self._mark_seq += 1
        name = f"{prefix}-utt-{self._mark_seq}"
        self.marks_out.add(name)
        return name

    def mark_returned(self, name: str) -> bool:
        """The peer echoed mark ``name``: True if it was the last one out."""
        if name not in self.marks_out:
            return False
        self.marks_out.discard(name)
        return not self.marks_out
