"""A hand-built October: known grades and ledger amounts, checked to the yuan, in every format.

Eleven cases, written through the same service as production, and a few patrol days.
The expected numbers were worked out by hand from the recipes below (see the comments),
under the sample policy (adapters/cities/sample-policy.yaml) evaluated on 5 November 08:00.

    case  where  how found               handled (first 处置反馈)       24-hour rule
    IC1   坭岗   patrol sup_zhang 12 Oct  6 h later                     —
    IC2   坭岗   patrol sup_zhang 13 Oct  24 h 01 min later             −4000 坭岗, −500 张伟
    IC3   玉龙   patrol sup_huang 14 Oct  23 h 59 min later             —
    IC4   清水河 citizen 15 Oct (normal)  verified, filed, resolved      −4000 清水河, −500 李娜; +200 reward
    IC5   玉龙   inspection 20 Oct, 始建:2026-09-28                     −8000 玉龙, −1000 黄磊 (double)
    IC6   坭岗   citizen 21 Oct (urgent)  verified, filed, resolved      −4000 坭岗, −500 张伟; +500 reward
    IC7   梅园   citizen 22 Oct           not confirmed, refused         —
    IC8   清水河 patrol sup_li 30 Oct 16:00 (urgent), never resolved    −4000 清水河, −500 李娜
    IC9   清水河 patrol sup_li 31 Oct 20:00, resolved 1 Nov 19:59       — (month edge, 23 h 59 min)
    IC10  玉龙   patrol sup_huang 23 Oct, E0102, refused (duplicate)   collector: wrong entry −10
    IC11  清水河 patrol sup_li 15 Sep, E0401 urgent (last month)        —

Area grades (discovery 40, resolution 30, rectification 30):
    坭岗 2/3, 1, 1 → 86.67 B (+2000); 玉龙 1/2, 1, 1 → 80.00 B (+2000);
    清水河 2/3, 2/3, 2/3 → 66.67 C (nothing); 梅园: nothing filed → no grade.
Collectors: 张伟 +4 (IC1, IC2) −5 (IC6 missed); 黄磊 +4 (IC3, IC10) −10 (IC10) −5 (IC5);
    李娜 +4 (IC8, IC9) −5 (IC4).
同奖同罚 (25% to the street and to the squad of every community amount of P000-7-1 and P000-4-2):
    street −1000 −1000 −2000 −1000 −1000 +500 +500 = −5000;
    巡查一中队 −1000 (IC2) −2000 (IC5) −1000 (IC6) +500 +500 = −3000; 巡查二中队 −1000 −1000 = −2000.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from openpyxl import load_workbook

from adapters.policies import SAMPLE_POLICY, load_policy
from adapters.reports import compare, daily, monthly, render, weekly
from adapters.reports.numbers import case_numbers
from projections.cases import due_case_ids
from projections.ledger import ledger
from tests.support import SH, grid
from workflows.commands import CaseAction, ReportCase
from workflows.patrol import PatrolService

NIGANG, MEIYUAN, YULONG, QSH = ("44030301000101", "44030301000201", "44030301000301",
                                "44030301000501")
NOW = datetime(2026, 11, 5, 8, 0, tzinfo=SH)
OCT = (date(2026, 10, 1), date(2026, 10, 31))


def at(month, day, hour, minute=0):
    return datetime(2026, month, day, hour, minute, tzinfo=SH)


def build(cg) -> dict[str, str]:
    svc, ids = cg.service, {}

    def case(name, channel, grid_, actor, t, *, category="E0101", urgency="normal",
             description="", verify=None, handled=None, refuse=None, dispatch=True):
        c = svc.report(ReportCase(channel=channel, category=category, grid=grid_, actor=actor,
                                  occurred_at=t, urgency=urgency, description=description))
        ids[name] = cid = str(c.id)
        k = [t]

        def go(trigger, who, when=None, **kw):
            k[0] = when or k[0] + timedelta(minutes=5)
            svc.act(CaseAction(c.id, trigger, who, k[0], **kw))

        if verify is not None:
            ok = verify != "false"
            go("verify", verify if ok else "sup_zhang", passed=ok, reason=None if ok else "查无此事")
            if not ok:
                go("refuse", "acc_wang", reason="核实不属实")
                return cid
        if refuse:
            go("refuse", "acc_wang", reason=refuse)
            return cid
        go("file", "acc_wang")
        if not dispatch:
            return cid
        go("dispatch", "disp_chen")
        if handled is None:
            return cid
        member = "zf_guo" if category == "E0101" else "hw_luo"
        go("resolve", member, t + handled)
        go("check", "sup_zhang" if grid_ != QSH else "sup_li", passed=True)
        go("close", "acc_wang")
        return cid

    h = timedelta(hours=1)
    case("IC11", "patrol", QSH, "sup_li", at(9, 15, 9), category="E0401", urgency="urgent",
         dispatch=False)
    case("IC1", "patrol", NIGANG, "sup_zhang", at(10, 12, 9), handled=6 * h)
    case("IC2", "patrol", NIGANG, "sup_zhang", at(10, 13, 9), handled=24 * h + timedelta(minutes=1))
    case("IC3", "patrol", YULONG, "sup_huang", at(10, 14, 10), handled=24 * h - timedelta(minutes=1))
    case("IC4", "citizen", QSH, "citizen_app", at(10, 15, 10), verify="sup_li", handled=5 * h)
    case("IC5", "inspection", YULONG, "acc_wang", at(10, 20, 10),
         description="县暗访组发现在建违法建筑，始建:2026-09-28", handled=3 * h)
    case("IC6", "citizen", NIGANG, "citizen_app", at(10, 21, 10), urgency="urgent",
         verify="sup_zhang", handled=h)
    case("IC7", "citizen", MEIYUAN, "citizen_app", at(10, 22, 10), verify="false")
    case("IC10", "patrol", YULONG, "sup_huang", at(10, 23, 9), category="E0102", refuse="重复上报")
    case("IC8", "patrol", QSH, "sup_li", at(10, 30, 16), urgency="urgent")
    case("IC9", "patrol", QSH, "sup_li", at(10, 31, 20), handled=24 * h - timedelta(minutes=1))
    cg.projections.catch_up()
    svc.tick(NOW, due_case_ids(cg.sql, NOW))  # IC8 misses its resolve deadline
    # patrol days: 坭岗's squad reports nil on 12 Oct, findings on 13 Oct, late on 14 Oct;
    # 清水河's squad reports on 30 Oct; the tick records every other day of October missed
    ps = PatrolService(cg.app, cg.city, clock=lambda: NOW)
    ps.report(squad="patrol-1", day="2026-10-12", actor="sup_zhang", nil=True, at=at(10, 12, 16, 50))
    ps.report(squad="patrol-1", day="2026-10-13", actor="sup_zhang", case_ids=[ids["IC2"]],
              at=at(10, 13, 16, 59), note="坭岗社区发现违法搭建一处")
    ps.report(squad="patrol-1", day="2026-10-14", actor="sup_huang", nil=True, at=at(10, 14, 17, 1))
    ps.report(squad="patrol-2", day="2026-10-30", actor="sup_li", case_ids=[ids["IC8"]],
              at=at(10, 30, 16, 30))
    ps.tick(NOW, since=OCT[0])
    cg.projections.catch_up()
    return ids


@pytest.fixture(scope="module")
def month(tmp_path_factory):
    env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite",
           "SQLITE_DBNAME": str(tmp_path_factory.mktemp("reports") / "m.sqlite")}
    cg = grid(env, clock=lambda: NOW)
    ids = build(cg)
    pol = load_policy(None, cg.city)
    doc = monthly(cg.sql, cg.city, "2026-10", NOW, pol, app=cg.app)
    yield cg, ids, pol, doc
    cg.close()


def sec(doc, sid):
    return next(s for s in doc["sections"] if s["id"] == sid)


def lines_by(led, rule):
    return sorted((ln["who"], ln["amount"], tuple(ln["case_ids"])) for ln in led["lines"]
                  if ln["rule_id"] == rule)


def test_grades_by_community(month):
    _, _, _, doc = month
    rows = {r["key"]: r for r in sec(doc, "area_ranking")["rows"]}
    assert (rows["440303010001"]["score"], rows["440303010001"]["grade"]) == (86.67, "B")
    assert (rows["440303010003"]["score"], rows["440303010003"]["grade"]) == (80.0, "B")
    assert (rows["440303010005"]["score"], rows["440303010005"]["grade"]) == (66.67, "C")
    assert rows["440303010002"]["score"] is None and rows["440303010002"]["grade"] == "—"
    assert [rows[k]["rank"] for k in ("440303010001", "440303010003", "440303010005")] == [1, 2, 3]


def test_ledger_to_the_yuan(month):
    _, ids, _, doc = month
    led = doc["ledger"]
    i = {k: (v,) for k, v in ids.items()}
    assert lines_by(led, "P000-7-1") == sorted([
        ("440303010001", -4000, i["IC2"]), ("sup_zhang", -500, i["IC2"]),
        ("440303010005", -4000, i["IC4"]), ("sup_li", -500, i["IC4"]),
        ("440303010003", -8000, i["IC5"]), ("sup_huang", -1000, i["IC5"]),
        ("440303010001", -4000, i["IC6"]), ("sup_zhang", -500, i["IC6"]),
        ("440303010005", -4000, i["IC8"]), ("sup_li", -500, i["IC8"]),
    ])
    citizen = lines_by(led, "P000-4-4")
    assert sorted((a, c) for _, a, c in citizen) == sorted([(200, i["IC4"]), (500, i["IC6"])])
    assert lines_by(led, "P002-F4-3-2") == [] and lines_by(led, "P002-F4-3-5") == []
    assert lines_by(led, "P002-F4-3-4") == sorted([
        ("sup_zhang", 4, tuple(sorted(ids[k] for k in ("IC1", "IC2")))),
        ("sup_zhang", -5, i["IC6"]),
        ("sup_huang", 4, tuple(sorted(ids[k] for k in ("IC3", "IC10")))),
        ("sup_huang", -10, i["IC10"]), ("sup_huang", -5, i["IC5"]),
        ("sup_li", 4, tuple(sorted(ids[k] for k in ("IC8", "IC9")))),
        ("sup_li", -5, i["IC4"]),
    ])
    assert [(w, a) for w, a, _ in lines_by(led, "P000-4-2")] == [("440303010001", 2000),
                                                                  ("440303010003", 2000)]
    totals = {t["who"]: t["net"] for t in led["totals"]}
    assert {k: v for k, v in totals.items() if not k.startswith(("sup_", "4403", "patrol"))} == {
        "*": 700}  # the reporters' total (each reward is its own line above)
    assert {k: totals[k] for k in ("440303010001", "440303010003", "440303010005", "440303010",
                                   "patrol-1", "patrol-2", "sup_zhang", "sup_huang", "sup_li")} == {
        "440303010001": -6000, "440303010003": -6000, "440303010005": -8000,
        "440303010": -5000, "patrol-1": -3000, "patrol-2": -2000,
        "sup_zhang": -1001, "sup_huang": -1011, "sup_li": -1001}
    assert led["reward_total"] == 6712 and led["deduction_total"] == -39025
    assert led["pending"] == []
    # every yuan names its rule, its source document and (but the grade lines) its cases
    for ln in led["lines"]:
        assert ln["rule_id"] and ln["source"].startswith(("000_", "002_")) and ln["explanation"]
        assert ln["case_ids"] or ln["kind"] == "no_major_incident_year"


def test_the_double_and_the_month_edge(month):
    _, ids, _, doc = month
    ic5 = [ln for ln in doc["ledger"]["lines"] if ln["case_ids"] == [ids["IC5"]]
           and ln["rule_id"] == "P000-7-1"]
    assert {ln["amount"] for ln in ic5} == {-8000, -1000}
    assert "始建 2026-09-28" in ic5[0]["explanation"] and "2倍" in ic5[0]["explanation"]
    assert not any(ids["IC9"] in ln["case_ids"] for ln in doc["ledger"]["lines"]
                   if ln["rule_id"] == "P000-7-1")


def test_bulletin_sections(month):
    cg, ids, _, doc = month
    assert [s["id"] for s in doc["sections"]][:3] == ["summary", "ranking", "unit_indicators"]
    rank = sec(doc, "ranking")["rows"]
    assert [r["key"] for r in rank] == ["qsh-zf"]  # every dispatched case went to the street team
    summary = {r["item"]: r for r in sec(doc, "summary")["rows"]}
    assert (summary["上报数"]["cur"], summary["上报数"]["prev"]) == (10, 1)
    assert (summary["立案数"]["cur"], summary["立案数"]["prev"]) == (8, 1)
    top = sec(doc, "top_categories")["rows"]
    assert (top[0]["category"], top[0]["n"]) == ("E0101 违法搭建", 9)
    hot = sec(doc, "hot_cells")["rows"]
    assert {(h["grid"], h["n"]) for h in hot[:3]} == {(NIGANG, 3), (YULONG, 3), (QSH, 3)}
    overdue = sec(doc, "overdue_ledger")["rows"]
    assert [r["case_id"] for r in overdue] == [ids["IC8"]]
    misses = sec(doc, "patrol_misses")
    # 31 days × 2 squads = 62 due; on time: 12 and 13 Oct (patrol-1), 30 Oct (patrol-2)
    assert "应报 62 次，按时 3 次，迟报 1 次，未报 58 次" in misses["note"]
    flagged = [r for r in misses["rows"] if r["flag"]]
    # nil reports on days the squad's own patrol reported a case: IC1 (12 Oct), IC3 (14 Oct)
    assert [(r["day"], r["squad"]) for r in flagged] == [("2026-10-12", "patrol-1"),
                                                         ("2026-10-14", "patrol-1")]
    assert all(r["miss_recorded"] == "已记录" for r in misses["rows"] if r["status"] == "missed")


def test_patrol_misses_are_events_in_the_log(month):
    cg, _, _, _ = month
    types = [n.topic.rsplit(".", 1)[-1] for n in cg.app.recorder.select_notifications(start=1, limit=10_000)]
    # October: 58 missed squad-days + the late 14 Oct; the tick on 5 Nov 08:00 also
    # covers 1–4 November (8 squad-days)
    assert types.count("PatrolReportMissed") == 59 + 8
    assert types.count("PatrolReported") == 4
    # a second tick records nothing new
    ps = PatrolService(cg.app, cg.city, clock=lambda: NOW)
    assert ps.tick(NOW, since=OCT[0]) == []


def test_pdf_has_the_ranking_table(month, tmp_path):
    _, _, _, doc = month
    pdf = render(doc, "pdf", tmp_path / "bulletin.pdf")
    assert pdf.read_bytes()[:5] == b"%PDF-"
    if not shutil.which("pdftoppm"):
        pytest.fail("pdftoppm missing: run deploy/install-system-deps.sh (poppler-utils)")
    subprocess.run(["pdftoppm", "-r", "50", "-png", "-f", "1", "-l", "2", str(pdf),
                    str(tmp_path / "page")], check=True)
    pngs = sorted(tmp_path.glob("page-*.png"))
    assert pngs and all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 5000
                        for p in pngs)
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], check=True,
                          capture_output=True, text=True).stdout
    assert "2026年10月 城市管理工作分析通报" in text
    assert "成员单位考评排名" in text and "社区（责任区）考评排名" in text
    flat = "".join(subprocess.run(["pdftotext", str(pdf), "-"], check=True, capture_output=True,
                                  text=True).stdout.split())
    assert "1清水河街道综合行政执法队" in flat  # rank 1 of the units' ranking
    for label in ("名次", "综合得分", "等次", "处置率"):
        assert label in text
    assert "坭岗社区" in text and "86.67" in text and "80.00" in text and "66.67" in text
    assert "奖惩明细" in text and "-8,000" in text and "P000-7-1" in text


def test_xlsx_reads_back(month, tmp_path):
    cg, ids, _, doc = month
    path = render(doc, "xlsx", tmp_path / "bulletin.xlsx")
    wb = load_workbook(path)
    assert wb.sheetnames[0] == "封面" and "图表" in wb.sheetnames
    assert len(wb.sheetnames) == len(doc["sections"]) + 2  # one sheet per table
    ranking = wb["社区（责任区）考评排名"]
    header = [c.value for c in ranking[2]]
    assert header[:4] == ["名次", "名称", "综合得分", "等次"]
    rows = [[c.value for c in r] for r in ranking.iter_rows(min_row=3)]
    assert rows[0][:4] == [1, "坭岗社区", 86.67, "B"]
    assert ranking.cell(3, 5).number_format == "0.00%"
    detail = wb["奖惩明细（每笔金额的规则与案件）"]
    head = [c.value for c in detail[2]]
    amount, cases = head.index("金额（元）"), head.index("案件编号")
    got = [(r[amount].value, r[cases].value) for r in detail.iter_rows(min_row=3)]
    assert sum(a for a, _ in got) == 6712 - 39025
    assert (-8000, case_numbers(cg.sql, [ids["IC5"]])[ids["IC5"]]) in got  # its readable number


def test_html_and_json(month, tmp_path):
    _, _, _, doc = month
    html = render(doc, "html", tmp_path / "b.html").read_text(encoding="utf-8")
    assert html.count("data:image/png;base64,") >= 3 and "奖惩汇总" in html and "86.67" in html
    back = json.loads(render(doc, "json", tmp_path / "b.json").read_text(encoding="utf-8"))
    assert back["ledger"]["reward_total"] == 6712


def test_what_if_another_policy_writes_nothing(month, tmp_path):
    cg, ids, base, _ = month
    raw = yaml.safe_load(Path(SAMPLE_POLICY).read_text(encoding="utf-8"))
    raw["id"] = "strict-2027"
    ic = next(r for r in raw["rules"] if r["id"] == "P000-7-1")
    ic["params"].update(clock="working", community_amount=5000)  # 24 working hours, 5000
    grade = next(r for r in raw["rules"] if r["id"] == "P000-4-2")
    grade["params"]["amounts"] = {"A": 4000, "B": 1000, "C": -1000}
    raw["scoring"] = {"weights": {"area": {"discovery_rate": 60, "resolution_rate": 20,
                                           "rectification_rate": 20}}}
    other_path = tmp_path / "strict.yaml"
    other_path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    other = load_policy(other_path, cg.city)
    head = cg.app.recorder.max_notification_id()
    tables = {t: cg.sql.query(f"SELECT COUNT(*) FROM {t}") for t in
              ("cg_cases", "cg_sb_case", "cg_sb_counts", "cg_trail", "cg_patrol", "cg_tracking")}
    doc = compare(cg.sql, cg.city, "2026-10", NOW, base, other, app=cg.app)
    assert cg.app.recorder.max_notification_id() == head
    assert tables == {t: cg.sql.query(f"SELECT COUNT(*) FROM {t}") for t in tables}
    grades = {r["name"]: r for r in sec(doc, "grades_community")["rows"]}
    # 坭岗: 60·2/3 + 20 + 20 = 80 B; 玉龙: 30 + 40 = 70 C; 清水河: 100·2/3 = 66.67 C
    assert (grades["坭岗社区"]["score_b"], grades["坭岗社区"]["grade_b"]) == (80.0, "B")
    assert (grades["玉龙社区"]["score_b"], grades["玉龙社区"]["grade_b"]) == (70.0, "C")
    assert grades["玉龙社区"]["changed"] == "是" and grades["清水河社区"]["score_b"] == 66.67
    led = ledger(cg.sql, cg.city, other, *OCT, NOW, app=cg.app)
    # 24 working hours: IC2 (24 h 01 min wall = 7.02 working h) is now in time; IC8 is
    # Fri 16:00 → 5 Nov, far past 24 working hours; the others were found by others
    p = lines_by(led, "P000-7-1")
    assert ("440303010001", -5000, (ids["IC6"],)) in p
    assert not any(ids["IC2"] in c for _, _, c in p)
    assert ("440303010005", -5000, (ids["IC8"],)) in p
    assert ("440303010003", -10000, (ids["IC5"],)) in p
    # grades: 坭岗 B +1000; 玉龙 C −1000; 清水河 C −1000
    assert [(w, a) for w, a, _ in lines_by(led, "P000-4-2")] == [
        ("440303010001", 1000), ("440303010003", -1000), ("440303010005", -1000)]
    diff = {r["who_name"]: r for r in sec(doc, "ledger_diff")["rows"]}
    # 坭岗: base −6000; other −5000 (IC6) +1000 = −4000
    assert (diff["坭岗社区"]["net_a"], diff["坭岗社区"]["net_b"], diff["坭岗社区"]["diff"]) == (
        -6000, -4000, 2000)
    total = next(r for r in sec(doc, "ledger_diff")["rows"] if r["who_kind_zh"] == "合计")
    assert total["net_a"] == 6712 - 39025


def test_daily_and_weekly(month):
    cg, ids, _, _ = month
    d = daily(cg.sql, cg.city, date(2026, 10, 14), NOW)
    pat = {r["squad"]: r for r in sec(d, "patrol")["rows"]}
    assert pat["patrol-1"]["status_zh"] == "迟报（零报告）" and pat["patrol-1"]["miss_recorded"]
    assert pat["patrol-2"]["status_zh"] == "未报告"
    assert [r["case_id"] for r in sec(d, "new")["rows"]] == [ids["IC3"]]
    d30 = daily(cg.sql, cg.city, date(2026, 10, 30), NOW)
    assert {r["squad"]: r["status_zh"] for r in sec(d30, "patrol")["rows"]} == {
        "patrol-1": "未报告", "patrol-2": "按时报告"}
    nov2 = daily(cg.sql, cg.city, date(2026, 11, 2), NOW)  # IC8's resolve due (Mon 2 Nov)
    assert [r["case_id"] for r in sec(nov2, "overdue")["rows"]] == [ids["IC8"]]
    w = weekly(cg.sql, cg.city, "2026-W43", NOW)  # 19–25 Oct: IC5, IC6, IC7, IC10
    com = {r["key"]: r for r in sec(w, "by_community")["rows"]}
    assert (com["440303010003"]["reported"], com["440303010003"]["filed"]) == (2, 1)
    assert (com["440303010003"]["reported_prev"], com["440303010003"]["resolved_prev"]) == (1, 1)
    assert com["440303010001"]["reported"] == 1 and com["440303010002"]["filed"] == 0
    street = sec(w, "by_street")["rows"][0]
    assert (street["reported"], street["reported_prev"]) == (4, 4)  # W42: IC1–IC4
    units = {r["key"]: r for r in sec(w, "by_unit")["rows"]}
    assert units["qsh-zf"]["resolved"] == 2 and units["qsh-zf"]["resolved_prev"] == 4


def test_bulletin_as_of_the_fifth_stays_the_same(tmp_path):
    """A bulletin made --as-of the moment it was published is the same document later,
    after more cases, a late patrol report and an unshelved case were recorded."""
    import time
    from datetime import UTC

    cg = grid({"PERSISTENCE_MODULE": "eventsourcing.sqlite",
               "SQLITE_DBNAME": str(tmp_path / "asof.sqlite")}, clock=lambda: NOW)
    ids = build(cg)
    svc = cg.service
    longhu = "44030301000701"
    shelf = svc.report(ReportCase(channel="patrol", category="E0102", grid=longhu, actor="sup_li",
                                  occurred_at=at(10, 26, 9)))
    for k, (trigger, who, kw) in enumerate([
            ("file", "acc_wang", {}), ("dispatch", "disp_chen", {}),
            ("request_shelve", "hw_luo", {"reason": "需列入预算"}),
            ("decide_shelve", "chief_zhao", {"approved": True, "reason": "同意挂账"})], start=1):
        svc.act(CaseAction(shelf.id, trigger, who, at(10, 26, 9, k), **kw))
    pol = load_policy(None, cg.city)
    cg.projections.catch_up()
    before = monthly(cg.sql, cg.city, "2026-10", NOW, pol, app=cg.app)
    assert [r["case_id"] for r in sec(before, "shelved_ledger")["rows"]] == [str(shelf.id)]
    time.sleep(0.01)
    published = datetime.now(UTC)
    time.sleep(0.01)
    # recorded after publication: a citizen's report of October, a late patrol report for
    # 20 October, the shelved case dispatched again
    late = svc.report(ReportCase(channel="citizen", category="E0101", grid=NIGANG,
                                 actor="citizen_app", occurred_at=at(10, 28, 9)))
    svc.act(CaseAction(late.id, "verify", "sup_zhang", at(10, 28, 9, 5), passed=True))
    svc.act(CaseAction(late.id, "file", "acc_wang", at(10, 28, 9, 10)))
    svc.act(CaseAction(shelf.id, "dispatch", "disp_chen", NOW))
    PatrolService(cg.app, cg.city, clock=lambda: NOW).report(
        squad="patrol-2", day="2026-10-20", actor="sup_li", nil=True, at=NOW)
    cg.projections.catch_up()
    now_doc = monthly(cg.sql, cg.city, "2026-10", NOW, pol, app=cg.app)
    assert now_doc["ledger"]["deduction_total"] < before["ledger"]["deduction_total"]  # 坭岗 again
    assert sec(now_doc, "shelved_ledger")["rows"] == []
    then = monthly(cg.sql, cg.city, "2026-10", NOW, pol, app=cg.app, as_of=published)
    assert then["as_of"] and then["ledger"] == {**before["ledger"], "as_of": published.isoformat()}
    assert then["sections"] == before["sections"]
    assert ids["IC5"] in json.dumps(then["ledger"])
    cg.close()


def test_the_same_month_on_postgres(pg_env, tmp_path):
    """The bulletin's SQL on PostgreSQL: the same grades and the same yuan, as of now and as of
    the publication moment, and a PDF."""
    from datetime import UTC

    cg = grid(pg_env, clock=lambda: NOW)
    try:
        build(cg)
        pol = load_policy(None, cg.city)
        doc = monthly(cg.sql, cg.city, "2026-10", NOW, pol, app=cg.app)
        led = doc["ledger"]
        assert (led["reward_total"], led["deduction_total"]) == (6712, -39025)
        rows = {r["key"]: (r["score"], r["grade"]) for r in sec(doc, "area_ranking")["rows"]}
        assert rows["440303010001"] == (86.67, "B") and rows["440303010005"] == (66.67, "C")
        then = monthly(cg.sql, cg.city, "2026-10", NOW, pol, app=cg.app, as_of=datetime.now(UTC))
        assert then["sections"] == doc["sections"]
        assert render(doc, "pdf", tmp_path / "pg.pdf").read_bytes()[:5] == b"%PDF-"
    finally:
        cg.close()
