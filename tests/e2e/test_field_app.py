"""城管通, the field app (/m/), on a phone: headless Chromium at 390×844 with touch, a fixed
GPS position inside a demo grid cell and the network switched off and on.

A supervisor reports a problem with a photo while offline: it waits in the phone's outbox,
is sent when the network returns, and makes exactly one case with the photo stored and
the cell found from the position; a replay of the same request makes no second case. A
unit member resolves it with an after-photo from the inbox; the supervisor's check shows
both photos side by side. Screenshots go to artifacts/screenshots/field-*.png.
"""

from __future__ import annotations

import json
import shutil
from contextlib import contextmanager
from pathlib import Path
from uuid import UUID

import httpx
import pytest

from adapters.bootstrap import bootstrap
from adapters.http import geo
from adapters.http.server import load_demo
from tests.e2e.browser_support import ARGS, BROWSER, CHROMIUM, SHOTS, wait_js
from tests.e2e.http_support import LiveServer, console_login
from tests.e2e.http_support import login as api_login
from tests.support import city

pytestmark = BROWSER
DATA = Path(__file__).resolve().parents[1] / "data"
BEFORE, AFTER = DATA / "field_before.jpg", DATA / "field_after.jpg"
CELL = "44030301000102"  # 坭岗社区, patrol-1
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True,
         "has_touch": True, "locale": "zh-CN", "permissions": ["geolocation"]}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    cg = bootstrap(data_dir=tmp_path_factory.mktemp("field"), city=city())
    load_demo(cg, cases=30, echo=lambda *_: None)
    with LiveServer(cg) as s:
        yield s
    cg.close()


@pytest.fixture(scope="module")
def chromium():
    if not Path(CHROMIUM).exists() and not shutil.which(CHROMIUM):
        pytest.fail(f"no Chromium at {CHROMIUM}: run `bash deploy/install-system-deps.sh`")
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def contexts(chromium, request):
    """new(**options) → a page in a fresh context (a phone by default) that fails the test
    on any request leaving the server, any CSP violation and any script error."""
    made, outside, broken = [], [], []

    def new(server=None, **options):
        server = server or request.getfixturevalue("server")
        lat, lon = geo.center_of(server.cg.city, CELL)
        ctx = chromium.new_context(**({**PHONE, "geolocation": {"latitude": lat, "longitude": lon}}
                                      | options))
        ctx.on("request", lambda r: None if r.url.startswith((server.url, "data:"))
               else outside.append(r.url))
        made.append(ctx)
        pg = ctx.new_page()
        pg.set_default_timeout(15_000)
        pg.on("console", lambda m: broken.append(m.text)
              if m.type == "error" and "Content Security Policy" in m.text else None)
        pg.on("pageerror", lambda e: broken.append(f"script error: {e}"))
        pg.base = server.url  # type: ignore[attr-defined]
        return pg

    yield new
    for ctx in made:
        ctx.close()
    assert outside == [], f"the field app fetched from outside the server: {outside}"
    assert broken == [], f"CSP violations or script errors: {broken}"


def shot(pg, name: str) -> None:
    pg.screenshot(path=str(SHOTS / f"field-{name}.png"), full_page=True)


def fits(pg) -> None:
    """No horizontal overflow."""
    w = pg.evaluate("[document.documentElement.scrollWidth, innerWidth]")
    assert w[0] <= w[1], f"{pg.url} overflows: {w[0]} px wide in a {w[1]} px window"


def field_login(pg, user: str) -> None:
    pg.goto(pg.base + "/m/")
    assert "/login?next=/m/" in pg.url  # not logged in: the console's login, then back
    pg.fill("#user", user)
    pg.fill("#password", "demo")
    pg.click("#login-submit")
    pg.wait_for_selector("#whoami")
    assert pg.url.endswith("/m/")
    assert pg.get_attribute("#whoami", "data-user") == user


@contextmanager
def api(server, user: str):
    """An API client logged in as `user` (Bearer token)."""
    with httpx.Client(base_url=server.url, timeout=15) as c:
        c.headers.update(api_login(c, user))
        yield c


def case_ids(server) -> set[str]:
    with api(server, "acc_wang") as c:
        return {r["case_id"] for r in c.get("/api/cases", params={"limit": 5000}).json()["cases"]}


def queued(pg) -> int:
    return int(pg.get_attribute("#queue-count", "data-n") or 0)


# ---------------------------------------------------------------- the whole field round


def test_offline_report_resolve_and_check_on_a_phone(server, contexts):
    pg = contexts()
    field_login(pg, "sup_zhang")
    wait_js(pg, "navigator.serviceWorker.getRegistration('/m/').then(r => !!(r && r.active))")
    shot(pg, "01-supervisor-home")
    fits(pg)

    pg.click("#go-report")
    pg.wait_for_selector("#cell-text[data-grid]")
    assert pg.get_attribute("#cell-text", "data-grid") == CELL
    assert pg.input_value("#grid") == CELL
    shot(pg, "02-report-online")
    fits(pg)
    before = case_ids(server)

    # offline: the report with its photo waits on the phone
    sent: list[dict] = []
    pg.context.on("request", lambda r: sent.append(json.loads(r.post_data))
                  if r.method == "POST" and r.url.endswith("/api/cases") else None)
    pg.context.set_offline(True)
    wait_js(pg, "document.getElementById('net').dataset.state === 'offline'")
    pg.reload()  # the shell comes from the service worker's cache
    pg.wait_for_selector("#report-form")
    wait_js(pg, "document.getElementById('pos-text').dataset.lat !== undefined")
    assert "联网后" in pg.inner_text("#cell-text")
    pg.select_option("#category", "E0102")
    pg.set_input_files("#photo", str(BEFORE))
    wait_js(pg, "document.getElementById('photo-previews').dataset.n === '1'")
    pg.check("input[name=urgency][value=urgent]")
    pg.fill("#description", "坭岗路口暴露垃圾（离线上报）")
    pg.click("#send")
    wait_js(pg, "document.getElementById('queue-count').dataset.n === '1'")
    assert "照片 1" in pg.inner_text("#queue-items")
    shot(pg, "03-report-queued-offline")
    fits(pg)
    assert case_ids(server) == before

    # online again: sent once, with the time it was made and its key
    pg.context.set_offline(False)
    wait_js(pg, "document.getElementById('queue-count').dataset.n === '0'", 30)
    pg.wait_for_selector("#flash-link")
    shot(pg, "04-report-sent")
    new = case_ids(server) - before
    assert len(new) == 1, new
    cid = new.pop()
    assert len(sent) == 1 and sent[0]["idempotency_key"] and sent[0]["at"]
    with api(server, "sup_zhang") as c:
        case = c.get(f"/api/cases/{cid}").json()["case"]
        assert case["grid"] == CELL and case["urgency"] == "urgent"
        assert (case["lat"], case["lon"]) == geo.center_of(server.cg.city, CELL)
        [ref] = case["evidence"]
        assert ref.startswith("sha256:")
        photo = c.get(f"/evidence/{ref[7:]}")
        assert photo.status_code == 200 and photo.headers["content-type"].startswith("image/")

    # a resend of the same item (the phone did not hear the answer) makes no second case
    token = pg.get_attribute('meta[name="csrf-token"]', "content")
    again = pg.request.post(server.url + "/api/cases", data=sent[0],
                            headers={"X-CSRF-Token": token})
    assert again.status in (200, 201) and again.json()["case_id"] == cid
    assert case_ids(server) - before == {cid}

    # the center files and dispatches it (to 环卫所 by the routing rule)
    with api(server, "acc_wang") as c:
        assert c.post(f"/api/cases/{cid}/file").status_code == 200
    with api(server, "disp_chen") as c:
        r = c.post(f"/api/cases/{cid}/dispatch")
        assert r.status_code == 200 and r.json()["unit"] == "hw", r.text

    # the unit member resolves it from the inbox with an after-photo
    unit = contexts()
    field_login(unit, "hw_luo")
    shot(unit, "05-unit-home")
    unit.click("#go-inbox")
    unit.wait_for_selector(f'li[data-case="{cid}"] .due')
    assert "due-" in unit.get_attribute(f'li[data-case="{cid}"] .due', "class")
    shot(unit, "06-unit-inbox")
    fits(unit)
    unit.click(f'li[data-case="{cid}"] a')
    unit.wait_for_selector("#accept-form")  # 签收 first: the unit has the case
    unit.click("#accept-send")
    unit.wait_for_selector("#accept-form", state="detached", timeout=30_000)
    assert server.cg.service.get(cid).accepted_by == "hw_luo"
    unit.wait_for_selector("#resolve-form")
    unit.click("#return-send")  # 退回 without a reason is refused on the phone
    assert unit.is_visible("#return-form .form-error")
    unit.click("#resolve-send")  # and a resolution without a photo
    assert unit.is_visible("#resolve-form .form-error")
    unit.set_input_files("#after-photo", str(AFTER))
    wait_js(unit, "document.getElementById('photo-previews').dataset.n === '1'")
    shot(unit, "07-unit-resolve")
    fits(unit)
    resolved: list[dict] = []
    unit.context.on("request", lambda r: resolved.append(json.loads(r.post_data))
                    if r.method == "POST" and r.url.endswith(f"/{cid}/resolve") else None)
    unit.click("#resolve-send")
    unit.wait_for_selector('#case[data-state="pending_check"]', timeout=30_000)
    shot(unit, "08-unit-resolved")
    [step] = resolved
    assert step["idempotency_key"] and step["at"] and step["evidence"][0].startswith("sha256:")
    version = server.cg.service.get(cid).version
    token = unit.get_attribute('meta[name="csrf-token"]', "content")
    again = unit.request.post(f"{server.url}/api/cases/{cid}/resolve", data=step,
                              headers={"X-CSRF-Token": token})
    assert again.status == 200 and again.json()["state"] == "pending_check"
    assert server.cg.service.get(cid).version == version  # the resend recorded nothing

    # the supervisor's check: both photos side by side; a fail needs a reason
    pg.goto(pg.base + "/m/check")
    pg.wait_for_selector(f'li[data-case="{cid}"]')
    shot(pg, "09-check-list")
    fits(pg)
    pg.click(f'li[data-case="{cid}"] a')
    pg.wait_for_selector("#check-form")
    for side in ("before", "after"):
        pg.wait_for_selector(f"#{side} img")
        wait_js(pg, f"document.querySelector('#{side} img').naturalWidth > 0")
    b, a = pg.locator("#before img").bounding_box(), pg.locator("#after img").bounding_box()
    assert b["x"] + b["width"] <= a["x"] and abs(b["y"] - a["y"]) < 2  # side by side
    shot(pg, "10-check-photos")
    fits(pg)
    pg.click("#check-fail")
    assert pg.is_visible("#check-form .form-error")
    pg.click("#check-pass")
    pg.wait_for_selector('#case[data-state="pending_closure"]', timeout=30_000)
    shot(pg, "11-check-passed")

    # the same case on a desktop window
    desk = contexts(viewport={"width": 1440, "height": 900}, is_mobile=False, has_touch=False,
                    device_scale_factor=1)
    field_login(desk, "sup_zhang")
    desk.goto(desk.base + f"/m/cases/{cid}")
    desk.wait_for_selector("#after img")
    shot(desk, "12-desktop-case")
    fits(desk)


def test_verify_a_citizens_report_on_the_spot(server, contexts):
    with api(server, "acc_wang") as c:
        r = c.post("/api/cases", json={"channel": "hotline", "category": "E0102", "grid": CELL,
                                       "description": "市民来电：路口垃圾"})
        assert r.status_code == 201, r.text
        cid = r.json()["case_id"]
    pg = contexts()
    field_login(pg, "sup_zhang")
    pg.click("#go-check")
    pg.wait_for_selector(f'#verification li[data-case="{cid}"]')
    shot(pg, "18-verify-list")
    fits(pg)
    pg.click(f'#verification li[data-case="{cid}"] a')
    pg.wait_for_selector("#verify-form")
    pg.click("#verify-fail")  # 不属实 needs a reason
    assert pg.is_visible("#verify-form .form-error")
    shot(pg, "19-verify-case")
    fits(pg)
    pg.click("#verify-pass")
    pg.wait_for_selector('#case[data-state="pending_filing"]', timeout=30_000)
    assert server.cg.service.get(cid).state == "pending_filing"


@pytest.fixture(scope="module")
def quiet(tmp_path_factory):
    """A server with no history (the demo files today's patrol reports)."""
    cg = bootstrap(data_dir=tmp_path_factory.mktemp("field-quiet"), city=city())
    with LiveServer(cg) as s:
        yield s
    cg.close()


def test_nil_patrol_report(quiet, contexts):
    pg = contexts(server=quiet)
    field_login(pg, "sup_li")
    pg.click("#go-patrol")
    pg.wait_for_selector("#patrol-form")
    pg.check("#nil")
    assert pg.is_disabled("#findings")
    shot(pg, "13-patrol")
    fits(pg)
    day = pg.get_attribute("#patrol-form", "data-date")
    pg.click("#send")
    pg.wait_for_selector("#flash:not([hidden])")
    pg.wait_for_timeout(300)
    assert queued(pg) == 0, pg.inner_text("#queue")
    with api(quiet, "chief_zhao") as c:
        days = c.get("/api/patrol/days", params={"from": day}).json()["days"]
    mine = [d for d in days if d["squad"] == "patrol-2"]
    assert mine and all("nil" in d["status"] for d in mine), mine
    pg.reload()  # reported: the screen says what and when instead of the form
    pg.wait_for_selector("#patrol-done")
    assert "nil" in pg.get_attribute("#patrol-done", "data-status")
    shot(pg, "14-patrol-done")
    fits(pg)
    # logging out: the phone forgets the cached pages
    pg.goto(pg.base + "/m/")
    wait_js(pg, "caches.keys().then(k => k.some(x => x.startsWith('cg-field-')))")
    pg.click("#logout")
    pg.wait_for_selector("#login-form")
    assert pg.evaluate("caches.keys().then(k => k.filter(x => x.startsWith('cg-field-')).length)") == 0
    assert pg.goto(pg.base + "/m/").url.endswith("/login?next=/m/")


def test_english(server, contexts):
    pg = contexts()
    field_login(pg, "sup_li")
    pg.context.add_cookies([{"name": "cg_lang", "value": "en", "url": pg.base}])
    pg.goto(pg.base + "/m/report")
    pg.wait_for_selector("#report-form")
    text = pg.inner_text("body")
    assert "Report a problem" in text and "上报问题" not in text
    shot(pg, "15-report-english")
    fits(pg)
    pg.context.add_cookies([{"name": "cg_lang", "value": "zh", "url": pg.base}])
    assert pg.goto(pg.base + "/m/cases/not-a-case").status == 422
    assert pg.get_attribute("#error", "data-field") == "case_id"
    assert "无效" in pg.inner_text("#error-message")
    shot(pg, "17-bad-case-id")
    fits(pg)


def test_manifest_and_service_worker_are_served_as_such(server):
    with httpx.Client(base_url=server.url) as c:
        m = c.get("/m/manifest.webmanifest")
        assert m.headers["content-type"].startswith("application/manifest+json")
        body = m.json()
        assert body["name"] == "城管通" and body["start_url"] == "/m/"
        assert body["display"] == "standalone"
        for icon in body["icons"]:
            r = c.get(icon["src"])
            assert r.status_code == 200 and r.headers["content-type"] == "image/png"
        sw = c.get("/m/sw.js")
        assert sw.headers["content-type"].startswith("text/javascript")
        assert sw.headers["service-worker-allowed"] == "/m/"
        assert "__VERSION__" not in sw.text
        csp = sw.headers["content-security-policy"]
        assert "worker-src 'self'" in csp and "manifest-src 'self'" in csp


def test_the_outbox_retries_and_waits_for_a_login(server, contexts, tmp_path):
    """A server that fails once: the report waits and goes again after a pause. A session
    that ended meanwhile: the report waits for a login, then goes. A big photo is sent
    downscaled (at most 2000 px)."""
    from PIL import Image

    big = tmp_path / "big.jpg"
    Image.new("RGB", (4000, 3000), (120, 140, 160)).save(big, quality=90)
    pg = contexts(service_workers="block")  # page.route does not see a worker's requests
    field_login(pg, "sup_zhang")
    before = case_ids(server)
    fails: list[int] = []

    def once_busy(route):
        if not fails:
            fails.append(1)
            route.fulfill(status=503, json={"error": "unavailable", "message": "busy"})
        else:
            route.continue_()

    pg.route("**/api/cases", once_busy)
    pg.goto(pg.base + "/m/report")
    pg.wait_for_selector("#cell-text[data-grid]")
    assert pg.is_hidden("#recent-cats")  # nothing reported on this phone yet
    pg.select_option("#category", "E0104")
    pg.set_input_files("#photo", str(big))
    wait_js(pg, "document.getElementById('photo-previews').dataset.n === '1'")
    pg.click("#send")
    pg.wait_for_selector("#queue-error:not([hidden])")
    assert pg.get_attribute("#queue-error", "data-kind") == "server"
    assert pg.get_attribute("#queue-error", "data-detail").startswith("503")
    assert "服务器暂时无法处理" in pg.inner_text("#queue-error")
    wait_js(pg, "document.getElementById('queue-count').dataset.n === '0'", 20)
    new = case_ids(server) - before
    assert len(new) == 1 and fails == [1]
    with api(server, "sup_zhang") as c:
        [ref] = c.get(f"/api/cases/{new.pop()}").json()["case"]["evidence"]
        from io import BytesIO

        size = Image.open(BytesIO(c.get(f"/evidence/{ref[7:]}").content)).size
    assert max(size) <= 2000, size

    # the session ends while the phone is offline: the report waits for a login
    pg.context.set_offline(True)
    wait_js(pg, "document.getElementById('net').dataset.state === 'offline'")
    pg.click('#recent-cats .chip[data-cat="E0104"]')  # the last category, one tap
    assert pg.input_value("#category") == "E0104"
    pg.click("#send")
    wait_js(pg, "document.getElementById('queue-count').dataset.n === '1'")
    pg.context.clear_cookies()
    pg.context.set_offline(False)
    pg.wait_for_selector("#relogin")
    shot(pg, "16-queue-needs-login")
    fits(pg)
    pg.click("#relogin")
    pg.fill("#user", "sup_zhang")
    pg.fill("#password", "demo")
    pg.click("#login-submit")
    pg.wait_for_selector("#report-form")
    wait_js(pg, "document.getElementById('queue-count').dataset.n === '0'", 20)
    pg.wait_for_selector("#flash-link")
    assert len(case_ids(server) - before) == 2


@pytest.mark.parametrize("bad, status", [("xyz", 422), ("%00", 422), ("a" * 3000, 422),
                                         ("%ff%fe", 422), (str(UUID(int=0)), 404)])
def test_a_bad_case_id_is_refused_by_name(server, bad, status):
    with httpx.Client(base_url=server.url) as c:
        console_login(c, "hw_luo", next_="/m/")
        r = c.get(f"/m/cases/{bad}")
        assert r.status_code == status and "case_id" in r.text


def test_pages_need_a_login(server):
    with httpx.Client(base_url=server.url) as c:
        for path in ("/m/", "/m/report", "/m/inbox", "/m/check", "/m/patrol"):
            r = c.get(path)
            assert r.status_code == 303 and r.headers["location"] == f"/login?next={path}"
