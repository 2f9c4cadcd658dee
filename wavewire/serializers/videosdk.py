"""VideoSDK custom WebSocket ingest (protocols.md §3), both sides of it.

All messages are JSON text with an ``event`` field. Audio is base64 PCM s16le, 8 kHz,
mono, 20 ms (320 bytes) per ``media`` message. Pub/sub carries
:class:`~wavewire.frames.TransportMessageFrame` payloads with a ``topic``.

:class:`VideoSDKSerializer` — the client (wavewire joins a room through an ingest
session's ``wsUrl``):

* ``open()`` → ``{"event":"start"}`` (it must reach VideoSDK within 5 s, else close
  1008 ``start timeout``), followed by a ``subscribe`` for every topic subscribed so
  far, so a reconnect restores them; ``close()`` → ``{"event":"stop"}``, once.
* ``encode``: :class:`OutputAudioFrame` → ``media`` (split into 320-byte messages if
  longer); ``Output*TransportMessage*Frame`` → ``message`` on the frame's ``topic`` (or
  ``default_topic``); :meth:`~VideoSDKSerializer.subscribe`,
  :meth:`~VideoSDKSerializer.unsubscribe` and :meth:`~VideoSDKSerializer.publish` build
  messages directly. A transport message shaped ``{"event": "subscribe"|"unsubscribe",
  "topic": ...}`` (no frame topic) goes through the same helpers.
* ``decode``: ``media`` → :class:`InputAudioFrame`; ``message`` →
  :class:`InputTransportMessageFrame` (``message`` = the ``data`` object with
  ``message``, ``senderId``…, ``topic`` set); ``participant-joined`` /
  ``participant-left`` / ``meeting-joined`` / ``meeting-left`` (seen only in VideoSDK's
  example repo) → :class:`InputTransportMessageFrame` with the whole object.

Limits, checked *before* anything is sent (and by the server side on receipt): a topic
is a non-empty string of at most 128 characters (:class:`~wavewire.errors.ProtocolError`,
close 1008); a message's payload — ``data`` as the subscriber will receive it, a string
as is, any other JSON value serialized — is at most :data:`MAX_PAYLOAD_BYTES` UTF-8 bytes
(:class:`~wavewire.errors.MessageTooLargeError`). VideoSDK says "8 KB"; we read it as
8 000 bytes, the stricter reading, because VideoSDK drops failed messages silently.

:class:`VideoSDKServerSerializer` — the server, for an emulator: decodes ``start``,
``media``, ``stop``, ``subscribe``, ``unsubscribe`` and ``message`` from a client and
encodes mixed audio, messages on topics the client subscribed to, and the extra events.

Policy (both sides): binary messages, invalid JSON, messages without a string
``event``, bad base64, audio that is not whole samples, and a message passed on whose
JSON is nested deeper than :data:`~wavewire.serializers.fields.MAX_JSON_DEPTH` levels
or holds a string that is not valid Unicode (lone surrogates) raise
:class:`~wavewire.errors.ProtocolError`.
Unknown events are counted in ``unknown_events`` and ignored.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import MessageTooLargeError, ProtocolError, clip
from ..frames import (
    EndTaskFrame,
    InputAudioFrame,
    InputTransportMessageFrame,
    OutputAudioFrame,
    OutputTransportMessageFrame,
    OutputTransportMessageUrgentFrame,
)
from .base import FrameSerializer, Message, WireFormat
from .fields import (
    b64decode,
    b64encode,
    check_audio,
    check_json,
    dumps,
    load_object,
    require_str,
    require_text,
)

if TYPE_CHECKING:
    from ..frames import Frame

__all__ = [
    "VideoSDKSerializer",
    "VideoSDKServerSerializer",
    "MAX_TOPIC_LENGTH",
    "MAX_PAYLOAD_BYTES",
    "START_TIMEOUT_S",
    "check_topic",
    "payload_size",
]

_P = "videosdk"
MAX_TOPIC_LENGTH = 128
"""Longest topic, in characters."""
MAX_PAYLOAD_BYTES = 8000
"""Largest pub/sub payload, in UTF-8 bytes ("8 KB" read strictly)."""
START_TIMEOUT_S = 5.0
"""``start`` must arrive this soon after the socket opens (else close 1008)."""
START_TIMEOUT_CLOSE = (1008, "start timeout")
"""Close code and reason VideoSDK uses when ``start`` is late."""
EXTRA_EVENTS = frozenset(
    {"participant-joined", "participant-left", "meeting-joined", "meeting-left"}
)
"""Server events seen in VideoSDK's example (unconfirmed by the docs)."""

_WIRE = WireFormat(sample_rate=8000, num_channels=1, frame_ms=20)
_MEDIA_PREFIX = '{"event":"media","payload":"'
_MEDIA_SUFFIX = '"}'


def check_topic(topic: Any) -> str:
    """Return ``topic`` if it is a legal topic, else raise ``ProtocolError``."""
    if not isinstance(topic, str) or not topic:
        raise ProtocolError(
            f"{_P}: topic must be a non-empty string, got {clip(repr(topic))}", close_code=1008
        )
    if len(topic) > MAX_TOPIC_LENGTH:
        raise ProtocolError(
            f"{_P}: topic is {len(topic)} characters, the limit is {MAX_TOPIC_LENGTH}",
            close_code=1008,
        )
    try:
        return require_str(topic, _P, "topic")
    except ProtocolError as exc:
        exc.close_code = 1008
        raise


def payload_size(data: Any) -> int:
    """UTF-8 bytes of ``data`` as a subscriber receives it (strings as is, other JSON
    values serialized)."""
    text = data if isinstance(data, str) else dumps(data)
    return len(text.encode("utf-8"))


def _check_payload(data: Any) -> None:
    size = payload_size(data)
    if size > MAX_PAYLOAD_BYTES:
        raise MessageTooLargeError(
            f"{_P}: message payload is {size} bytes (UTF-8), the limit is {MAX_PAYLOAD_BYTES}"
        )


class _VideoSDKBase(FrameSerializer):
    protocol = "videosdk"
    wire = _WIRE

    def __init__(self) -> None:
        self.unknown_events = 0
        """Messages with an unknown ``event`` (ignored)."""

    def _encode_media(self, frame: OutputAudioFrame) -> list[Message]:
        check_audio(frame, self.wire, _P)
        audio = frame.audio
        step = self.wire.frame_bytes
        if len(audio) <= step:
            if not audio:
                return []
            return [_MEDIA_PREFIX + b64encode(audio) + _MEDIA_SUFFIX]
        view = memoryview(audio)
        return [
            _MEDIA_PREFIX + b64encode(view[i : i + step]) + _MEDIA_SUFFIX
            for i in range(0, len(audio), step)
        ]

    def _decode_media(self, msg: dict[str, Any]) -> list[Frame]:
        pcm = b64decode(msg.get("payload"), _P, "media payload")
        if len(pcm) % 2:
            raise ProtocolError(f"{_P}: media payload of {len(pcm)} bytes is not whole samples")
        if not pcm:
            return []
        return [InputAudioFrame(pcm, 8000, 1)]

    def load_event(self, message: Message) -> tuple[str, dict[str, Any]]:
        """``(event, message)`` of one text message, without acting on it (the VideoSDK
        emulator reads the event name before the join). Raises
        :class:`~wavewire.errors.ProtocolError` for anything but a JSON object with a
        string ``event``."""
        msg = load_object(require_text(message, _P), _P)
        event = msg.get("event")
        if event is None:
            raise ProtocolError(f"{_P}: message without 'event'")
        if not isinstance(event, str):
            raise ProtocolError(f"{_P}: 'event' must be a string, got {type(event).__name__}")
        return event, msg

    def _passed_on(self, msg: dict[str, Any], message: Message) -> None:
        """Check a message (or part of one) before it goes up in a frame."""
        assert isinstance(message, str)
        check_json(msg, message, _P)


class VideoSDKSerializer(_VideoSDKBase):
    """Client side of a VideoSDK ingest socket.

    ``default_topic`` is used for outbound transport messages whose frame has no topic;
    without it such a message raises ``ProtocolError``."""

    def __init__(self, *, default_topic: str | None = None) -> None:
        super().__init__()
        self.default_topic = None if default_topic is None else check_topic(default_topic)
        self.topics: set[str] = set()
        """Topics subscribed to (re-subscribed by ``open()`` after a reconnect)."""
        self.room_id: str | None = None
        """From ``meeting-joined``, when VideoSDK sends it."""
        self._stopped = False

    def open(self) -> list[Message]:
        self._stopped = False
        out: list[Message] = ['{"event":"start"}']
        out.extend(dumps({"event": "subscribe", "topic": t}) for t in sorted(self.topics))
        return out

    def close(self) -> list[Message]:
        if self._stopped:
            return []
        self._stopped = True
        return ['{"event":"stop"}']

    def subscribe(self, topic: str) -> list[Message]:
        """Start receiving ``topic`` (remembered for reconnects)."""
        check_topic(topic)
        self.topics.add(topic)
        return [dumps({"event": "subscribe", "topic": topic})]

    def unsubscribe(self, topic: str) -> list[Message]:
        """Stop receiving ``topic``."""
        check_topic(topic)
        self.topics.discard(topic)
        return [dumps({"event": "unsubscribe", "topic": topic})]

    def publish(self, topic: str, data: Any) -> list[Message]:
        """Publish ``data`` (a string or any JSON value) on ``topic``; limits are checked
        first."""
        check_topic(topic)
        _check_payload(data)
        return [dumps({"event": "message", "topic": topic, "data": data})]

    def encode(self, frame: Frame) -> list[Message]:
        if isinstance(frame, OutputAudioFrame):
            return self._encode_media(frame)
        if isinstance(frame, OutputTransportMessageFrame | OutputTransportMessageUrgentFrame):
            msg = frame.message
            if frame.topic is None and isinstance(msg, dict):
                event = msg.get("event")
                if event == "subscribe":
                    return self.subscribe(msg.get("topic"))  # type: ignore[arg-type]
                if event == "unsubscribe":
                    return self.unsubscribe(msg.get("topic"))  # type: ignore[arg-type]
            topic = frame.topic if frame.topic is not None else self.default_topic
            if topic is None:
                raise ProtocolError(
                    f"{_P}: a transport message needs a topic (set frame.topic or default_topic)"
                )
            return self.publish(topic, msg)
        return []

    def decode(self, message: Message) -> list[Frame]:
        event, msg = self.load_event(message)
        if event == "media":
            return self._decode_media(msg)
        if event == "message":
            topic = check_topic(msg.get("topic"))
            self._passed_on(msg, message)
            return [InputTransportMessageFrame(message=msg.get("data"), topic=topic)]
        if event in EXTRA_EVENTS:
            self._passed_on(msg, message)
            if event == "meeting-joined" and isinstance(msg.get("roomId"), str):
                self.room_id = msg["roomId"]
            return [InputTransportMessageFrame(message=msg)]
        self.unknown_events += 1
        return []


class VideoSDKServerSerializer(_VideoSDKBase):
    """Server side of the ingest socket, for an emulator or a test peer.

    ``decode``: ``start`` → :class:`InputTransportMessageFrame` (and :attr:`started`);
    ``media`` → :class:`InputAudioFrame` (before ``start``: ``ProtocolError``);
    ``stop`` → :class:`EndTaskFrame`; ``subscribe``/``unsubscribe`` update
    :attr:`topics` and go up as :class:`InputTransportMessageFrame` (so the emulator can
    route); ``message`` → :class:`InputTransportMessageFrame` with ``topic`` and the
    ``data`` as the client sent it, limits checked.
    ``encode``: audio → ``media``; a transport message with a topic → ``message`` if the
    client subscribed to that topic (else nothing; the ``data`` is sent as given, e.g.
    ``{"message", "senderId", "senderName", "timestamp", "id"}``); a transport message
    without a topic is sent as its JSON (``participant-joined`` and the like)."""

    def __init__(self) -> None:
        super().__init__()
        self.started = False
        """True once the client sent ``start``."""
        self.stopped = False
        """True once the client sent ``stop``."""
        self.topics: set[str] = set()
        """Topics the client subscribed to."""

    def encode(self, frame: Frame) -> list[Message]:
        if isinstance(frame, OutputAudioFrame):
            return self._encode_media(frame)
        if isinstance(frame, OutputTransportMessageFrame | OutputTransportMessageUrgentFrame):
            if frame.topic is None:
                return [dumps(frame.message)]
            if frame.topic not in self.topics:
                return []
            return [dumps({"event": "message", "topic": frame.topic, "data": frame.message})]
        return []

    def decode(self, message: Message) -> list[Frame]:
        event, msg = self.load_event(message)
        if event == "media":
            if not self.started:
                raise ProtocolError(f"{_P}: 'media' before 'start'")
            return self._decode_media(msg)
        if event == "start":
            self._passed_on(msg, message)
            self.started = True
            return [InputTransportMessageFrame(message=msg)]
        if event == "stop":
            self.stopped = True
            return [EndTaskFrame(reason="videosdk: client sent stop")]
        if event == "subscribe" or event == "unsubscribe":
            topic = check_topic(msg.get("topic"))
            self._passed_on(msg, message)
            if event == "subscribe":
                self.topics.add(topic)
            else:
                self.topics.discard(topic)
            return [InputTransportMessageFrame(message=msg, topic=topic)]
        if event == "message":
            topic = check_topic(msg.get("topic"))
            self._passed_on(msg, message)
            data = msg.get("data")
            _check_payload(data)
            return [InputTransportMessageFrame(message=data, topic=topic)]
        self.unknown_events += 1
        return []
