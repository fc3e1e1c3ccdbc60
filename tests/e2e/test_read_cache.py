"""Scoreboards cached per log head (adapters/http/read_cache.py), on SQLite and PostgreSQL:
the same bytes as the uncached read model, 304 for a matching ETag, and a write anywhere
changes the answer at the next read (read-your-writes holds)."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import date

import httpx
import pytest

from adapters.http import reads
from tests.e2e.http_support import CATEGORY, GRID, LiveServer, login
from tests.support import grid

REPORT = {"channel": "patrol", "category": CATEGORY, "grid": GRID, "description": "缓存：路口垃圾",
          "lat": 22.571, "lon": 114.121}
PERIOD = {"from": "2026-01-01", "to": "2026-12-31"}


@pytest.fixture
def live(store_env):
    cg = grid(store_env)
    with LiveServer(cg) as s, httpx.Client(base_url=s.url, timeout=30) as c:
        yield s, c, login(c, "sup_zhang")
    cg.close()


def test_same_bytes_etag_304_and_a_write_changes_the_answer(live):
    server, c, h = live
    first = c.get("/api/scoreboard", params={"by": "supervisor", **PERIOD}, headers=h)
    assert first.status_code == 200 and first.json()["rows"] == []
    etag = first.headers["etag"]
    again = c.get("/api/scoreboard", params={"by": "supervisor", **PERIOD},
                  headers={**h, "If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    assert server.app.state.read_cache.hits >= 1

    assert c.post("/api/cases", json=REPORT, headers=h).status_code == 201
    after = c.get("/api/scoreboard", params={"by": "supervisor", **PERIOD},
                  headers={**h, "If-None-Match": etag})
    assert after.status_code == 200 and after.headers["etag"] != etag
    rows = after.json()["rows"]
    assert [(r["key"], r["counts"]["reported"]) for r in rows] == [("sup_zhang", 1)]
    uncached = reads.scoreboard(server.cg, by="supervisor", start=date(2026, 1, 1),
                                end=date(2026, 12, 31))
    assert after.json() == json.loads(json.dumps(uncached, ensure_ascii=False))

    other = c.get("/api/scoreboard", params={"by": "grid", **PERIOD}, headers=h)
    assert other.status_code == 200 and other.headers["etag"] != after.headers["etag"]
    assert other.json()["rows"][0]["key"] == GRID


def test_bad_parameters_are_refused_by_field_and_not_cached(live):
    _, c, h = live
    for params, field in (({"from": "2026-13-01"}, "from"), ({"to": "x" * 10_000}, "to"),
                          ({"month": "2026-00"}, "month"),
                          ({"from": "2026-02-01", "to": "2026-01-01"}, "to")):
        for _ in range(2):  # the second time too: an error is never served from the cache
            r = c.get("/api/scoreboard", params=params, headers=h)
            assert r.status_code == 422, (params, r.text)
            assert r.json()["field"] == field, (params, r.json())
    assert c.get("/api/scoreboard", params={"by": "planet"}, headers=h).status_code == 422
    assert c.get("/api/scoreboard").status_code == 401  # the login comes before the cache


def test_concurrent_reads_compute_once_and_a_write_is_seen_whatever_the_ttl(live):
    """Requests missing the same board together wait for one computation (single flight);
    freshness comes from the log head in the key, not from entries expiring."""
    server, c, h = live
    cache = server.app.state.read_cache
    cache.ttl = 3600.0  # nothing expires during this test
    params = {"by": "supervisor", **PERIOD}
    assert c.post("/api/cases", json=REPORT, headers=h).status_code == 201
    misses = cache.misses
    with ThreadPoolExecutor(16) as pool:
        got = list(pool.map(lambda _: c.get("/api/scoreboard", params=params, headers=h),
                            range(32)))
    assert {r.status_code for r in got} == {200}
    assert len({r.content for r in got}) == 1 and len({r.headers["etag"] for r in got}) == 1
    assert cache.misses == misses + 1  # one computation for 32 requests
    before = sum(r["counts"].get("reported", 0) for r in got[0].json()["rows"])

    assert c.post("/api/cases", json=REPORT, headers=h).status_code == 201
    after = c.get("/api/scoreboard", params=params, headers=h)
    assert sum(r["counts"].get("reported", 0) for r in after.json()["rows"]) == before + 1
    assert cache.misses == misses + 2
