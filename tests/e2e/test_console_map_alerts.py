"""The map, the report form's location picker, live alerts and the reports page in a real
browser (headless Chromium): the map draws the grid cells and clustered points coloured
by state with no tile request (no tiles configured); a click on the report form's map
fills lat/lon and selects the cell; a unit member's open page shows a toast when another
session dispatches a case to their unit, and the sound switch is remembered; the reports
page picks a past day, week and month. Screenshots at 1440×900 and 390×844 in
artifacts/screenshots/map-*.png, report-map-*.png, alerts-*.png, reports-*.png and the
bulletin's rewards-and-penalties page as bulletin-ledger.png."""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import date, timedelta

import httpx
import pytest

from adapters.bootstrap import bootstrap
from adapters.http.server import load_demo
from tests.e2e.browser_support import BROWSER, SHOTS, login, shot, wait_js
from tests.e2e.http_support import CATEGORY, GRID, LiveServer
from tests.e2e.http_support import login as api_login
from tests.support import city

pytestmark = BROWSER
SIZES = {"desktop": (1440, 900), "phone": (390, 844)}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    cg = bootstrap(data_dir=tmp_path_factory.mktemp("console-map"), city=city())
    load_demo(cg, cases=150, echo=lambda *_: None)
    with LiveServer(cg) as s:
        s.app.state.alerts_every = 0.4  # seconds between reads of the store, per stream
        s.app.state.alerts_lifetime = 30
        yield s
    cg.close()


@pytest.fixture(scope="module")
def api(server):
    with httpx.Client(base_url=server.url, timeout=30) as c:
        yield c


def sized(pg, size: str) -> None:
    w, h = SIZES[size]
    pg.set_viewport_size({"width": w, "height": h})


def no_overflow(pg) -> None:
    width = pg.evaluate("document.documentElement.scrollWidth")
    assert width <= pg.viewport_size["width"], f"{width}px wide at {pg.viewport_size}"


def today(server) -> date:
    cg = server.cg
    return cg.service.clock().astimezone(cg.city.tz).date()


# ---------------------------------------------------------------- the map


@pytest.mark.parametrize("size", SIZES)
def test_the_map_draws_cells_and_clustered_points_without_tiles(server, page, size):
    pg = page
    asked: list[str] = []
    pg.on("request", lambda r: asked.append(r.url))
    sized(pg, size)
    login(pg, "chief_zhao")
    pg.goto(pg.base + "/map")
    wait_js(pg, "window.cgMap !== undefined")
    n = int(pg.inner_text("#map-count"))
    assert n >= 5
    assert pg.locator(".leaflet-tile").count() == 0
    assert not [u for u in asked if u.endswith(".png") and "/static/" not in u]
    assert pg.locator("path.cell-poly").count() == len(server.cg.city.cells)
    legend = pg.locator("#map-legend li[data-state]")
    assert legend.count() >= 2
    assert all("_" not in t for t in legend.all_inner_texts())  # labels, not state codes
    no_overflow(pg)
    shot(pg, f"map-{size}")
    # zoomed out, the points gather into clusters that add up to every case
    pg.evaluate("window.cgStart = [window.cgMap.getCenter(), window.cgMap.getZoom()]")
    pg.evaluate("window.cgMap.setZoom(window.cgMap.getZoom() - 4, {animate: false})")
    wait_js(pg, "document.querySelectorAll('.case-cluster').length > 0")
    clusters = int(pg.get_attribute("#map", "data-drawn-clusters"))
    points = int(pg.get_attribute("#map", "data-drawn-points"))
    assert clusters >= 1 and clusters + points < n
    first = pg.locator(".case-cluster").first
    assert "st-" in first.get_attribute("class")
    total = sum(int(t) for t in pg.locator(".case-cluster span").all_inner_texts()) + points
    assert total == n  # every case is in a cluster or drawn alone
    shot(pg, f"map-clusters-{size}")
    zoom = pg.evaluate("window.cgMap.getZoom()")
    first.click()
    wait_js(pg, f"window.cgMap.getZoom() > {zoom}")
    pg.wait_for_timeout(500)  # the zoom animation ends
    pg.evaluate("window.cgMap.setView(window.cgStart[0], window.cgStart[1], {animate: false})")
    wait_js(pg, "document.querySelectorAll('path.case-point').length > 0")
    pg.wait_for_timeout(300)
    frame = pg.locator("#map").bounding_box()
    inside = [b for b in (p.bounding_box() for p in pg.locator("path.case-point").all())
              if b and frame["x"] + 60 < b["x"] < frame["x"] + frame["width"] - 20
              and frame["y"] + 20 < b["y"] < frame["y"] + frame["height"] - 20]
    assert inside, "no point drawn inside the map after zooming in"
    pg.mouse.click(inside[0]["x"] + inside[0]["width"] / 2, inside[0]["y"] + inside[0]["height"] / 2)
    pg.wait_for_selector(".leaflet-popup-content a[href^='/cases/']")
    pg.wait_for_timeout(600)  # the map pans to show the popup
    shot(pg, f"map-popup-{size}")


# ---------------------------------------------------------------- the report form's map


@pytest.mark.parametrize("size", SIZES)
def test_a_click_on_the_report_forms_map_fills_lat_lon_and_the_cell(server, page, size):
    pg = page
    sized(pg, size)
    login(pg, "sup_zhang")
    pg.click('nav a[data-nav="report"]')
    wait_js(pg, "window.cgPickMap !== undefined")
    cells = [c for c in pg.evaluate("fetch('/api/geo/layers').then(r => r.json())")["cells"]]
    target = cells[7]
    lat = sum(p[0] for p in target["poly"]) / len(target["poly"])
    lon = sum(p[1] for p in target["poly"]) / len(target["poly"])
    assert pg.input_value("#grid") != target["code"]
    pg.locator("#pick-map").scroll_into_view_if_needed()
    xy = pg.evaluate(f"(() => {{ const p = window.cgPickMap.latLngToContainerPoint([{lat}, {lon}]);"
                     " return [p.x, p.y]; })()")
    box = pg.locator("#pick-map").bounding_box()
    pg.mouse.click(box["x"] + xy[0], box["y"] + xy[1])
    wait_js(pg, f"document.getElementById('pick-result').getAttribute('data-grid') === '{target['code']}'")
    assert pg.input_value("#grid") == target["code"]
    assert abs(float(pg.input_value("#lat")) - lat) < 0.002
    assert abs(float(pg.input_value("#lon")) - lon) < 0.002
    assert target["community"] in pg.inner_text("#pick-result")
    wait_js(pg, "document.querySelectorAll('path.cell-poly[stroke=\"#0969da\"]').length === 1")
    no_overflow(pg)
    shot(pg, f"report-map-{size}")


def test_the_cell_api_refuses_absurd_points_by_name(api):
    h = api_login(api, "sup_zhang")
    ok = api.get("/api/geo/cell", params={"lat": "22.5712", "lon": "114.1133"}, headers=h)
    assert ok.status_code == 200 and ok.json()["grid"]
    assert api.get("/api/geo/cell", params={"lat": "0", "lon": "0"}, headers=h).json()["grid"] is None
    for params, field in [({"lat": "x", "lon": "1"}, "lat"), ({"lat": "1", "lon": "181"}, "lon"),
                          ({"lat": "nan", "lon": "1"}, "lat"), ({"lat": "1e999", "lon": "1"}, "lat"),
                          ({"lat": "1\x00", "lon": "1"}, "lat"), ({"lon": "1"}, "lat"),
                          ({"lat": "1" * 5000, "lon": "1"}, "lat")]:
        r = api.get("/api/geo/cell", params=params, headers=h)
        assert r.status_code == 422 and r.json()["field"] == field, (params, r.text)
    assert api.get("/api/geo/cell", params={"lat": "1", "lon": "1"}).status_code == 401


# ---------------------------------------------------------------- live alerts


def dispatch_to_hw(api) -> str:
    """Another session: the supervisor reports, the acceptor files, the dispatcher sends it
    to 环卫所 (hw) by the routing rule."""
    body = {"channel": "patrol", "category": CATEGORY, "grid": GRID, "description": "路口垃圾堆积",
            "lat": 22.571, "lon": 114.121}
    r = api.post("/api/cases", json=body, headers=api_login(api, "sup_zhang"))
    assert r.status_code == 201, r.text
    cid = r.json()["case_id"]
    for user, action in (("acc_wang", "file"), ("disp_chen", "dispatch")):
        r = api.post(f"/api/cases/{cid}/{action}", headers=api_login(api, user))
        assert r.status_code == 200, r.text
    return cid


def test_a_unit_member_sees_a_toast_when_a_case_is_dispatched_to_their_unit(server, page, api):
    pg = page
    sized(pg, "desktop")
    login(pg, "hw_luo")
    wait_js(pg, "window.cgAlerts && window.cgAlerts.connected")
    assert pg.get_attribute("#alert-sound", "aria-pressed") == "true"
    cid = dispatch_to_hw(api)
    pg.wait_for_selector(".toast-dispatched")
    toast = pg.locator(".toast-dispatched").last
    assert toast.locator(f"a[href='/cases/{cid}']").count() == 1
    assert "新派遣案件" in toast.inner_text() and cid not in toast.inner_text()
    assert pg.evaluate("window.cgAlerts.shown") >= 1
    shot(pg, "alerts-unit-toast-desktop")

    # the sound is switched off, and stays off on the next page
    pg.click("#alert-sound")
    assert pg.get_attribute("#alert-sound", "aria-pressed") == "false"
    pg.click('nav a[data-nav="map"]')
    wait_js(pg, "window.cgAlerts && window.cgAlerts.connected")
    assert pg.evaluate("localStorage.getItem('cg_alert_sound')") == "off"
    assert pg.get_attribute("#alert-sound", "aria-pressed") == "false"
    second = dispatch_to_hw(api)
    pg.wait_for_selector(f".toast-dispatched a[href='/cases/{second}']")
    assert pg.evaluate("window.cgAlerts.beeps") == 0  # a toast, no sound
    sized(pg, "phone")
    no_overflow(pg)
    shot(pg, "alerts-unit-toast-phone")
    pg.click("#alert-sound")  # on again, for the next tests in this browser
    assert pg.evaluate("localStorage.getItem('cg_alert_sound')") == "on"


def test_another_unit_hears_nothing_of_it(server, page, api):
    pg = page
    login(pg, "cg_liu")  # 城管执法 (cgj), not hw
    wait_js(pg, "window.cgAlerts && window.cgAlerts.connected")
    cid = dispatch_to_hw(api)
    pg.wait_for_timeout(2000)  # five reads of the store
    # its own cases may come due meanwhile (the demo runs on the wall clock): only the
    # other unit's dispatch must not reach it
    assert pg.locator(".toast-dispatched").count() == 0, pg.locator(".toast").all_inner_texts()
    assert pg.locator(f".toast a[href='/cases/{cid}']").count() == 0


# ---------------------------------------------------------------- the reports page


@pytest.mark.parametrize("size", SIZES)
def test_the_reports_page_picks_a_past_day_week_and_month(server, page, size):
    pg = page
    sized(pg, size)
    login(pg, "chief_zhao")
    pg.click('nav a[data-nav="reports"]')
    pg.wait_for_selector("#period-picker")
    day = today(server) - timedelta(days=3)
    pg.fill("#period-date", day.isoformat())
    pg.click("#show-day")
    pg.wait_for_selector(f"#period-chosen[data-value='{day.isoformat()}']")
    days = {r.get_attribute("data-day") for r in pg.query_selector_all("#patrol-days tr[data-day]")}
    assert days == {day.isoformat()}
    assert pg.locator("#report-links a[data-report='daily-pdf']").get_attribute("href").endswith(
        f"date={day.isoformat()}&format=pdf")
    no_overflow(pg)
    shot(pg, f"reports-day-{size}")

    iso = (today(server) - timedelta(days=7)).isocalendar()
    week = f"{iso.year}-W{iso.week:02d}"
    pg.fill("#period-week", week)
    pg.click("#show-week")
    pg.wait_for_selector(f"#period-chosen[data-value='{week}']")
    assert pg.locator("#patrol-days tr[data-day]").count() == 7 * len(server.cg.city.squads)

    month = (today(server).replace(day=1) - timedelta(days=1)).isoformat()[:7]
    pg.fill("#period-month", month)
    pg.click("#show-month")
    pg.wait_for_selector(f"#period-chosen[data-value='{month}']")
    statuses = {r.get_attribute("data-status") for r in pg.query_selector_all("#patrol-days tr[data-day]")}
    assert {"nil", "reported"} <= statuses  # the demo's patrol reports: not all missed
    assert "零报告" in pg.inner_text("#patrol-days") and "missed" not in pg.inner_text("#patrol-days")
    no_overflow(pg)
    shot(pg, f"reports-month-{size}")

    pg.goto(pg.base + "/reports?date=" + (today(server) + timedelta(days=2)).isoformat())
    assert pg.get_attribute("#patrol-error", "data-field") == "date"


def test_the_bulletins_ledger_page(server, page, tmp_path):
    """The monthly bulletin's PDF: its rewards-and-penalties page, as PNG to look at."""
    if not shutil.which("pdftoppm") or not shutil.which("pdftotext"):
        pytest.skip("poppler-utils (pdftoppm) is not installed")
    pg = page
    login(pg, "chief_zhao")
    month = today(server).isoformat()[:7]
    r = pg.request.get(pg.base + f"/api/reports/monthly?month={month}&format=pdf")
    assert r.status == 200 and r.body()[:4] == b"%PDF"
    pdf = tmp_path / "bulletin.pdf"
    pdf.write_bytes(r.body())
    pages = int(next(ln.split()[-1] for ln in subprocess.run(
        ["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout.splitlines()
        if ln.startswith("Pages:")))
    found = None
    for n in range(1, pages + 1):
        text = subprocess.run(["pdftotext", "-f", str(n), "-l", str(n), str(pdf), "-"],
                              capture_output=True, text=True, check=True).stdout
        if "奖惩明细" in text:
            found = (n, text)
            break
    assert found, "no rewards-and-penalties page"
    whole = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True,
                           check=True).stdout
    assert not re.search(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-", whole)  # numbers, not UUIDs
    n, text = found
    assert ".txt" not in text and "条款" in text and "案件编号" in text
    subprocess.run(["pdftoppm", "-f", str(n), "-l", str(n), "-r", "110", "-png", "-singlefile",
                    str(pdf), str(SHOTS / "bulletin-ledger")], check=True)


# ---------------------------------------------------------------- one language at a time

CJK = re.compile(r"[\u3400-\u9fff]")


def test_english_pages_read_english(server, page, api):
    pg = page
    login(pg, "chief_zhao")
    pg.context.add_cookies([{"name": "cg_lang", "value": "en", "url": pg.base}])
    try:
        pg.goto(pg.base + "/map")
        wait_js(pg, "window.cgMap !== undefined")
        legend = pg.inner_text("#map-legend")
        assert "With the unit" in legend and not CJK.search(legend), legend
        pg.goto(pg.base + "/reports")
        for sel in ("#period-picker", "#patrol-days tr:first-child"):
            assert not CJK.search(pg.inner_text(sel)), pg.inner_text(sel)
        shown = {td.inner_text() for td in pg.query_selector_all("#patrol-days td:nth-child(3)")}
        assert shown and not [s for s in shown if CJK.search(s)], shown
        wait_js(pg, "window.cgAlerts && window.cgAlerts.connected")
        assert pg.inner_text("#alert-sound") in ("Sound: on", "Sound: off")
        body = {"channel": "inspection", "category": CATEGORY, "grid": GRID, "description": "巡检发现"}
        assert api.post("/api/cases", json=body, headers=api_login(api, "acc_wang")).status_code == 201
        pg.wait_for_selector(".toast-reported")  # the center hears of a new report
        assert pg.inner_text(".toast-reported .toast-title").startswith("New case reported")
        shot(pg, "alerts-center-toast-english")
        login(pg, "acc_wang")  # (a new login clears the cookies)
        pg.context.add_cookies([{"name": "cg_lang", "value": "en", "url": pg.base}])
        pg.goto(pg.base + "/report")
        assert not CJK.search(pg.inner_text(".pick-hint"))
    finally:
        pg.context.add_cookies([{"name": "cg_lang", "value": "zh", "url": pg.base}])
