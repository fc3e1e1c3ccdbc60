"""重复案件合并 in a real browser: the acceptor opens a citizen's report, sees the open
case of the same category 40 m away reported an hour before (distance, age, photo), merges
the report into it with a reason; the duplicate then says where it went, the original
lists the merged report and its reporter. Screenshots at 1440×900 and 390×844."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
from PIL import Image

from adapters.bootstrap import bootstrap
from tests.e2e.browser_support import BROWSER, login, shot
from tests.e2e.http_support import LiveServer
from tests.support import city, report

pytestmark = BROWSER
LAT, LON = 22.5712, 114.1133


def jpeg(colour) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (640, 480), colour).save(out, "JPEG", quality=85)
    return out.getvalue()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    cg = bootstrap(data_dir=tmp_path_factory.mktemp("merge-browser"), city=city())
    with LiveServer(cg) as s:
        yield s
    cg.close()


@pytest.fixture(scope="module")
def pair(server):
    cg = server.cg
    svc = cg.service
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    photo = cg.evidence.put(jpeg((150, 120, 90))).ref
    original = report(svc, "patrol", t0, lat=LAT, lon=LON, evidence=[photo],
                      description="坭岗路口垃圾堆积")
    dup = report(svc, "citizen", t0 + timedelta(hours=1), lat=LAT + 0.00036, lon=LON,
                 description="市民反映：路口有一堆垃圾", evidence=[cg.evidence.put(jpeg((90, 90, 140))).ref])
    cg.projections.catch_up()
    return original, dup


@pytest.mark.parametrize("size", [(1440, 900), (390, 844)], ids=["desktop", "phone"])
def test_acceptor_sees_the_candidate_and_merges(server, page, pair, size):
    original, dup = pair
    pg = page
    pg.set_viewport_size({"width": size[0], "height": size[1]})
    tag = "desktop" if size[0] > 800 else "phone"
    login(pg, "acc_wang")
    if tag == "phone":  # the merge was made on the desktop: the two pages after it
        pg.goto(f"{pg.base}/cases/{dup.id}")
        pg.wait_for_selector("#merged-into")
        shot(pg, f"merge-{tag}-2-duplicate-merged")
        pg.goto(f"{pg.base}/cases/{original.id}")
        pg.wait_for_selector("#merged-reports")
        shot(pg, f"merge-{tag}-3-original")
        assert pg.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        return
    pg.goto(f"{pg.base}/cases/{dup.id}")
    item = pg.wait_for_selector(f'#duplicates li.dup[data-case="{original.id}"]')
    text = item.inner_text()
    assert "相距 4" in text and "早 60 分钟上报" in text, text
    img = item.query_selector("img")
    assert img is not None and pg.evaluate("(i) => i.naturalWidth > 0", img)
    assert pg.query_selector("#act-merge") is None  # merging lives in the candidates' panel
    assert pg.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    shot(pg, f"merge-{tag}-1-candidates")
    item.query_selector("input[name=reason]").fill("同一处垃圾，市民重复反映")
    item.query_selector("button[type=submit]").click()
    pg.wait_for_selector("#done, #action-error")
    assert pg.query_selector("#action-error") is None, pg.inner_text("#action-error")
    assert pg.get_attribute("#case-state", "data-state") == "merged"
    assert pg.get_attribute("#merged-into", "data-case") == str(original.id)
    assert pg.query_selector("#duplicates") is None  # nothing to merge any more
    shot(pg, f"merge-{tag}-2-duplicate-merged")
    pg.click("#merged-into a")
    pg.wait_for_selector("#merged-reports")
    assert pg.query_selector(f'#merged-reports li[data-case="{dup.id}"]') is not None
    assert "公众APP" in pg.inner_text("#merged-reports")  # the duplicate's reporter
    assert pg.query_selector('tr[data-event="DuplicateMerged"]') is not None
    assert pg.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    shot(pg, f"merge-{tag}-3-original")


def test_a_refused_merge_names_its_field(server, page, pair):
    original, _ = pair
    pg = page
    other = report(server.cg.service, "hotline", datetime.now(UTC) - timedelta(minutes=30))
    pg.set_viewport_size({"width": 390, "height": 844})  # this one on a phone
    login(pg, "chief_zhao")
    pg.goto(f"{pg.base}/cases/{other.id}")
    pg.wait_for_selector(f'#duplicates li.dup[data-case="{original.id}"]')  # same cell
    assert pg.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    shot(pg, "merge-phone-1-candidates")
    pg.fill("#merge-by-number input[name=into]", "2026-01-999999")
    pg.fill("#merge-by-number input[name=reason]", "重复")
    pg.click("#merge-by-number button[type=submit]")
    pg.wait_for_selector("#action-error")
    assert pg.get_attribute("#action-error", "data-field") == "into"
    shot(pg, "merge-phone-4-refused")
    pg.fill("#merge-by-number input[name=into]", original.number)
    pg.fill("#merge-by-number input[name=reason]", "12345 来电，同一问题")
    pg.click("#merge-by-number button[type=submit]")
    pg.wait_for_selector("#done")
    assert pg.get_attribute("#case-state", "data-state") == "merged"


def test_the_merge_panel_in_english(server, page, pair):
    original, _ = pair
    pg = page
    fresh = report(server.cg.service, "citizen", datetime.now(UTC) - timedelta(minutes=10),
                   lat=LAT, lon=LON)
    server.cg.projections.catch_up()
    login(pg, "acc_wang")
    pg.context.add_cookies([{"name": "cg_lang", "value": "en", "url": pg.base}])
    pg.goto(f"{pg.base}/cases/{fresh.id}")
    item = pg.wait_for_selector(f'#duplicates li.dup[data-case="{original.id}"]')
    assert "m away" in item.inner_text() and "earlier" in item.inner_text()
    assert "Merge into this case" in item.inner_text()
    body = pg.inner_text("main")
    assert not any("\u4e00" <= ch <= "\u9fff" for ch in pg.inner_text("#duplicates"))  # no names
    assert "Possible duplicates" in body
    shot(pg, "merge-desktop-5-english")
    pg.goto(f"{pg.base}/cases/{original.id}")
    pg.wait_for_selector("#merged-reports")
    merged = pg.inner_text("#merged-reports")  # user names are the city's data, in Chinese
    assert "Duplicate reports merged in" in merged and "Citizen report" in merged, merged
    assert "并入" not in merged and "公众举报" not in merged and "照片" not in merged


def test_the_report_form_lands_on_the_new_cases_candidates(server, page, pair):
    """The console's report flow: a 12345 call typed in by the acceptor lands on its case
    page, which already lists the open case of the same category nearby."""
    original, _ = pair
    pg = page
    login(pg, "acc_wang")
    pg.click('nav a[data-nav="report"]')
    pg.select_option("#channel", "hotline")
    pg.select_option("#category", "E0102")
    pg.select_option("#grid", "44030301000101")
    pg.fill("#description", "市民来电：坭岗路口垃圾堆积")
    pg.fill("#lat", str(LAT + 0.0002))
    pg.fill("#lon", str(LON))
    pg.click("#report-submit")
    pg.wait_for_selector("#case-state")
    item = pg.wait_for_selector(f'#duplicates li.dup[data-case="{original.id}"]')
    assert "相距 2" in item.inner_text()  # about 22 m
    shot(pg, "merge-desktop-6-after-report")
