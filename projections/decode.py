"""Decode stored events for the projections, faster than the mapper's own path.

The application's mapper decodes JSON with the standard library and an object hook per
dict. When the mapper neither compresses nor encrypts and uses eventsourcing's JSON
transcoder, the same state is decoded here with orjson and the transcoder's own
transcodings, into the same event objects; otherwise (or for anything orjson refuses)
the mapper's path is used, so the result never differs.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from eventsourcing.persistence import (
    DatetimeAsISO,
    JSONTranscoder,
    Notification,
    find_id_convertor,
)
from eventsourcing.utils import resolve_topic

from projections.times import iso_ts, ts

fromisoformat = datetime.fromisoformat
# orjson reads an integer past 64 bits as a float: every float that large (an integer
# past 2**63, or an absurd float) takes the mapper's path, which reads it as written
HUGE = 2.0**63


class Huge(Exception):
    """A float as large as an integer past 64 bits: decoded the mapper's way instead."""


def _small(x: Any) -> Any:
    if type(x) is float and not -HUGE < x < HUGE:
        raise Huge
    return x


class EventDecoder:
    """Call with a notification as a tuple (id, originator_id, version, topic, state)."""

    def __init__(self, mapper: Any):
        self.mapper = mapper
        transcoder = getattr(mapper, "transcoder", None)
        self.fast = (isinstance(transcoder, JSONTranscoder) and not mapper.cipher
                     and not mapper.compressor)
        self.names = transcoder.names if self.fast else {}
        # the stock transcodings of times and ids, inlined
        self.iso = type(self.names.get("datetime_iso")) is DatetimeAsISO
        self._classes: dict[tuple[str, type], tuple[type, int, Any]] = {}

    def __call__(self, note: tuple) -> Any:
        return self.with_times(note)[0]

    def with_times(self, note: tuple) -> tuple[Any, dict[str, str]]:
        """The event, and each of its times as ts() text (what the tables store)."""
        if not self.fast or type(note[4]) is not bytes:
            return self.slow(note)
        times = {}
        try:
            state = orjson.loads(note[4])
            for k, v in state.items():
                tv = type(v)
                if tv is dict:
                    if self.iso and len(v) == 2 and v.get("_type_") == "datetime_iso":
                        text = v["_data_"]
                        state[k] = fromisoformat(text)
                        times[k] = iso_ts(text)
                    else:
                        state[k] = self._value(v)
                elif tv is list:
                    state[k] = self._value(v)
                elif tv is float and not -HUGE < v < HUGE:
                    raise Huge
        except (orjson.JSONDecodeError, KeyError, ValueError, TypeError, Huge):
            return self.slow(note)  # NaN, an integer past 64 bits, an unknown
        return self._event(note, state, note[3]), times  # transcoding, another time format

    def _event(self, note: tuple, state: dict, topic: str) -> Any:
        oid = note[1]
        got = self._classes.get((topic, type(oid)))
        if got is None:
            cls = resolve_topic(topic)
            got = self._classes[(topic, type(oid))] = (
                cls, getattr(cls, "class_version", 1), find_id_convertor(cls, type(oid)))
        cls, class_version, convert = got
        state["originator_id"] = convert(oid)
        state["originator_version"] = note[2]
        from_version = state.pop("class_version", 1)
        while from_version < class_version:
            getattr(cls, f"upcast_v{from_version}_v{from_version + 1}")(state)
            from_version += 1
        event = object.__new__(cls)
        object.__setattr__(event, "__dict__", state)
        return event

    def slow(self, note: tuple) -> tuple[Any, dict[str, str]]:
        event = self.mapper.to_domain_event(Notification(
            id=note[0], originator_id=note[1], originator_version=note[2], topic=note[3],
            state=note[4]))
        return event, {k: ts(v) for k, v in vars(event).items() if isinstance(v, datetime)}

    def _value(self, v: Any) -> Any:
        """The transcoder's object hook, applied bottom-up like json's object_hook."""
        if type(v) is list:
            return [self._value(x) if type(x) is dict or type(x) is list
                    else _small(x) for x in v]
        for k, x in v.items():
            if type(x) is dict or type(x) is list:
                v[k] = self._value(x)
            else:
                _small(x)
        if len(v) == 2 and "_type_" in v and "_data_" in v:
            return self.names[v["_type_"]].decode(v["_data_"])
        return v
