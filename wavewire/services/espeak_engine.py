"""espeak-ng driven through ctypes: :class:`EspeakEngine` turns text into PCM in memory
with each word's position in it (the engine of :mod:`wavewire.services.espeak`).

``espeakng-loader`` ships the espeak-ng shared library and its data in its wheel (the
``offline`` extra; espeak-ng is GPL-3.0, so it is never a core dependency). The engine
initialises it with synchronous output and a synth callback, so the audio arrives in
memory, with the word events that give each word's position in it. espeak-ng keeps global
state, so every call runs on one worker thread per process, never on the event loop.
"""

from __future__ import annotations

import asyncio
import ctypes
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ..errors import ServiceError

__all__ = ["DEFAULT_VOICE", "INSTALL_HINT", "EspeakEngine", "Synthesis", "SpokenWord"]

DEFAULT_VOICE = "en-us+klatt4"
"""The default voice: recognised far better by pocketsphinx than espeak-ng's own default."""

INSTALL_HINT = "pip install 'wavewire[offline]'"

# espeak_lib.h values (stable ABI since espeak 1.x).
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_DONT_EXIT = 0x8000
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_EVENT_LIST_TERMINATED = 0
_EVENT_WORD = 1
_EVENT_END = 5
_EVENT_MSG_TERMINATED = 6
_PARAM_RATE = 1
_PARAM_PITCH = 3


class _EventId(ctypes.Union):
    _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8)]


class _Event(ctypes.Structure):
    """``espeak_EVENT``: ``text_position`` counts characters from 1; ``sample`` is the
    event's position in the audio, in samples."""

    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", _EventId),
    ]


_SynthCallback = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event)
)


@dataclass(slots=True)
class SpokenWord:
    """One word of a synthesis and where its audio starts and ends."""

    text: str
    """The word as written in the input (a whitespace-separated token)."""
    start: int
    """First sample of the word, at the synthesis's sample rate."""
    end: int
    """Sample after the word (the next word's start, or the end of its clause)."""


@dataclass(slots=True)
class Synthesis:
    """The result of one :meth:`EspeakEngine.synthesize` call."""

    pcm: bytes
    """Mono signed 16-bit little-endian PCM."""
    sample_rate: int
    """Its sample rate (espeak-ng's own, 22050 Hz, unless resampled)."""
    words: list[SpokenWord] = field(default_factory=list)
    """The words in order, with their sample positions."""
    aborted: bool = False
    """True if the synthesis was cancelled before its end (the audio is partial)."""


class _Job:
    """One synthesis request; ``cancelled`` is read by the callback on the engine thread."""

    __slots__ = ("cancelled", "chunks", "events")

    def __init__(self) -> None:
        self.cancelled = False
        self.chunks: list[bytes] = []
        self.events: list[tuple[int, int, int]] = []  # (type, text position, sample)


def _tokens(text: str) -> list[tuple[int, int]]:
    """Character spans of the whitespace-separated tokens of ``text``."""
    return [m.span() for m in re.finditer(r"\S+", text)]


def _words(text: str, events: list[tuple[int, int, int]], total: int) -> list[SpokenWord]:
    """Turn espeak-ng's events into one :class:`SpokenWord` per input token.

    espeak-ng may report several word events inside one token ("3:45" gives three) and
    its lengths are unreliable ("It's" has length 2), so each event is mapped to the
    token that holds its character position and a token starts at its first event."""
    spans = _tokens(text)
    words: list[SpokenWord] = []
    seen = -1
    for kind, pos, sample in events:
        if words and kind in (_EVENT_WORD, _EVENT_END) and words[-1].end < 0:
            if kind == _EVENT_END or _token_at(spans, pos - 1) != seen:
                words[-1].end = sample
        if kind != _EVENT_WORD:
            continue
        index = _token_at(spans, pos - 1)
        if index < 0 or index == seen:
            continue
        seen = index
        start, stop = spans[index]
        words.append(SpokenWord(text[start:stop], sample, -1))
    for word in words:
        if word.end < 0:
            word.end = total
        word.end = max(word.start, min(word.end, total))
    return words


def _token_at(spans: list[tuple[int, int]], index: int) -> int:
    for i, (start, stop) in enumerate(spans):
        if start <= index < stop:
            return i
        if start > index:
            break
    return -1


class _Native:
    """The loaded library: one per process, since espeak-ng's state is global. Its lock
    serialises every call; its single thread is where :class:`EspeakEngine` runs them."""

    _instance: ClassVar[_Native | None] = None
    _instance_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, lib_path: str, data_path: str) -> None:
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="espeak-ng")
        self.lock = threading.Lock()
        self.sample_rate = 0
        self._lib_path, self._data_path = lib_path, data_path
        self._lib: Any = None
        self._callback: Any = None
        self._job: _Job | None = None
        self._voice: str | None = None
        self._params: dict[int, int] = {}

    @classmethod
    def get(cls) -> _Native:
        with cls._instance_lock:
            if cls._instance is None:
                try:
                    import espeakng_loader
                except ImportError:
                    raise ServiceError(
                        f"espeak-ng is not installed (the offline extra): {INSTALL_HINT}"
                    ) from None
                cls._instance = cls(
                    str(espeakng_loader.get_library_path()),
                    str(espeakng_loader.get_data_path()),
                )
            return cls._instance

    def _load(self) -> None:
        lib = ctypes.CDLL(self._lib_path)
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_Synth.argtypes = [
            ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint,
            ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p,
        ]
        rate = lib.espeak_Initialize(
            _AUDIO_OUTPUT_SYNCHRONOUS, 0, self._data_path.encode(), _INITIALIZE_DONT_EXIT
        )
        if rate <= 0:
            raise ServiceError(f"espeak-ng failed to initialise (data at {self._data_path})")
        self._callback = _SynthCallback(self._on_synth)  # kept alive: the library holds it
        lib.espeak_SetSynthCallback(self._callback)
        self._lib, self.sample_rate = lib, rate

    def _on_synth(self, wav: Any, count: int, events: Any) -> int:
        """The synth callback (engine thread): keep the audio and the events; returning
        1 asks espeak-ng to abort."""
        job = self._job
        if job is None:
            return 1
        if count > 0:
            job.chunks.append(ctypes.string_at(wav, count * 2))
        i = 0
        while True:
            event = events[i]
            kind = event.type
            if kind == _EVENT_LIST_TERMINATED:
                break
            if kind in (_EVENT_WORD, _EVENT_END, _EVENT_MSG_TERMINATED):
                job.events.append((kind, event.text_position, event.sample))
            i += 1
        return 1 if job.cancelled else 0

    def speak(self, data: bytes, voice: str, settings: tuple[tuple[int, int | None], ...],
              job: _Job) -> None:
        """Synthesise UTF-8 ``data`` into ``job`` (blocking)."""
        with self.lock:
            if self._lib is None:
                self._load()
            lib = self._lib
            if voice != self._voice:
                if lib.espeak_SetVoiceByName(voice.encode()) != 0:
                    self._voice = None
                    raise ServiceError(f"espeak-ng has no voice {voice!r}")
                self._voice = voice
                self._params.clear()  # a voice change resets rate and pitch
            for param, value in settings:
                if value is not None and self._params.get(param) != value:
                    lib.espeak_SetParameter(param, value, 0)
                    self._params[param] = value
            self._job = job
            try:
                lib.espeak_Synth(data, len(data) + 1, 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
            finally:
                self._job = None


class EspeakEngine:
    """Text to PCM in memory with espeak-ng. Every engine shares the process's one
    library and its one thread: :meth:`run` awaits a synthesis there without blocking
    the loop; :meth:`synthesize` is the blocking call itself.

    Raises :class:`~wavewire.errors.ServiceError` if espeak-ng is not installed."""

    _shared: ClassVar[EspeakEngine | None] = None

    def __init__(self) -> None:
        self._native = _Native.get()

    @property
    def sample_rate(self) -> int:
        """espeak-ng's output rate (0 until the library is loaded by a first synthesis)."""
        return self._native.sample_rate

    @classmethod
    def shared(cls) -> EspeakEngine:
        """A process-wide engine (created on first use)."""
        if EspeakEngine._shared is None:
            EspeakEngine._shared = EspeakEngine()
        return EspeakEngine._shared

    async def run(self, text: str, **kwargs: Any) -> Synthesis:
        """:meth:`synthesize` on the engine's thread, awaited without blocking the loop.
        If the awaiting task is cancelled, the synthesis is aborted too."""
        job = _Job()
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(
            self._native.executor, lambda: self.synthesize(text, job=job, **kwargs)
        )
        try:
            return await future
        finally:
            job.cancelled = True  # no-op once finished; aborts it if we were cancelled

    def synthesize(
        self,
        text: str,
        *,
        voice: str = DEFAULT_VOICE,
        rate_wpm: int | None = None,
        pitch: int | None = None,
        out_rate: int | None = None,
        job: _Job | None = None,
    ) -> Synthesis:
        """Speak ``text`` into memory, resampled to ``out_rate`` if given. Blocking (it
        holds the library's lock): from async code use :meth:`run`."""
        job = job or _Job()
        clean = text.replace("\x00", " ")
        self._native.speak(
            clean.encode("utf-8", "replace"), voice,
            ((_PARAM_RATE, rate_wpm), (_PARAM_PITCH, pitch)), job,
        )
        pcm = b"".join(job.chunks)
        words = _words(clean, job.events, len(pcm) // 2)
        rate = self._native.sample_rate
        if out_rate is not None and out_rate != rate:
            from ..audio.resample import resample

            pcm = resample(pcm, rate, out_rate)
            total = len(pcm) // 2
            for word in words:
                word.start = min(total, word.start * out_rate // rate)
                word.end = min(total, word.end * out_rate // rate)
            rate = out_rate
        return Synthesis(pcm, rate, words, job.cancelled)
