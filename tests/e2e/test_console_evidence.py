"""Photo evidence in the console, in a real browser (headless Chromium): the unit uploads
an after-photo with the resolve form and sees its thumbnail on the case page; the
supervisor reporting with a photo sees it; the check step shows the before- and
after-photos side by side. At 1440×900 and 390×844, without horizontal overflow;
screenshots in artifacts/screenshots/evidence-*.png."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.bootstrap import bootstrap
from adapters.http.server import load_demo
from tests.e2e.browser_support import BROWSER, login, shot
from tests.e2e.http_support import LiveServer
from tests.support import city, drive

pytestmark = BROWSER
PHOTO = Path(__file__).resolve().parents[1] / "data" / "evidence" / "street.jpg"
SIZES = {"desktop": (1440, 900), "phone": (390, 844)}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    cg = bootstrap(data_dir=tmp_path_factory.mktemp("console-evidence"), city=city())
    load_demo(cg, cases=30, echo=lambda *_: None, photos=True)
    with LiveServer(cg) as s:
        yield s
    cg.close()


def no_overflow(pg) -> None:
    width = pg.evaluate("document.documentElement.scrollWidth")
    assert width <= pg.viewport_size["width"], f"{width}px wide at {pg.viewport_size}"


def thumbs_loaded(pg, selector: str) -> int:
    """How many thumbnails under `selector` the browser decoded (naturalWidth > 0)."""
    return pg.evaluate(f"Array.from(document.querySelectorAll('{selector} img'))"
                       ".filter(i => i.complete && i.naturalWidth > 0).length")


def loaded(pg, selector: str, n: int) -> None:
    for img in pg.query_selector_all(f"{selector} img"):
        img.scroll_into_view_if_needed()  # thumbnails load lazily
    pg.wait_for_load_state("networkidle")
    assert thumbs_loaded(pg, selector) >= n


@pytest.mark.parametrize("size", SIZES)
def test_the_unit_resolves_with_a_photo_and_sees_its_thumbnail(server, page, size):
    page.set_viewport_size(dict(zip(("width", "height"), SIZES[size], strict=True)))
    cid = str(drive(server.cg.service, "dispatched").id)
    login(page, "hw_luo")
    page.goto(f"{page.base}/cases/{cid}")
    page.set_input_files("#photo-resolve", str(PHOTO))
    page.wait_for_selector('.photo-previews[data-for="photo-resolve"] img.photo-preview')
    assert "street.jpg" in page.inner_text('.file-names[data-for="photo-resolve"]')
    page.locator("#act-resolve").scroll_into_view_if_needed()
    shot(page, f"evidence-resolve-form-{size}")
    page.click("#act-resolve button[type=submit]")
    page.wait_for_selector("#done, #action-error")
    assert page.query_selector("#action-error") is None, page.inner_text("#action-error")
    assert page.get_attribute("#case-state", "data-state") == "pending_check"
    after = '#evidence figure[data-step="after"]'
    page.wait_for_selector(f"{after} .ev-photo img")
    loaded(page, after, 1)
    href = page.get_attribute(f"{after} .ev-photo a", "href")
    assert href.startswith("/evidence/") and len(href) == len("/evidence/") + 64
    no_overflow(page)
    page.locator("#evidence").scroll_into_view_if_needed()
    shot(page, f"evidence-resolved-{size}")


@pytest.mark.parametrize("size", SIZES)
def test_the_check_step_shows_before_and_after_side_by_side(server, page, size):
    page.set_viewport_size(dict(zip(("width", "height"), SIZES[size], strict=True)))
    cid = server.cg.sql.query("SELECT case_id FROM cg_cases WHERE state = 'pending_check' "
                              "AND description LIKE '演示%'")[0][0]
    login(page, "sup_zhang")
    page.goto(f"{page.base}/cases/{cid}")
    assert page.query_selector("#act-check") is not None  # the supervisor's check step
    before = page.locator('#evidence-compare figure[data-step="before"]').bounding_box()
    after = page.locator('#evidence-compare figure[data-step="after"]').bounding_box()
    assert abs(before["y"] - after["y"]) < 2 and after["x"] > before["x"] + before["width"] - 1
    loaded(page, "#evidence-compare", 2)
    no_overflow(page)
    page.locator("#evidence").scroll_into_view_if_needed()
    shot(page, f"evidence-check-{size}")
    photo = page.request.get(page.base + page.get_attribute(
        '#evidence-compare figure[data-step="after"] .ev-photo a', "href"))
    assert photo.status == 200 and photo.headers["content-type"] == "image/jpeg"
    original = page.get_attribute('#evidence-compare figure[data-step="after"] .ev-original',
                                  "href")  # the supervisor may fetch the proof
    assert page.request.get(page.base + original).status == 200


def test_a_report_with_a_photo_shows_it(server, page):
    page.set_viewport_size({"width": 390, "height": 844})
    login(page, "sup_zhang")
    page.goto(f"{page.base}/report")
    page.fill("#description", "井盖缺失，附照片")
    page.set_input_files("#report-photo", str(PHOTO))
    no_overflow(page)
    shot(page, "evidence-report-form-phone")
    page.click("#report-submit")
    page.wait_for_selector("#case-state")
    before = '#evidence figure[data-step="before"]'
    page.wait_for_selector(f"{before} .ev-photo img")
    loaded(page, before, 1)
    no_overflow(page)


def test_the_evidence_reads_in_english_too(server, page):
    page.set_viewport_size({"width": 1440, "height": 900})
    cid = server.cg.sql.query("SELECT case_id FROM cg_cases WHERE state = 'closed' "
                              "AND description LIKE '演示%'")[0][0]
    login(page, "chief_zhao")
    page.goto(f"{page.base}/lang/en?next=/cases/{cid}")
    text = page.inner_text("#evidence")
    assert "Reported (before)" in text and "After resolving" in text
    assert not any("\u4e00" <= ch <= "\u9fff" for ch in text.replace("张伟", "").replace(
        "罗刚", ""))  # only people's names stay in Chinese
    loaded(page, "#evidence", 2)
    no_overflow(page)
    shot(page, "evidence-closed-en-desktop")
    page.goto(f"{page.base}/lang/zh?next=/report")
    shot(page, "evidence-report-form-desktop")
    no_overflow(page)
