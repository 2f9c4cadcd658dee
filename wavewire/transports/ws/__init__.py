"""The WebSocket protocol (RFC 6455) without I/O: what the server's driver
(:mod:`wavewire.transports.wire`) stands on, and what a client driver can use.

* :mod:`.mask` -- masking and unmasking payloads (C when available).
* :mod:`.handshake` -- the opening handshake, server and client side.
* :mod:`.framing` -- the one frame serializer and the one frame parser.
* :mod:`.protocol` -- :class:`~.protocol.WebSocketProtocol`: bytes in, messages out,
  bytes to write; the closing handshake, ping/pong and the state table.

Nothing here opens a socket, sets a timer or touches an event loop, so all of it is
tested with plain bytes (tests/transports/ws/).
"""
