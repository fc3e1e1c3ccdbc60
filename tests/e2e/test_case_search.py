"""Finding cases (案件查询): by readable number, text, category, unit, community, grid cell,
channel, state, dates and lateness; pages with totals; saved filters per user; the list as
XLSX — over HTTP on a 600-case demo, and by a person in Chromium at a desk and on a phone."""

from __future__ import annotations

import io
import re

import httpx
import openpyxl
import pytest

from adapters.bootstrap import bootstrap
from adapters.http.server import load_demo
from tests.e2e.browser_support import BROWSER, login, shot
from tests.e2e.http_support import LiveServer, console_login, form_token
from tests.e2e.http_support import login as api_login
from tests.support import city


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    cg = bootstrap(data_dir=tmp_path_factory.mktemp("search"), city=city())
    load_demo(cg, cases=600, echo=lambda *_: None)
    with LiveServer(cg) as s:
        yield s
    cg.close()


def total_of(html: str) -> int:
    return int(re.search(r'id="case-total">(\d+)<', html).group(1))


def numbers_in(html: str) -> list[str]:
    return re.findall(r'class="case-link">(\d{4}-\d{2}-\d{6})<', html)


def test_the_list_pages_with_totals_and_every_filter_narrows_it(server):
    with httpx.Client(base_url=server.url, follow_redirects=True) as c:
        console_login(c, "chief_zhao")
        first = c.get("/cases")
        assert total_of(first.text) == 600 and len(numbers_in(first.text)) == 50
        assert "第 1 / 12 页" in first.text
        seen = set()
        for p in range(1, 13):
            seen |= set(numbers_in(c.get(f"/cases?page={p}").text))
        assert len(seen) == 600  # every case on exactly one page
        last = c.get("/cases?page=12&size=50").text
        assert 'id="page-next"' not in last and 'id="page-prev"' in last
        number = numbers_in(first.text)[7]
        found = c.get(f"/cases?q={number}")
        assert total_of(found.text) == 1 and numbers_in(found.text) == [number]
        api = api_login(c, "chief_zhao")
        j = c.get("/api/cases?limit=600", headers=api).json()
        assert j["total"] == 600
        one = j["cases"][0]
        for f, v in (("state", one["state"]), ("category", one["category"]),
                     ("unit", one["unit"]), ("grid", one["grid"]), ("channel", one["channel"])):
            if not v:
                continue
            n = total_of(c.get(f"/cases?{f}={v}").text)
            assert 0 < n == sum(1 for r in j["cases"] if r[f] == v), f
        day = one["reported_at"][:10]
        n = total_of(c.get(f"/cases?from={day}&to={day}").text)
        assert n >= 1
        late = total_of(c.get("/cases?late=1").text)
        on_time = total_of(c.get("/cases?late=0").text)
        assert late > 0 and on_time > 0 and late + on_time == 600


def test_a_unit_member_lists_only_its_unit_and_bad_filters_name_the_field(server):
    with httpx.Client(base_url=server.url, follow_redirects=True) as c:
        console_login(c, "hw_luo")
        mine = c.get("/cases?unit=cgj")  # another unit in the query: still their own
        api = api_login(c, "hw_luo")
        j = c.get("/api/cases?limit=5000", headers=api).json()
        assert total_of(mine.text) == j["total"] and all(r["unit"] == "hw" for r in j["cases"])
        for bad, field in (("page=0", "page"), ("size=5000", "size"), ("state=nope", "state"),
                           ("from=0001-01-01", "from"), ("q=" + "x" * 101, "q"), ("q=%00", "q"),
                           ("late=2", "late"), ("from=2026-11-10&to=2026-11-01", "to"),
                           ("category=%ff", "category"), ("sort=drop", "sort")):
            r = c.get(f"/cases?{bad}")
            assert r.status_code == 422 and field in r.text, bad
            as_api = bad.replace("page=0", "offset=-1").replace("size=5000", "limit=9000")
            assert c.get(f"/api/cases?{as_api}", headers=api).status_code == 422, bad


def test_saved_filters_and_the_export(server):
    with httpx.Client(base_url=server.url, follow_redirects=True) as c:
        console_login(c, "disp_chen")
        page = c.get("/cases?state=dispatched&late=1")
        token = form_token(page.text)
        origin = {"Origin": server.url}
        r = c.post("/cases/filters", data={"csrf_token": token, "name": "超时处置中",
                                           "query": "state=dispatched&late=1"}, headers=origin)
        assert r.status_code == 200 and "超时处置中" in r.text
        assert c.post("/cases/filters", data={"csrf_token": token, "name": "bad",
                                              "query": "state=nope"},
                      headers=origin).status_code == 422
        assert c.post("/cases/filters", data={"csrf_token": token, "name": "",
                                              "query": "state=closed"},
                      headers=origin).status_code == 422
        console_login(c, "chief_zhao")  # another user does not see it
        assert "超时处置中" not in c.get("/cases").text
        x = c.get("/cases/export.xlsx?state=dispatched&late=1")
        assert x.status_code == 200 and x.content[:2] == b"PK"
        ws = openpyxl.load_workbook(io.BytesIO(x.content)).active
        rows = list(ws.iter_rows(values_only=True))
        assert rows[1][0] == "案件" and len(rows) - 2 == total_of(page.text)
        assert all(r[1] == "处置中" and r[9] == "是" for r in rows[2:])


@BROWSER
@pytest.mark.parametrize("size", [(1440, 900), (390, 844)], ids=["desk", "phone"])
def test_a_person_finds_a_case_by_its_number_and_pages_the_list(browser, server, size):
    pg = browser.new_page()
    pg.set_viewport_size({"width": size[0], "height": size[1]})
    pg.base = server.url
    pg.set_default_timeout(15_000)
    login(pg, "acc_wang")
    pg.goto(server.url + "/cases")
    assert pg.inner_text("#case-total") == "600"
    tag = f"{size[0]}"
    shot(pg, f"cases-list-{tag}")
    assert pg.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    pg.click("#page-next")
    pg.wait_for_selector("text=第 2 / 12 页")
    number = pg.inner_text("#case-list tr:nth-child(3) .case-link")
    pg.fill("#q", number)
    pg.click("#search-submit")
    pg.wait_for_selector("#case-total")
    assert pg.inner_text("#case-total") == "1"
    pg.click("#case-list .case-link")
    pg.wait_for_selector("#case-state")
    assert number in pg.inner_text("h1")
    shot(pg, f"cases-found-{tag}")
    pg.close()


def test_the_trail_and_the_inbox_page_and_export_every_row(server):
    with httpx.Client(base_url=server.url, follow_redirects=True) as c:
        console_login(c, "insp_sun")
        first = c.get("/trail")
        total = int(re.search(r'id="miss-count">(\d+)<', first.text).group(1))
        assert total > 50 and first.text.count('href="/trail/cases/') == 50
        pages = -(-total // 50)
        last = c.get(f"/trail?page={pages}").text
        assert last.count('href="/trail/cases/') == total - 50 * (pages - 1)
        assert c.get("/trail?page=0").status_code == 422
        assert c.get("/trail?format=pdf").status_code == 422
        x = c.get("/trail?format=xlsx")
        rows = list(openpyxl.load_workbook(io.BytesIO(x.content)).active.iter_rows(values_only=True))
        assert len(rows) - 2 == total and rows[1][0] == "案件"
        console_login(c, "hw_luo")
        inbox = c.get("/inbox").text
        x = c.get("/inbox?format=xlsx")
        rows = list(openpyxl.load_workbook(io.BytesIO(x.content)).active.iter_rows(values_only=True))
        assert len(rows) - 2 == len(re.findall(r'<tr data-case=', inbox))
        console_login(c, "chief_zhao")
        now = total_of(c.get("/cases?late=now").text)
        ever = total_of(c.get("/cases?late=1").text)
        assert 0 < now <= ever
