"""Every indicator on every scoreboard dimension, against figures computed by hand.

Thirteen hand-made October cases (C1 … C13), driven through the real service, then the
projections caught up. The sample city plus a second dispatcher (disp_qian), so that the
dispatcher board has two rows. Working time: 08:30–12:00 and 14:00–18:00 on weekdays;
limits: verify, file, dispatch, check 30 working minutes, close 1 hour, resolve 暴露垃圾
E0102 (unit hw) 4 hours, 非机动车乱停放 E0504 (unit cgj) 2 hours. Every case is reported at
09:00 on its own weekday; its steps are 5 minutes apart unless the recipe names a time.

Grids: G1 坭岗 01 and G2 坭岗 02 (community 440303010001, squad patrol-1), G3 清水河 01
(community 440303010005, squad patrol-2); one street 440303010 and one district 440303.
Supervisors: sup_zhang and sup_huang (patrol-1), sup_li (patrol-2).

| case | grid | channel / reporter | what happens |
|---|---|---|---|
| C1 | G1 | patrol sup_zhang | file acc_wang, dispatch disp_chen → hw, resolve, check sup_huang, close: all on time |
| C2 | G1 | patrol sup_zhang | file chief_zhao, disp_chen → cgj (wrong), cgj returns, disp_chen → hw, resolve, check sup_zhang, close |
| C3 | G2 | citizen | verify sup_huang, file acc_wang, disp_qian → hw, resolve the NEXT DAY 16:00 (late), check sup_huang, close (超时结案) |
| C4 | G2 | patrol sup_huang | file acc_wang, disp_chen → hw, resolve, check sup_zhang FAILS (返工), resolve, check passes, close |
| C5 | G1 | patrol sup_zhang | file acc_wang, disp_chen → hw, extension 1d approved by chief_zhao, resolve, check sup_huang, close |
| C6 | G1 | patrol sup_zhang | file acc_wang, disp_qian → hw, shelving approved by chief_zhao (挂账) |
| C7 | G2 | patrol sup_zhang | refused by acc_wang before filing (重复上报) |
| C8 | G1 | patrol sup_zhang | filed by acc_wang, then voided by chief_zhao (立案后作废) |
| C9 | G2 | patrol sup_huang | filed LATE by chief_zhao at 11:00, dispatched LATE by disp_chen at 11:45 → hw, urged, never resolved (tick: overdue open) |
| C10 | G3 | patrol sup_li | file acc_wang, disp_chen → cgj, resolve, check sup_li, close LATE at 11:00 |
| C11 | G3 | hotline | verify sup_li LATE at 10:00, file chief_zhao, disp_qian → cgj, resolve, check sup_li LATE at 11:30, close |
| C12 | G3 | citizen | verify sup_li finds nothing, refused by acc_wang |
| C13 | G3 | inspection acc_wang | file chief_zhao, disp_qian → hw (wrong), hw returns, disp_qian → cgj, resolve, check sup_li, close chief_zhao |

The expected numbers below were worked out by hand from this table (the comments show
the derivation), not by running the code.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from adapters.bootstrap import SAMPLE_CITY, bootstrap, read_yaml
from adapters.config.city_build import build_city
from projections.cases import due_case_ids
from projections.scoreboard import explain, scoreboard
from tests.support import NOW, SH
from workflows.commands import CaseAction, ReportCase

G1, G2, G3 = "44030301000101", "44030301000102", "44030301000501"
NIGANG, QSH = "440303010001", "440303010005"
STREET, DISTRICT = "440303010", "440303"
MONTH = (date(2026, 10, 1), date(2026, 10, 31))
END = datetime(2026, 10, 31, 18, 0, tzinfo=SH)
DAY = {f"C{i}": date(2026, 10, d) for i, d in enumerate(
    (12, 13, 14, 15, 16, 19, 20, 21, 22, 23, 26, 27, 28), start=1)}


def _city():
    raw = read_yaml(SAMPLE_CITY, "config")
    raw["users"].append({"id": "disp_qian", "name": "钱程", "role": "dispatcher"})
    return build_city(raw)


def _build(cg) -> dict[str, str]:
    svc, ids = cg.service, {}

    def case(label, channel, grid, reporter):
        cat = "E0504" if grid == G3 else "E0102"
        d = DAY[label]
        t0 = datetime(d.year, d.month, d.day, 9, 0, tzinfo=SH)
        c = svc.report(ReportCase(channel=channel, category=cat, grid=grid, actor=reporter,
                                  occurred_at=t0))
        ids[label] = str(c.id)
        last = [t0]

        def go(trigger, who, hhmm=None, next_day=False, **kw):
            """At hh:mm (of the next day), else 5 minutes after the case's last step."""
            if hhmm:
                h, m = map(int, hhmm.split(":"))
                when = t0.replace(hour=h, minute=m) + timedelta(days=1 if next_day else 0)
            else:
                when = last[0] + timedelta(minutes=5)
            last[0] = when
            svc.act(CaseAction(c.id, trigger, who, when, **kw))

        return go

    go = case("C1", "patrol", G1, "sup_zhang")
    go("file", "acc_wang"), go("dispatch", "disp_chen"), go("resolve", "hw_luo")
    go("check", "sup_huang", passed=True), go("close", "acc_wang")

    go = case("C2", "patrol", G1, "sup_zhang")
    go("file", "chief_zhao")
    go("dispatch", "disp_chen", unit="cgj", reason="按经验派遣")
    go("return", "cg_liu", reason="不属于本单位")
    go("dispatch", "disp_chen"), go("resolve", "hw_luo")
    go("check", "sup_zhang", passed=True), go("close", "acc_wang")

    go = case("C3", "citizen", G2, "citizen_app")
    go("verify", "sup_huang", passed=True), go("file", "acc_wang"), go("dispatch", "disp_qian")
    go("resolve", "hw_luo", "16:00", next_day=True)  # due 09:15 + 4h = 15:15 the same day
    go("check", "sup_huang", passed=True), go("close", "acc_wang")

    go = case("C4", "patrol", G2, "sup_huang")
    go("file", "acc_wang"), go("dispatch", "disp_chen"), go("resolve", "hw_luo")
    go("check", "sup_zhang", passed=False, reason="未清理干净")
    go("resolve", "hw_luo"), go("check", "sup_zhang", passed=True), go("close", "acc_wang")

    go = case("C5", "patrol", G1, "sup_zhang")
    go("file", "acc_wang"), go("dispatch", "disp_chen")
    go("request_extension", "hw_luo", extra="1d", reason="需协调车辆")
    go("decide_extension", "chief_zhao", approved=True)
    go("resolve", "hw_luo"), go("check", "sup_huang", passed=True), go("close", "acc_wang")

    go = case("C6", "patrol", G1, "sup_zhang")
    go("file", "acc_wang"), go("dispatch", "disp_qian")
    go("request_shelve", "hw_luo", reason="需列入预算")
    go("decide_shelve", "chief_zhao", approved=True, reason="同意挂账")

    go = case("C7", "patrol", G2, "sup_zhang")
    go("refuse", "acc_wang", reason="重复上报")

    go = case("C8", "patrol", G1, "sup_zhang")
    go("file", "acc_wang"), go("refuse", "chief_zhao", reason="立案后发现重复，作废")

    go = case("C9", "patrol", G2, "sup_huang")
    go("file", "chief_zhao", "11:00")  # due 09:30
    go("dispatch", "disp_chen", "11:45")  # due 11:30
    go("urge", "chief_zhao", "14:30", reason="请尽快处置")  # resolve due 17:45, never done

    go = case("C10", "patrol", G3, "sup_li")
    go("file", "acc_wang"), go("dispatch", "disp_chen"), go("resolve", "cg_liu")
    go("check", "sup_li", passed=True)
    go("close", "acc_wang", "11:00")  # due 09:20 + 1h = 10:20

    go = case("C11", "hotline", G3, "hotline_12345")
    go("verify", "sup_li", "10:00", passed=True)  # due 09:30
    go("file", "chief_zhao"), go("dispatch", "disp_qian"), go("resolve", "cg_liu")
    go("check", "sup_li", "11:30", passed=True)  # due 10:15 + 30m = 10:45
    go("close", "acc_wang")  # 11:35, due 14:30

    go = case("C12", "citizen", G3, "citizen_app")
    go("verify", "sup_li", passed=False, reason="查无此事")
    go("refuse", "acc_wang", reason="核实不属实")

    go = case("C13", "inspection", G3, "acc_wang")
    go("file", "chief_zhao")
    go("dispatch", "disp_qian", unit="hw", reason="按经验派遣")
    go("return", "hw_luo", reason="不属于本单位")
    go("dispatch", "disp_qian"), go("resolve", "cg_liu")
    go("check", "sup_li", passed=True), go("close", "chief_zhao")
    return ids


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def built(request, tmp_path_factory):
    if request.param == "postgres":
        import uuid

        env = request.getfixturevalue("pg_server").create_database(f"t_{uuid.uuid4().hex[:12]}")
    else:
        env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite",
               "SQLITE_DBNAME": str(tmp_path_factory.mktemp("dims") / "dims.sqlite")}
    cg = bootstrap(env=env, city=_city(), clock=lambda: NOW)
    ids = _build(cg)
    cg.projections.catch_up()
    cg.service.tick(END, due_case_ids(cg.sql, END))  # C9's resolve deadline, missed and open
    cg.projections.catch_up()
    return cg, ids


def board(cg, by):
    got = scoreboard(cg.sql, cg.city, by=by, start=MONTH[0], end=MONTH[1])
    return {r["key"]: r for r in got["rows"]}


def _r(x):
    return round(x, 4)


# ------------------------------------------------------------------ areas

G1_COUNTS = {  # C1 C2 C5 C6 C8
    "reported": 5, "patrol_reported": 5, "valid": 5, "filed": 5, "patrol_filed": 5,
    "voided": 1, "filed_voided": 1,  # C8
    "dispatched": 4,  # C1 C2 C5 C6
    "dispatch_accurate": 3,  # C1 C5 C6 (C2 came back from cgj)
    "due": 3, "resolved": 3, "on_time": 3,  # C1 C2 C5 (C6 shelved, C8 voided)
    "returned": 1, "extended": 1, "shelved": 1,  # C2, C5, C6
    "fix_passed": 3, "due_closure": 3, "closed": 3, "closed_on_time": 3,
    "check_due": 3, "check_on_time": 3,  # C1 C2 C5
    "file_due": 5, "file_on_time": 5, "dispatch_due": 4, "dispatch_on_time": 4,
    "filed_accurate": 4,  # 5 filed − C8
}
G1_RATES = {
    "satisfaction_rate": None,  # no 回访 in this month
    "assist_on_time_rate": None,  # no 协办 in this month
    "discovery_rate": 1.0, "valid_report_rate": 1.0, "miss_rate": 0.0,
    "resolution_rate": 1.0, "on_time_resolution_rate": 1.0, "rectification_rate": 1.0,
    "rework_rate": 0.0, "overdue_rate": 0.0, "extension_rate": _r(1 / 3),
    "closure_rate": 1.0, "on_time_closure_rate": 1.0, "on_time_verify_rate": None,
    "on_time_check_rate": 1.0, "on_time_filing_rate": 1.0, "accurate_filing_rate": 0.8,
    "on_time_dispatch_rate": 1.0, "accurate_dispatch_rate": 0.75,  # 3 / 4
}
G2_COUNTS = {  # C3 C4 C7 C9
    "reported": 4, "patrol_reported": 3,  # C4 C7 C9
    "valid": 3, "filed": 3,  # C3 C4 C9
    "patrol_filed": 2, "others_filed": 1,  # C4 C9; C3 (citizen)
    "voided": 1,  # C7
    "dispatched": 3, "dispatch_accurate": 3,  # C3 C4 C9, none returned
    "due": 3, "resolved": 2, "on_time": 1,  # C3 C4 C9; C3 C4; C4
    "overdue": 2, "overdue_open": 1,  # C3 C9; C9
    "reworked": 1, "rework_events": 1,  # C4
    "fix_passed": 2, "due_closure": 3, "closed": 2, "closed_on_time": 1,  # C3 C4; C4
    "urged": 1,  # C9
    "verify_due": 1, "verify_on_time": 1,  # C3
    "check_due": 2, "check_on_time": 2,  # C3 C4
    "file_due": 4, "file_on_time": 3,  # C9 filed late
    "dispatch_due": 3, "dispatch_on_time": 2,  # C9 dispatched late
    "filed_accurate": 3,
}
G2_RATES = {
    "satisfaction_rate": None,  # no 回访 in this month
    "assist_on_time_rate": None,  # no 协办 in this month
    "discovery_rate": _r(2 / 3), "valid_report_rate": 0.75, "miss_rate": _r(1 / 3),
    "resolution_rate": _r(2 / 3), "on_time_resolution_rate": _r(1 / 3),
    "rectification_rate": _r(2 / 3), "rework_rate": _r(1 / 3), "overdue_rate": _r(1 / 3),
    "extension_rate": 0.0, "closure_rate": _r(2 / 3), "on_time_closure_rate": _r(1 / 3),
    "on_time_verify_rate": 1.0, "on_time_check_rate": 1.0, "on_time_filing_rate": 0.75,
    "accurate_filing_rate": 1.0, "on_time_dispatch_rate": _r(2 / 3),
    "accurate_dispatch_rate": 1.0,
}
G3_COUNTS = {  # C10 C11 C12 C13
    "reported": 4, "patrol_reported": 1,  # C10
    "valid": 3, "filed": 3, "patrol_filed": 1,  # C10 C11 C13; C10
    "others_filed": 2,  # C11 (hotline), C13 (inspection)
    "voided": 1,  # C12
    "dispatched": 3, "dispatch_accurate": 2,  # C10 C11 (C13 came back from hw)
    "due": 3, "resolved": 3, "on_time": 3, "returned": 1,  # C13 by hw
    "fix_passed": 3, "due_closure": 3, "closed": 3,
    "closed_on_time": 2,  # C11 C13 (C10 closed late)
    "verify_due": 2, "verify_on_time": 1,  # C11 (late) C12
    "check_due": 3, "check_on_time": 2,  # C10 C11 (late) C13
    "file_due": 4, "file_on_time": 4, "dispatch_due": 3, "dispatch_on_time": 3,
    "filed_accurate": 3,
}
G3_RATES = {
    "satisfaction_rate": None,  # no 回访 in this month
    "assist_on_time_rate": None,  # no 协办 in this month
    "discovery_rate": _r(1 / 3), "valid_report_rate": 0.75, "miss_rate": _r(2 / 3),
    "resolution_rate": 1.0, "on_time_resolution_rate": 1.0, "rectification_rate": 1.0,
    "rework_rate": 0.0, "overdue_rate": 0.0, "extension_rate": 0.0, "closure_rate": 1.0,
    "on_time_closure_rate": _r(2 / 3), "on_time_verify_rate": 0.5,
    "on_time_check_rate": _r(2 / 3), "on_time_filing_rate": 1.0,
    "accurate_filing_rate": 1.0, "on_time_dispatch_rate": 1.0,
    "accurate_dispatch_rate": _r(2 / 3),
}
NIGANG_COUNTS = {  # G1 + G2: C1 C2 C3 C4 C5 C6 C7 C8 C9
    "reported": 9, "patrol_reported": 8, "valid": 8, "filed": 8, "patrol_filed": 7,
    "others_filed": 1, "voided": 2, "filed_voided": 1, "dispatched": 7,
    "dispatch_accurate": 6, "due": 6, "resolved": 5, "on_time": 4, "overdue": 2,
    "overdue_open": 1, "reworked": 1, "rework_events": 1, "returned": 1, "extended": 1,
    "shelved": 1, "fix_passed": 5, "due_closure": 6, "closed": 5, "closed_on_time": 4,
    "urged": 1, "verify_due": 1, "verify_on_time": 1, "check_due": 5, "check_on_time": 5,
    "file_due": 9, "file_on_time": 8, "dispatch_due": 7, "dispatch_on_time": 6,
    "filed_accurate": 7,
}
NIGANG_RATES = {
    "satisfaction_rate": None,  # no 回访 in this month
    "assist_on_time_rate": None,  # no 协办 in this month
    "discovery_rate": _r(7 / 8), "valid_report_rate": _r(8 / 9), "miss_rate": _r(1 / 8),
    "resolution_rate": _r(5 / 6), "on_time_resolution_rate": _r(4 / 6),
    "rectification_rate": _r(5 / 6), "rework_rate": _r(1 / 6), "overdue_rate": _r(1 / 6),
    "extension_rate": _r(1 / 6), "closure_rate": _r(5 / 6), "on_time_closure_rate": _r(4 / 6),
    "on_time_verify_rate": 1.0, "on_time_check_rate": 1.0, "on_time_filing_rate": _r(8 / 9),
    "accurate_filing_rate": _r(7 / 8), "on_time_dispatch_rate": _r(6 / 7),
    "accurate_dispatch_rate": _r(6 / 7),
}
ALL_COUNTS = {  # all 13: 坭岗 + 清水河 (= G3)
    "reported": 13, "patrol_reported": 9, "valid": 11, "filed": 11, "patrol_filed": 8,
    "others_filed": 3, "voided": 3, "filed_voided": 1, "dispatched": 10,
    "dispatch_accurate": 8, "due": 9, "resolved": 8, "on_time": 7, "overdue": 2,
    "overdue_open": 1, "reworked": 1, "rework_events": 1, "returned": 2, "extended": 1,
    "shelved": 1, "fix_passed": 8, "due_closure": 9, "closed": 8, "closed_on_time": 6,
    "urged": 1, "verify_due": 3, "verify_on_time": 2, "check_due": 8, "check_on_time": 7,
    "file_due": 13, "file_on_time": 12, "dispatch_due": 10, "dispatch_on_time": 9,
    "filed_accurate": 10,
}
ALL_RATES = {
    "satisfaction_rate": None,  # no 回访 in this month
    "assist_on_time_rate": None,  # no 协办 in this month
    "discovery_rate": _r(8 / 11), "valid_report_rate": _r(11 / 13), "miss_rate": _r(3 / 11),
    "resolution_rate": _r(8 / 9), "on_time_resolution_rate": _r(7 / 9),
    "rectification_rate": _r(8 / 9), "rework_rate": _r(1 / 9), "overdue_rate": _r(1 / 9),
    "extension_rate": _r(1 / 9), "closure_rate": _r(8 / 9), "on_time_closure_rate": _r(6 / 9),
    "on_time_verify_rate": _r(2 / 3), "on_time_check_rate": _r(7 / 8),
    "on_time_filing_rate": _r(12 / 13), "accurate_filing_rate": _r(10 / 11),
    "on_time_dispatch_rate": _r(9 / 10), "accurate_dispatch_rate": 0.8,  # 8 / 10
}


def test_thirteen_cases(built):
    cg, ids = built
    assert len(ids) == 13
    assert len(cg.sql.query("SELECT case_id FROM cg_cases")) == 13


def test_grid_board(built):
    rows = board(built[0], "grid")
    assert set(rows) == {G1, G2, G3}
    for key, counts, rates in ((G1, G1_COUNTS, G1_RATES), (G2, G2_COUNTS, G2_RATES),
                               (G3, G3_COUNTS, G3_RATES)):
        assert rows[key]["counts"] == counts, key
        assert rows[key]["rates"] == rates, key
    # area score: discovery 40, resolution 30, rectification 30
    assert (rows[G1]["score"], rows[G1]["grade"], rows[G1]["rank"]) == (100.0, "A", 1)
    # G3: 40/3 + 30 + 30 = 73.33; G2: (40 + 30 + 30)·2/3 = 66.67
    assert (rows[G3]["score"], rows[G3]["grade"], rows[G3]["rank"]) == (73.33, "C", 2)
    assert (rows[G2]["score"], rows[G2]["grade"], rows[G2]["rank"]) == (66.67, "C", 3)


def test_community_and_squad_boards(built):
    for by, nigang, qsh in (("community", NIGANG, QSH), ("squad", "patrol-1", "patrol-2")):
        rows = board(built[0], by)
        assert set(rows) == {nigang, qsh}, by
        assert rows[nigang]["counts"] == NIGANG_COUNTS, by
        assert rows[nigang]["rates"] == NIGANG_RATES, by
        assert rows[qsh]["counts"] == G3_COUNTS, by  # 清水河 holds only G3's cases
        assert rows[qsh]["rates"] == G3_RATES, by
        # 坭岗: 40·7/8 + 30·5/6 + 30·5/6 = 35 + 25 + 25
        assert (rows[nigang]["score"], rows[nigang]["grade"], rows[nigang]["rank"]) == (85.0, "B", 1)
        assert (rows[qsh]["score"], rows[qsh]["grade"], rows[qsh]["rank"]) == (73.33, "C", 2)


def test_street_and_district_boards(built):
    for by, key in (("street", STREET), ("district", DISTRICT)):
        rows = board(built[0], by)
        assert set(rows) == {key}
        assert rows[key]["counts"] == ALL_COUNTS, by
        assert rows[key]["rates"] == ALL_RATES, by
        # 40·8/11 + 30·8/9 + 30·8/9 = 29.0909 + 26.6667 + 26.6667
        assert (rows[key]["score"], rows[key]["grade"]) == (82.42, "B")


# ------------------------------------------------------------------ units

NONE_BUT = dict.fromkeys(("discovery_rate", "valid_report_rate", "miss_rate",
                          "on_time_verify_rate", "on_time_check_rate", "on_time_filing_rate",
                          "accurate_filing_rate", "on_time_dispatch_rate",
                          "accurate_dispatch_rate", "resolution_rate",
                          "on_time_resolution_rate", "rectification_rate", "rework_rate",
                          "overdue_rate", "extension_rate", "closure_rate",
                          "on_time_closure_rate", "satisfaction_rate", "assist_on_time_rate"))


def test_unit_board(built):
    rows = board(built[0], "unit")
    assert set(rows) == {"hw", "cgj"}
    hw, cgj = rows["hw"], rows["cgj"]
    assert hw["counts"] == {
        "dispatched": 7,  # last dispatched to hw: C1 C2 C3 C4 C5 C6 C9 (C13 went on to cgj)
        "due": 6, "resolved": 5, "on_time": 4,  # C1 C2 C3 C4 C5 C9; minus C9; minus C3
        "overdue": 2, "overdue_open": 1,  # C3 C9; C9
        "reworked": 1, "rework_events": 1, "extended": 1, "shelved": 1,  # C4, C4, C5, C6
        "returned": 1,  # hw sent C13 back
        "fix_passed": 5, "due_closure": 6, "closed": 5, "closed_on_time": 4, "urged": 1,
    }
    assert hw["rates"] == {**NONE_BUT,
                           "resolution_rate": _r(5 / 6), "on_time_resolution_rate": _r(4 / 6),
                           "rectification_rate": _r(5 / 6), "rework_rate": _r(1 / 6),
                           "overdue_rate": _r(1 / 6), "extension_rate": _r(1 / 6),
                           "closure_rate": _r(5 / 6), "on_time_closure_rate": _r(4 / 6)}
    # 30·5/6 + 20·4/6 + 20·5/6 + 20·5/6 + 10·5/6 = 25 + 13.33 + 16.67 + 16.67 + 8.33
    assert (hw["score"], hw["grade"], hw["rank"]) == (80.0, "B", 2)
    assert cgj["counts"] == {
        "dispatched": 3, "due": 3, "resolved": 3, "on_time": 3,  # C10 C11 C13
        "fix_passed": 3, "due_closure": 3, "closed": 3,
        "closed_on_time": 2,  # C10 closed late
        "returned": 1,  # cgj sent C2 back
    }
    assert cgj["rates"] == {**NONE_BUT,
                            "resolution_rate": 1.0, "on_time_resolution_rate": 1.0,
                            "rectification_rate": 1.0, "rework_rate": 0.0,
                            "overdue_rate": 0.0, "extension_rate": 0.0, "closure_rate": 1.0,
                            "on_time_closure_rate": _r(2 / 3)}
    assert (cgj["score"], cgj["grade"], cgj["rank"]) == (100.0, "A", 1)


# ------------------------------------------------------------------ people


def test_supervisor_board(built):
    rows = board(built[0], "supervisor")
    assert set(rows) == {"sup_zhang", "sup_huang", "sup_li"}
    z, h, li = rows["sup_zhang"], rows["sup_huang"], rows["sup_li"]
    assert z["counts"] == {
        "reported": 6, "patrol_reported": 6,  # C1 C2 C5 C6 C7 C8
        "valid": 5,  # all filed but C7
        "filed": 8, "others_filed": 1,  # 坭岗 (squad patrol-1): 8 filed, C3 first reported by a citizen
        "check_due": 2, "check_on_time": 2,  # checked C2 C4
    }
    assert z["rates"] == {**NONE_BUT, "valid_report_rate": _r(5 / 6), "miss_rate": 0.125,
                          "on_time_check_rate": 1.0}
    # (40·5/6 + 20·7/8 + 20·1) / 80 (nothing to verify: the term drops out)
    assert (z["score"], z["grade"]) == (88.54, "B")
    assert h["counts"] == {
        "reported": 2, "patrol_reported": 2, "valid": 2,  # C4 C9
        "filed": 8, "others_filed": 1,
        "verify_due": 1, "verify_on_time": 1,  # C3
        "check_due": 3, "check_on_time": 3,  # C1 C3 C5
    }
    assert h["rates"] == {**NONE_BUT, "valid_report_rate": 1.0, "miss_rate": 0.125,
                          "on_time_verify_rate": 1.0, "on_time_check_rate": 1.0}
    assert (h["score"], h["grade"]) == (97.5, "A")  # 40 + 20·7/8 + 20 + 20
    assert li["counts"] == {
        "reported": 1, "patrol_reported": 1, "valid": 1,  # C10
        "filed": 3, "others_filed": 2,  # 清水河 (patrol-2): C10 C11 C13; C11 C13
        "verify_due": 2, "verify_on_time": 1,  # C11 late, C12
        "check_due": 3, "check_on_time": 2,  # C10, C11 late, C13
    }
    assert li["rates"] == {**NONE_BUT, "valid_report_rate": 1.0, "miss_rate": _r(2 / 3),
                           "on_time_verify_rate": 0.5, "on_time_check_rate": _r(2 / 3)}
    assert (li["score"], li["grade"]) == (70.0, "C")  # 40 + 20/3 + 10 + 40/3
    assert [rows[k]["rank"] for k in ("sup_huang", "sup_zhang", "sup_li")] == [1, 2, 3]


def test_dispatcher_board(built):
    rows = board(built[0], "dispatcher")
    assert set(rows) == {"disp_chen", "disp_qian"}
    chen, qian = rows["disp_chen"], rows["disp_qian"]
    assert chen["counts"] == {
        "dispatched": 6, "dispatch_due": 6,  # C1 C2 C4 C5 C9 C10
        "dispatch_on_time": 5,  # C9 late
        "dispatch_accurate": 5, "returned": 1,  # C2 came back from cgj
    }
    assert chen["rates"] == {**NONE_BUT, "on_time_dispatch_rate": _r(5 / 6),
                             "accurate_dispatch_rate": _r(5 / 6)}
    assert (chen["score"], chen["grade"], chen["rank"]) == (83.33, "B", 2)
    assert qian["counts"] == {
        "dispatched": 4, "dispatch_due": 4, "dispatch_on_time": 4,  # C3 C6 C11 C13
        "dispatch_accurate": 3, "returned": 1,  # C13 came back from hw
    }
    assert qian["rates"] == {**NONE_BUT, "on_time_dispatch_rate": 1.0,
                             "accurate_dispatch_rate": 0.75}
    assert (qian["score"], qian["grade"], qian["rank"]) == (87.5, "B", 1)  # 50 + 50·3/4


def test_duty_chief_board(built):
    rows = board(built[0], "duty-chief")
    assert set(rows) == {"acc_wang", "chief_zhao"}  # who decided filing: acceptor, duty chief
    wang, zhao = rows["acc_wang"], rows["chief_zhao"]
    assert wang["counts"] == {
        "file_due": 9, "file_on_time": 9,  # filed C1 C3 C4 C5 C6 C8 C10, refused C7 C12
        "filed": 7, "filed_voided": 1, "filed_accurate": 6,  # C8 voided after filing
    }
    assert wang["rates"] == {**NONE_BUT, "on_time_filing_rate": 1.0,
                             "accurate_filing_rate": _r(6 / 7)}
    assert (wang["score"], wang["grade"], wang["rank"]) == (92.86, "A", 1)  # 50 + 50·6/7
    assert zhao["counts"] == {
        "file_due": 4, "file_on_time": 3,  # C2 C9 C11 C13; C9 late
        "filed": 4, "filed_accurate": 4,
    }
    assert zhao["rates"] == {**NONE_BUT, "on_time_filing_rate": 0.75,
                             "accurate_filing_rate": 1.0}
    assert (zhao["score"], zhao["grade"], zhao["rank"]) == (87.5, "B", 2)


# ------------------------------------------------------------------ drill-down

C = [f"C{i}" for i in range(1, 14)]
G1_CASES, G2_CASES, G3_CASES = ["C1", "C2", "C5", "C6", "C8"], ["C3", "C4", "C7", "C9"], \
    ["C10", "C11", "C12", "C13"]
# (by, key, rate) -> (numerator cases, denominator cases), listed by hand from the table
EXPLAINED = {
    ("grid", G1, "accurate_dispatch_rate"): (["C1", "C5", "C6"], ["C1", "C2", "C5", "C6"]),
    ("grid", G2, "accurate_dispatch_rate"): (["C3", "C4", "C9"], ["C3", "C4", "C9"]),
    ("grid", G3, "accurate_dispatch_rate"): (["C10", "C11"], ["C10", "C11", "C13"]),
    ("community", NIGANG, "accurate_dispatch_rate"): (
        ["C1", "C3", "C4", "C5", "C6", "C9"], ["C1", "C2", "C3", "C4", "C5", "C6", "C9"]),
    ("community", QSH, "accurate_dispatch_rate"): (["C10", "C11"], ["C10", "C11", "C13"]),
    ("squad", "patrol-1", "accurate_dispatch_rate"): (
        ["C1", "C3", "C4", "C5", "C6", "C9"], ["C1", "C2", "C3", "C4", "C5", "C6", "C9"]),
    ("squad", "patrol-2", "accurate_dispatch_rate"): (["C10", "C11"], ["C10", "C11", "C13"]),
    ("street", STREET, "accurate_dispatch_rate"): (
        ["C1", "C3", "C4", "C5", "C6", "C9", "C10", "C11"],
        ["C1", "C2", "C3", "C4", "C5", "C6", "C9", "C10", "C11", "C13"]),
    ("district", DISTRICT, "accurate_dispatch_rate"): (
        ["C1", "C3", "C4", "C5", "C6", "C9", "C10", "C11"],
        ["C1", "C2", "C3", "C4", "C5", "C6", "C9", "C10", "C11", "C13"]),
    ("dispatcher", "disp_chen", "accurate_dispatch_rate"): (
        ["C1", "C4", "C5", "C9", "C10"], ["C1", "C2", "C4", "C5", "C9", "C10"]),
    ("dispatcher", "disp_qian", "accurate_dispatch_rate"): (
        ["C3", "C6", "C11"], ["C3", "C6", "C11", "C13"]),
    ("dispatcher", "disp_chen", "on_time_dispatch_rate"): (
        ["C1", "C2", "C4", "C5", "C10"], ["C1", "C2", "C4", "C5", "C9", "C10"]),
    ("duty-chief", "acc_wang", "accurate_filing_rate"): (
        ["C1", "C3", "C4", "C5", "C6", "C10"], ["C1", "C3", "C4", "C5", "C6", "C8", "C10"]),
    ("duty-chief", "acc_wang", "on_time_filing_rate"): (
        ["C1", "C3", "C4", "C5", "C6", "C7", "C8", "C10", "C12"],
        ["C1", "C3", "C4", "C5", "C6", "C7", "C8", "C10", "C12"]),
    ("duty-chief", "chief_zhao", "on_time_filing_rate"): (
        ["C2", "C11", "C13"], ["C2", "C9", "C11", "C13"]),
    ("duty-chief", "chief_zhao", "accurate_filing_rate"): (
        ["C2", "C9", "C11", "C13"], ["C2", "C9", "C11", "C13"]),
    ("unit", "hw", "on_time_resolution_rate"): (
        ["C1", "C2", "C4", "C5"], ["C1", "C2", "C3", "C4", "C5", "C9"]),
    ("unit", "hw", "overdue_rate"): (["C9"], ["C1", "C2", "C3", "C4", "C5", "C9"]),
    ("unit", "cgj", "on_time_closure_rate"): (["C11", "C13"], ["C10", "C11", "C13"]),
    ("grid", G2, "discovery_rate"): (["C4", "C9"], ["C3", "C4", "C9"]),
    ("grid", G3, "miss_rate"): (["C11", "C13"], ["C10", "C11", "C13"]),
    ("grid", G3, "on_time_verify_rate"): (["C12"], ["C11", "C12"]),
    ("supervisor", "sup_li", "on_time_check_rate"): (["C10", "C13"], ["C10", "C11", "C13"]),
    ("supervisor", "sup_zhang", "valid_report_rate"): (
        ["C1", "C2", "C5", "C6", "C8"], ["C1", "C2", "C5", "C6", "C7", "C8"]),
    ("supervisor", "sup_huang", "miss_rate"): (
        ["C3"], ["C1", "C2", "C3", "C4", "C5", "C6", "C8", "C9"]),
}


def _explain(cg, by, key, indicator):
    return explain(cg.sql, cg.city, by=by, key=key, indicator=indicator,
                   start=MONTH[0], end=MONTH[1])


def test_rates_explain_their_cases(built):
    cg, ids = built
    label = {v: k for k, v in ids.items()}
    for (by, key, ind), (num, den) in EXPLAINED.items():
        ex = _explain(cg, by, key, ind)
        got = (sorted(label[c] for c in ex["numerator"]["case_ids"]),
               sorted(label[c] for c in ex["denominator"]["case_ids"]))
        assert got == (sorted(num), sorted(den)), (by, key, ind)
        assert ex["value"] == _r(len(num) / len(den)), (by, key, ind)
        # the drill-down agrees with the board it explains
        assert board(cg, by)[key]["rates"][ind] == ex["value"], (by, key, ind)


def test_every_figure_of_every_board_explains_itself(built):
    cg, _ = built
    for by in ("unit", "grid", "community", "street", "district", "squad", "supervisor",
               "dispatcher", "duty-chief"):
        for key, row in board(cg, by).items():
            for name, n in row["counts"].items():
                got = _explain(cg, by, key, name)
                assert got["value"] == n, (by, key, name)
                if name not in ("rework_events", "returned"):  # events, not cases
                    assert got["numerator"]["n"] == n, (by, key, name)
            for name, v in row["rates"].items():
                got = _explain(cg, by, key, name)
                assert got["value"] == v, (by, key, name)


def test_a_rate_that_is_not_a_figure_of_a_board_explains_as_none(built):
    cg, _ = built
    # a duty chief's board has filings, not where the cases came from: no discovery rate
    ex = _explain(cg, "duty-chief", "acc_wang", "discovery_rate")
    assert ex["value"] is None and ex["applies"] is False
    assert ex["numerator"]["case_ids"] == [] and ex["denominator"]["case_ids"] == []
    ex = _explain(cg, "supervisor", "sup_zhang", "accurate_filing_rate")
    assert ex["value"] is None and ex["applies"] is False


def test_boards_folded_again_as_of_now_equal_the_live_boards(built):
    """The as-of path folds each case's events again (no counters table): same figures."""
    cg, _ = built
    later = datetime(2027, 1, 1, tzinfo=SH)
    for by in ("unit", "grid", "community", "street", "district", "squad", "supervisor",
               "dispatcher", "duty-chief"):
        then = scoreboard(cg.sql, cg.city, by=by, start=MONTH[0], end=MONTH[1], as_of=later)
        assert {r["key"]: r for r in then["rows"]} == board(cg, by), by
