"""Every serializer fuzzed with structure-aware generators (wavewire.testing.fuzz, the
serializers and their templates in wavewire.testing.fuzz_targets): a
decode raises nothing but wavewire's typed errors, what it passes on can be re-encoded,
and the serializer can still send what it must. ``scripts/fuzz.py`` runs the same
oracle far longer."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

from wavewire.errors import ProtocolError
from wavewire.testing.fuzz import FuzzTarget, UntypedError, cases, check_messages
from wavewire.testing.fuzz_targets import TARGETS

_SETTINGS = settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_fuzzed_serializer_raises_only_typed_errors(name: str) -> None:
    target = TARGETS[name]

    @_SETTINGS
    @given(cases(target))
    def run(case: tuple[bool, list[bytes | str]]) -> None:
        primed, messages = case
        check_messages(target, primed, messages)

    run()


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_templates_and_prime_decode_cleanly(name: str) -> None:
    """The generators start from valid messages: a fresh serializer accepts its prime."""
    target = TARGETS[name]
    assert check_messages(target, True, list(target.prime)) == 0


def test_the_oracle_catches_an_untyped_error() -> None:
    """A decoder that lets a TypeError out fails the oracle (the oracle can fail)."""
    from wavewire.serializers.raw import RawSerializer

    class Leaky(RawSerializer):
        def decode(self, message):  # type: ignore[no-untyped-def]
            if isinstance(message, str):
                return [][0]  # IndexError
            return super().decode(message)

    target = FuzzTarget("leaky", lambda: Leaky(), TARGETS["raw"].messages)
    with pytest.raises(UntypedError):
        check_messages(target, False, ["{}"])


def test_the_oracle_catches_text_that_cannot_be_sent() -> None:
    """A serializer that keeps a value it cannot send back fails the oracle."""
    from wavewire.serializers.twilio import TwilioSerializer

    class Trusting(TwilioSerializer):
        def decode(self, message):  # type: ignore[no-untyped-def]
            self._set_stream("MZ\ud800")
            self.started = True
            return []

    target = FuzzTarget("trusting", lambda: Trusting(), TARGETS["twilio"].messages)
    with pytest.raises(UntypedError):
        check_messages(target, False, ["{}"])


# --- the exact inputs of issue 15 ----------------------------------------------------------


@pytest.mark.parametrize("name", ["raw", "twilio", "vapi-server", "vapi-client",
                                  "videosdk-client", "videosdk-server"])
def test_deep_nesting_is_a_protocol_error(name: str) -> None:
    ser = TARGETS[name].make()
    for text in ("[" * 984, "[" * 100_000, '{"event":' * 5000, "[" * 65 + "]" * 65):
        with pytest.raises(ProtocolError):
            ser.decode(text)


def test_pipecat_message_frame_with_deep_json_is_a_protocol_error() -> None:
    from wavewire.serializers._proto import field_bytes

    ser = TARGETS["pipecat"].make()
    data = ("[" * 5000).encode()
    with pytest.raises(ProtocolError):
        ser.decode(field_bytes(0x22, field_bytes(0x0A, data[:120])))
    body = b"\x0a" + bytes([0x88, 0x27]) + data  # data of 5000 bytes, two-byte length
    with pytest.raises(ProtocolError):
        ser.decode(b"\x22" + bytes([len(body) & 0x7F | 0x80, len(body) >> 7]) + body)


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("vapi-server", '{"type":"control","control":{}}'),
        ("vapi-server", '{"type":"control","control":[1]}'),
        ("videosdk-client", '{"event":{}}'),
        ("videosdk-server", '{"event":[]}'),
        ("videosdk-server", '{"event":"message","topic":"t","data":"\\ud800"}'),
        ("videosdk-client", '{"event":"message","topic":"\\ud800","data":1}'),
        ("vapi-server", '{"type":"say","content":"\\udfff"}'),
    ],
)
def test_type_confused_and_surrogate_json_is_a_protocol_error(name: str, text: str) -> None:
    ser = TARGETS[name].make()
    ser.decode('{"event":"start"}') if name == "videosdk-server" else None
    with pytest.raises(ProtocolError):
        ser.decode(text)


def test_twilio_refuses_a_stream_sid_it_could_not_send_back() -> None:
    from wavewire.serializers.twilio import TwilioSerializer

    for sid in ('"\\ud800"', '"MZ\\udfff"', '"' + "M" * 65 + '"', "{}", "[1]", "7"):
        ser = TwilioSerializer()
        with pytest.raises(ProtocolError):
            ser.decode('{"event":"start","start":{"streamSid":' + sid + "}}")
        assert ser.stream_sid is None and not ser.started
    with pytest.raises(ValueError):
        TwilioSerializer(stream_sid="MZ\ud800")


def test_mutants_are_variants_of_the_message() -> None:
    import random

    from wavewire.testing.fuzz_mutate import mutants

    text = '{"event":"media","media":{"payload":"AAAA"}}'
    a = mutants(text, [b"\x00\x01"], random.Random(1), 50)
    assert a == mutants(text, [b"\x00\x01"], random.Random(1), 50)  # reproducible
    assert len(a) == 50 and all(isinstance(m, str) for m in a)
    assert len(set(a)) > 10 and text not in a[:1]
    binary = mutants(b"\x12\x04abcd", [b"\x0a\x00"], random.Random(2), 20)
    assert all(isinstance(m, bytes) for m in binary) and len(set(binary)) > 5


@pytest.mark.parametrize("name", sorted(n for n, t in TARGETS.items() if t.templates))
def test_every_field_of_every_template_with_every_hostile_value(name: str) -> None:
    """Deterministic: each field of each valid message replaced by each hostile value
    (or deleted), primed and not, through the same oracle."""
    from wavewire.testing.fuzz_mutate import field_sweep

    target = TARGETS[name]
    sweep = field_sweep(target)
    assert len(sweep) > 100
    for primed in (False, True):
        for i in range(0, len(sweep), 8):
            check_messages(target, primed, sweep[i : i + 8])


@pytest.mark.parametrize("version", ["².0.0", "1.0.²", "\uff11.\uff10.\uff10", "1.0.0 ", "½.0.0"])
def test_rtvi_client_version_with_odd_digits_is_answered_not_raised(version: str) -> None:
    """Found by the field sweep: "².0.0" passed isdigit() and made int() raise ValueError
    (an untyped error: 1011 on the server)."""
    import json

    from wavewire.frames import OutputTransportMessageUrgentFrame
    from wavewire.serializers.rtvi import RTVISerializer

    frames = RTVISerializer().decode(json.dumps(
        {"label": "rtvi-ai", "type": "client-ready", "id": "r", "data": {"version": version}}))
    replies = [f.message["type"] for f in frames if isinstance(f, OutputTransportMessageUrgentFrame)]
    assert replies == ["error-response", "bot-ready"]
