"""The console's case page, trail and scoreboard as a monitoring center reads them all day,
in a real browser (headless Chromium): the main step first, destructive steps confirmed
and never sent without a reason, feedback naming what changed, one language at a time
(no lifecycle codes on Chinese pages, English headers in English), a missed step never
marked ✓, layouts that hold at 1440×900 and 390×844, and a favicon.

Screenshots go to artifacts/screenshots/h3-*.png.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from adapters.bootstrap import bootstrap
from adapters.http.server import load_demo
from domain.glossary import EVENT, ROLE, STEP
from domain.lifecycle import CHANNELS, STATES, TRIGGERS
from tests.e2e.browser_support import BROWSER, login, shot, wait_js
from tests.e2e.http_support import LiveServer
from tests.support import MEMBER, act, city, drive, report

pytestmark = BROWSER

DESK, PHONE = (1440, 900), (390, 844)
CODES = sorted({*STATES, *TRIGGERS, *STEP, *CHANNELS, *EVENT, *ROLE, "request_extension",
                "decide_extension", "request_shelve", "decide_shelve", "sup_zhang", "acc_wang",
                "disp_chen", "hw_luo", "chief_zhao"}, key=len, reverse=True)
CODE = re.compile(r"(?<![A-Za-z_\-/.])(" + "|".join(map(re.escape, CODES)) + r")(?![A-Za-z_\-])")
CJK = re.compile(r"[\u3400-\u9fff]")
# the page's visible text without the evidence links (their URLs are the reporter's words)
VISIBLE = """() => { const b = document.body.cloneNode(true);
  b.querySelectorAll('#evidence, .evidence, script, dialog:not([open])').forEach(e => e.remove());
  return b.innerText; }"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    cg = bootstrap(data_dir=tmp_path_factory.mktemp("console-pages"), city=city())
    load_demo(cg, cases=120, echo=lambda *_: None)
    with LiveServer(cg) as s:
        yield s
    cg.close()


@pytest.fixture(scope="module")
def missed(server):
    """A case whose resolution was missed, then extended (a due time after the miss), then
    resolved before the new due time, checked and closed: late, whatever the new due says."""
    svc = server.cg.service
    case = drive(svc, "dispatched")
    due = case.due_at
    svc.tick(due + timedelta(minutes=10), [case.id])
    at = due + timedelta(minutes=20)
    case = act(svc, case, "request_extension", MEMBER, at, extra="1d", reason="需协调车辆")
    case = act(svc, case, "decide_extension", "chief_zhao", at + timedelta(minutes=5), approved=True)
    assert case.due_at > at + timedelta(minutes=30)
    case = act(svc, case, "resolve", MEMBER, at + timedelta(minutes=30))
    case = act(svc, case, "check", "sup_zhang", at + timedelta(minutes=40), passed=True)
    case = act(svc, case, "close", "acc_wang", at + timedelta(minutes=50))
    return str(case.id)


def visible(pg) -> str:
    return pg.evaluate(VISIBLE)


def fits(pg) -> bool:
    return pg.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def english(pg) -> None:
    pg.context.add_cookies([{"name": "cg_lang", "value": "en", "url": pg.base}])


def chinese(pg) -> None:
    pg.context.add_cookies([{"name": "cg_lang", "value": "zh", "url": pg.base}])


def both_sizes(pg, url: str, name: str, ready: str) -> None:
    """The page at a desk and on a phone: a screenshot of each, no horizontal overflow."""
    for w, h in (DESK, PHONE):
        pg.set_viewport_size({"width": w, "height": h})
        pg.goto(pg.base + url)
        pg.wait_for_selector(ready)
        shot(pg, f"h3-{name}-{w}x{h}")
        assert fits(pg), f"{url} overflows at {w}x{h}"
        if w == PHONE[0]:  # the menu and the logout stay reachable on a phone
            assert pg.is_visible('nav a[data-nav="scoreboard"]') and pg.is_visible("#logout")
    pg.set_viewport_size({"width": DESK[0], "height": DESK[1]})


# ---------------------------------------------------------------- steps a person can trust


def test_the_main_step_comes_first_and_refusing_needs_a_reason_and_a_confirmation(page, server):
    svc = server.cg.service
    case = report(svc, "patrol", description="路边垃圾")  # pending_filing
    pg = page
    login(pg, "acc_wang")
    pg.goto(f"{pg.base}/cases/{case.id}")
    forms = [f.get_attribute("id") for f in pg.query_selector_all("form.act")]
    assert forms[0] == "act-file" and forms[-1] == "act-refuse"
    assert "primary" in pg.get_attribute("#act-file button[type=submit]", "class")
    assert "danger" in pg.get_attribute("#act-refuse button[type=submit]", "class")
    # no reason: not sent, the field says why, no dialog
    pg.click("#act-refuse button[type=submit]")
    assert pg.is_visible("#act-refuse .field-error[data-field=reason]")
    assert not pg.is_visible("#confirm-dialog")
    assert svc.get(case.id).state == "pending_filing"
    # a reason, then cancel in the dialog: still nothing recorded
    pg.fill("#act-refuse input[name=reason]", "重复上报")
    pg.click("#act-refuse button[type=submit]")
    assert pg.is_visible("#confirm-dialog")
    assert "不予立案" in pg.inner_text("#confirm-text")
    assert pg.inner_text("#confirm-reason") == "重复上报"
    shot(pg, "h3-confirm-dialog")
    pg.click("#confirm-cancel")
    assert not pg.is_visible("#confirm-dialog")
    assert svc.get(case.id).state == "pending_filing"
    # confirmed: done, and the banner names the new state
    pg.click("#act-refuse button[type=submit]")
    pg.click("#confirm-ok")
    pg.wait_for_selector("#done")
    assert svc.get(case.id).state == "voided"
    assert "已作废" in pg.inner_text("#done")


def test_a_failed_check_is_destructive_and_needs_a_reason(page, server):
    case = drive(server.cg.service, "pending_check")
    pg = page
    login(pg, "sup_zhang")
    pg.goto(f"{pg.base}/cases/{case.id}")
    assert pg.query_selector("form.act").get_attribute("id") == "act-check"
    pg.check('#act-check input[name=passed][value="0"]')
    assert "danger" in pg.get_attribute("#act-check button[type=submit]", "class")
    pg.click("#act-check button[type=submit]")
    assert pg.is_visible("#act-check .field-error[data-field=reason]")
    assert server.cg.service.get(case.id).state == "pending_check"
    pg.fill("#act-check input[name=reason]", "未清理干净")
    pg.click("#act-check button[type=submit]")
    pg.click("#confirm-ok")
    pg.wait_for_selector("#done")
    assert server.cg.service.get(case.id).state == "dispatched"
    assert "处置中" in pg.inner_text("#done")


def test_a_reason_sent_empty_is_refused_by_field(page, server):
    """Without the page's script (a form posted as is), the server refuses by field."""
    case = drive(server.cg.service, "dispatched")
    pg = page
    login(pg, "hw_luo")
    pg.goto(f"{pg.base}/cases/{case.id}")
    pg.evaluate("document.querySelector('#act-return').noValidate = true;"
                "document.querySelector('#act-return').setAttribute('data-kind', 'normal');"
                "document.querySelector('#act-return').setAttribute('data-reason', '');"
                "document.querySelector('#act-return').submit()")
    pg.wait_for_selector("#action-error")
    assert pg.get_attribute("#action-error", "data-field") == "reason"
    assert "理由" in pg.inner_text("#action-error")
    assert server.cg.service.get(case.id).state == "dispatched"


def test_the_feedback_names_the_state_the_holder_and_the_due_time(page, server):
    case = drive(server.cg.service, "pending_dispatch")
    pg = page
    login(pg, "disp_chen")
    pg.goto(f"{pg.base}/cases/{case.id}")
    pg.click("#act-dispatch button[type=submit]")
    pg.wait_for_selector("#done")
    text = pg.inner_text("#done")
    assert text.startswith("已派遣至") and "环境卫生" in text
    assert "处置中" in text and "处置时限" in text
    assert re.search(r"\d\d-\d\d \d\d:\d\d", text)
    english(pg)
    pg.reload()
    assert pg.inner_text("#done").startswith("Dispatched to")
    assert "With the unit" in pg.inner_text("#done") and "due" in pg.inner_text("#done")
    chinese(pg)


# ---------------------------------------------------------------- one language at a time


def test_chinese_case_page_and_trail_show_no_codes(page, server, missed):
    pg = page
    login(pg, "chief_zhao")
    chinese(pg)
    for url, ready in ((f"/cases/{missed}", "#timeline"), (f"/trail/cases/{missed}", "#custody"),
                       ("/trail", "#misses")):
        pg.goto(pg.base + url)
        pg.wait_for_selector(ready)
        found = sorted(set(CODE.findall(visible(pg))))
        assert not found, f"{url} shows codes: {found}"


def test_english_pages_read_english(page, server, missed):
    pg = page
    login(pg, "chief_zhao")
    english(pg)
    pg.goto(pg.base + "/scoreboard")
    pg.wait_for_selector("#ranking tr[data-key]")
    heads = [th.inner_text() for th in pg.query_selector_all("#ranking th")]
    assert "On-time resolution" in heads
    assert not [h for h in heads if CJK.search(h)], heads
    pg.goto(f"{pg.base}/cases/{missed}")
    pg.wait_for_selector("#timeline")
    for sel in ("#timeline tr:first-child", "#case-state", "#actions h2"):
        assert not CJK.search(pg.inner_text(sel)), pg.inner_text(sel)
    events = [td.inner_text() for td in pg.query_selector_all("#timeline tr[data-event] td:nth-child(3)")]
    assert not [e for e in events if CJK.search(e)], events
    chinese(pg)


# ---------------------------------------------------------------- timeline and trail


def test_a_missed_step_never_shows_a_tick(page, server, missed):
    pg = page
    login(pg, "insp_sun")
    pg.goto(f"{pg.base}/cases/{missed}")
    resolved = pg.query_selector('#timeline tr[data-event="Resolved"] span[data-late]')
    assert resolved.get_attribute("data-late") == "1" and "✓" not in resolved.inner_text()
    api = pg.request.get(f"{pg.base}/api/cases/{missed}").json()  # the API reads the same
    assert [e["late"] for e in api["timeline"] if e["type"] == "Resolved"] == [True]
    pg.goto(f"{pg.base}/trail/cases/{missed}")
    rows = pg.query_selector_all("#custody tr[data-current]")
    unit_span = [r for r in rows if "环境卫生" in r.inner_text() or "环卫" in r.inner_text()]
    assert unit_span and all("✓" not in r.inner_text() for r in unit_span)
    # only the span still open is the current one
    assert len([r for r in rows if r.get_attribute("data-current") == "1"]) <= 1
    assert "当前责任主体" not in pg.inner_text("#custody tr:first-child")


# ---------------------------------------------------------------- layouts that hold


def test_the_grid_scoreboard_fits_a_desk(page, server):
    pg = page
    login(pg, "chief_zhao")
    pg.set_viewport_size({"width": DESK[0], "height": DESK[1]})
    pg.goto(pg.base + "/scoreboard?by=grid")
    pg.wait_for_selector("#ranking tr[data-key]")
    wait_js(pg, "window.cgChart !== undefined")
    assert fits(pg)
    width, em = pg.evaluate("""() => { const td = document.querySelector('#ranking td.c-name');
        return [td.getBoundingClientRect().width, parseFloat(getComputedStyle(td).fontSize)]; }""")
    assert width > 4 * em
    # a few lines at a time: five drawn, the reader ticks another
    assert pg.evaluate("cgChart.data.datasets.filter((d, i) => cgChart.isDatasetVisible(i)).length") == 5
    if not pg.is_visible("#chart-lines"):  # many lines: the chooser starts folded
        pg.click("#chart-lines-box summary")
    boxes = pg.query_selector_all("#chart-lines input[data-key]")
    unticked = next(b for b in boxes if not b.is_checked())
    unticked.check()
    assert pg.evaluate("cgChart.data.datasets.filter((d, i) => cgChart.isDatasetVisible(i)).length") == 6
    assert pg.inner_text("#lines-n") == "6"
    # the current week is not over: marked partial
    assert pg.is_visible("#partial-note")
    assert "未完" in pg.evaluate("cgChart.data.labels[cgChart.data.labels.length - 1]")


def test_the_pages_hold_on_a_desk_and_a_phone(page, server, missed):
    pg = page
    login(pg, "chief_zhao")
    chinese(pg)
    both_sizes(pg, f"/cases/{missed}", "case-zh", "#timeline")
    both_sizes(pg, "/trail", "trail", "#misses")
    both_sizes(pg, f"/trail/cases/{missed}", "trail-case", "#custody")
    both_sizes(pg, "/scoreboard", "scoreboard-unit", "#ranking tr[data-key]")
    both_sizes(pg, "/scoreboard?by=grid", "scoreboard-grid", "#ranking tr[data-key]")
    both_sizes(pg, "/scoreboard/explain?by=unit&key=hw&indicator=on_time_resolution_rate",
               "drilldown", "#explain")
    both_sizes(pg, "/queues", "queues", "#overdue-by-unit")
    english(pg)
    both_sizes(pg, f"/cases/{missed}", "case-en", "#timeline")
    both_sizes(pg, "/scoreboard", "scoreboard-en", "#ranking tr[data-key]")
    chinese(pg)
    login(pg, "hw_luo")
    both_sizes(pg, "/inbox", "inbox", "#unit-inbox")


def test_drill_down_rows_show_the_case(page, server):
    pg = page
    login(pg, "chief_zhao")
    pg.goto(pg.base + "/scoreboard/explain?by=unit&key=hw&indicator=on_time_resolution_rate")
    row = pg.query_selector("#denominator tr[data-case]")
    cells = [td.inner_text().strip() for td in row.query_selector_all("td")]
    assert re.fullmatch(r"\d{4}-\d{2}-\d{6}|[0-9a-f]{8}", cells[0])  # the case's number
    assert CJK.search(cells[1]) and CJK.search(cells[2])  # category and place by name
    assert re.match(r"\d\d-\d\d \d\d:\d\d", cells[3])  # reported
    assert cells[6] in ("未超时",) or cells[6].startswith("✗ 超时")


def test_bad_drill_down_keys_are_refused_by_name(page, server):
    pg = page
    login(pg, "chief_zhao")
    resp = pg.goto(pg.base + "/scoreboard/explain?by=unit&indicator=resolution_rate&key=" + "x" * 200)
    assert resp.status == 422 and "key" in pg.inner_text("body")


def test_the_favicon_is_served(page, server):
    pg = page
    pg.goto(pg.base + "/login")
    resp = pg.request.get(pg.base + "/favicon.ico")
    assert resp.status == 200 and resp.headers["content-type"].startswith("image/")
    assert pg.get_attribute('link[rel="icon"][type="image/svg+xml"]', "href") == "/static/favicon.svg"
