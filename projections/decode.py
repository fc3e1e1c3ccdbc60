"""Decode stored events for the projections, faster than the mapper's own path.

The application's mapper decodes JSON with the standard library and an object hook per
dict. When the mapper neither compresses nor encrypts and uses eventsourcing's JSON
transcoder, the same state is decoded here with orjson and the transcoder's own
transcodings, into the same event objects; otherwise (or for anything orjson refuses)
the mapper's path is used, so the result never differs.
"""

from __future__ import annotations

import re
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
LONG_NUMBER = re.compile(rb"[0-9]{19}")  # 19 digits in a row: maybe past 64 bits (or text)


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
        self._classes: dict[str, tuple[type, int]] = {}
        self._time_keys: dict[str, tuple[str, ...]] = {}  # topic -> keys that held times

    def __call__(self, note: tuple) -> Any:
        return self.with_times(note)[0]

    def with_times(self, note: tuple) -> tuple[Any, dict[str, str]]:
        """The event, and each of its times as ts() text (what the tables store)."""
        if not self.fast:
            return self.slow(note)
        raw, topic = note[4], note[3]
        if type(raw) is not bytes or LONG_NUMBER.search(raw):  # orjson would read an
            return self.slow(note)  # integer past 64 bits as a float
        keys = self._time_keys.get(topic)
        if keys is not None and self.iso:  # look only where this topic's times were before
            state = self._known_times(raw, keys)
            if state is not None:
                return self._event(note, state[0], topic), state[1]
        times = {}
        try:
            state = orjson.loads(raw)
            for k, v in state.items():
                if type(v) is dict:
                    if self.iso and v.get("_type_") == "datetime_iso" and len(v) == 2:
                        text = v["_data_"]
                        state[k] = fromisoformat(text)
                        times[k] = iso_ts(text)
                    else:
                        state[k] = self._value(v)
                elif type(v) is list:
                    state[k] = self._value(v)
        except (orjson.JSONDecodeError, KeyError, ValueError):  # NaN, an unknown
            return self.slow(note)  # transcoding, a time in another format
        self._time_keys[topic] = tuple({*self._time_keys.get(topic, ()), *times})
        return self._event(note, state, topic), times

    def _known_times(self, raw: Any, keys: tuple[str, ...]) -> tuple[dict, dict] | None:
        """The state with its times decoded, when every transcoded value of the stored
        JSON is a time at one of `keys` (counted in the raw text: a '"_type_"' inside a
        string is escaped, so any other transcoded value is seen); else None."""
        expected = raw.count(b'"_type_"')
        try:
            state = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return None
        times, found = {}, 0
        for k in keys:
            v = state.get(k)
            if type(v) is dict:
                if v.get("_type_") != "datetime_iso" or len(v) != 2:
                    return None
                text = v["_data_"]
                try:
                    state[k] = fromisoformat(text)
                except (TypeError, ValueError):
                    return None
                times[k] = iso_ts(text)
                found += 1
        return (state, times) if found == expected else None

    def _event(self, note: tuple, state: dict, topic: str) -> Any:
        got = self._classes.get(topic)
        if got is None:
            cls = resolve_topic(topic)
            got = self._classes[topic] = (cls, getattr(cls, "class_version", 1))
        cls, class_version = got
        state["originator_id"] = find_id_convertor(cls, type(note[1]))(note[1])
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
            return [self._value(x) if type(x) is dict or type(x) is list else x for x in v]
        for k, x in v.items():
            if type(x) is dict or type(x) is list:
                v[k] = self._value(x)
        if len(v) == 2 and "_type_" in v and "_data_" in v:
            return self.names[v["_type_"]].decode(v["_data_"])
        return v
