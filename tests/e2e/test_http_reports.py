"""The CLI's `patrol` and `report` groups over HTTP (httpx against the live server)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
import yaml

from adapters.bootstrap import bootstrap
from adapters.http.server import load_demo
from adapters.policies import SAMPLE_POLICY
from tests.e2e.http_support import LiveServer, login
from tests.support import city


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    cg = bootstrap(data_dir=tmp_path_factory.mktemp("reports"), city=city())
    load_demo(cg, cases=80, echo=lambda *_: None)
    with LiveServer(cg) as s:
        yield s
    cg.close()


@pytest.fixture(scope="module")
def client(server):
    with httpx.Client(base_url=server.url, timeout=120) as c:
        yield c


@pytest.fixture(scope="module")
def h(client):
    return {u: login(client, u) for u in ("sup_zhang", "sup_li", "chief_zhao", "acc_wang",
                                          "insp_sun", "hw_luo")}


def today(server) -> str:
    return datetime.now(UTC).astimezone(server.cg.city.tz).date().isoformat()


def this_month(server) -> str:
    return today(server)[:7]


def test_a_supervisor_files_the_squads_nil_report(server, client, h):
    r = client.post("/api/patrol/reports", json={"squad": "patrol-1", "date": today(server),
                                                 "nil": True}, headers=h["sup_zhang"])
    assert r.status_code == 201, r.text
    assert r.json()["nil"] is True and r.json()["actor"] == "sup_zhang"


@pytest.mark.parametrize("user,body,status,field", [
    ("sup_li", {"squad": "patrol-1", "nil": True}, 403, None),  # another squad's supervisor
    ("insp_sun", {"squad": "patrol-1", "nil": True}, 403, None),
    ("sup_zhang", {"squad": "patrol-9", "nil": True}, 422, "squad"),
    ("sup_zhang", {"squad": "patrol-1", "nil": True, "findings": 2}, 422, "nil"),
    ("sup_zhang", {"squad": "patrol-1"}, 422, "findings"),
    ("sup_zhang", {"squad": "patrol-1", "nil": True, "date": "2999-01-01"}, 422, "date"),
])
def test_patrol_report_boundaries(server, client, h, user, body, status, field):
    body = {"date": today(server)} | body
    r = client.post("/api/patrol/reports", json=body, headers=h[user])
    assert r.status_code == status, r.text
    if field:
        assert r.json()["field"] == field


def test_patrol_tick_and_days(server, client, h):
    assert client.post("/api/patrol/tick", headers=h["acc_wang"]).status_code == 403
    r = client.post("/api/patrol/tick", headers=h["chief_zhao"])
    assert r.status_code == 200 and "missed" in r.json()
    start = (datetime.now(UTC) - timedelta(days=3)).date().isoformat()
    days = client.get("/api/patrol/days", params={"from": start, "to": today(server)},
                      headers=h["insp_sun"])
    assert days.status_code == 200 and days.json()["days"]
    assert client.get("/api/patrol/days", params={"from": start},
                      headers=h["hw_luo"]).status_code == 403


@pytest.mark.parametrize("path,params", [
    ("/api/reports/daily", {"date": None}),
    ("/api/reports/weekly", {"week": None}),
    ("/api/reports/monthly", {"month": None}),
])
def test_reports_as_json_and_html(server, client, h, path, params):
    value = {"date": today(server), "week": datetime.now(UTC).strftime("%G-W%V"),
             "month": this_month(server)}
    params = {k: value[k] for k in params}
    r = client.get(path, params=params, headers=h["chief_zhao"])
    assert r.status_code == 200, r.text[:500]
    doc = r.json()
    assert doc["title"] and doc["sections"]
    r = client.get(path, params=params | {"format": "html"}, headers=h["insp_sun"])
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert client.get(path, params=params, headers=h["hw_luo"]).status_code == 403
    r = client.get(path, params=params | {"format": "doc"}, headers=h["chief_zhao"])
    assert r.status_code == 422 and r.json()["field"] == "format"


def test_monthly_report_as_xlsx(server, client, h):
    r = client.get("/api/reports/monthly", params={"month": this_month(server), "format": "xlsx"},
                   headers=h["chief_zhao"])
    assert r.status_code == 200, r.text[:300]
    assert r.content[:2] == b"PK" and "attachment" in r.headers["content-disposition"]


def test_ledger_and_what_if(server, client, h):
    r = client.get("/api/reports/ledger", params={"month": this_month(server)},
                   headers=h["chief_zhao"])
    assert r.status_code == 200 and "lines" in r.json()
    assert client.get("/api/reports/ledger", params={"month": "2026-13"},
                      headers=h["chief_zhao"]).json()["field"] == "month"
    other = yaml.safe_load(SAMPLE_POLICY.read_text(encoding="utf-8"))
    r = client.post("/api/reports/compare", json={"month": this_month(server), "policy": other},
                    headers=h["chief_zhao"])
    assert r.status_code == 200, r.text[:500]
    assert {"grades", "ledger_diff", "line_changes"} <= set(r.json())
