"""The web console in a real browser: headless Chromium (Debian's package) driven by Playwright.

Each demo user logs in and does their job by clicking: the acceptor takes a 12345 report,
the supervisor verifies it, the acceptor files it, the dispatcher dispatches it on the
routing rule's suggestion, the unit resolves it, the supervisor fails the check, the unit
reworks it, the supervisor passes it and the acceptor closes it; the duty chief reads the
scoreboard and drills down to the cases; the inspector reads the trail and can change
nothing. Screenshots go to artifacts/screenshots/.

Needs /usr/bin/chromium and CJK fonts: `bash deploy/install-system-deps.sh`. Set
CASEGRID_SKIP_BROWSER=1 to skip these tests (a missing browser is otherwise an error).
"""

from __future__ import annotations

import re

import pytest

from adapters.bootstrap import bootstrap
from adapters.http.server import load_demo
from tests.e2e.browser_support import BROWSER, login, shot, wait_js
from tests.e2e.http_support import LiveServer
from tests.support import city

pytestmark = BROWSER


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    cg = bootstrap(data_dir=tmp_path_factory.mktemp("console"), city=city())
    load_demo(cg, cases=120, echo=lambda *_: None)  # a little history for boards and trail
    with LiveServer(cg) as s:
        yield s
    cg.close()


def state_of(pg) -> str:
    return pg.get_attribute("#case-state", "data-state")


def open_from_queue(pg, queue: str, case_id: str) -> None:
    """From the home page (the center's queues), click the case in one queue."""
    pg.click('nav a[data-nav="queues"]')
    pg.click(f'#queue-{queue} a[href="/cases/{case_id}"]')
    pg.wait_for_selector("#case-state")


def open_from_inbox(pg, case_id: str) -> None:
    pg.click('nav a[data-nav="inbox"]')
    pg.click(f'#unit-inbox a[href="/cases/{case_id}"]')
    pg.wait_for_selector("#case-state")


def submit(pg, action: str) -> None:
    pg.click(f"#act-{action} button[type=submit]")
    if pg.is_visible("#confirm-dialog"):  # a destructive step asks for confirmation first
        pg.click("#confirm-ok")
    pg.wait_for_selector("#done, #action-error")
    assert pg.query_selector("#action-error") is None, pg.inner_text("#action-error")


# ---------------------------------------------------------------- the whole case by clicking


def test_every_role_does_its_job_by_clicking(page):
    pg = page
    # 受理员 takes a 12345 hotline report
    login(pg, "acc_wang")
    shot(pg, "01-acceptor-queues")
    pg.click('nav a[data-nav="report"]')
    pg.select_option("#channel", "hotline")
    pg.select_option("#category", "E0102")
    pg.select_option("#grid", "44030301000101")
    pg.fill("#description", "市民来电：坭岗路口垃圾堆积")
    pg.fill("#lat", "22.5712")
    pg.fill("#lon", "114.1133")
    pg.fill("#evidence-url", "https://img.example/hotline.jpg")
    shot(pg, "02-acceptor-report-form")
    pg.click("#report-submit")
    pg.wait_for_selector("#case-id")
    cid = pg.inner_text("#case-id").strip()
    assert state_of(pg) == "pending_verification"
    assert "https://img.example/hotline.jpg" in pg.inner_text("#evidence")
    shot(pg, "03-reported")

    # 监督员 verifies on site
    login(pg, "sup_zhang")
    open_from_queue(pg, "verification", cid)
    assert pg.is_visible("#act-verify")
    assert pg.query_selector("#act-file") is None  # not the supervisor's step
    submit(pg, "verify")
    assert state_of(pg) == "pending_filing"
    shot(pg, "04-supervisor-verified")

    # 受理员 files
    login(pg, "acc_wang")
    open_from_queue(pg, "filing", cid)
    submit(pg, "file")
    assert state_of(pg) == "pending_dispatch"

    # 派遣员 dispatches on the routing rule's suggestion
    login(pg, "disp_chen")
    open_from_queue(pg, "dispatch", cid)
    assert "R-" in pg.inner_text("#routing-rule")
    assert pg.eval_on_selector("#dispatch-unit", "e => e.value") == "hw"
    shot(pg, "05-dispatcher-form-prefilled")
    submit(pg, "dispatch")
    assert state_of(pg) == "dispatched"
    assert "环境卫生" in pg.inner_text("#case-unit")

    # 成员单位 (环卫所) resolves from its inbox
    login(pg, "hw_luo")
    shot(pg, "06-unit-inbox")
    open_from_inbox(pg, cid)
    pg.fill("#act-resolve input[name=evidence]", "https://img.example/after.jpg")
    submit(pg, "resolve")
    assert state_of(pg) == "pending_check"

    # 监督员 fails the check: rework (返工)
    login(pg, "sup_zhang")
    open_from_queue(pg, "check", cid)
    pg.check('#act-check input[name=passed][value="0"]')
    pg.fill("#act-check input[name=reason]", "现场未清理干净")
    submit(pg, "check")
    assert state_of(pg) == "dispatched"
    shot(pg, "07-check-failed-rework")

    # the unit reworks
    login(pg, "hw_luo")
    open_from_inbox(pg, cid)
    submit(pg, "resolve")
    assert state_of(pg) == "pending_check"

    # 监督员 passes the check
    login(pg, "sup_zhang")
    open_from_queue(pg, "check", cid)
    submit(pg, "check")
    assert state_of(pg) == "pending_closure"

    # 受理员 closes
    login(pg, "acc_wang")
    open_from_queue(pg, "closure", cid)
    submit(pg, "close")
    assert state_of(pg) == "closed"
    rows = pg.query_selector_all("#timeline tr[data-event]")
    events = [r.get_attribute("data-event") for r in rows]
    assert events[:4] == ["Reported", "Verified", "Filed", "Dispatched"]
    assert events.count("Resolved") == 2 and events.count("Checked") == 2
    assert events[-1] == "Closed"
    assert "王芳" in pg.inner_text("#timeline") and "罗刚" in pg.inner_text("#timeline")
    shot(pg, "08-closed-timeline")

    # 纪检监察 reads the case and its trail, and has no buttons
    login(pg, "insp_sun")
    pg.goto(f"{pg.base}/cases/{cid}")
    assert pg.is_visible("#read-only") and pg.query_selector("form.act") is None
    pg.click("#trail-link")
    pg.wait_for_selector("#custody")
    holders = pg.inner_text("#custody")
    assert "环卫" in holders and "监督员" in holders
    shot(pg, "09-inspector-case-trail")


def test_a_supervisor_reports_from_patrol(page):
    pg = page
    login(pg, "sup_li")
    pg.click('nav a[data-nav="report"]')
    assert pg.eval_on_selector_all("#channel option", "os => os.map(o => o.value)") == ["patrol"]
    pg.select_option("#category", "E0501")
    pg.fill("#description", "巡查发现无照游商")
    pg.click("#report-submit")
    pg.wait_for_selector("#case-id")
    assert state_of(pg) == "pending_filing"


def test_a_refused_step_shows_the_rule(page, server):
    pg = page
    login(pg, "sup_zhang")
    pg.click('nav a[data-nav="report"]')
    pg.fill("#lat", "22.57")  # lat without lon
    pg.click("#report-submit")
    pg.wait_for_selector("#report-error")
    assert pg.get_attribute("#report-error", "data-field") == "lon"


def test_the_unit_inbox_holds_only_its_own_cases(page, server):
    pg = page
    login(pg, "cg_liu")
    pg.click('nav a[data-nav="inbox"]')
    hrefs = [a.get_attribute("href") for a in pg.query_selector_all("#unit-inbox a")]
    ids = [h.split("/")[-1] for h in hrefs if "/cases/" in h]  # not the pager's or export's
    for cid in ids:
        assert server.cg.service.get(cid).unit == "cgj"
    other = next((r[0] for r in server.cg.sql.query(
        "SELECT case_id FROM cg_cases WHERE unit = 'hw' LIMIT 1")), None)
    if other:
        resp = pg.goto(f"{pg.base}/cases/{other}")
        assert resp.status == 404
    shot(pg, "10-unit-cgj-inbox")


def test_the_duty_chief_reads_the_scoreboard_and_drills_down(page):
    pg = page
    login(pg, "chief_zhao")
    shot(pg, "11-duty-chief-queues")
    pg.click('nav a[data-nav="scoreboard"]')
    pg.wait_for_selector("#ranking tr[data-key]")
    wait_js(pg, "window.cgChart !== undefined")
    grades = [g.inner_text() for g in pg.query_selector_all("#ranking .grade")]
    assert grades and set(grades) <= set("ABCDE")
    shot(pg, "12-scoreboard")
    link = pg.query_selector("#ranking a.drill")
    link.click()
    pg.wait_for_selector("#explain")
    assert pg.inner_text("#explain-value")
    ids = pg.query_selector_all("#numerator a, #denominator a")
    assert ids
    shot(pg, "13-scoreboard-drilldown")
    ids[0].click()
    pg.wait_for_selector("#case-state")


def test_the_inspector_reads_the_trail_per_unit(page):
    pg = page
    login(pg, "insp_sun")
    pg.click('nav a[data-nav="trail"]')
    pg.wait_for_selector("#misses")
    assert int(pg.inner_text("#miss-count")) > 0
    shot(pg, "14-trail-overview")
    unit_link = pg.query_selector("#misses-by-holder a")
    unit_link.click()
    pg.wait_for_selector("#misses")
    assert re.search(r"unit=\w", pg.url)
    shot(pg, "15-trail-one-unit")


def test_the_map_draws_open_cases_without_tiles(page):
    pg = page
    login(pg, "chief_zhao")
    pg.click('nav a[data-nav="map"]')
    wait_js(pg, "window.cgMap !== undefined")
    assert int(pg.inner_text("#map-count")) > 0
    assert len(pg.query_selector_all("#map path.leaflet-interactive")) > 35  # cells + markers
    shot(pg, "16-map")


def test_english_switch(page):
    pg = page
    login(pg, "disp_chen")
    pg.click("#lang-switch")
    pg.wait_for_selector('nav a[data-nav="queues"]')
    assert pg.inner_text('nav a[data-nav="queues"]') == "Queues"
    shot(pg, "17-english-queues")
    pg.click("#lang-switch")
    assert pg.inner_text('nav a[data-nav="queues"]') == "工作台"


def test_wrong_password_is_refused(page):
    pg = page
    pg.context.clear_cookies()
    pg.goto(pg.base + "/login")
    pg.fill("#user", "acc_wang")
    pg.fill("#password", "nope")
    pg.click("#login-submit")
    pg.wait_for_selector("#login-error")
    pg.goto(pg.base + "/queues")
    assert "/login" in pg.url


def test_a_stale_form_is_refused_with_the_current_version(page, server):
    """Two people look at the same case; the second one's click comes too late (409)."""
    from workflows.commands import CaseAction, ReportCase

    svc = server.cg.service
    case = svc.report(ReportCase(channel="patrol", category="E0102", grid="44030301000102",
                                 actor="sup_zhang", description="两人同时处理"))
    pg = page
    login(pg, "acc_wang")
    pg.goto(f"{pg.base}/cases/{case.id}")
    assert pg.inner_text("#case-version") == "1"
    svc.act(CaseAction(case.id, "file", "chief_zhao"))  # the duty chief files it meanwhile
    pg.fill("#act-refuse input[name=reason]", "重复上报")
    pg.click("#act-refuse button[type=submit]")
    pg.click("#confirm-ok")
    pg.wait_for_selector("#action-error")
    assert "v2" in pg.inner_text("#action-error")
    assert pg.inner_text("#case-version") == "2" and state_of(pg) == "pending_dispatch"
    shot(pg, "18-stale-form-409")


def test_a_case_as_it_stood_at_an_earlier_event(page, server):
    from datetime import timedelta

    from workflows.commands import CaseAction, ReportCase

    svc = server.cg.service
    case = svc.report(ReportCase(channel="patrol", category="E0102", grid="44030301000103",
                                 actor="sup_li", description="回看"))
    first = svc.timeline(case.id)[0].timestamp
    svc.act(CaseAction(case.id, "file", "acc_wang", occurred_at=first + timedelta(seconds=2)))
    pg = page
    login(pg, "insp_sun")
    pg.goto(f"{pg.base}/cases/{case.id}")
    assert state_of(pg) == "pending_dispatch"
    pg.click('#timeline tr[data-event="Reported"] a')  # the case as it stood after its report
    pg.wait_for_selector("#as-of")
    assert state_of(pg) == "pending_filing"
    assert len(pg.query_selector_all("#timeline tr[data-event]")) == 1


def test_a_supervisor_files_a_nil_report_and_the_chief_reads_the_reports(page, server):
    pg = page
    login(pg, "sup_li")  # squad patrol-2
    pg.click('nav a[data-nav="reports"]')
    assert pg.eval_on_selector_all("#patrol-squad option", "os => os.map(o => o.value)") == ["patrol-2"]
    assert pg.is_checked("#patrol-nil")
    pg.click("#patrol-submit")
    pg.wait_for_selector("#done")
    assert "patrol-2" in pg.inner_text("#done")
    login(pg, "chief_zhao")
    pg.click('nav a[data-nav="reports"]')
    statuses = [r.get_attribute("data-status") for r in pg.query_selector_all("#patrol-days tr[data-status]")]
    # the day's report is on time or late depending on the hour the test runs
    assert statuses and set(statuses) <= {"reported", "nil", "late_reported", "late_nil", "missed", "open"}
    shot(pg, "19-patrol-days-and-reports")
    href = pg.get_attribute('a[data-report="daily-html"]', "href")
    resp = pg.goto(pg.base + href)
    assert resp.status == 200 and "日" in pg.title() + pg.inner_text("body")[:200]
    shot(pg, "20-daily-summary-html")


def test_login_and_case_pages_on_a_desk_and_a_phone(page, server):
    """The pages after the CSP change, at 1366x768 and 390x844: nothing blocked (the
    fixture fails on any CSP violation), the forms still work."""
    from tests.support import drive

    cid = str(drive(server.cg.service, "dispatched").id)
    pg = page
    for w, h in ((1366, 768), (390, 844)):
        pg.set_viewport_size({"width": w, "height": h})
        pg.context.clear_cookies()
        pg.goto(pg.base + "/login")
        assert pg.is_visible("#login-submit")
        shot(pg, f"21-login-{w}x{h}")
        login(pg, "chief_zhao")
        pg.goto(f"{pg.base}/cases/{cid}")
        pg.wait_for_selector("#act-urge")
        shot(pg, f"22-case-{w}x{h}")
    pg.fill("#act-urge input[name=reason]", "请尽快处置")
    submit(pg, "urge")
    assert "Urged" in [r.get_attribute("data-event")
                       for r in pg.query_selector_all("#timeline tr[data-event]")]
    pg.click("#logout")
    pg.wait_for_selector("#login-form")
    pg.goto(f"{pg.base}/cases/{cid}")
    assert "/login" in pg.url  # the session ended with the logout
    pg.set_viewport_size({"width": 1366, "height": 900})


def test_the_console_pages_load_without_csp_violations(page):
    """Every page with scripts (map, scoreboard chart, due-time colouring) under the policy."""
    pg = page
    login(pg, "chief_zhao")
    for nav in ("queues", "cases", "map", "scoreboard", "trail", "reports"):
        pg.click(f'nav a[data-nav="{nav}"]')
        pg.wait_for_load_state("load")
    pg.click('nav a[data-nav="scoreboard"]')
    wait_js(pg, "window.cgChart !== undefined")
    csp = pg.evaluate("fetch('/queues').then(r => r.headers.get('content-security-policy'))")
    assert "script-src 'self';" in csp
