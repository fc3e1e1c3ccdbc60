"""Read-model answers kept per log position (缓存): a scoreboard asked for again while no
event was recorded is the same bytes, so it is computed once per position and process.

The key holds the head of the event log that this process's read models were caught up
to before the read (Follower.ensure): a write anywhere moves the head, and the next read
misses and computes afresh, so a client still reads its own writes. Each answer carries
an ETag; `If-None-Match` with it gets 304 and no body.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from decimal import Decimal

import orjson
from fastapi import Request
from fastapi.responses import Response

from adapters.views import jsonable


class ReadCache:
    """At most `size` answers (least recently used dropped), each for at most `ttl` s."""

    def __init__(self, size: int = 256, ttl: float = 5.0):
        self.size, self.ttl = size, ttl
        self._entries: OrderedDict[Hashable, tuple[bytes, str, float]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, key: Hashable) -> tuple[bytes, str] | None:
        with self._lock:
            got = self._entries.get(key)
            if got is not None and got[2] > time.monotonic():
                self._entries.move_to_end(key)
                self.hits += 1
                return got[0], got[1]
            self.misses += 1
            return None

    def put(self, key: Hashable, body: bytes) -> tuple[bytes, str]:
        etag = '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'
        with self._lock:
            self._entries[key] = (body, etag, time.monotonic() + self.ttl)
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return body, etag

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def json_bytes(data) -> bytes:
    """The JSON body, as FastAPI would write it (dates and decimals as text), by orjson."""
    return orjson.dumps(jsonable(data), default=_default, option=orjson.OPT_NON_STR_KEYS)


def _default(v):
    if isinstance(v, Decimal):
        return float(v)
    raise TypeError(f"{type(v).__name__} is not JSON")


def cached_json(request: Request, key: tuple, compute: Callable[[], object]) -> Response:
    """`compute()` as JSON, once per (key, head of the log this process has caught up to)."""
    app = request.app
    head = app.state.follower.ensure()
    cache: ReadCache = app.state.read_cache
    full = (*key, head)
    entry = cache.get(full)
    if entry is None:
        entry = cache.put(full, json_bytes(compute()))
    body, etag = entry
    headers = {"ETag": etag, "Cache-Control": "private, no-cache"}
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)
