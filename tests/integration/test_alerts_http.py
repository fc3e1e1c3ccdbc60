"""The live alert stream over HTTP (GET /console/events): a cookie session's stream opens
with its watermark and ends by itself (no test or worker waits on it forever); a bad
watermark is refused by name; no session, no stream. And a city with its own tile server:
the map page hands the tiles to the browser and the page's policy allows their origin."""

from __future__ import annotations

import copy
import time

import httpx
import pytest
import yaml
from fastapi.testclient import TestClient

from adapters.bootstrap import bootstrap
from adapters.config.city_build import build_city
from adapters.http import create_app
from tests.e2e.http_support import LiveServer, console_login
from tests.support import city, drive

TILES = "https://gis.city/tiles/{z}/{x}/{y}.png"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    cg = bootstrap(data_dir=tmp_path_factory.mktemp("alerts-http"), city=city())
    with LiveServer(cg) as s:
        s.app.state.alerts_every = 0.2
        s.app.state.alerts_lifetime = 1.5
        yield s
    cg.close()


def test_the_stream_opens_with_its_watermark_and_ends_by_itself(server):
    drive(server.cg.service, "dispatched")
    with httpx.Client(base_url=server.url, timeout=10) as c:
        console_login(c, "hw_luo")
        t0 = time.monotonic()
        with c.stream("GET", "/console/events") as r:
            assert r.status_code == 200
            assert r.headers["content-type"].startswith("text/event-stream")
            lines = list(r.iter_lines())
        assert time.monotonic() - t0 < 6
    assert "event: hello" in lines and any(ln.startswith("id: ") for ln in lines)
    assert not [ln for ln in lines if ln == "event: alerts"]  # nothing new since it opened


def test_a_bad_watermark_is_refused_by_name(server):
    with httpx.Client(base_url=server.url, timeout=10) as c:
        console_login(c, "hw_luo")
        for bad in ("abc", "-1", "1" * 40, "１２", "1.5"):
            r = c.get("/console/events", params={"after": bad})
            assert r.status_code == 422 and "after" in r.text, (bad, r.status_code)
        r = c.get("/console/events", headers={"Last-Event-ID": "abc"})
        assert r.status_code == 422 and ("after" in r.text or "Last-Event-ID" in r.text), r.text
        # a control byte in a header: the HTTP parser (httptools) refuses the request itself
        r = c.get("/console/events", headers={"Last-Event-ID": "x\x01"})
        assert r.status_code in (400, 422)


def test_no_session_no_stream(server):
    with httpx.Client(base_url=server.url, timeout=10) as c:
        r = c.get("/console/events", follow_redirects=False)
        assert r.status_code in (303, 401)


def test_a_city_with_its_own_tile_server(tmp_path):
    raw = copy.deepcopy(city().raw)
    raw["map"] = {"tiles": {"url": TILES, "attribution": "© 市规划和自然资源局"}}
    cg = bootstrap(data_dir=tmp_path, city=build_city(yaml.safe_load(yaml.safe_dump(raw))))
    try:
        c = TestClient(create_app(cg), base_url="http://testserver")
        console_login(c, "chief_zhao")
        r = c.get("/map")
        assert r.status_code == 200 and "gis.city/tiles/{z}/{x}/{y}.png" in r.text
        assert "img-src 'self' data: https://gis.city;" in r.headers["content-security-policy"]
        layers = c.get("/api/geo/layers").json()
        assert layers["tiles"]["url"] == TILES
    finally:
        cg.close()
