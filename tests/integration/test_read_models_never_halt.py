"""Read models never halt (issue 10, defect 1 and "make the class impossible").

Whatever is already stored, including events an earlier version accepted (a report dated
year 1, at +14:00, in 9999), every projection folds it and no read path answers 500.
A projection that still fails on one event stalls there loudly: `projections status` and
`/healthz` name the projection, the event id and the error; the others go on; the
follower backs off instead of spinning.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta, timezone
from uuid import uuid4

import pytest
from fastapi.testclient import TestClient

from adapters.bootstrap import bootstrap, projection_runner
from adapters.http import create_app
from domain.case import Case
from projections.cases import CaseSummaries
from projections.scoreboard_fold import Scoreboard
from tests.support import CATEGORY, GRID, city, drive, report

ODD_TIMES = [
    datetime(1, 1, 1),  # naive: the city's zone, before UTC's year 1 begins
    datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=14))),
    datetime(9999, 12, 31, 23, 59, tzinfo=timezone(timedelta(hours=-12))),
    datetime(1900, 6, 1, tzinfo=UTC),
]
USERS = ("chief_zhao", "insp_sun", "hw_luo")


def store_raw(cg, at: datetime, description: str = "旧版本写入") -> str:
    """Write a Reported event straight into the store, as an older version would have."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=city().tz)
    case = Case._create(Case.Reported, id=uuid4(), occurred_at=at, actor="sup_zhang",
                        role="supervisor", state="pending_filing", step="file", due_at=None,
                        held_by="role:acceptor", reason=None, channel="patrol",
                        category=CATEGORY, grid=GRID, urgency="normal",
                        description=description, lat=None, lon=None, evidence=[],
                        external_id=None, source_due_at=None, number=None)
    cg.app.save(case)
    return str(case.id)


@pytest.fixture
def poisoned(store_env):
    cg = bootstrap(env=store_env, city=city())
    normal = drive(cg.service, "dispatched")
    odd = [store_raw(cg, t) for t in ODD_TIMES]
    odd.append(store_raw(cg, datetime(2026, 10, 12, 9, tzinfo=UTC), "x" * 1_000_000))
    yield cg, str(normal.id), odd
    cg.close()


def _get_paths(app) -> dict[str, set[str]]:
    """Every GET path with the names of its query parameters."""
    return {p: {x["name"] for x in ops["get"].get("parameters", []) if x["in"] == "query"}
            for p, ops in app.openapi()["paths"].items() if "get" in ops}


def test_projections_fold_every_stored_time(poisoned):
    cg, _normal, odd = poisoned
    cg.projections.catch_up()
    rows = cg.projections.status()
    assert all(r["state"] == "ok" and r["error"] is None for r in rows), rows
    assert all(r["lag_events"] == 0 for r in rows)
    cg.projections.rebuild()  # the replay path too
    assert all(r["state"] == "ok" for r in cg.projections.status())


def test_no_read_path_answers_500_whatever_is_stored(poisoned):
    cg, normal, odd = poisoned
    cg.projections.catch_up()
    app = create_app(cg, follow=False)
    client = TestClient(app, raise_server_exceptions=False)
    fills = {"case_id": [normal, *odd], "service_code": [CATEGORY],
             "service_request_id": [normal, odd[0]]}
    extremes = {"now": ["0001-01-01", "9999-12-31T23:59", ""], "as_of": ["0001-01-01", "9999"],
                "from": ["0001-01-01", "", "9999-12-31"], "to": ["9999-12-31", "0001-01-01"],
                "date": ["", "0001-01-01", "9999-12-31"], "month": ["0001-01", "9999-12", "x"],
                "week": ["0001-W01", "9999-W52"], "start_date": ["0001-01-01T00:00:00"],
                "end_date": ["9999-12-31T23:59:59"], "since": ["0001-01-01"]}
    seen = 0
    for user in USERS:
        r = client.post("/api/login", json={"user": user, "password": "demo"})
        assert r.status_code == 200, r.text
        token = r.json()["token"]
        headers = {"Authorization": f"Bearer {token}"}
        client.cookies.set("cg_session", token)
        for path, declared in _get_paths(app).items():
            targets = [path]
            for name, values in fills.items():
                if "{" + name + "}" in path:
                    targets = [t.replace("{" + name + "}", v) for t in targets for v in values]
            for target in targets:
                odd_params = [(n, v) for n, v in extremes.items() if n in declared]
                for name, values in [(None, [None]), *odd_params]:
                    for v in values:
                        params = {} if name is None else {name: v}
                        resp = client.get(target, params=params, headers=headers)
                        seen += 1
                        assert resp.status_code < 500, (user, target, params, resp.text[:300])
        for page in ("/", "/queues", "/inbox", "/cases", "/report", "/scoreboard", "/trail",
                     "/map", "/reports", f"/cases/{odd[0]}", f"/cases/{odd[1]}",
                     f"/trail/cases/{odd[2]}", "/scoreboard?by=grid&from=0001-01-01",
                     "/trail?from=0001-01-01&to=9999-12-31", "/reports?date=0001-01-01"):
            resp = client.get(page)
            assert resp.status_code < 500, (user, page, resp.text[:300])
    assert seen > 100, seen


class Fragile:
    """A read model with a bug: it cannot fold the event whose description says so."""

    name = "fragile"
    tables = ("cg_fragile",)

    def __init__(self):
        self.broken = True
        self.attempts = 0

    def create(self, cur):
        cur.execute("CREATE TABLE IF NOT EXISTS cg_fragile (case_id TEXT PRIMARY KEY)")

    def prepare(self, sql, items, start, end):
        self.attempts += 1
        out = []
        for e, _times, _nid, cid in items:
            if self.broken and getattr(e, "description", "") == "poison":
                raise KeyError("no fold for this event")
            if isinstance(e, Case.Reported):
                out.append((cid,))
        return out

    def write(self, cur, rows):
        for row in rows:
            cur.execute("INSERT INTO cg_fragile (case_id) VALUES (?) ON CONFLICT DO NOTHING", row)

    def forget(self):
        pass


def test_a_projection_that_fails_stalls_loudly_and_the_rest_go_on(store_env):
    cg = bootstrap(env=store_env, city=city())
    try:
        fragile = Fragile()
        runner = projection_runner(cg.app, [CaseSummaries(), fragile], batch=8)
        before = [str(report(cg.service).id) for _ in range(5)]
        poison = store_raw(cg, datetime(2026, 10, 12, 9, tzinfo=UTC), "poison")
        after = [str(report(cg.service).id) for _ in range(5)]
        runner.catch_up()  # does not raise
        head = runner.head()
        status = {r["projection"]: r for r in runner.status()}
        assert status["cases"]["position"] == head and status["cases"]["state"] == "ok"
        stalled = status["fragile"]
        assert stalled["state"] == "stalled"
        poison_nid = runner.sql.query(
            "SELECT MIN(notification_id) FROM cg_projection_errors")[0][0]
        assert stalled["error"]["notification_id"] == poison_nid
        assert "KeyError" in stalled["error"]["error"]
        assert stalled["position"] == poison_nid - 1  # everything before it is applied
        folded = {r[0] for r in runner.sql.query("SELECT case_id FROM cg_fragile")}
        assert set(before) <= folded and poison not in folded and not set(after) & folded

        # the follower backs off instead of spinning on the stalled projection
        fragile.attempts = 0
        stop = threading.Event()
        t = threading.Thread(target=runner.follow, args=(stop,), kwargs={"interval": 0.05})
        t.start()
        time.sleep(0.6)
        stop.set()
        t.join(5)
        assert fragile.attempts <= 3, fragile.attempts  # 12 polls, at most one retry round

        # /healthz names it
        app = create_app(cg, follow=False)
        app.state.cg = type(cg)(cg.app, cg.city, cg.service, cg.patrol, runner, runner.sql)
        body = TestClient(app).get("/healthz").json()
        assert body["status"] == "degraded"
        assert body["stalled"][0]["projection"] == "fragile"
        assert body["stalled"][0]["notification_id"] == poison_nid

        # fixed (a new release): the retry folds it and the error clears
        fragile.broken = False
        runner.retry_now()
        runner.catch_up()
        status = {r["projection"]: r for r in runner.status()}
        assert status["fragile"]["state"] == "ok" and status["fragile"]["position"] == head
        assert TestClient(app).get("/healthz").json()["status"] == "ok"
    finally:
        cg.close()


def test_a_new_fold_version_rebuilds_its_projection_at_start(tmp_path):
    """A release that fixes a fold (scoreboard v2: accurate dispatch for areas) replays the
    log into fresh tables, so a store built by the old fold shows the fixed figures."""
    env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite",
           "SQLITE_DBNAME": str(tmp_path / "v.sqlite")}
    cg = bootstrap(env=env, city=city())
    drive(cg.service, "dispatched")
    cg.projections.catch_up()
    with cg.sql.transaction() as cur:  # as the old release left it: wrong rows, version 1
        cur.execute("DELETE FROM cg_sb_counts")
        cur.execute("UPDATE cg_projection_versions SET version = 1 WHERE projection = 'scoreboard'")
    cg.close()
    cg = bootstrap(env=env, city=city())
    try:
        assert cg.projections.position("scoreboard") == 0  # dropped at start
        assert cg.projections.position("cases") > 0  # the others untouched
        cg.projections.catch_up()
        assert cg.sql.query("SELECT COUNT(*) FROM cg_sb_counts")[0][0] > 0
        assert cg.sql.query("SELECT version FROM cg_projection_versions"
                            " WHERE projection = 'scoreboard'")[0][0] == Scoreboard.version
    finally:
        cg.close()
