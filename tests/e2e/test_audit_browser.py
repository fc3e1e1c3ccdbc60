"""The trail page's audit badge in a real browser: an inspector sees that the case's
records match the signed head (审计核验通过), and sees it fail after a raw edit of the
audit tables; in Chinese and English, at 1440×900 and 390×844, never wider than the
window."""

from __future__ import annotations

import pytest

from adapters.audit.case_proof import PUBLIC_KEY_ENV
from adapters.audit.heads import keygen, load_private
from adapters.audit.service import audit_log
from adapters.bootstrap import bootstrap
from adapters.http.server import load_demo
from tests.e2e.browser_support import BROWSER, login, shot
from tests.e2e.http_support import LiveServer
from tests.support import city

pytestmark = BROWSER
SIZES = ((1440, 900), (390, 844))


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("audit")
    cg = bootstrap(data_dir=tmp / "data", city=city())
    load_demo(cg, cases=30, echo=lambda *_: None)
    pub, _ = keygen(tmp / "audit.key")
    audit_log(cg).sign(load_private(tmp / "audit.key"))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(PUBLIC_KEY_ENV, str(pub))
        with LiveServer(cg) as s:
            s.cg = cg
            yield s
    cg.close()


def look(pg, case_id: str, name: str) -> str:
    pg.goto(f"{pg.base}/trail/cases/{case_id}")
    status = pg.get_attribute("#audit-proof", "data-status")
    for w, h in SIZES:
        pg.set_viewport_size({"width": w, "height": h})
        assert pg.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), w
        shot(pg, f"audit-{name}-{w}")
    return status


def test_inspector_sees_the_proof_hold_then_fail(server, page):
    cg = server.cg
    cg.projections.catch_up(["cases"])
    case_id = cg.sql.query("SELECT case_id FROM cg_cases ORDER BY case_id LIMIT 1")[0][0]
    login(page, "insp_sun")
    assert look(page, case_id, "verified-zh") == "verified"
    text = page.inner_text("#audit-proof")
    assert "审计核验通过" in text and "树头" in text and "verified" not in text
    page.context.add_cookies([{"name": "cg_lang", "value": "en", "url": page.base}])
    assert look(page, case_id, "verified-en") == "verified"
    assert "Audit proof holds" in page.inner_text("#audit-proof")
    [(position, old)] = cg.sql.query("SELECT position, leaf_hash FROM cg_audit_leaves"
                                     " WHERE originator_id = ? ORDER BY position LIMIT 1",
                                     (str(case_id),))
    with cg.sql.transaction() as cur:
        cur.execute("UPDATE cg_audit_leaves SET leaf_hash = ? WHERE position = ?",
                    ("00" * 32, position))
    try:
        assert look(page, case_id, "failed-en") == "failed"
        assert "FAILED" in page.inner_text("#audit-proof")
        page.context.add_cookies([{"name": "cg_lang", "value": "zh", "url": page.base}])
        assert look(page, case_id, "failed-zh") == "failed"
        assert "审计核验未通过" in page.inner_text("#audit-proof")
    finally:
        with cg.sql.transaction() as cur:
            cur.execute("UPDATE cg_audit_leaves SET leaf_hash = ? WHERE position = ?",
                        (old, position))
