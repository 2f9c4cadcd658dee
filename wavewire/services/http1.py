"""The pure (sans-I/O) parsing of an HTTP/1.1 response, for the services' lean client
(:mod:`wavewire.services._stream`): the head (status line and header fields), chunked
transfer coding, and ``Retry-After``.

What a server sends is checked where it is read: a status line that is not
``HTTP/1.x NNN``, a header field that is not ``name: value``, two different
``Content-Length`` values, a chunk size that is not hex digits or is too large, a chunk
not followed by CRLF: each is a :class:`~wavewire.errors.RemoteClosedError` (the
connection cannot be trusted after it and is closed), never a stray ``ValueError``, and
nothing here buffers more than a bounded amount. Peer text in messages goes through
:func:`~wavewire.errors.clip`."""

from __future__ import annotations

import math
import re
from email.utils import parsedate_to_datetime

from ..errors import RemoteClosedError, clip

__all__ = ["MAX_CHUNK", "MAX_HEAD", "ChunkedDecoder", "head_end", "parse_head", "retry_after"]

MAX_HEAD = 64 * 1024
"""Most bytes of a response head."""
MAX_CHUNK = 16 * 1024 * 1024
"""Largest chunk of a chunked body accepted."""
MAX_RETRY_AFTER = 24 * 3600.0
"""Largest ``Retry-After`` taken as given (a larger one is cut to it)."""

_STATUS = re.compile(rb"HTTP/1\.[01] ([1-5][0-9][0-9])(?: [^\r\n]*)?")
_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_HEX = re.compile(rb"[0-9A-Fa-f]{1,16}")


def head_end(buf: bytes | bytearray) -> tuple[int, int]:
    """Where the head in ``buf`` ends and its body starts, ``(-1, -1)`` if it has not
    ended yet (a blank line ends it; lines may end in CRLF or, leniently, LF)."""
    end = buf.find(b"\n\r\n")
    bare = buf.find(b"\n\n", 0, end if end >= 0 else len(buf))
    if bare >= 0:
        return bare, bare + 2
    if end >= 0:
        return end, end + 3
    return -1, -1


def parse_head(head: bytes) -> tuple[int, dict[str, str]]:
    """The status and header fields (names in lower case) of a response head (without
    its blank line)."""
    lines = head.split(b"\n")
    status = _STATUS.fullmatch(lines[0].rstrip(b"\r"))
    if status is None:
        raise RemoteClosedError(
            f"not an HTTP/1.1 response: {clip(lines[0][:80].decode('latin-1'))}")
    fields: dict[str, str] = {}
    for raw in lines[1:]:
        line = raw.rstrip(b"\r")
        name, colon, value = line.partition(b":")
        if not colon or _TOKEN.fullmatch(name) is None:
            raise RemoteClosedError(
                f"malformed response header: {clip(line[:80].decode('latin-1'))}")
        key = name.decode("ascii").lower()
        text = value.strip(b" \t").decode("latin-1")
        if key in fields:
            if key == "content-length":
                if fields[key] != text:
                    raise RemoteClosedError("two different Content-Length headers")
            else:
                text = f"{fields[key]}, {text}"
        fields[key] = text
    if "content-length" in fields:
        length = fields["content-length"]
        if not (length.isascii() and length.isdigit()) or len(length) > 15:
            raise RemoteClosedError(f"bad Content-Length: {clip(length, 40)}")
    return int(status.group(1)), fields


def is_chunked(headers: dict[str, str]) -> bool:
    """Whether the body uses chunked transfer coding (its last coding is ``chunked``)."""
    codings = headers.get("transfer-encoding", "")
    return codings.rsplit(",", 1)[-1].strip().lower() == "chunked"


class ChunkedDecoder:
    """A chunked body's content from its bytes, fed in pieces of any size."""

    __slots__ = ("_buf", "_error", "_left", "done")

    def __init__(self) -> None:
        self._buf = bytearray()
        self._left = -1  # bytes of the chunk still to come; -1: a size line; -2: trailers
        self._error: RemoteClosedError | None = None
        self.done = False
        """The last chunk (size 0) was read; trailers, if any, are skipped."""

    def feed(self, data: bytes | bytearray) -> list[bytes]:
        """The content completed by ``data`` (the bytes after the last chunk are
        :attr:`leftover`). A framing error is raised once the content before it has
        been returned."""
        if self._error is not None:
            raise self._error
        out: list[bytes] = []
        try:
            self._feed(data, out)
        except RemoteClosedError as exc:
            if not out:
                raise
            self._error = exc
        return out

    def _feed(self, data: bytes | bytearray, out: list[bytes]) -> None:
        buf = self._buf
        buf += data
        while not self.done:
            if self._left == -2:  # after the last chunk: trailer lines, then a blank one
                eol = buf.find(b"\r\n")
                if eol < 0:
                    if len(buf) > 4096:
                        raise RemoteClosedError("stream broken: a trailer line is too long")
                    break
                self.done = eol == 0
                del buf[:eol + 2]
                continue
            if self._left < 0:
                eol = buf.find(b"\r\n")
                if eol < 0:
                    if len(buf) > 4096:
                        raise RemoteClosedError("stream broken: a chunk size line is too long")
                    break
                size = _HEX.fullmatch(bytes(buf[:eol]).split(b";", 1)[0].strip(b" \t"))
                if size is None:
                    raise RemoteClosedError(
                        f"stream broken: bad chunk size {clip(bytes(buf[:min(eol, 40)]))}")
                n = int(size.group(), 16)
                if n > MAX_CHUNK:
                    raise RemoteClosedError(f"stream broken: a chunk of {n} bytes is too large")
                del buf[:eol + 2]
                self._left = n if n else -2
                if not n:
                    continue
            if len(buf) < self._left + 2:
                if len(buf) > self._left and buf[self._left:self._left + 1] != b"\r":
                    raise RemoteClosedError("stream broken: a chunk is longer than its size")
                break
            if buf[self._left:self._left + 2] != b"\r\n":
                raise RemoteClosedError("stream broken: a chunk is longer than its size")
            out.append(bytes(buf[:self._left]))
            del buf[:self._left + 2]
            self._left = -1

    @property
    def leftover(self) -> bytes:
        """Bytes received after the last chunk (trailers or a next response)."""
        return bytes(self._buf)


def retry_after(value: str | None, now: float | None = None) -> float | None:
    """``Retry-After`` in seconds (``None`` if absent or unreadable): delay-seconds, or
    an HTTP date (then ``now``, a Unix time, is needed), never negative, at most
    :data:`MAX_RETRY_AFTER`."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        seconds = float(int(value[:12]))
    else:
        try:
            seconds = float(value)  # (not in the standard, but servers send "1.5")
        except ValueError:
            if now is None:
                return None
            try:
                seconds = parsedate_to_datetime(value).timestamp() - now
            except (TypeError, ValueError, IndexError, OverflowError):
                return None
        if not math.isfinite(seconds):
            return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)
