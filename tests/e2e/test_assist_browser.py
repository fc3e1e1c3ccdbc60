"""主办/协办 and 指派到人 in the console (Chromium): the dispatcher names an assisting unit,
the lead sees who still owes feedback and assigns the case to a person, the assisting
unit's member finds the case in the inbox and answers, and the trail shows each unit's own
deadline — the lead's resolve step and the assisting unit's answer — and the person."""

from __future__ import annotations

import httpx
import pytest

from adapters.bootstrap import bootstrap
from adapters.http.server import load_demo
from tests.e2e.browser_support import BROWSER, login, shot
from tests.e2e.http_support import CATEGORY, GRID, LiveServer
from tests.e2e.http_support import login as api_login
from tests.support import city

pytestmark = BROWSER
SIZES = ((1440, 900, "wide"), (390, 844, "phone"))


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    cg = bootstrap(data_dir=tmp_path_factory.mktemp("assist"), city=city())
    load_demo(cg, cases=12, echo=lambda *_: None)
    with LiveServer(cg) as s:
        yield s
    cg.close()


@pytest.fixture(scope="module")
def filed_case(server) -> str:
    with httpx.Client(base_url=server.url, timeout=30) as c:
        r = c.post("/api/cases", headers=api_login(c, "sup_zhang"), json={
            "channel": "patrol", "category": CATEGORY, "grid": GRID,
            "description": "垃圾堆放，需城管配合"})
        assert r.status_code == 201, r.text
        cid = r.json()["case_id"]
        r = c.post(f"/api/cases/{cid}/file", headers=api_login(c, "acc_wang"), json={})
        assert r.status_code == 200, r.text
    return cid


def no_overflow(pg, name: str) -> None:
    for w, h, tag in SIZES:
        pg.set_viewport_size({"width": w, "height": h})
        shot(pg, f"{name}-{tag}")
        assert pg.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), tag
    pg.set_viewport_size({"width": 1440, "height": 900})


def submit(pg, action: str) -> None:
    pg.click(f"#act-{action} button[type=submit]")
    pg.wait_for_selector("#done, #action-error")
    assert pg.query_selector("#action-error") is None, pg.inner_text("#action-error")


def test_lead_and_assisting_unit_each_with_its_own_deadline_in_the_trail(page, server,
                                                                          filed_case):
    pg = page
    case_url = f"{pg.base}/cases/{filed_case}"
    login(pg, "disp_chen")
    pg.goto(case_url)
    pg.click("#assist-pick summary")
    pg.check('#assist-pick input[value="cgj"]')
    no_overflow(pg, "assist-01-dispatch-form")
    submit(pg, "dispatch")
    row = pg.query_selector('#case-assists .assist-row[data-unit="cgj"]')
    assert row is not None and row.get_attribute("data-status") == "owed"

    login(pg, "hw_luo")  # the lead: who still owes feedback, and 指派到人
    pg.goto(case_url)
    pg.wait_for_selector("#assist-owed")
    assert "城管" in pg.inner_text("#assist-owed") or "cgj" in pg.inner_text("#assist-owed")
    pg.select_option("#assign-to", "hw_luo")
    submit(pg, "assign")
    assert "罗刚" in pg.inner_text("#case-assignee")
    no_overflow(pg, "assist-02-lead-waits")

    login(pg, "cg_liu")  # the assisting unit: its inbox, its answer
    pg.goto(f"{pg.base}/inbox")
    pg.wait_for_selector(f'#assist-inbox tr[data-case="{filed_case}"]')
    no_overflow(pg, "assist-03-assisting-inbox")
    pg.click(f'#assist-inbox tr[data-case="{filed_case}"] a')
    pg.wait_for_selector("#act-assist-feedback")
    pg.fill("#assist-text", "已派人协助清运")
    no_overflow(pg, "assist-04-feedback-form")
    submit(pg, "assist-feedback")
    row = pg.query_selector('#case-assists .assist-row[data-unit="cgj"]')
    assert row.get_attribute("data-status") == "answered"
    assert pg.query_selector("#act-assist-feedback") is None

    login(pg, "hw_luo")
    pg.goto(case_url)
    assert pg.query_selector("#assist-owed") is None
    submit(pg, "resolve")

    login(pg, "chief_zhao")  # the trail: each unit's own deadline
    pg.goto(f"{pg.base}/trail/cases/{filed_case}")
    pg.wait_for_selector("#trail-assists")
    assist = pg.query_selector('#trail-assists tr[data-unit="cgj"]')
    assert assist is not None and assist.get_attribute("data-met") == "1"
    text = assist.inner_text()
    assert "刘洋" in text and "环卫" in text  # answered by; lead unit
    custody = pg.inner_text("#custody")
    assert "罗刚" in custody  # the person the lead assigned
    lead_due = pg.query_selector_all("#custody tr")[1:]
    assert any("处置" in r.inner_text() for r in lead_due)
    no_overflow(pg, "assist-05-trail")
    pg.context.add_cookies([{"name": "cg_lang", "value": "en", "url": pg.base}])
    pg.reload()
    pg.wait_for_selector("#trail-assists")
    english = pg.inner_text("#trail-assists")
    assert "Assisting units" in english and "协办" not in english and "主办" not in english
    shot(pg, "assist-06-trail-en")
    pg.context.clear_cookies()


def test_an_assisting_units_member_answers_from_the_field_app(page, server):
    with httpx.Client(base_url=server.url, timeout=30) as c:
        r = c.post("/api/cases", headers=api_login(c, "sup_zhang"), json={
            "channel": "patrol", "category": CATEGORY, "grid": GRID, "description": "需城管协助"})
        cid = r.json()["case_id"]
        assert c.post(f"/api/cases/{cid}/file", headers=api_login(c, "acc_wang"),
                      json={}).status_code == 200
        assert c.post(f"/api/cases/{cid}/dispatch", headers=api_login(c, "disp_chen"),
                      json={"assist": ["cgj"]}).status_code == 200
    pg = page
    login(pg, "cg_liu")
    pg.set_viewport_size({"width": 390, "height": 844})
    pg.goto(f"{pg.base}/m/cases/{cid}")
    pg.wait_for_selector("#assist-form")
    assert pg.query_selector("#resolve-form") is None
    pg.click("#assist-send")  # no words: refused on the phone
    assert pg.is_visible("#assist-form .form-error")
    assert pg.inner_text("#assist-due") != "—"
    pg.fill("#assist-comment", "已到场配合")
    shot(pg, "assist-07-field-form-phone")
    assert pg.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    pg.click("#assist-send")
    pg.wait_for_selector("#assist-form", state="detached", timeout=30_000)
    got = server.cg.service.get(cid).current_assists[0]
    assert got["answered_by"] == "cg_liu" and got["text"] == "已到场配合"
    pg.set_viewport_size({"width": 1440, "height": 900})
