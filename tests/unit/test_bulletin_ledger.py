"""The monthly bulletin's rewards-and-penalties section reads as a person reads it: rules by
their titles and articles (not ids and seed file names), cases by their readable numbers
(not UUIDs), a long list of cases cut to a few and a count."""

from __future__ import annotations

import re

from adapters.reports.ledger import article, ledger_sections, readable_cases
from tests.support import city

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
IDS = [f"{i:08x}-0a2b-46ed-8723-ff3035fd9618" for i in range(1, 10)]
NUMBERS = {cid: f"2026-11-{i:06d}" for i, cid in enumerate(IDS[:8], start=1)}  # the 9th has none
SOURCE = "000_3e99ebe454ed094e.txt 四(七)一 严格责任追究"
LEDGER = {
    "policy": {"id": "sample-2026", "name": "城管执法进社区奖惩办法（示例）", "path": None},
    "reward_total": 0, "deduction_total": -4500,
    "lines": [
        {"rule_id": "P000-7-1", "source": SOURCE, "kind": "illegal_construction_24h",
         "who_kind": "community", "who": "440303010004", "who_name": "银湖社区", "amount": -4000,
         "explanation": "违法建设：超过 24 小时；扣减社区补助经费 4000 元", "case_ids": IDS[:1]},
        {"rule_id": "P000-7-2", "source": SOURCE, "kind": "joint", "who_kind": "street",
         "who": "440303010", "who_name": "清水河街道", "amount": -500, "explanation": "同奖同罚",
         "case_ids": IDS},
    ],
    "pending": [{"rule_id": "P000-7-1", "case_id": IDS[8], "explanation": "尚在 24 小时内"}],
    "totals": [{"who_kind": "community", "who": "440303010004", "who_name": "银湖社区",
                "reward": 0, "deduction": -4000, "net": -4000, "rules": ["P000-7-1"],
                "case_ids": IDS[:1]}],
}
TITLES = {"P000-7-1": "违法建设24小时内未发现、上报、处置", "P000-7-2": "镇/街道、社区、驻点中队同奖同罚"}


def shown(sec: dict) -> list[str]:
    """Every cell a reader sees (the section's columns, not the row's other keys)."""
    return [str(r.get(c["key"], "")) for r in sec["rows"] for c in sec["columns"]]


def test_rules_by_title_and_article_cases_by_number():
    secs = {s["id"]: s for s in ledger_sections(city(), LEDGER, ("十三", "十四", "十五"),
                                                titles=TITLES, case_no=NUMBERS)}
    assert set(secs) == {"ledger_totals", "ledger", "ledger_pending"}
    for sec in secs.values():
        cells = " ".join(shown(sec))
        assert not UUID.search(cells), sec["id"]
        assert ".txt" not in cells and "P000-" not in cells, sec["id"]
    line = secs["ledger"]["rows"][0]
    assert line["rule"] == TITLES["P000-7-1"] and line["article"] == "四(七)一 严格责任追究"
    assert line["cases"] == "2026-11-000001"
    assert secs["ledger"]["rows"][1]["cases"].endswith("等 9 件")
    assert secs["ledger_totals"]["rows"][0]["rule_names"] == TITLES["P000-7-1"]
    assert "城管执法进社区奖惩办法" in secs["ledger_totals"]["title"]
    assert secs["ledger_pending"]["rows"][0]["case"] == IDS[8][:8]  # no number: 8 hex
    assert [c["label"] for c in secs["ledger"]["columns"]] == [
        "规则", "条款", "对象类别", "对象", "金额（元）", "依据说明", "案件编号"]


def test_the_full_ids_stay_in_the_rows_for_json_and_xlsx():
    rows = ledger_sections(city(), LEDGER, titles=TITLES, case_no=NUMBERS)[1]["rows"]
    assert rows[1]["case_ids"] == " ".join(IDS) and rows[1]["rule_id"] == "P000-7-2"


def test_article_and_readable_cases():
    assert article(SOURCE) == "四(七)一 严格责任追究"
    assert article("附件四 三(二)") == "附件四 三(二)"
    assert article("policy.txt") == "policy.txt"
    assert readable_cases(IDS[:2], {}) == f"{IDS[0][:8]}、{IDS[1][:8]}"
