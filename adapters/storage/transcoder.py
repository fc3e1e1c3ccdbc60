"""The stored events' transcoder: eventsourcing's JSON format, written and read with orjson.

Same bytes on disk as the library's JSONTranscoder (compact JSON, UTF-8, a registered
type as {"_type_": name, "_data_": …}), so events written by either read with the other
and projections/decode.py's fast path (an isinstance check on JSONTranscoder) still
applies. orjson is used only where it gives the same result: a state of plain JSON values
and datetimes (the case events' shape); anything else — a UUID or an Enum (orjson would
write them bare), a NaN, an integer past 64 bits, a non-text key, a subclass — goes the
library's way, as does every document orjson refuses to read.

Chosen by TRANSCODER_TOPIC (adapters/bootstrap.py sets it for every store it opens).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import orjson
from eventsourcing.persistence import DatetimeAsISO, JSONTranscoder

TOPIC = "adapters.storage.transcoder:OrjsonTranscoder"
_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_SUBCLASS | \
    orjson.OPT_PASSTHROUGH_DATACLASS
_NONE = type(None)
_LONG_NUMBER = re.compile(rb"[0-9]{19}")


class OrjsonTranscoder(JSONTranscoder):
    """JSONTranscoder with orjson on the paths where it agrees byte for byte in meaning."""

    def encode(self, obj: Any) -> bytes:
        if type(obj) is dict and _plain_dict(obj):
            try:
                return orjson.dumps(obj, default=self._default, option=_OPTIONS)
            except orjson.JSONEncodeError:
                pass  # an integer past 64 bits, a datetime without a transcoding: as before
        return super().encode(obj)

    def _default(self, o: Any) -> Any:
        """A datetime in the stock ISO transcoding without the look-up; else the library's."""
        if type(o) is datetime and type(self.types.get(datetime)) is DatetimeAsISO:
            return {"_type_": "datetime_iso", "_data_": o.isoformat()}
        return self._encode_obj(o)

    def decode(self, data: bytes) -> Any:
        if _LONG_NUMBER.search(data):  # orjson would read an integer past 64 bits as a float
            return super().decode(data)
        try:
            obj = orjson.loads(data)
        except orjson.JSONDecodeError:  # NaN, a lone surrogate
            return super().decode(data)
        return self._revive(obj)

    def _revive(self, v: Any) -> Any:
        """The library's object hook, applied bottom-up as json.loads applies it."""
        if type(v) is list:
            return [self._revive(x) if type(x) is dict or type(x) is list else x for x in v]
        if type(v) is not dict:
            return v
        for k, x in v.items():
            if type(x) is dict or type(x) is list:
                v[k] = self._revive(x)
        return self._decode_obj(v) if len(v) == 2 else v


def _plain_dict(d: dict) -> bool:
    for k in d:
        if type(k) is not str:
            return False
    return _plain(d.values())


def _plain(values: Any) -> bool:
    """Only str, int, bool, None, finite floats, datetimes, and lists, tuples and
    str-keyed dicts of them: what orjson writes exactly as the json module does."""
    for v in values:
        t = type(v)
        if t is str or t is datetime or t is int or t is bool or t is _NONE:
            continue
        if t is float:
            if v - v == 0.0:  # not NaN nor ±inf (json writes NaN, orjson null)
                continue
            return False
        if t is list or t is tuple:
            if _plain(v):
                continue
            return False
        if t is dict and _plain_dict(v):
            continue
        return False
    return True
