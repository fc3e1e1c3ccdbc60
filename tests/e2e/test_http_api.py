"""The HTTP API through a plain HTTP client (httpx) against the real server on 127.0.0.1.

Every role boundary, allowed and refused: authentication (401), the lifecycle's roles
(403 with state, trigger and role), unit scoping (a unit member sees only their unit's
cases: others answer 404), the read-only inspector (every write 403), stale versions
(409 with the current version) and bad input (422 naming the field). The whole lifecycle
also runs once on each store (SQLite and a throwaway PostgreSQL).
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import httpx
import pytest

from adapters.bootstrap import bootstrap
from tests.e2e.http_support import (
    CATEGORY,
    CITIZEN_TOKEN,
    GRID,
    UNIT,
    LiveServer,
    console_login,
    login,
)
from tests.support import city

USERS = {
    "supervisor": "sup_zhang", "acceptor": "acc_wang", "duty_chief": "chief_zhao",
    "dispatcher": "disp_chen", "member": "hw_luo", "other_member": "cg_liu",
    "inspector": "insp_sun",
}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    cg = bootstrap(data_dir=tmp_path_factory.mktemp("api"), city=city())
    with LiveServer(cg) as s:
        yield s
    cg.close()


@pytest.fixture(scope="module")
def client(server):
    with httpx.Client(base_url=server.url, timeout=30) as c:
        yield c


@pytest.fixture(scope="module")
def h(client):
    """Authorization headers per role (one login each)."""
    out = {role: login(client, uid) for role, uid in USERS.items()}
    out["channel"] = {"Authorization": f"Bearer {CITIZEN_TOKEN}"}
    return out


# ---------------------------------------------------------------- helpers


def report(client, headers, channel="patrol", **kw):
    body = {"channel": channel, "category": CATEGORY, "grid": GRID, "description": "路口垃圾堆积",
            "lat": 22.571, "lon": 114.121, "evidence": ["https://img.example/1.jpg"]} | kw
    r = client.post("/api/cases", json=body, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()["case_id"]


def step(client, headers, case_id, action, expect=200, **body):
    r = client.post(f"/api/cases/{case_id}/{action}", json=body or None, headers=headers)
    assert r.status_code == expect, r.text
    return r.json()


def dispatched(client, h) -> str:
    cid = report(client, h["supervisor"])
    step(client, h["acceptor"], cid, "file")
    step(client, h["dispatcher"], cid, "dispatch")
    return cid


def pending_check(client, h) -> str:
    cid = dispatched(client, h)
    step(client, h["member"], cid, "resolve", evidence=["https://img.example/after.jpg"])
    return cid


# ---------------------------------------------------------------- authentication (401)


def test_login_gives_a_token_that_names_the_user(client):
    r = client.post("/api/login", json={"user": "acc_wang", "password": "demo"})
    assert r.status_code == 200
    body = r.json()
    assert body["token_type"] == "bearer" and body["user"]["role"] == "acceptor"
    me = client.get("/api/me", headers={"Authorization": f"Bearer {body['token']}"})
    assert me.json() == {"id": "acc_wang", "name": "王芳", "role": "acceptor", "unit": None,
                         "squad": None}


@pytest.mark.parametrize("user,password", [("acc_wang", "wrong"), ("nobody", "demo"),
                                           ("citizen_app", "demo")])
def test_wrong_credentials_are_401(client, user, password):
    r = client.post("/api/login", json={"user": user, "password": password})
    assert r.status_code == 401
    assert r.json()["field"] == "authorization"


@pytest.mark.parametrize("headers", [
    {}, {"Authorization": "Bearer nonsense"},
    {"Authorization": "Bearer acc_wang.9999999999.forgedsignature"},
    {"Authorization": "Basic YWNjX3dhbmc6ZGVtbw=="},
])
def test_reads_and_writes_need_a_valid_token(client, headers):
    for method, path in [("GET", "/api/cases"), ("GET", "/api/queues"),
                         ("POST", "/api/cases"), ("GET", "/api/scoreboard")]:
        r = client.request(method, path, headers=headers, json={} if method == "POST" else None)
        assert r.status_code == 401, (method, path, r.text)
        assert r.headers["www-authenticate"] == "Bearer"
        assert r.json()["error"] == "unauthorized"


def test_an_expired_token_is_401(server, client):
    user = server.cg.city.users["acc_wang"]
    token = server.app.state.auth.issue(user, seconds=-1)
    r = client.get("/api/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401 and "expired" in r.json()["rule"]


def test_login_body_errors_are_422_naming_the_field(client):
    r = client.post("/api/login", json={"user": "acc_wang"})
    assert r.status_code == 422
    assert r.json()["field"] == "password"


# ---------------------------------------------------------------- the whole lifecycle by role


def test_each_role_does_its_own_step_through_a_full_case(client, h):
    cid = report(client, h["acceptor"], channel="hotline")  # 12345 taken by the acceptor
    step(client, h["supervisor"], cid, "verify", passed=True)
    step(client, h["acceptor"], cid, "file")
    sug = client.get(f"/api/cases/{cid}/dispatch-suggestion", headers=h["dispatcher"]).json()
    assert sug["unit"] == UNIT and sug["rule"]
    view = step(client, h["dispatcher"], cid, "dispatch")
    assert view["unit"] == UNIT and view["routing_rule"] == sug["rule"]
    step(client, h["member"], cid, "request-extension", extra="2h", reason="需协调车辆")
    step(client, h["dispatcher"], cid, "decide-extension", approve=True)
    step(client, h["member"], cid, "resolve", evidence=["https://img.example/2.jpg"])
    view = step(client, h["supervisor"], cid, "check", passed=False, reason="未清理干净")
    assert view["state"] == "dispatched" and view["reworks"] == 1
    step(client, h["member"], cid, "resolve")
    step(client, h["supervisor"], cid, "check", passed=True)
    step(client, h["acceptor"], cid, "close")
    view = step(client, h["duty_chief"], cid, "evaluate", rating="satisfied")
    assert view["state"] == "evaluated"
    show = client.get(f"/api/cases/{cid}", headers=h["inspector"]).json()
    types = [e["type"] for e in show["timeline"]]
    assert types[:4] == ["Reported", "Verified", "Filed", "Dispatched"]
    assert types.count("Checked") == 2 and types[-1] == "Evaluated"
    for e in show["timeline"]:
        assert e["actor"] and e["role"] and e["occurred_at"]
    assert show["case"]["evidence"][-1] == "https://img.example/2.jpg"


def test_shelving_and_urging_by_the_center(client, h):
    cid = dispatched(client, h)
    step(client, h["duty_chief"], cid, "urge", reason="请加快处置")
    step(client, h["dispatcher"], cid, "urge", reason="再次督办")
    step(client, h["member"], cid, "shelve", reason="需列入年度预算")
    step(client, h["dispatcher"], cid, "decide-shelve", expect=403, approve=True, reason="同意")
    view = step(client, h["duty_chief"], cid, "decide-shelve", approve=True, reason="同意挂账")
    assert view["state"] == "shelved"
    view = step(client, h["acceptor"], cid, "close", reason="挂账特殊结案")
    assert view["closure_type"] == "special"


def test_the_unit_returns_a_case_that_is_not_theirs(client, h):
    cid = report(client, h["supervisor"])
    step(client, h["acceptor"], cid, "file")
    step(client, h["dispatcher"], cid, "dispatch", unit="cgj", reason="按属地经验派遣")
    step(client, h["member"], cid, "return", expect=404, reason="不是我们的")  # hw cannot see it
    view = step(client, h["other_member"], cid, "return", reason="不属于本单位职责")
    assert view["state"] == "pending_dispatch" and view["unit"] is None


def test_refuse_and_void(client, h):
    cid = report(client, h["supervisor"])
    r = client.post(f"/api/cases/{cid}/refuse", json={}, headers=h["acceptor"])
    assert r.status_code == 422 and r.json()["field"] == "reason"
    view = step(client, h["duty_chief"], cid, "refuse", reason="重复上报")
    assert view["state"] == "voided"


# ---------------------------------------------------------------- refused by the lifecycle (403)


@pytest.mark.parametrize("role,action,body", [
    ("supervisor", "file", {}),
    ("member", "file", {}),
    ("dispatcher", "file", {}),
    ("acceptor", "verify", {"passed": True}),
    ("duty_chief", "dispatch", {}),
])
def test_center_roles_act_only_in_their_steps(client, h, role, action, body):
    cid = report(client, h["supervisor"])  # pending_filing
    r = client.post(f"/api/cases/{cid}/{action}", json=body or None, headers=h[role])
    if role == "member":  # a unit member does not even see a case not yet dispatched to them
        assert r.status_code == 404
        return
    assert r.status_code == 403, r.text
    err = r.json()
    assert err["error"] == "refused" and err["state"] == "pending_filing"
    assert err["trigger"] == action and err["role"] == server_role(role)


def server_role(role: str) -> str:
    return {"member": "unit_member", "other_member": "unit_member"}.get(role, role)


def test_a_step_in_the_wrong_state_is_403_naming_the_state(client, h):
    cid = pending_check(client, h)
    r = client.post(f"/api/cases/{cid}/resolve", headers=h["member"])
    assert r.status_code == 403
    assert r.json()["state"] == "pending_check" and r.json()["trigger"] == "resolve"
    r = client.post(f"/api/cases/{cid}/close", headers=h["acceptor"])
    assert r.status_code == 403 and r.json()["state"] == "pending_check"


def test_reporting_channels_follow_the_roles(client, h):
    body = {"category": CATEGORY, "grid": GRID}
    r = client.post("/api/cases", json=body | {"channel": "citizen"}, headers=h["supervisor"])
    assert r.status_code == 403 and r.json()["trigger"] == "report"
    r = client.post("/api/cases", json=body | {"channel": "patrol"}, headers=h["member"])
    assert r.status_code == 403
    r = client.post("/api/cases", json=body | {"channel": "unit"}, headers=h["member"])
    assert r.status_code == 201


# ---------------------------------------------------------------- the inspector reads, never writes


def test_the_inspector_reads_everything(client, h):
    cid = dispatched(client, h)
    for path in ["/api/cases", f"/api/cases/{cid}", "/api/queues", "/api/scoreboard",
                 f"/api/trail/cases/{cid}", "/api/trail/misses", "/api/projections/status",
                 "/api/config"]:
        r = client.get(path, headers=h["inspector"])
        assert r.status_code == 200, (path, r.text)
    assert client.get(f"/api/cases/{cid}", headers=h["inspector"]).json()["allowed"] == []


@pytest.mark.parametrize("action,body", [
    ("file", {}), ("dispatch", {}), ("resolve", {}), ("urge", {"reason": "x"}),
    ("check", {"passed": True}), ("close", {}), ("refuse", {"reason": "x"}),
])
def test_the_inspector_changes_nothing(client, h, action, body):
    cid = dispatched(client, h)
    before = client.get(f"/api/cases/{cid}", headers=h["inspector"]).json()["case"]["version"]
    r = client.post(f"/api/cases/{cid}/{action}", json=body or None, headers=h["inspector"])
    assert r.status_code == 403
    assert r.json()["role"] == "inspector" and r.json()["trigger"] == action
    after = client.get(f"/api/cases/{cid}", headers=h["inspector"]).json()["case"]["version"]
    assert after == before


def test_the_inspector_cannot_report_or_tick_or_rebuild(client, h):
    r = client.post("/api/cases", json={"channel": "inspection", "category": CATEGORY,
                                        "grid": GRID}, headers=h["inspector"])
    assert r.status_code == 403
    assert client.post("/api/deadlines/tick", headers=h["inspector"]).status_code == 403
    assert client.post("/api/projections/rebuild", headers=h["inspector"]).status_code == 403


# ---------------------------------------------------------------- a unit sees only its own


def test_a_unit_member_sees_only_their_units_cases(client, h):
    mine = dispatched(client, h)  # -> hw
    theirs = report(client, h["supervisor"])
    step(client, h["acceptor"], theirs, "file")
    step(client, h["dispatcher"], theirs, "dispatch", unit="cgj", reason="属地")
    assert client.get(f"/api/cases/{mine}", headers=h["member"]).status_code == 200
    r = client.get(f"/api/cases/{theirs}", headers=h["member"])
    assert r.status_code == 404 and r.json()["error"] == "not_found"
    assert client.get(f"/api/cases/{theirs}", headers=h["other_member"]).status_code == 200
    listed = client.get("/api/cases?limit=500", headers=h["member"]).json()["cases"]
    assert listed and {c["unit"] for c in listed} == {UNIT}
    r = client.get("/api/cases?unit=cgj", headers=h["member"])
    assert r.status_code == 403 and r.json()["field"] == "unit"
    inbox = client.get("/api/queues", headers=h["member"]).json()
    assert mine in {i["case_id"] for i in inbox["unit_inbox"]}
    assert theirs not in {i["case_id"] for i in inbox["unit_inbox"]}
    assert client.get(f"/api/trail/cases/{theirs}", headers=h["member"]).status_code == 404
    assert client.get("/api/trail/misses?unit=cgj", headers=h["member"]).status_code == 403


def test_a_unit_member_acts_only_on_their_units_cases(client, h):
    theirs = report(client, h["supervisor"])
    step(client, h["acceptor"], theirs, "file")
    step(client, h["dispatcher"], theirs, "dispatch", unit="cgj", reason="属地")
    step(client, h["member"], theirs, "resolve", expect=404)
    view = step(client, h["other_member"], theirs, "resolve")
    assert view["state"] == "pending_check"


def test_the_allowed_actions_follow_the_role(client, h):
    cid = dispatched(client, h)
    allowed = {r: [a["action"] for a in client.get(f"/api/cases/{cid}", headers=h[r]).json()["allowed"]]
               for r in ("member", "dispatcher", "duty_chief", "supervisor", "inspector")}
    # 签收 (until the unit has signed for the dispatch) and the unit's own steps
    assert {"accept", "return", "request-extension", "shelve", "resolve"} <= set(allowed["member"])
    assert allowed["dispatcher"] == ["urge"] and allowed["duty_chief"] == ["urge"]
    assert allowed["supervisor"] == [] and allowed["inspector"] == []


# ---------------------------------------------------------------- channel accounts


def test_a_channel_account_reads_only_its_own_reports(client, h):
    cid = report(client, h["channel"], channel="citizen")
    assert client.get(f"/api/cases/{cid}", headers=h["channel"]).status_code == 200
    other = report(client, h["supervisor"])
    assert client.get(f"/api/cases/{other}", headers=h["channel"]).status_code == 404
    assert client.get("/api/cases", headers=h["channel"]).status_code == 403
    assert client.get("/api/scoreboard", headers=h["channel"]).status_code == 403


# ---------------------------------------------------------------- 404, 409, 422


def test_unknown_case_is_404_and_bad_id_is_422(client, h):
    r = client.get("/api/cases/00000000-0000-4000-8000-000000000000", headers=h["acceptor"])
    assert r.status_code == 404 and r.json()["error"] == "not_found"
    r = client.get("/api/cases/not-a-uuid", headers=h["acceptor"])
    assert r.status_code == 422 and r.json()["field"] == "case_id"
    r = client.post("/api/cases/00000000-0000-4000-8000-000000000000/file", headers=h["acceptor"])
    assert r.status_code == 404


def test_a_stale_version_is_409_with_the_current_version(client, h):
    cid = report(client, h["supervisor"])
    seen = client.get(f"/api/cases/{cid}", headers=h["acceptor"]).json()["case"]["version"]
    step(client, h["acceptor"], cid, "file", expected_version=seen)
    r = client.post(f"/api/cases/{cid}/dispatch", json={"expected_version": seen},
                    headers=h["dispatcher"])
    assert r.status_code == 409
    assert r.json() == r.json() | {"error": "conflict", "current_version": seen + 1}
    step(client, h["dispatcher"], cid, "dispatch", expected_version=seen + 1)


@pytest.mark.parametrize("body,field", [
    ({"channel": "patrol", "category": "E9999", "grid": GRID}, "category"),
    ({"channel": "patrol", "category": CATEGORY, "grid": "44030301000100"}, "grid"),
    ({"channel": "patrol", "category": CATEGORY, "grid": "123"}, "grid"),
    ({"channel": "fax", "category": CATEGORY, "grid": GRID}, "channel"),
    ({"channel": "patrol", "category": CATEGORY, "grid": GRID, "lat": 22.5}, "lon"),
    ({"channel": "patrol", "category": CATEGORY, "grid": GRID, "evidence": ["not a url"]}, "evidence[0]"),
    ({"channel": "patrol", "category": CATEGORY, "grid": GRID, "actor": "chief_zhao"}, "actor"),
    ({"channel": "patrol", "category": CATEGORY}, "grid"),
    ({"channel": "patrol", "category": CATEGORY, "grid": GRID, "lat": "north"}, "lat"),
    ({"channel": "patrol", "category": CATEGORY, "grid": GRID, "at": "2999-01-01T00:00:00+08:00"}, "occurred_at"),
])
def test_bad_reports_are_422_naming_the_field(client, h, body, field):
    r = client.post("/api/cases", json=body, headers=h["supervisor"])
    assert r.status_code == 422, r.text
    err = r.json()
    assert err["error"] == "invalid" and err["field"] == field and err["rule"]


def test_bad_steps_are_422_naming_the_field(client, h):
    cid = pending_check(client, h)
    r = client.post(f"/api/cases/{cid}/check", json={}, headers=h["supervisor"])
    assert r.status_code == 422 and r.json()["field"] == "passed"
    r = client.post(f"/api/cases/{cid}/check", json={"passed": False}, headers=h["supervisor"])
    assert r.status_code == 422 and r.json()["field"] == "reason"
    r = client.post(f"/api/cases/{cid}/check", json={"passed": "maybe"}, headers=h["supervisor"])
    assert r.status_code == 422 and r.json()["field"] == "passed"
    cid2 = dispatched(client, h)
    r = client.post(f"/api/cases/{cid2}/request-extension", json={"reason": "x", "extra": "soon"},
                    headers=h["member"])
    assert r.status_code == 422 and r.json()["field"] == "extra"
    r = client.get("/api/cases?state=lost", headers=h["acceptor"])
    assert r.status_code == 422 and r.json()["field"] == "state"


def test_dispatch_off_the_routing_rule_needs_a_reason(client, h):
    cid = report(client, h["supervisor"])
    step(client, h["acceptor"], cid, "file")
    r = client.post(f"/api/cases/{cid}/dispatch", json={"unit": "cgj"}, headers=h["dispatcher"])
    assert r.status_code == 422 and r.json()["field"] == "reason"
    r = client.post(f"/api/cases/{cid}/dispatch", json={"unit": "nope", "reason": "x"},
                    headers=h["dispatcher"])
    assert r.status_code == 422 and r.json()["field"] == "unit"


# ---------------------------------------------------------------- queries of the read models


def test_case_list_and_show_as_of(client, h):
    cid = report(client, h["supervisor"])
    time.sleep(1.1)  # times are shown to the second; the next step lands a second later
    step(client, h["acceptor"], cid, "file")
    step(client, h["dispatcher"], cid, "dispatch")
    rows = client.get("/api/cases?state=dispatched&limit=500", headers=h["acceptor"]).json()
    assert cid in {c["case_id"] for c in rows["cases"]}
    show = client.get(f"/api/cases/{cid}", headers=h["acceptor"]).json()
    first = datetime.fromisoformat(show["timeline"][0]["recorded_at"]) + timedelta(seconds=1)
    early = client.get(f"/api/cases/{cid}", params={"as_of": first.isoformat()},
                       headers=h["acceptor"]).json()
    assert early["case"]["state"] == "pending_filing" and len(early["timeline"]) == 1


def test_queues_show_due_times(client, h):
    cid = report(client, h["supervisor"])
    q = client.get("/api/queues", headers=h["acceptor"]).json()
    assert set(q["queues"]) >= {"verification", "filing", "dispatch", "check", "closure",
                                "extension_decision", "shelve_decision"}
    item = next(i for i in q["queues"]["filing"] if i["case_id"] == cid)
    assert item["due_at"] and item["overdue"] is False


def test_scoreboard_explain_and_series(client, h):
    pending_check(client, h)
    board = client.get("/api/scoreboard?by=unit", headers=h["duty_chief"])
    assert board.status_code == 200, board.text
    rows = board.json()["rows"]
    row = next(r for r in rows if r["key"] == UNIT)
    assert {"counts", "rates", "score", "grade", "rank"} <= set(row)
    ind = "resolution_rate"
    x = client.get("/api/scoreboard/explain", params={"by": "unit", "key": UNIT, "indicator": ind},
                   headers=h["inspector"])
    assert x.status_code == 200, x.text
    x = x.json()
    assert x["indicator"] == ind and x["denominator"]["n"] == len(x["denominator"]["case_ids"])
    s = client.get("/api/scoreboard/series", params={"indicator": ind},
                   headers=h["duty_chief"]).json()
    assert s["periods"] and any(ser["key"] == UNIT for ser in s["series"])
    month = client.get("/api/scoreboard?month=2026-10", headers=h["duty_chief"]).json()
    assert month["from"] == "2026-10-01" and month["to"] == "2026-10-31"
    assert client.get("/api/scoreboard?month=2026-13",
                      headers=h["duty_chief"]).json()["field"] == "month"
    r = client.get("/api/scoreboard?by=planet", headers=h["duty_chief"])
    assert r.status_code == 422 and r.json()["field"]
    r = client.get("/api/scoreboard?from=2026-13-01", headers=h["duty_chief"])
    assert r.status_code == 422 and r.json()["field"] == "from"


def test_trail_per_case_and_per_unit(client, h):
    cid = dispatched(client, h)
    t = client.get(f"/api/trail/cases/{cid}", headers=h["inspector"])
    assert t.status_code == 200, t.text
    custody = t.json()["custody"]
    assert custody and custody[-1]["holder"] == UNIT
    m = client.get("/api/trail/misses", params={"unit": UNIT}, headers=h["inspector"])
    assert m.status_code == 200 and m.json()["unit"] == UNIT
    assert client.get("/api/trail/misses", headers=h["supervisor"]).status_code == 403
    assert client.get("/api/trail/misses", headers=h["member"]).json()["unit"] == UNIT


def test_projections_status_and_rebuild(client, h):
    st = client.get("/api/projections/status", headers=h["acceptor"]).json()["projections"]
    assert {p["projection"] for p in st} >= {"cases"}
    assert client.post("/api/projections/rebuild?name=cases",
                       headers=h["acceptor"]).status_code == 403
    r = client.post("/api/projections/rebuild?name=cases", headers=h["duty_chief"])
    assert r.status_code == 200 and r.json()["rebuilt"]["cases"] >= 0
    r = client.post("/api/projections/rebuild?name=nope", headers=h["duty_chief"])
    assert r.status_code == 422 and r.json()["field"] == "name"


def test_deadline_tick_for_the_duty_chief(client, h):
    r = client.post("/api/deadlines/tick", headers=h["duty_chief"])
    assert r.status_code == 200 and "missed" in r.json()
    assert client.post("/api/deadlines/tick", headers=h["acceptor"]).status_code == 403


def test_projections_follow_live_without_a_reader(server, client, h):
    """The background follower catches up on its own (no read endpoint called)."""
    report(client, h["supervisor"])
    head = server.cg.projections.head()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if all(p["position"] >= head for p in server.cg.projections.status()):
            return
        time.sleep(0.1)
    pytest.fail("projections did not follow the log within 5 s")


def test_openapi_lists_every_command(client):
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    for action in ("verify", "file", "refuse", "dispatch", "return", "request-extension",
                   "decide-extension", "shelve", "decide-shelve", "resolve", "check", "close",
                   "evaluate", "urge"):
        assert f"/api/cases/{{case_id}}/{action}" in paths
    for p in ("/api/cases", "/api/cases/{case_id}", "/api/queues", "/api/scoreboard",
              "/api/scoreboard/explain", "/api/trail/cases/{case_id}", "/api/trail/misses",
              "/api/projections/status", "/api/login"):
        assert p in paths
    assert client.get("/docs").status_code == 200


# ---------------------------------------------------------------- both stores


def test_the_lifecycle_over_http_on_each_store(store_env, tmp_path):
    cg = bootstrap(env=store_env, city=city())
    try:
        with LiveServer(cg) as s, httpx.Client(base_url=s.url, timeout=30) as c:
            hh = {r: login(c, u) for r, u in USERS.items()}
            cid = report(c, hh["supervisor"])
            step(c, hh["acceptor"], cid, "file")
            step(c, hh["dispatcher"], cid, "dispatch")
            step(c, hh["member"], cid, "resolve")
            step(c, hh["supervisor"], cid, "check", passed=True)
            assert step(c, hh["acceptor"], cid, "close")["state"] == "closed"
            inbox = c.get("/api/queues", headers=hh["member"]).json()["unit_inbox"]
            assert cid not in {i["case_id"] for i in inbox}
            board = c.get("/api/scoreboard", headers=hh["duty_chief"]).json()
            assert any(r["key"] == UNIT for r in board["rows"])
    finally:
        cg.close()


def test_request_logs_bind_user_role_and_case(client, h):
    from structlog.testing import capture_logs

    cid = report(client, h["supervisor"])
    with capture_logs() as logs:
        client.get(f"/api/cases/{cid}", headers=h["inspector"])
    lines = [e for e in logs if e["event"] == "request"]
    assert lines and lines[-1] | {"user": "insp_sun", "role": "inspector", "case_id": cid,
                                  "status": 200} == lines[-1]


def test_the_server_records_missed_deadlines_on_its_own(tmp_path):
    """With the deadline tick on, a step past due gets its DeadlineMissed without anyone asking."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from workflows.commands import ReportCase

    cg = bootstrap(data_dir=tmp_path, city=city())
    old = datetime(2026, 10, 12, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    case = cg.service.report(ReportCase(channel="patrol", category=CATEGORY, grid=GRID,
                                        actor="sup_zhang", occurred_at=old))
    try:
        with LiveServer(cg, tick_every=0.3):
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                if any(type(e).__name__ == "DeadlineMissed"
                       for e in cg.service.timeline(case.id)):
                    break
                time.sleep(0.2)
            else:
                pytest.fail("no DeadlineMissed recorded by the server's tick")
    finally:
        cg.close()


@pytest.mark.parametrize("target,where", [
    ("/cases", "/cases"), ("//evil.example/x", "/queues"), ("https://evil.example/", "/queues"),
])
def test_console_login_redirects_only_inside(server, target, where):
    with httpx.Client(base_url=server.url) as client:  # its own cookie jar
        r = console_login(client, "acc_wang", next_=target)
        assert r.status_code == 303 and r.headers["location"] == where
        r = client.get(f"/lang/en?next={target}")
        assert r.headers["location"] == (target if where == target else "/")
