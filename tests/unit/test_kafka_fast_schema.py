"""The compiled schema check (fastjsonschema) of inbound messages never accepts what
jsonschema — the authority, which names field and rule — refuses (adapters/kafka/messages.py)."""

from __future__ import annotations

import copy

from fastjsonschema import JsonSchemaException
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.kafka.messages import CALLBACK, REPORT, UNIT_UPDATE, fast_check, validator

VALID = {
    REPORT: {"schema": REPORT, "message_id": "m-1", "source": "szcg", "external_id": "SZ-1",
             "channel": "hotline", "category": "E0102", "grid": "44030301000101",
             "occurred_at": "2026-10-12T09:00:00+08:00", "description": "垃圾", "urgency": "normal",
             "location": {"lat": 22.57, "lon": 114.12}, "evidence": ["https://img.example/1.jpg"],
             "reporter": {"name": "张三", "phone": "13800000000"}, "actor": "citizen_app"},
    UNIT_UPDATE: {"schema": UNIT_UPDATE, "message_id": "u-1", "source": "hw-erp",
                  "case_id": "5b0c1f55-8f0b-4a43-8a43-6f0e1c2d3e4f", "unit": "hw", "actor": "hw_luo",
                  "action": "request_extension", "occurred_at": "2026-10-12T11:00:00+08:00",
                  "evidence": [], "extra": "2h", "reason": "需协调车辆"},
    CALLBACK: {"schema": CALLBACK, "message_id": "c-1", "source": "12345",
               "case_id": "5b0c1f55-8f0b-4a43-8a43-6f0e1c2d3e4f", "rating": "satisfied",
               "occurred_at": "2026-10-12T11:00:00+08:00", "comment": "好"},
}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**12, 10**12) | st.floats(allow_nan=False)
    | st.text(max_size=40) | st.sampled_from(["", "E0102", "44030301000101", "hotline", "resolve",
                                              "2026-10-12T09:00:00Z", "x" * 300, "\x00"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=8,
)


def _accepted_by_both_or_refused_by_fast(kind: str, doc) -> None:
    check = fast_check(kind)  # compiled once; a failure to compile fails the test
    try:
        check(doc)
    except JsonSchemaException:  # refused by the fast path: jsonschema decides
        return
    errors = list(validator(kind).iter_errors(doc))
    assert not errors, (kind, doc, errors[0].message)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kind=st.sampled_from(sorted(VALID)), data=st.data())
def test_fast_path_never_accepts_what_jsonschema_refuses(kind, data):
    doc = copy.deepcopy(VALID[kind])
    for _ in range(data.draw(st.integers(1, 3))):
        op = data.draw(st.sampled_from(["set", "drop", "add", "nested"]))
        keys = sorted(doc)
        if op == "set" and keys:
            doc[data.draw(st.sampled_from(keys))] = data.draw(json_values)
        elif op == "drop" and keys:
            doc.pop(data.draw(st.sampled_from(keys)))
        elif op == "add":
            doc[data.draw(st.text(max_size=10))] = data.draw(json_values)
        elif op == "nested":
            for k in ("location", "reporter"):
                if isinstance(doc.get(k), dict):
                    doc[k][data.draw(st.sampled_from(["lat", "lon", "name", "phone", "x"]))] = \
                        data.draw(json_values)
    _accepted_by_both_or_refused_by_fast(kind, doc)


def test_the_valid_messages_take_the_fast_path():
    for kind, doc in VALID.items():
        assert not list(validator(kind).iter_errors(doc)), kind
        fast_check(kind)(copy.deepcopy(doc))  # raises if the fast path refused it
        assert fast_check(kind)(doc) == doc
