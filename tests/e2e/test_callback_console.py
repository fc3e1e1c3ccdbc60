"""回访 and the reporter's protected contact, through the real server: the JSON API (who reads
the contact, who may call back), the console in Chromium (the acceptor takes a hotline call
with the caller's number and records a callback; a unit member never sees the number), and
a grep for a known phone number in every outward path: logs, the outbound Kafka envelope,
Open311 JSON and XML, and report exports (JSON and xlsx)."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import datetime

import httpx
import pytest

from adapters.bootstrap import bootstrap
from adapters.http.server import load_demo
from adapters.kafka.outbound import envelope
from tests.e2e.browser_support import BROWSER, login, shot
from tests.e2e.http_support import CATEGORY, CITIZEN_TOKEN, GRID, LiveServer
from tests.e2e.http_support import login as api_login
from tests.support import city

PHONE = "137 0000 4321"  # the reporter's number, looked for everywhere it must not be
PHONE2 = "+86 135-1111-2222"
USERS = ("acc_wang", "chief_zhao", "disp_chen", "sup_zhang", "hw_luo", "insp_sun")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    cg = bootstrap(data_dir=tmp_path_factory.mktemp("callback"), city=city())
    load_demo(cg, cases=12, echo=lambda *_: None)
    with LiveServer(cg) as s:
        yield s
    cg.close()


@pytest.fixture(scope="module")
def client(server):
    with httpx.Client(base_url=server.url, timeout=30) as c:
        yield c


@pytest.fixture(scope="module")
def h(client):
    out = {u: api_login(client, u) for u in USERS}
    out["citizen_app"] = {"Authorization": f"Bearer {CITIZEN_TOKEN}"}
    return out


def step(client, h, case_id: str, action: str, user: str, **body) -> dict:
    r = client.post(f"/api/cases/{case_id}/{action}", json=body, headers=h[user])
    assert r.status_code == 200, r.text
    return r.json()


@pytest.fixture(scope="module")
def closed_case(client, h) -> str:
    """A citizen's report with the reporter's contact, taken to 结案."""
    r = client.post("/api/cases", headers=h["citizen_app"], json={
        "channel": "citizen", "category": CATEGORY, "grid": GRID, "description": "路边垃圾堆积",
        "reporter_name": "王五", "reporter_phone": PHONE})
    assert r.status_code == 201, r.text
    cid = r.json()["case_id"]
    step(client, h, cid, "verify", "sup_zhang", passed=True)
    step(client, h, cid, "file", "acc_wang")
    step(client, h, cid, "dispatch", "disp_chen")
    step(client, h, cid, "resolve", "hw_luo", evidence=["https://img.example/after.jpg"])
    step(client, h, cid, "check", "sup_zhang", passed=True)
    step(client, h, cid, "close", "acc_wang")
    return cid


def test_contact_is_read_by_the_center_desk_only(client, h, closed_case):
    for user in ("acc_wang", "chief_zhao", "disp_chen"):
        got = client.get(f"/api/cases/{closed_case}", headers=h[user]).json()
        assert got["case"]["contact"] == {"reporter_name": "王五", "reporter_phone": PHONE}
    for user in ("sup_zhang", "hw_luo", "insp_sun", "citizen_app"):
        r = client.get(f"/api/cases/{closed_case}", headers=h[user])
        assert r.status_code == 200, (user, r.text)
        assert r.json()["case"]["contact"] is None and PHONE not in r.text, user
        assert "ContactGiven" in r.text  # the timeline keeps the step, without the contact


def test_bad_contact_is_refused_by_field_and_stores_nothing(client, h):
    before = client.get("/api/cases?limit=1", headers=h["acc_wang"]).json()
    for body, field in (({"reporter_phone": "12-ab"}, "reporter_phone"),
                        ({"reporter_phone": "1" * 30}, "reporter_phone"),
                        ({"reporter_name": "名" * 41}, "reporter_name"),
                        ({"reporter_phone": 12345678}, "reporter_phone")):
        r = client.post("/api/cases", headers=h["acc_wang"], json={
            "channel": "hotline", "category": CATEGORY, "grid": GRID, **body})
        assert r.status_code == 422, r.text
        assert field in r.text
    r = client.post("/api/cases", headers=h["acc_wang"], json={
        "channel": "inspection", "category": CATEGORY, "grid": GRID, "reporter_phone": PHONE})
    assert r.status_code == 422 and r.json()["field"] == "reporter_phone"
    after = client.get("/api/cases?limit=1", headers=h["acc_wang"]).json()
    assert after.get("total") == before.get("total")


def test_callback_through_the_api(client, h, closed_case):
    r = client.post(f"/api/cases/{closed_case}/callback", headers=h["hw_luo"],
                    json={"rating": "satisfied"})
    assert r.status_code in (403, 404), r.text
    r = client.post(f"/api/cases/{closed_case}/callback", headers=h["acc_wang"],
                    json={"rating": "great"})
    assert r.status_code == 422 and r.json()["field"] == "rating"
    got = step(client, h, closed_case, "callback", "acc_wang", rating="basic",
               comment="处理及时，但还有异味")
    assert got["state"] == "closed" and got["callbacks"] == ["basic"]


def test_no_outward_path_carries_the_phone(server, client, h, closed_case, capfd):
    cg = server.cg
    for i, e in enumerate(cg.service.timeline(closed_case), start=1):
        assert PHONE not in json.dumps(envelope(e, i), ensure_ascii=False)
    seen = []
    for path in ("/open311/v2/requests.json", "/open311/v2/requests.xml",
                 f"/open311/v2/requests/{closed_case}.json",
                 f"/open311/v2/requests/{closed_case}.xml"):
        r = client.get(path)
        seen.append((path, r.status_code))
        assert PHONE not in r.text and "王五" not in r.text, path
    assert any(code == 200 for _, code in seen), seen
    today = datetime.now(city().tz).date().isoformat()
    for path in (f"/api/reports/daily?date={today}", f"/api/reports/daily?date={today}&format=xlsx",
                 f"/api/reports/monthly?month={today[:7]}",
                 f"/api/reports/monthly?month={today[:7]}&format=xlsx",
                 f"/api/trail/cases/{closed_case}", "/api/cases?format=xlsx"):
        r = client.get(path, headers=h["chief_zhao"])
        if r.status_code == 404:
            continue
        assert r.status_code == 200, (path, r.text[:200])
        body = r.content
        if body[:2] == b"PK":  # xlsx: every part of the zip
            z = zipfile.ZipFile(io.BytesIO(body))
            body = b"".join(z.read(n) for n in z.namelist())
        assert PHONE.encode() not in body and "王五".encode() not in body, path
    out, err = capfd.readouterr()
    assert PHONE not in out + err


def test_open311_takes_the_contact_and_never_answers_it(client, h):
    form = {"api_key": CITIZEN_TOKEN, "service_code": CATEGORY, "address_id": GRID,
            "description": "垃圾", "first_name": "San", "last_name": "Zhang",
            "email": "someone@example.com", "phone": PHONE}
    bad = client.post("/open311/v2/requests.json", data=form | {"phone": "call me"})
    assert bad.status_code == 400 and "phone" in bad.text and "call me" not in bad.text
    r = client.post("/open311/v2/requests.json", data=form)
    assert r.status_code == 200, r.text
    rid = r.json()[0]["service_request_id"]
    for suffix in (".json", ".xml"):
        got = client.get(f"/open311/v2/requests/{rid}{suffix}")
        assert got.status_code == 200 and PHONE not in got.text and "Zhang" not in got.text
    detail = client.get(f"/api/cases/{rid}", headers=h["acc_wang"])  # the request id: the case's
    assert detail.status_code == 200, detail.text
    assert detail.json()["case"]["contact"] == {"reporter_name": "Zhang San",
                                                "reporter_phone": PHONE}
    assert PHONE not in client.get(f"/api/cases/{rid}", headers=h["citizen_app"]).text


# ---------------------------------------------------------------- the console, in Chromium

@BROWSER
def test_acceptor_takes_a_call_with_contact_and_calls_back(page, server, client, h,
                                                           closed_case):
    pg = page
    login(pg, "acc_wang")
    pg.click('nav a[data-nav="report"]')
    pg.select_option("#channel", "hotline")
    pg.select_option("#category", CATEGORY)
    pg.select_option("#grid", GRID)
    pg.fill("#description", "市民来电：井盖缺失")
    pg.fill("#reporter-name", "赵六")
    pg.fill("#reporter-phone", PHONE2)
    for w, hgt, tag in ((1440, 900, "wide"), (390, 844, "phone")):
        pg.set_viewport_size({"width": w, "height": hgt})
        shot(pg, f"callback-01-report-contact-{tag}")
        assert pg.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    pg.set_viewport_size({"width": 1440, "height": 900})
    pg.click("#report-submit")
    pg.wait_for_selector("#case-contact")
    assert PHONE2 in pg.inner_text("#case-contact")
    new_case = pg.url.split("/cases/")[1].split("?")[0]

    pg.goto(f"{pg.base}/cases/{closed_case}")
    assert PHONE in pg.inner_text("#case-contact")
    assert pg.is_visible("#act-callback")
    pg.select_option("#callback-rating", "unsatisfied")
    pg.fill("#callback-comment", "垃圾清了但又有人倒")
    for w, hgt, tag in ((1440, 900, "wide"), (390, 844, "phone")):
        pg.set_viewport_size({"width": w, "height": hgt})
        shot(pg, f"callback-02-case-form-{tag}")
        assert pg.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    pg.set_viewport_size({"width": 1440, "height": 900})
    pg.click("#act-callback button[type=submit]")
    pg.wait_for_selector("#done, #action-error")
    assert pg.query_selector("#action-error") is None, pg.inner_text("#action-error")
    text = pg.inner_text("main")
    assert "回访" in text and "垃圾清了但又有人倒" in text and "不满意" in text
    shot(pg, "callback-03-recorded")
    pg.context.add_cookies([{"name": "cg_lang", "value": "en", "url": pg.base}])
    pg.reload()
    pg.wait_for_selector("#case-contact")
    english = pg.inner_text("main")
    for zh_word in ("报案人联系方式", "回访", "群众满意度", "群众意见", "受保护"):
        assert zh_word not in english, zh_word
    assert "Called back" in english and "Reporter's contact" in english
    shot(pg, "callback-03-recorded-en")
    pg.context.clear_cookies()

    # the new hotline case goes to the unit; its member never sees the caller's number
    step(client, h, new_case, "verify", "sup_zhang", passed=True)
    step(client, h, new_case, "file", "acc_wang")
    step(client, h, new_case, "dispatch", "disp_chen", unit="hw", reason="环卫负责")
    login(pg, "hw_luo")
    for cid in (new_case, closed_case):
        pg.goto(f"{pg.base}/cases/{cid}")
        pg.wait_for_selector("#case-state")
        assert pg.query_selector("#case-contact") is None
        html = pg.content()
        assert PHONE not in html and PHONE2 not in html and "赵六" not in html
    shot(pg, "callback-04-unit-sees-no-contact")
    pg.set_viewport_size({"width": 390, "height": 844})
    shot(pg, "callback-04-unit-sees-no-contact-phone")


@BROWSER
def test_duty_chief_reads_satisfaction_and_drills_down(page, server, client, h, closed_case):
    """After the callbacks above (basic, unsatisfied: 1 of 2), 群众满意率 is on the unit board."""
    got = client.get(f"/api/cases/{closed_case}", headers=h["chief_zhao"]).json()["case"]
    assert got["callbacks"][:2] == ["basic", "unsatisfied"]
    day = datetime.now(city().tz).date().isoformat()
    pg = page
    login(pg, "chief_zhao")
    pg.goto(f"{pg.base}/scoreboard?by=unit&indicator=satisfaction_rate&from={day}&to={day}")
    pg.wait_for_selector("#ranking tr[data-key='hw']")
    assert "群众满意率" in pg.inner_text("main")
    for w, hgt, tag in ((1440, 900, "wide"), (390, 844, "phone")):
        pg.set_viewport_size({"width": w, "height": hgt})
        shot(pg, f"callback-05-board-{tag}")
        assert pg.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    pg.set_viewport_size({"width": 1440, "height": 900})
    pg.click("#ranking tr[data-key='hw'] a.drill[href*='indicator=satisfaction_rate']")
    pg.wait_for_selector("#explain")
    assert pg.inner_text("#explain-value").strip().startswith("50")
    assert pg.inner_text("#explain").count("1 / 2")  # callbacks: 1 satisfied of 2
    assert pg.query_selector(f"#denominator a[href*='{closed_case}']")
    shot(pg, "callback-06-drilldown")


def test_contact_and_callback_over_http_on_each_store(store_env):
    """The API path on SQLite and PostgreSQL: a hotline call with the caller's contact, the
    case to 结案, the callback; the contact for the acceptor only; 群众满意率 on the board."""
    cg = bootstrap(env=store_env, city=city())
    try:
        with LiveServer(cg) as s, httpx.Client(base_url=s.url, timeout=30) as c:
            hh = {u: api_login(c, u) for u in ("acc_wang", "sup_zhang", "disp_chen", "hw_luo",
                                                "chief_zhao")}
            r = c.post("/api/cases", headers=hh["acc_wang"], json={
                "channel": "hotline", "category": CATEGORY, "grid": GRID,
                "reporter_name": "孙九", "reporter_phone": PHONE})
            assert r.status_code == 201, r.text
            cid = r.json()["case_id"]
            step(c, hh, cid, "verify", "sup_zhang", passed=True)
            step(c, hh, cid, "file", "acc_wang")
            step(c, hh, cid, "dispatch", "disp_chen")
            step(c, hh, cid, "resolve", "hw_luo")
            step(c, hh, cid, "check", "sup_zhang", passed=True)
            step(c, hh, cid, "close", "acc_wang")
            got = step(c, hh, cid, "callback", "acc_wang", rating="satisfied", comment="好")
            assert got["callbacks"] == ["satisfied"]
            assert c.get(f"/api/cases/{cid}", headers=hh["acc_wang"]).json()["case"]["contact"][
                "reporter_phone"] == PHONE
            assert PHONE not in c.get(f"/api/cases/{cid}", headers=hh["hw_luo"]).text
            day = datetime.now(city().tz).date().isoformat()
            board = c.get(f"/api/scoreboard?by=unit&from={day}&to={day}",
                          headers=hh["chief_zhao"]).json()
            hw = {row["key"]: row for row in board["rows"]}["hw"]
            assert hw["rates"]["satisfaction_rate"] == 1.0
    finally:
        cg.close()
