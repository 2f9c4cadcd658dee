"""A bad message costs bounded CPU (issue 15): the protobuf codec refuses a message or
group of more than MAX_FIELDS fields instead of looping over a megabyte of two-byte
fields (half a second of CPU for one message before), and JSON checks cost about one
parse, level by level rather than node by node."""

from __future__ import annotations

import json

import pytest

from wavewire.errors import ProtocolError
from wavewire.serializers._proto import LEN, MAX_FIELDS, VARINT, parse, parse_merging
from wavewire.serializers.cloudflare import CloudflareAdapterSerializer
from wavewire.serializers.fields import MAX_JSON_DEPTH, check_json
from wavewire.serializers.pipecat import PipecatSerializer

_KNOWN = {1: VARINT, 5: LEN}


@pytest.mark.parametrize("fn", [parse, parse_merging])
def test_up_to_max_fields_parse_and_one_more_is_refused(fn):
    ok = b"\x30\x00" * (MAX_FIELDS - 1) + b"\x08\x07"  # unknown fields, then a known one
    assert fn(ok, "t", _KNOWN) == {1: 7}
    with pytest.raises(ProtocolError, match="more than"):
        fn(ok + b"\x30\x00", "t", _KNOWN)


@pytest.mark.parametrize(
    "payload",
    [b"\x30\x00" * (1 << 19), b"\x3a\x00" * (1 << 19), b"\x3b\x3c" * (1 << 19),
     (b"\x3b" + b"\x4b" * 30 + b"\x08\x00" * 60 + b"\x4c" * 30 + b"\x3c") * 4000],
    ids=["varints", "empty-len", "groups", "nested-groups"],
)
@pytest.mark.parametrize("make", [PipecatSerializer, lambda: CloudflareAdapterSerializer("stream")],
                         ids=["pipecat", "cloudflare"])
def test_a_megabyte_of_tiny_fields_is_refused_early(make, payload):
    with pytest.raises(ProtocolError):
        make().decode(payload)


def test_pipecat_inner_messages_are_bounded_too():
    body = b"\x30\x00" * (1 << 19)  # a TextFrame of half a million unknown fields
    with pytest.raises(ProtocolError, match="more than"):
        PipecatSerializer().decode(b"\x0a\x80\x80\x40" + body)


def test_a_group_with_nested_groups_shares_one_budget():
    inner = b"\x4b" + b"\x08\x00" * 10 + b"\x4c"  # a group of 11 fields (end tag included)
    group = b"\x3b" + inner * 5 + b"\x3c"
    assert parse(group + b"\x08\x01", "t", _KNOWN) == {1: 1}
    with pytest.raises(ProtocolError, match="group of more than"):
        parse(b"\x3b" + inner * 6 + b"\x3c", "t", _KNOWN)


def test_check_json_passes_the_usual_message_and_refuses_depth_and_surrogates():
    ok = {"a": [{"b": "é"}] * 100}
    check_json(ok, json.dumps(ok, ensure_ascii=False), "t")
    deep: object = 1
    for _ in range(MAX_JSON_DEPTH):
        deep = [deep]
    check_json(deep, json.dumps(deep), "t")  # exactly the limit
    with pytest.raises(ProtocolError, match="nested deeper"):
        check_json([deep], json.dumps([deep]), "t")
    with pytest.raises(ProtocolError, match="lone surrogate"):
        check_json({"k": ["x", "\ud800"]}, '{"k":["x","\\ud800"]}', "t")
    with pytest.raises(ProtocolError, match="lone surrogate"):
        check_json({"\udfff": 1}, '{"\\udfff":1}', "t")
