"""The orjson transcoder (adapters/storage/transcoder.py) means what the library's JSON
transcoder means: either reads what either wrote, for any value, and the projections'
fast decoder still applies to it."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from enum import Enum
from uuid import UUID

from eventsourcing.persistence import (
    DatetimeAsISO,
    DecimalAsStr,
    JSONTranscoder,
    TranscodingNotRegisteredError,
    UUIDAsHex,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.storage.transcoder import OrjsonTranscoder


def transcoders() -> tuple[JSONTranscoder, OrjsonTranscoder]:
    out = JSONTranscoder(), OrjsonTranscoder()
    for t in out:
        for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO()):
            t.register(transcoding)
    return out


OLD, NEW = transcoders()


class Colour(Enum):
    RED = "red"


class Name(str):
    pass


SCALARS = (st.none() | st.booleans() | st.text() | st.floats(allow_nan=True)
           | st.integers(min_value=-2**70, max_value=2**70)
           | st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=8))]))
           | st.uuids() | st.decimals(allow_nan=False, allow_infinity=False).map(Decimal)
           | st.just("_type_") | st.text().map(Name))
KEYS = st.text(max_size=8) | st.sampled_from(["_type_", "_data_"])
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4)
                      | st.tuples(inner, inner)
                      | st.dictionaries(KEYS, inner, max_size=4), max_leaves=12)
STATES = st.dictionaries(KEYS, VALUES, max_size=8)


def same(a, b) -> bool:
    """Equal, NaN equal to NaN (what JSON round trips can give)."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def outcome(fn, *args):
    try:
        return "ok", fn(*args)
    except Exception as e:  # the same refusal by either is part of the contract
        return "error", type(e)


@settings(max_examples=400, deadline=None)
@given(STATES)
def test_either_reads_what_either_wrote(state):
    old_kind, old_bytes = outcome(OLD.encode, state)
    new_kind, new_bytes = outcome(NEW.encode, state)
    assert old_kind == new_kind
    if old_kind == "error":
        assert new_bytes == old_bytes  # the same exception type
        return
    kind, expected = outcome(OLD.decode, old_bytes)  # a plain {"_type_", "_data_"} dict
    for reader in (OLD, NEW):  # is refused by both
        for written in (old_bytes, new_bytes):
            got_kind, got = outcome(reader.decode, written)
            assert got_kind == kind and same(got, expected)


def test_values_orjson_would_change_go_the_librarys_way():
    t = datetime(2026, 10, 1, 9, 30, tzinfo=timezone(timedelta(hours=8)))
    state = {"at": t, "id": UUID(int=7), "colour": "red", "n": 2**65, "x": float("nan"),
             "ok": [1, 2.5, None, True, {"at": t}]}
    back = NEW.decode(NEW.encode(state))
    assert back["id"] == UUID(int=7) and type(back["id"]) is UUID  # orjson would write a str
    assert back["n"] == 2**65 and math.isnan(back["x"]) and back["at"] == t
    assert back["ok"] == [1, 2.5, None, True, {"at": t}]
    assert NEW.encode({"k": t}) == OLD.encode({"k": t})  # the case events' shape: same bytes
    try:
        NEW.encode({"c": Colour.RED})
    except TranscodingNotRegisteredError:
        pass
    else:
        raise AssertionError("an Enum without a transcoding must be refused, as before")


def test_an_unknown_transcoding_name_is_refused_as_before():
    data = b'{"a":{"_type_":"nope","_data_":1}}'
    for t in (OLD, NEW):
        try:
            t.decode(data)
        except TranscodingNotRegisteredError:
            continue
        raise AssertionError(f"{type(t).__name__} read an unknown transcoding")
