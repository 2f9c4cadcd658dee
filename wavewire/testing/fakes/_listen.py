"""The Deepgram fake's transcriber: deterministic, table-driven speech recognition for
``/v1/listen`` and Flux ``/v2/listen`` (protocols.md §5), with no I/O.

Audio is cut into utterances by level: a 10 ms window whose peak is above ``threshold``
is speech; an utterance ends after ``endpointing`` ms of windows without speech (never,
with ``endpointing=false``, until ``Finalize`` or ``CloseStream``). An utterance's text
is looked up in the test's table by :func:`utterance_key` (the SHA-256 of its PCM trimmed
to its first and last loud sample) or, failing that, by its tone frequency (an ``int``
key, in Hz, within ``tolerance_hz``); otherwise it is ``default``. The words are spread
evenly over the utterance, in seconds of the stream. With interim results (and Flux
``Update`` s), every 250 ms of an utterance whose tone is already recognised adds its next
word; the missing ones come just before the final.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ._base import dumps

__all__ = ["Transcriber", "utterance_key", "trim", "tone_hz"]

WINDOW_MS = 10


def trim(pcm: bytes, threshold: int) -> tuple[int, bytes]:
    """(first loud sample index, PCM from the first to the last loud sample)."""
    import numpy as np

    x = np.frombuffer(pcm[: len(pcm) // 2 * 2], dtype="<i2")
    loud = np.flatnonzero(np.abs(x.astype(np.int32)) > threshold)
    if not len(loud):
        return 0, b""
    return int(loud[0]), x[loud[0] : loud[-1] + 1].tobytes()


def utterance_key(pcm: bytes, threshold: int = 500) -> str:
    """The table key of an utterance's 16-bit PCM (as the fake computes it)."""
    return hashlib.sha256(trim(pcm, threshold)[1]).hexdigest()


def tone_hz(pcm: bytes, sample_rate: int) -> float:
    """The frequency of a tone, from its zero crossings."""
    import numpy as np

    x = np.frombuffer(pcm, dtype="<i2")
    if len(x) < 2:
        return 0.0
    crossings = np.count_nonzero(np.signbit(x[1:]) != np.signbit(x[:-1]))
    return float(crossings) * sample_rate / (2 * len(x))


@dataclass(slots=True)
class ListenConfig:
    """What the socket's query asked for."""

    sample_rate: int
    interim_results: bool = False
    endpointing_ms: int | None = 10
    utterance_end_ms: int | None = None
    vad_events: bool = False
    model: str = "nova-3"
    language: str = "en"
    flux: bool = False
    eager: bool = False
    eot_ms: int = 300


class Transcriber:
    """Feed it PCM and control messages; it returns the JSON messages to send."""

    def __init__(
        self,
        config: ListenConfig,
        table: Mapping[int | str, str],
        *,
        request_id: str,
        threshold: int = 500,
        tolerance_hz: float = 15.0,
        default: str = "",
    ) -> None:
        self.c = config
        self.table = table
        self.request_id = request_id
        self.threshold = threshold
        self.tolerance_hz = tolerance_hz
        self.default = default
        self.window = config.sample_rate * WINDOW_MS // 1000
        self.pos = 0  # samples seen
        self.audio_bytes = 0
        self._sha = hashlib.sha256()
        self._pending = bytearray()  # less than one window
        self._utt: bytearray | None = None
        self._utt_start = 0
        self._silence = 0
        self._last_word_end: float | None = None
        self._since_words = 0
        self._update_samples = 0
        self._interims = 0
        self.turn_index = 0
        self.sequence_id = 0

    # --- inputs -----------------------------------------------------------------------

    def audio(self, pcm: bytes) -> list[str]:
        """Messages caused by this audio."""
        self._sha.update(pcm)
        self.audio_bytes += len(pcm)
        self._pending += pcm
        out: list[str] = []
        step = 2 * self.window
        while len(self._pending) >= step:
            chunk = bytes(self._pending[:step])
            del self._pending[:step]
            out += self._window(chunk)
        return out

    def finalize(self) -> list[str]:
        """``Finalize``: the buffered utterance now, ``from_finalize``."""
        if self._utt is None:
            return [self._results("", [], self.pos, 0, final=True, from_finalize=True)]
        return self._finish(from_finalize=True)

    def close_stream(self) -> list[str]:
        """``CloseStream``: the pending utterance, then ``Metadata``."""
        out = self._finish(from_finalize=False) if self._utt is not None else []
        if not self.c.flux:
            out.append(
                dumps({
                    "type": "Metadata", "transaction_key": "deprecated",
                    "request_id": self.request_id, "sha256": self._sha.hexdigest(),
                    "created": "2026-01-01T00:00:00.000Z",
                    "duration": round(self.pos / self.c.sample_rate, 6), "channels": 1,
                })
            )
        return out

    # --- segmentation -------------------------------------------------------------------

    def _window(self, chunk: bytes) -> list[str]:
        import numpy as np

        x = np.frombuffer(chunk, dtype="<i2")
        loud = bool(np.abs(x.astype(np.int32)).max() > self.threshold)
        out: list[str] = []
        start = self.pos
        self.pos += len(x)
        if self._utt is None:
            if not loud:
                out += self._silence_after_words(len(x))
                return out
            self._utt = bytearray()
            self._utt_start = start
            self._silence = 0
            self._update_samples = 0
            self._interims = 0
            if self.c.flux:
                out.append(self._turn("StartOfTurn", "", []))
            elif self.c.vad_events:
                out.append(dumps({"type": "SpeechStarted", "channel": [0, 1],
                                   "timestamp": round(start / self.c.sample_rate, 6)}))
        self._utt += chunk
        self._silence = 0 if loud else self._silence + len(x)
        self._update_samples += len(x)
        if self._update_samples >= self.c.sample_rate // 4 and (
            self.c.flux or self.c.interim_results
        ):
            self._update_samples = 0
            out += self._interim()
        if self.c.flux:
            if self._silence * 1000 >= self.c.eot_ms * self.c.sample_rate:
                out += self._finish(from_finalize=False)
        elif self.c.endpointing_ms is not None and (
            self._silence * 1000 >= self.c.endpointing_ms * self.c.sample_rate
        ):
            out += self._finish(from_finalize=False)
        return out

    def _interim(self) -> list[str]:
        """Every 250 ms of an utterance: the next word of its text when a tone already
        tells what it is (a hashed utterance is known only once it ends)."""
        assert self._utt is not None
        speech = trim(bytes(self._utt), self.threshold)[1]
        words = self._tone_text(speech).split() if len(speech) >= 2 * self.window else []
        k = min(self._interims + 1, max(1, len(words) - 1)) if words else 0
        if self.c.flux:
            return [self._turn("Update", " ".join(words[:k]), [])]
        if not words or k <= self._interims:
            return []
        self._interims = k
        return [self._results(" ".join(words[:k]), [], self._utt_start, len(self._utt) // 2,
                              final=False)]

    def _tone_text(self, pcm: bytes) -> str:
        hz = tone_hz(pcm, self.c.sample_rate)
        tones = [k for k in self.table if isinstance(k, int)]
        if tones:
            best = min(tones, key=lambda k: abs(k - hz))
            if abs(best - hz) <= self.tolerance_hz:
                return self.table[best]
        return ""

    def _silence_after_words(self, n: int) -> list[str]:
        if self._last_word_end is None or self.c.utterance_end_ms is None:
            return []
        self._since_words += n
        if self._since_words * 1000 < self.c.utterance_end_ms * self.c.sample_rate:
            return []
        end = self._last_word_end
        self._last_word_end = None
        return [dumps({"type": "UtteranceEnd", "channel": [0, 1], "last_word_end": end})]

    # --- recognition --------------------------------------------------------------------

    def _lookup(self, pcm: bytes) -> str:
        key = hashlib.sha256(pcm).hexdigest()
        if key in self.table:
            return self.table[key]
        return self._tone_text(pcm) or self.default

    def _finish(self, *, from_finalize: bool) -> list[str]:
        assert self._utt is not None
        utt = bytes(self._utt)
        self._utt = None
        offset, speech = trim(utt, self.threshold)
        text = self._lookup(speech) if speech else ""
        rate = self.c.sample_rate
        t0 = (self._utt_start + offset) / rate
        t1 = t0 + len(speech) / 2 / rate
        words = text.split()
        span = (t1 - t0) / len(words) if words else 0.0
        timed = [
            {"word": w.strip(".,!?;:").lower() or w, "start": round(t0 + i * span, 6),
             "end": round(t0 + (i + 1) * span, 6), "confidence": 0.99, "punctuated_word": w}
            for i, w in enumerate(words)
        ]
        if self.c.flux:
            return self._end_turn(text, timed)
        out: list[str] = []
        if self.c.interim_results:
            for k in range(self._interims + 1, len(words)):
                out.append(self._results(" ".join(words[:k]), timed[:k], self._utt_start,
                                         len(utt) // 2, final=False))
        out.append(self._results(text, timed, self._utt_start, len(utt) // 2, final=True,
                                 speech_final=not from_finalize, from_finalize=from_finalize))
        if timed:
            self._last_word_end = round(t0 + len(words) * span, 6)
            self._since_words = self._silence
        return out

    def _results(self, text: str, words: list[dict[str, Any]], start: int, n: int, *,
                 final: bool, speech_final: bool = False, from_finalize: bool = False) -> str:
        rate = self.c.sample_rate
        return dumps({
            "type": "Results", "channel_index": [0, 1], "duration": round(n / rate, 6),
            "start": round(start / rate, 6), "is_final": final, "speech_final": speech_final,
            "from_finalize": from_finalize,
            "channel": {"alternatives": [{"transcript": text,
                                          "confidence": 0.99 if text else 0.0,
                                          "words": words}]},
            "metadata": {"request_id": self.request_id,
                         "model_info": {"name": f"general-{self.c.model}", "version": "fake",
                                        "arch": self.c.model},
                         "model_uuid": "00000000-0000-4000-8000-000000000000"},
        })

    # --- Flux -------------------------------------------------------------------------------

    def _turn(self, event: str, text: str, words: list[dict[str, Any]],
              confidence: float = 0.0) -> str:
        rate = self.c.sample_rate
        msg = {
            "type": "TurnInfo", "request_id": self.request_id, "sequence_id": self.sequence_id,
            "event": event, "turn_index": self.turn_index,
            "audio_window_start": round(self._utt_start / rate, 6),
            "audio_window_end": round(self.pos / rate, 6), "transcript": text,
            "words": [{"word": w["punctuated_word"], "confidence": w["confidence"],
                       "start": w["start"], "end": w["end"]} for w in words],
            "end_of_turn_confidence": confidence,
        }
        self.sequence_id += 1
        return dumps(msg)

    def connected(self) -> str:
        """Flux's first message."""
        msg = dumps({"type": "Connected", "request_id": self.request_id,
                      "sequence_id": self.sequence_id})
        self.sequence_id += 1
        return msg

    def force_end_turn(self) -> list[str]:
        """Flux ``ForceEndTurn``."""
        if self._utt is None:
            return []
        return self._finish(from_finalize=False)

    def _end_turn(self, text: str, words: list[dict[str, Any]]) -> list[str]:
        out = [self._turn("Update", text, words)]
        if text and self.c.eager:
            out.append(self._turn("EagerEndOfTurn", text, words, 0.6))
        out.append(self._turn("EndOfTurn", text, words, 0.9))
        self.turn_index += 1
        return out
