"""Server metrics, rendered in the Prometheus text exposition format (version 0.0.4).

Counting is cheap on purpose: the per-frame path only increments the plain integer
counters the edges already keep; this module adds them up at scrape time (live
sessions' stats plus the totals of the sessions that have ended) and keeps a few
per-connection counters of its own (connections, refusals, protocol errors, a histogram
of session setup time). Nothing here ever holds a secret: labels are route names,
refusal reasons, close codes and service class names.

Services (LLM, STT, TTS) report their measurements to :data:`service_metrics`, this
process's :class:`ServiceMetrics`, as well as in a
:class:`~wavewire.frames.MetricsFrame` for observers: time to first byte and processing
time become histograms, token and character counts counters, labelled by service class
(``service="OpenAILLMService"``), and ``/metrics`` shows them.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from typing import Any

__all__ = ["Histogram", "ServerMetrics", "ServiceMetrics", "SessionTotals", "CONTENT_TYPE",
           "service_metrics"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
"""The Content-Type of the Prometheus text format."""


class Histogram:
    """A cumulative-bucket histogram (seconds)."""

    __slots__ = ("bounds", "counts", "total", "count")

    def __init__(self, bounds: Iterable[float]) -> None:
        self.bounds = sorted(bounds)
        self.counts = [0] * (len(self.bounds) + 1)
        self.total = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        """Record one value."""
        self.counts[bisect.bisect_left(self.bounds, value)] += 1
        self.total += value
        self.count += 1

    def render(self, name: str, help_: str | None, labels: str = "") -> list[str]:
        """The histogram's lines in the exposition format (``help_=None``: the samples
        only, for a further labelled series of the same metric; ``labels``: e.g.
        ``service="x"``)."""
        lines = [] if help_ is None else [f"# HELP {name} {help_}", f"# TYPE {name} histogram"]
        running = 0
        extra = f"{labels}," if labels else ""
        for bound, n in zip(self.bounds, self.counts, strict=False):
            running += n
            lines.append(f'{name}_bucket{{{extra}le="{_num(bound)}"}} {running}')
        lines.append(f'{name}_bucket{{{extra}le="+Inf"}} {self.count}')
        tail = f"{{{labels}}}" if labels else ""
        lines.append(f"{name}_sum{tail} {_num(self.total)}")
        lines.append(f"{name}_count{tail} {self.count}")
        return lines


@dataclass(slots=True)
class SessionTotals:
    """Counters summed over sessions (ended ones are folded in when they close)."""

    messages_in: int = 0
    frames_in: int = 0
    messages_out: int = 0
    audio_ms_sent: float = 0.0
    protocol_errors: int = 0
    format_errors: int = 0
    dropped: int = 0
    errors: int = 0

    def add(self, other: SessionTotals) -> None:
        """Add ``other`` into this one, field by field (only at scrape and session end)."""
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


@dataclass(slots=True)
class ServerMetrics:
    """The server's own counters (see the module docstring)."""

    sessions_total: int = 0
    connections_total: int = 0
    connections_active: int = 0
    http_requests: int = 0
    refusals: dict[str, int] = field(default_factory=dict)
    """Refused connections by reason: ``auth``, ``cap``, ``draining``, ``bad_request``,
    ``not_found``, ``origin``."""
    closes: dict[int, int] = field(default_factory=dict)
    """Connections the server closed with an error code, by code (1003, 1007, 1009, …)."""
    timeouts: dict[str, int] = field(default_factory=dict)
    """Sessions ended by a timeout, by kind (``idle``, ``max_duration``)."""
    ended: SessionTotals = field(default_factory=SessionTotals)
    """Totals of sessions that have closed."""
    setup_seconds: Histogram = field(
        default_factory=lambda: Histogram(
            (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
        )
    )
    """Time from an accepted handshake to a running session and ``open()`` sent."""

    def refuse(self, reason: str) -> None:
        """Count one refusal."""
        self.refusals[reason] = self.refusals.get(reason, 0) + 1

    def closed_with(self, code: int) -> None:
        """Count one connection closed by the server with an error ``code``."""
        self.closes[code] = self.closes.get(code, 0) + 1

    def render(self, live: SessionTotals, sessions_active: int, draining: bool) -> str:
        """All metrics, as the body of a ``/metrics`` response."""
        total = SessionTotals()
        total.add(self.ended)
        total.add(live)
        out: list[str] = []
        g = _Writer(out)
        g.metric("wavewire_sessions_active", "gauge", "Sessions running now.", sessions_active)
        g.metric("wavewire_sessions_total", "counter", "Sessions started.", self.sessions_total)
        g.metric("wavewire_connections_active", "gauge", "WebSocket connections open now.",
                 self.connections_active)
        g.metric("wavewire_connections_total", "counter", "WebSocket connections accepted.",
                 self.connections_total)
        g.metric("wavewire_http_requests_total", "counter", "Plain HTTP requests served.",
                 self.http_requests)
        g.metric("wavewire_draining", "gauge", "1 while the server drains.", int(draining))
        g.metric("wavewire_messages_in_total", "counter", "WebSocket messages received.",
                 total.messages_in)
        g.metric("wavewire_frames_in_total", "counter", "Frames decoded from the wire.",
                 total.frames_in)
        g.metric("wavewire_messages_out_total", "counter", "WebSocket messages sent.",
                 total.messages_out)
        g.metric("wavewire_audio_sent_seconds_total", "counter", "Audio sent to peers.",
                 total.audio_ms_sent / 1000.0)
        g.metric("wavewire_protocol_errors_total", "counter", "Messages that broke a protocol.",
                 total.protocol_errors)
        g.metric("wavewire_format_errors_total", "counter", "Audio with a wrong format.",
                 total.format_errors)
        g.metric("wavewire_dropped_total", "counter", "Frames or messages dropped (all reasons).",
                 total.dropped)
        g.metric("wavewire_errors_total", "counter", "Errors that reached a session.",
                 total.errors)
        g.labelled("wavewire_refusals_total", "counter", "Connections refused, by reason.",
                   "reason", self.refusals)
        g.labelled("wavewire_error_closes_total", "counter",
                   "Connections closed by the server with an error code, by code.",
                   "code", self.closes)
        g.labelled("wavewire_session_timeouts_total", "counter", "Sessions ended by a timeout.",
                   "kind", self.timeouts)
        out.extend(self.setup_seconds.render(
            "wavewire_session_setup_seconds",
            "From accepted handshake to running session with open() sent.",
        ))
        out.extend(service_metrics.render())
        return "\n".join(out) + "\n"


_TIME_BOUNDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_HISTOGRAMS = {
    "ttfb": ("wavewire_service_ttfb_seconds", "Service time to first byte (token, audio)."),
    "processing": ("wavewire_service_processing_seconds",
                   "Service processing time per request."),
}
_COUNTERS = {
    "prompt_tokens": ("wavewire_llm_prompt_tokens_total", "LLM prompt tokens used."),
    "completion_tokens": ("wavewire_llm_completion_tokens_total",
                          "LLM completion tokens used."),
    "tts_characters": ("wavewire_tts_characters_total", "Characters sent to TTS."),
}
_MAX_SERVICES = 64


class ServiceMetrics:
    """Measurements of every session's services in this process (see the module
    docstring). Names it does not know (``ttfb``, ``processing``, ``prompt_tokens``,
    ``completion_tokens``, ``tts_characters``) are ignored; at most a few dozen service
    labels are kept, so a label can never grow without bound."""

    def __init__(self) -> None:
        self.histograms: dict[tuple[str, str], Histogram] = {}
        self.counters: dict[tuple[str, str], float] = {}
        self._services: set[str] = set()

    def record(self, service: str, data: Iterable[Any]) -> None:
        """Add ``data`` (:class:`~wavewire.frames.MetricsData`) measured by ``service``
        (a class name)."""
        if service not in self._services:
            if len(self._services) >= _MAX_SERVICES:
                service = "other"
            self._services.add(service)
        for item in data:
            name = item.name
            if name in _HISTOGRAMS:
                key = (name, service)
                hist = self.histograms.get(key)
                if hist is None:
                    hist = self.histograms[key] = Histogram(_TIME_BOUNDS)
                hist.observe(float(item.value))
            elif name in _COUNTERS:
                self.counters[name, service] = self.counters.get((name, service), 0) + item.value

    def render(self) -> list[str]:
        """The lines for ``/metrics``."""
        out: list[str] = []
        for name, (metric, help_) in _HISTOGRAMS.items():
            first = True
            for (kind, service), hist in sorted(self.histograms.items()):
                if kind == name:
                    label = f'service="{_escape(service)}"'
                    out.extend(hist.render(metric, help_ if first else None, label))
                    first = False
        for name, (metric, help_) in _COUNTERS.items():
            rows = {s: v for (k, s), v in self.counters.items() if k == name}
            if rows:
                out += [f"# HELP {metric} {help_}", f"# TYPE {metric} counter"]
                out += [f'{metric}{{service="{_escape(s)}"}} {_num(v)}'
                        for s, v in sorted(rows.items())]
        return out


service_metrics = ServiceMetrics()
"""This process's service measurements (``/metrics`` renders them)."""


class _Writer:
    __slots__ = ("out",)

    def __init__(self, out: list[str]) -> None:
        self.out = out

    def metric(self, name: str, kind: str, help_: str, value: float) -> None:
        self.out += [f"# HELP {name} {help_}", f"# TYPE {name} {kind}", f"{name} {_num(value)}"]

    def labelled(self, name: str, kind: str, help_: str, label: str,
                 values: dict[Any, int]) -> None:
        self.out += [f"# HELP {name} {help_}", f"# TYPE {name} {kind}"]
        for key in sorted(values, key=str):
            self.out.append(f'{name}{{{label}="{_escape(str(key))}"}} {values[key]}')


def _num(value: float) -> str:
    if isinstance(value, int) or float(value).is_integer():
        return str(int(value))
    return repr(float(value))


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
