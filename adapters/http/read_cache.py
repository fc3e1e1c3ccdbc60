"""Read-model answers kept per log position (缓存): a scoreboard asked for again while no
event was recorded is the same bytes, so it is computed once per position and process.

The key holds the head of the event log that this process's read models were caught up
to before the read (Follower.ensure): a write anywhere moves the head, and the next read
misses and computes afresh, so a client still reads its own writes. Each answer carries
an ETag; `If-None-Match` with it gets 304 and no body.

One computation per key at a time (single flight): requests missing the same key together
wait for the first one's answer instead of each computing it (a herd of identical
computations under the GIL was the API's latency tail). An entry older than `ttl` is
computed again by one request while the others are still served it: a head alone cannot
show that another process rebuilt the tables (`casegrid projections rebuild` refills
them over several transactions, and a read in between saw part of them), so `ttl` bounds
how long such an answer lives, without ever making a request wait for it.
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

Entry = tuple[bytes, str]  # the body and its ETag


class _Flight:
    """One computation under way; the requests missing the same key wait for it."""

    __slots__ = ("done", "entry")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.entry: Entry | None = None  # None after it failed


class ReadCache:
    """At most `size` answers (least recently used dropped), each computed once per key at
    a time and again by one request after `ttl` s (the others served the old one meanwhile).

    Counters: `hits` (served from memory, stale included), `misses` (computations),
    `waits` (requests that waited for another's computation)."""

    def __init__(self, size: int = 256, ttl: float = 5.0,
                 clock: Callable[[], float] = time.monotonic):
        self.size, self.ttl, self.clock = size, ttl, clock
        self._entries: OrderedDict[Hashable, tuple[bytes, str, float]] = OrderedDict()
        self._flights: dict[Hashable, _Flight] = {}
        self._lock = threading.Lock()
        self._generation = 0  # moves with clear(): a computation begun before is not kept
        self.hits = self.misses = self.waits = 0

    def answer(self, key: Hashable, compute: Callable[[], bytes]) -> Entry:
        """The body for `key` with its ETag: from memory, from a computation under way for
        the same key, or from `compute()` (its exception propagates; nothing is kept)."""
        with self._lock:
            got = self._entries.get(key)
            flight = self._flights.get(key)
            if got is not None:
                self._entries.move_to_end(key)
                if flight is not None or got[2] > self.clock():  # being redone, or fresh
                    self.hits += 1
                    return got[0], got[1]
            leader = flight is None
            if flight is None:
                flight = self._flights[key] = _Flight()
                self.misses += 1
            else:
                self.waits += 1
            generation = self._generation
        if leader:
            return self._lead(key, compute, flight, generation)
        flight.done.wait()
        if flight.entry is not None:
            return flight.entry
        return self._store(key, compute(), generation)  # the first one failed: so may this

    def _lead(self, key: Hashable, compute: Callable[[], bytes], flight: _Flight,
              generation: int) -> Entry:
        try:
            flight.entry = self._store(key, compute(), generation)
            return flight.entry
        finally:
            with self._lock:
                if self._flights.get(key) is flight:
                    del self._flights[key]
            flight.done.set()

    def _store(self, key: Hashable, body: bytes, generation: int) -> Entry:
        """Keep `body` unless clear() ran since its computation began."""
        etag = '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'
        with self._lock:
            if generation == self._generation:
                self._entries[key] = (body, etag, self.clock() + self.ttl)
                self._entries.move_to_end(key)
                while len(self._entries) > self.size:
                    self._entries.popitem(last=False)
        return body, etag

    def clear(self) -> None:
        """Drop every answer, and any being computed now (tables were refilled under it)."""
        with self._lock:
            self._entries.clear()
            self._flights.clear()  # a request from now on does not wait for those
            self._generation += 1


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
    body, etag = cache.answer((*key, head), lambda: json_bytes(compute()))
    headers = {"ETag": etag, "Cache-Control": "private, no-cache"}
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)
