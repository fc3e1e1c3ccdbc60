"""Every console and field-app page, as each kind of user sees it, at an office PC
(1440×900) and a phone (390×844): in one language at a time, with nothing running off the
right edge. Screenshots go to artifacts/screenshots/layout-*.png."""

from __future__ import annotations

import re

import pytest

from adapters.bootstrap import bootstrap
from adapters.http.server import load_demo
from domain.lifecycle import CHANNELS, STATES, TRIGGERS
from tests.e2e.browser_support import BROWSER, login, shot
from tests.e2e.http_support import LiveServer
from tests.support import city

pytestmark = BROWSER

SIZES = {"desk": (1440, 900), "phone": (390, 844)}
# pages per user; {case} is a case the user may read
PAGES = {
    "acc_wang": ["/queues", "/report", "/cases", "/cases/{case}", "/map", "/scoreboard",
                 "/scoreboard?by=grid", "/trail", "/trail/cases/{case}", "/reports"],
    "hw_luo": ["/inbox", "/cases", "/cases/{case}", "/m/", "/m/inbox"],
    "sup_zhang": ["/m/", "/m/report", "/m/patrol", "/m/check"],
    "chief_zhao": ["/scoreboard?by=unit", "/scoreboard?by=community", "/reports"],
}
# codes that must not show on a Chinese page (words a person would read as English)
CODES = sorted({*STATES, *TRIGGERS, *CHANNELS} - {"unit"}, key=len, reverse=True)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    cg = bootstrap(data_dir=tmp_path_factory.mktemp("layout"), city=city())
    load_demo(cg, cases=200, echo=lambda *_: None)
    cg.projections.catch_up()
    rows = cg.sql.query("SELECT case_id FROM cg_cases WHERE unit = 'hw' AND state = 'dispatched'"
                        " ORDER BY reported_at DESC LIMIT 1")
    with LiveServer(cg) as s:
        s.case = rows[0][0]
        yield s
    cg.close()


def visible_codes(text: str) -> list[str]:
    words = set(re.findall(r"[a-z_]{3,}", re.sub(r"https?://\S+", "", text)))
    return [c for c in CODES if c in words]


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("user", list(PAGES))
def test_no_page_overflows_and_chinese_pages_show_no_codes(browser, server, user, size):
    pg = browser.new_page()
    pg.set_default_timeout(15_000)
    pg.base = server.url
    pg.set_viewport_size(dict(zip(("width", "height"), SIZES[size], strict=True)))
    login(pg, user)
    problems = []
    for path in PAGES[user]:
        url = server.url + path.format(case=server.case)
        resp = pg.goto(url)
        assert resp is not None and resp.status == 200, (path, resp and resp.status)
        pg.wait_for_load_state("networkidle")
        over = pg.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        if over > 1:
            problems.append(f"{path}: {over}px wider than the {size} screen")
        text = pg.inner_text("body")
        codes = visible_codes(text)
        if codes:
            problems.append(f"{path}: internal codes on a Chinese page: {codes}")
        name = re.sub(r"[^a-z0-9]+", "-", path.format(case="case").strip("/")) or "home"
        shot(pg, f"layout-{size}-{user}-{name}")
    pg.close()
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("user", ["chief_zhao", "sup_zhang", "hw_luo"])
def test_the_english_header_fits_a_1366_desk(browser, server, user):
    """English words are longer: the menu wraps rather than cutting off the name and Log out."""
    pg = browser.new_page()
    pg.set_default_timeout(15_000)
    pg.base = server.url
    pg.set_viewport_size({"width": 1366, "height": 768})
    login(pg, user)
    pg.goto(server.url + "/lang/en")
    pg.goto(server.url + "/cases")
    right = pg.evaluate("Math.max(...[...document.querySelectorAll('header a, header button')]"
                        ".map(e => e.getBoundingClientRect().right))")
    assert right <= 1366 and pg.evaluate("document.documentElement.scrollWidth <= innerWidth")
    assert pg.is_visible("text=Log out")
    pg.goto(server.url + "/lang/zh")
    pg.close()
