"""Security a city network needs (issue 10), against the real server on 127.0.0.1.

CSRF on every console form (token per session + Origin), the API with the console's
cookie, login throttling per user and per address, sessions that end server-side
(logout, revoke-all, across server processes), response headers on every answer, and
three read boundaries: a session token is no Open311 api_key, the full configuration is
not for channel accounts, a unit member's drill-down lists only their own unit's cases.
"""

from __future__ import annotations

import re
import time

import httpx
import pytest
from fastapi.testclient import TestClient
from structlog.testing import capture_logs

from adapters.bootstrap import bootstrap
from adapters.http import create_app
from tests.e2e.http_support import (
    CITIZEN_TOKEN,
    LiveServer,
    console_login,
    form_token,
    login,
)
from tests.support import city, drive, report


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    cg = bootstrap(data_dir=tmp_path_factory.mktemp("security"), city=city())
    with LiveServer(cg) as s:
        yield s
    cg.close()


@pytest.fixture
def browser(server):
    """A cookie jar logged in as the duty chief through the console's form."""
    with httpx.Client(base_url=server.url, timeout=30) as c:
        assert console_login(c, "chief_zhao").status_code == 303
        yield c


def origin(server) -> dict:
    return {"Origin": server.url}


def new_case(server, state="dispatched") -> str:
    return str(drive(server.cg.service, state).id)


def urgings(server, cid: str) -> int:
    return sum(type(e).__name__ == "Urged" for e in server.cg.service.timeline(cid))


# ---------------------------------------------------------------- CSRF: the console


def test_a_page_on_another_port_cannot_make_the_chief_urge_a_case(server, browser):
    cid = new_case(server)
    page = browser.get(f"/cases/{cid}").text
    token = form_token(page)
    evil = {"Origin": "http://127.0.0.1:1"}  # same host, another port: another origin
    r = browser.post(f"/cases/{cid}/act/urge", data={"csrf_token": token, "reason": "x"},
                     headers=evil)
    assert r.status_code == 403 and "origin" in r.text
    r = browser.post(f"/cases/{cid}/act/urge", data={"reason": "x"}, headers=origin(server))
    assert r.status_code == 403 and "csrf_token" in r.text
    r = browser.post(f"/cases/{cid}/act/urge", data={"csrf_token": token, "reason": "x"})
    assert r.status_code == 403  # neither Origin nor Referer: not from our page
    assert urgings(server, cid) == 0
    r = browser.post(f"/cases/{cid}/act/urge", data={"csrf_token": token, "reason": "催办"},
                     headers=origin(server))
    assert r.status_code == 303 and urgings(server, cid) == 1
    r = browser.post(f"/cases/{cid}/act/urge", data={"csrf_token": token, "reason": "催办"},
                     headers={"Referer": f"{server.url}/cases/{cid}"})  # Referer will do
    assert r.status_code == 303 and urgings(server, cid) == 2


def test_another_sessions_token_does_not_do(server, browser):
    cid = new_case(server)
    with httpx.Client(base_url=server.url) as other:
        console_login(other, "chief_zhao")
        theirs = form_token(other.get(f"/cases/{cid}").text)
    assert theirs != form_token(browser.get(f"/cases/{cid}").text)
    r = browser.post(f"/cases/{cid}/act/urge", data={"csrf_token": theirs},
                     headers=origin(server))
    assert r.status_code == 403 and urgings(server, cid) == 0


def test_every_console_form_needs_the_token(server, browser):
    """Every POST route of the console (not /api, not Open311) refuses a post without it."""
    from adapters.http import console

    posts = [r.path for r in console.router.routes if "POST" in getattr(r, "methods", ())]
    assert {"/login", "/logout", "/report", "/patrol", "/cases/{case_id}/act/{action}"} <= set(posts)
    cid = new_case(server)
    for path in posts:
        url = path.replace("{case_id}", cid).replace("{action}", "urge")
        r = browser.post(url, data={"reason": "x"}, headers=origin(server))
        assert r.status_code == 403, (path, r.status_code)
        assert "csrf_token" in r.text, path
    assert browser.get("/api/me").status_code == 200  # the refused logout ended nothing


def test_every_post_form_in_the_templates_carries_the_token():
    from pathlib import Path

    folder = Path(__file__).resolve().parents[2] / "adapters" / "http" / "templates"
    forms = 0
    for f in folder.glob("*.html"):
        for form in re.findall(r"<form[^>]*method=\"post\".*?</form>", f.read_text(), re.S):
            forms += 1
            assert 'name="csrf_token"' in form, f.name
    assert forms >= 5


def test_login_csrf_cross_site_is_refused(server):
    with httpx.Client(base_url=server.url) as c:
        # a forged login form: no token (the attacker's page cannot read ours)
        r = c.post("/login", data={"user": "acc_wang", "password": "demo"},
                   headers={"Origin": "http://evil.example"})
        assert r.status_code == 403 and "cg_session" not in r.cookies
        token = form_token(c.get("/login").text)
        r = c.post("/login", data={"user": "acc_wang", "password": "demo", "csrf_token": token},
                   headers={"Origin": "http://evil.example"})
        assert r.status_code == 403 and "cg_session" not in r.cookies
        assert "origin" in r.text
        r = c.post("/login", data={"user": "acc_wang", "password": "demo", "csrf_token": token},
                   headers=origin(server))
        assert r.status_code == 303 and r.cookies.get("cg_session")
    with httpx.Client(base_url=server.url) as fresh:  # a token without its cookie
        r = fresh.post("/login", data={"user": "acc_wang", "password": "demo",
                                       "csrf_token": token}, headers=origin(server))
        assert r.status_code == 403 and "cg_session" not in r.cookies


# ---------------------------------------------------------------- CSRF: the API with the cookie


def test_the_api_with_the_session_cookie_needs_the_csrf_token_or_our_origin(server, browser):
    cid = new_case(server)
    r = browser.post(f"/api/cases/{cid}/urge", json={"reason": "x"})
    assert r.status_code == 403 and r.json()["field"] == "x-csrf-token"
    r = browser.post(f"/api/cases/{cid}/urge", json={"reason": "催办"}, headers={"Origin": "http://127.0.0.1:1"})
    assert r.status_code == 403 and r.json()["field"] == "origin"
    r = browser.post(f"/api/cases/{cid}/urge", json={"reason": "催办"}, headers={"X-CSRF-Token": "forged"})
    assert r.status_code == 403 and r.json()["field"] == "x-csrf-token"
    assert urgings(server, cid) == 0
    meta = re.search(r'name="csrf-token" content="([^"]+)"', browser.get("/queues").text)
    r = browser.post(f"/api/cases/{cid}/urge", json={"reason": "催办"}, headers={"X-CSRF-Token": meta.group(1)})
    assert r.status_code == 200
    r = browser.post(f"/api/cases/{cid}/urge", json={"reason": "催办"}, headers=origin(server))
    assert r.status_code == 200
    assert browser.get(f"/api/cases/{cid}").status_code == 200  # reads need nothing more
    with httpx.Client(base_url=server.url) as api:  # a Bearer token is not CSRF-prone
        r = api.post(f"/api/cases/{cid}/urge", json={"reason": "催办"}, headers=login(api, "chief_zhao"))
        assert r.status_code == 200
    assert urgings(server, cid) == 3


# ---------------------------------------------------------------- login throttling


def test_a_user_is_locked_out_after_five_wrong_passwords(server):
    with httpx.Client(base_url=server.url) as c, capture_logs() as logs:
        for _ in range(5):
            r = c.post("/api/login", json={"user": "sup_huang", "password": "guess"})
            assert r.status_code == 401
        r = c.post("/api/login", json={"user": "sup_huang", "password": "demo"})  # right, too late
        assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
        assert r.json()["field"] == "user" and "sup_huang" in r.json()["rule"]
        assert c.post("/api/login", json={"user": "sup_li", "password": "demo"}).status_code == 200
    events = [e["event"] for e in logs]
    assert events.count("login_failed") >= 5 and "login_throttled" in events
    locked = [e for e in logs if e["event"] == "login_failed" and e.get("locked_seconds")]
    assert locked and locked[-1]["user"] == "sup_huang"
    with httpx.Client(base_url=server.url) as b:  # the console shows it too
        token = form_token(b.get("/login").text)
        r = b.post("/login", data={"user": "sup_huang", "password": "demo", "csrf_token": token},
                   headers=origin(server))
        assert r.status_code == 429 and "try again" in r.text and "cg_session" not in r.cookies
    server.app.state.auth.store.clear_failures("user:sup_huang")


def test_one_address_is_locked_out_across_user_names(server):
    throttle = server.app.state.auth.throttle
    throttle.address_free = 4
    a, b = {"X-Forwarded-For": "203.0.113.7"}, {"X-Forwarded-For": "203.0.113.8"}
    try:
        with httpx.Client(base_url=server.url) as c:
            for i in range(4):
                r = c.post("/api/login", json={"user": f"nobody{i}", "password": "x"}, headers=a)
                assert r.status_code == 401
            r = c.post("/api/login", json={"user": "acc_wang", "password": "demo"}, headers=a)
            assert r.status_code == 429 and r.json()["field"] == "client"
            assert "203.0.113.7" in r.json()["rule"]
            r = c.post("/api/login", json={"user": "acc_wang", "password": "demo"}, headers=b)
            assert r.status_code == 200
    finally:
        throttle.address_free = type(throttle).address_free


# ---------------------------------------------------------------- sessions end server-side


def test_api_logout_ends_the_token(server):
    with httpx.Client(base_url=server.url) as c:
        h = login(c, "disp_chen")
        assert c.get("/api/me", headers=h).status_code == 200
        r = c.post("/api/logout", headers=h)
        assert r.status_code == 200 and r.json() == {"user": "disp_chen", "revoked": 1}
        r = c.get("/api/me", headers=h)
        assert r.status_code == 401 and "ended" in r.json()["rule"]
        other = login(c, "disp_chen")  # a new login works
        assert c.get("/api/me", headers=other).status_code == 200


def test_console_logout_ends_the_cookie_everywhere(server):
    with httpx.Client(base_url=server.url) as c:
        console_login(c, "acc_wang")
        cookie = c.cookies.get("cg_session")
        token = form_token(c.get("/queues").text)
        r = c.post("/logout", data={"csrf_token": token}, headers=origin(server))
        assert r.status_code == 303
    with httpx.Client(base_url=server.url, cookies={"cg_session": cookie}) as replay:
        r = replay.get("/queues")
        assert r.status_code == 303 and r.headers["location"].startswith("/login")
        r = replay.get("/api/me", headers={"Authorization": f"Bearer {cookie}"})
        assert r.status_code == 401


def test_the_duty_chief_revokes_every_session_of_a_user(server):
    with httpx.Client(base_url=server.url) as c:
        phone, desk = login(c, "ga_zhou"), login(c, "ga_zhou")
        chief, dispatcher = login(c, "chief_zhao"), login(c, "disp_chen")
        r = c.post("/api/users/ga_zhou/sessions/revoke", headers=dispatcher)
        assert r.status_code == 403 and r.json()["field"] == "role"
        assert c.get("/api/me", headers=phone).status_code == 200
        r = c.post("/api/users/ga_zhou/sessions/revoke", headers=chief)
        assert r.status_code == 200 and r.json() == {"user": "ga_zhou", "revoked": 2}
        assert c.get("/api/me", headers=phone).status_code == 401
        assert c.get("/api/me", headers=desk).status_code == 401
        assert c.get("/api/me", headers=chief).status_code == 200
        r = c.post("/api/users/nobody/sessions/revoke", headers=chief)
        assert r.status_code == 422 and r.json()["field"] == "user_id"
        mine = login(c, "disp_chen")  # anyone may end their own sessions
        r = c.post("/api/users/disp_chen/sessions/revoke", headers=mine)
        assert r.status_code == 200 and r.json()["revoked"] >= 1
        assert c.get("/api/me", headers=mine).status_code == 401


def test_a_logout_on_one_server_process_ends_the_session_on_the_other(tmp_path):
    """Two processes on one database (same secret): the session lives in the database."""
    cgs = [bootstrap(data_dir=tmp_path, city=city()) for _ in range(2)]
    try:
        one, two = (TestClient(create_app(cg, secret=b"s" * 32)) for cg in cgs)
        h = {"Authorization": f"Bearer {one.post('/api/login', json={'user': 'acc_wang', 'password': 'demo'}).json()['token']}"}
        assert two.get("/api/me", headers=h).status_code == 200
        assert two.post("/api/logout", headers=h).json()["revoked"] == 1
        assert one.get("/api/me", headers=h).status_code == 401
    finally:
        for cg in cgs:
            cg.close()


def test_the_cli_revokes_every_session(tmp_path):
    import structlog
    from typer.testing import CliRunner

    from adapters.cli import app as cli

    saved = structlog.get_config()  # the CLI points structlog at CliRunner's own stderr
    cg = bootstrap(data_dir=tmp_path, city=city())
    try:
        client = TestClient(create_app(cg, secret=b"s" * 32))
        token = client.post("/api/login", json={"user": "insp_sun", "password": "demo"}).json()["token"]
        h = {"Authorization": f"Bearer {token}"}
        assert client.get("/api/me", headers=h).status_code == 200
        r = CliRunner().invoke(cli, ["--data-dir", str(tmp_path), "sessions", "revoke", "insp_sun",
                                     "--json"])
        assert r.exit_code == 0, r.output
        assert '"revoked": 1' in r.output
        assert client.get("/api/me", headers=h).status_code == 401
        r = CliRunner().invoke(cli, ["--data-dir", str(tmp_path), "sessions", "revoke", "nobody"])
        assert r.exit_code == 2
    finally:
        structlog.configure(**saved)
        cg.close()


# ---------------------------------------------------------------- headers on every answer


@pytest.mark.parametrize("path", ["/login", "/queues", "/api/me", "/api/cases/nope",
                                  "/static/app.js", "/open311/v2/services.json", "/healthz",
                                  "/no/such/page", "/openapi.json"])
def test_security_headers_on_every_answer(server, browser, path):
    r = browser.get(path)
    csp = r.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'self';" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "same-origin"
    assert "strict-transport-security" not in r.headers  # plain http here


def test_the_docs_page_allows_only_its_own_inline_script(server):
    r = httpx.get(f"{server.url}/docs")
    csp = r.headers["content-security-policy"]
    assert r.status_code == 200 and "'sha256-" in csp and "unsafe-inline" not in csp
    assert r.headers["x-frame-options"] == "DENY"


def test_no_inline_script_in_the_templates():
    from pathlib import Path

    folder = Path(__file__).resolve().parents[2] / "adapters" / "http" / "templates"
    for f in folder.glob("*.html"):
        text = f.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), f.name
        assert not re.search(r"\son[a-z]+\s*=", text), f.name
        assert "javascript:" not in text and "style=" not in text, f.name


def test_cookies_are_secure_behind_tls(tmp_path):
    cg = bootstrap(data_dir=tmp_path, city=city())
    try:
        c = TestClient(create_app(cg, secure_cookies=True), base_url="https://cg.example")
        r = c.get("/login")
        assert "secure" in r.headers["set-cookie"].lower()
        assert r.headers["strict-transport-security"].startswith("max-age=")
        token = form_token(r.text)
        r = c.post("/login", data={"user": "acc_wang", "password": "demo", "csrf_token": token},
                   headers={"Origin": "https://cg.example"}, follow_redirects=False)
        assert r.status_code == 303
        session = [v for k, v in r.headers.multi_items() if k == "set-cookie"
                   and v.startswith("cg_session=")]
        assert session and "secure" in session[0].lower() and "httponly" in session[0].lower()
    finally:
        cg.close()


# ---------------------------------------------------------------- three read boundaries


def test_a_console_session_cookie_is_not_an_open311_api_key(server, browser):
    cookie = browser.cookies.get("cg_session")
    r = httpx.post(f"{server.url}/open311/v2/requests.json",
                   data={"api_key": cookie, "service_code": "E0102",
                         "address_id": "44030301000101"})
    assert r.status_code == 403
    r = httpx.get(f"{server.url}/open311/v2/requests.json", params={"api_key": cookie})
    assert r.status_code == 403


def test_the_full_configuration_is_not_for_channel_accounts(server):
    channel = {"Authorization": f"Bearer {CITIZEN_TOKEN}"}
    with httpx.Client(base_url=server.url) as c:
        r = c.get("/api/config", params={"full": "true"}, headers=channel)
        assert r.status_code == 403 and r.json()["field"] == "full"
        r = c.get("/api/config", headers=channel)
        assert r.status_code == 200 and "config" not in r.json()
        r = c.get("/api/config", params={"full": "true"}, headers=login(c, "acc_wang"))
        assert r.status_code == 200 and "users" in r.json()["config"]


def test_a_unit_members_drill_down_lists_only_their_own_units_cases(server):
    svc = server.cg.service
    ours = drive(svc, "dispatched")  # E0102 -> hw
    theirs = report(svc, category="E0501")  # another unit's by routing
    from workflows.commands import CaseAction

    svc.act(CaseAction(theirs.id, "file", "acc_wang"))
    theirs = svc.act(CaseAction(theirs.id, "dispatch", "disp_chen"))
    assert theirs.unit != "hw"
    server.cg.projections.catch_up()
    community = city().cells[ours.grid].community
    q = {"by": "community", "key": community, "indicator": "reported",
         "from": "2026-10-01", "to": "2026-10-31"}
    with httpx.Client(base_url=server.url) as c:
        everyone = c.get("/api/scoreboard/explain", params=q, headers=login(c, "chief_zhao")).json()
        assert {str(ours.id), str(theirs.id)} <= set(everyone["numerator"]["case_ids"])
        member = login(c, "hw_luo")
        mine = c.get("/api/scoreboard/explain", params=q, headers=member).json()
        assert str(ours.id) in mine["numerator"]["case_ids"]
        assert str(theirs.id) not in mine["numerator"]["case_ids"]
        assert mine["numerator"]["hidden"] >= 1
        assert mine["numerator"]["n"] == everyone["numerator"]["n"]  # the figure is the same
        for cid in mine["numerator"]["case_ids"]:
            assert c.get(f"/api/cases/{cid}", headers=member).status_code == 200
        page = httpx.Client(base_url=server.url)
        console_login(page, "hw_luo")
        html = page.get("/scoreboard/explain", params=q).text
        assert str(ours.id) in html and str(theirs.id) not in html
        page.close()


def test_sessions_and_failure_counts_on_each_store(store_env, tmp_path):
    """cg_sessions and cg_login_failures on SQLite and PostgreSQL: two processes' views."""
    from adapters.http.auth_store import SqlAuthStore, store_for

    env = store_env if "POSTGRES_DBNAME" in store_env else {
        "PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(tmp_path / "a.sqlite")}
    cgs = [bootstrap(env=env, city=city()) for _ in range(2)]
    try:
        one, two = store_for(cgs[0].sql), store_for(cgs[1].sql)
        assert isinstance(one, SqlAuthStore)
        u, s1, s2 = (f"{x}-{tmp_path.name}" for x in ("user", "s1", "s2"))  # a shared server
        now = int(time.time())
        one.add_session(s1, u, now, now + 60)
        one.add_session(s2, u, now, now + 60)
        assert two.session(s1).user_id == u and two.session(s1).revoked_at is None
        assert two.revoke(s1, u) == 1 and two.revoke(s1, u) == 0
        assert one.session(s1).revoked_at is not None
        assert one.revoke_user(u, "chief_zhao") == 1  # s2; s1 was already ended
        assert two.session(s2).revoked_at is not None and two.session("nope") is None
        key = f"user:{tmp_path.name}"
        assert [one.add_failure(key, 5000 + i, 0) for i in range(3)] == [1, 2, 3]
        assert two.failures(key) == (3, 5002)
        assert two.add_failure(key, 9000, 8000) == 1  # the last one is long past: anew
        two.clear_failures(key)
        assert one.failures(key) == (0, 0)
    finally:
        for cg in cgs:
            cg.close()
