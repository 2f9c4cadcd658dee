"""A WebSocket end with its callbacks recorded, and frames built plainly (independent of
the module's serializer), for the socket-free protocol tests."""

from __future__ import annotations

import os
import struct

from wavewire.transports.http import Request
from wavewire.transports.ws.protocol import WebSocketProtocol


def mask_bytes(data: bytes, key: bytes) -> bytes:
    return bytes(b ^ key[i % 4] for i, b in enumerate(data))


def frame(opcode: int, payload: bytes = b"", *, fin: bool = True, masked: bool = True,
          rsv: int = 0, key: bytes | None = None) -> bytes:
    """A frame as a client (masked) or a server (unmasked) would send it."""
    n = len(payload)
    b0 = (0x80 if fin else 0) | rsv | opcode
    m = 0x80 if masked else 0
    if n < 126:
        head = bytes((b0, m | n))
    elif n < 65536:
        head = bytes((b0, m | 126)) + struct.pack("!H", n)
    else:
        head = bytes((b0, m | 127)) + struct.pack("!Q", n)
    if not masked:
        return head + payload
    key = key or os.urandom(4)
    return head + key + mask_bytes(payload, key)


def parse(data: bytes) -> list[tuple[int, bool, bytes]]:
    """Frames written by an end, as (opcode, fin, unmasked payload)."""
    out = []
    pos = 0
    while pos < len(data):
        b0, b1 = data[pos], data[pos + 1]
        n, pos = b1 & 0x7F, pos + 2
        if n == 126:
            n, pos = struct.unpack_from("!H", data, pos)[0], pos + 2
        elif n == 127:
            n, pos = struct.unpack_from("!Q", data, pos)[0], pos + 8
        if b1 & 0x80:
            key, pos = data[pos:pos + 4], pos + 4
            payload = mask_bytes(data[pos:pos + n], key)
        else:
            payload = data[pos:pos + n]
        out.append((b0 & 0x0F, bool(b0 & 0x80), payload))
        pos += n
    return out


class End:
    """A :class:`WebSocketProtocol` with what it delivers, writes and ends recorded."""

    def __init__(self, *, client: bool = False, max_size: int | None = 1 << 20,
                 accept: bool = True) -> None:
        self.messages: list[bytes | str] = []
        self.written: list[bytes] = []
        self.ends = 0
        self.requests: list[Request] = []
        self.ws = WebSocketProtocol(client=client, max_size=max_size,
                                    on_message=self.messages.append,
                                    write=self.written.append, on_end=self._end,
                                    on_request=self.requests.append)
        if accept:
            self.ws.accept()

    def _end(self) -> None:
        self.ends += 1

    def frames(self) -> list[tuple[int, bool, bytes]]:
        """What this end wrote, as frames (and forgets it)."""
        data = b"".join(self.written)
        self.written.clear()
        return parse(data)

    def close_sent(self) -> int:
        ((op, _, payload),) = self.frames()
        assert op == 8
        return int(struct.unpack("!H", payload[:2])[0])
