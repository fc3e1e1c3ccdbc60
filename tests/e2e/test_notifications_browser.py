"""Notifications (通知) in a real browser: a unit member's list in the console and in 城管通,
mark-as-read by clicking, one language at a time, no overflow at 1440 and 390 px wide.
Screenshots: artifacts/screenshots/notices-*.png."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from adapters.bootstrap import bootstrap
from adapters.http.server import load_demo
from tests.e2e.browser_support import BROWSER, login, shot
from tests.e2e.http_support import LiveServer
from tests.support import T0, act, city, drive

pytestmark = BROWSER
SIZES = {"desk": (1440, 900), "phone": (390, 844)}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    cg = bootstrap(data_dir=tmp_path_factory.mktemp("notices"), city=city())
    load_demo(cg, cases=30, echo=lambda *_: None)
    case = drive(cg.service, "dispatched")
    act(cg.service, case, "urge", "chief_zhao", T0 + timedelta(minutes=5), reason="尽快处置")
    with LiveServer(cg) as s:
        s.case = case
        s.app.state.notifier.ensure()  # the server's thread may not have begun
        deadline = time.monotonic() + 20
        while not cg.sql.query("SELECT 1 FROM cg_notifications WHERE case_id = ?",
                               (str(case.id),)):
            assert time.monotonic() < deadline, "the server's notifier made nothing"
            time.sleep(0.2)
        yield s
    cg.close()


def fits(pg) -> None:
    w = pg.evaluate("[document.documentElement.scrollWidth, innerWidth]")
    assert w[0] <= w[1], f"{pg.url} overflows: {w[0]} px wide in a {w[1]} px window"


def unread(pg) -> int:
    return len(pg.query_selector_all("li.notice.unread"))


def test_a_unit_reads_and_marks_its_notifications(page, server):
    pg = page
    login(pg, "hw_luo")
    pg.click('nav a[data-nav="notifications"]')
    pg.wait_for_selector("#notices")
    assert pg.query_selector(f'li.notice a[href="/cases/{server.case.id}"]')
    assert "督办" in pg.inner_text("#notices")
    for size, (w, h) in SIZES.items():
        pg.set_viewport_size({"width": w, "height": h})
        fits(pg)
        shot(pg, f"notices-console-{size}")
    before = unread(pg)
    assert before >= 2
    assert pg.inner_text("#notice-badge") == str(before)  # the menu's unread count
    pg.click("li.notice.unread button.mark-read")
    pg.wait_for_selector("#notices")
    assert unread(pg) == before - 1
    pg.goto(pg.base + "/lang/en?next=/notifications")
    pg.wait_for_selector("#notices")
    text = pg.inner_text("main")
    assert "Notifications" in text and "通知" not in text and "督办" not in text
    assert "dispatched-unit" not in text and "urged-unit" not in text  # no rule ids shown
    shot(pg, "notices-console-en")
    pg.goto(pg.base + "/lang/zh?next=/notifications")
    pg.click("#mark-all")
    pg.wait_for_selector("#notices")
    assert unread(pg) == 0 and pg.query_selector("#notice-badge") is None
    pg.set_viewport_size({"width": 1366, "height": 900})


def test_the_duty_chief_reads_the_desks_notices_not_a_units(page, server):
    pg = page
    login(pg, "chief_zhao")
    pg.goto(pg.base + "/notifications")
    pg.wait_for_selector("#notices")
    assert pg.query_selector(f'li.notice a[href="/cases/{server.case.id}"]') is None
    fits(pg)
    shot(pg, "notices-console-chief")


def test_the_field_app_shows_the_same_list(page, server):
    pg = page
    act(server.cg.service, server.case, "urge", "chief_zhao", T0 + timedelta(minutes=9),
        reason="再次督办")
    pg.set_viewport_size({"width": 390, "height": 844})
    login(pg, "hw_luo")
    deadline = time.monotonic() + 10
    while True:
        pg.goto(pg.base + "/m/notifications")
        pg.wait_for_selector("#notices")
        if unread(pg) or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert unread(pg) == 1
    assert pg.query_selector('nav.tabs a[data-tab="m_tab_notices"]')
    fits(pg)
    shot(pg, "notices-field-phone")
    pg.click("li.notice.unread button.mark-read")
    pg.wait_for_selector("#notices")
    assert unread(pg) == 0 and pg.url.endswith("/m/notifications")
    pg.set_viewport_size({"width": 1440, "height": 900})
    fits(pg)
    shot(pg, "notices-field-desk")
    pg.set_viewport_size({"width": 1366, "height": 900})


def test_five_tabs_fit_a_phone_in_either_language(page, server):
    """A squad's supervisor has the most tabs (home, report, check, patrol, notices)."""
    pg = page
    pg.set_viewport_size({"width": 390, "height": 844})
    login(pg, "sup_li")
    for lang in ("en", "zh"):
        pg.goto(pg.base + f"/lang/{lang}?next=/m/notifications")
        pg.wait_for_selector("#notices, #notices-empty")
        assert len(pg.query_selector_all("nav.tabs a")) == 5
        fits(pg)
        box = pg.query_selector('nav.tabs a[data-tab="m_tab_notices"]').bounding_box()
        assert box["x"] + box["width"] <= 390
        shot(pg, f"notices-field-supervisor-{lang}")
    pg.set_viewport_size({"width": 1366, "height": 900})
