"""Live alerts (adapters/http/alerts.py) are scoped like the inbox and the queues: a unit
hears only of its own unit's dispatches and due times, never another unit's; the center
hears of new reports; nothing is told twice on one connection."""

from __future__ import annotations

from datetime import timedelta

import pytest

from adapters.bootstrap import bootstrap
from adapters.http.alerts import Watch, head, listens
from tests.support import NOW, T0, act, city, drive, report


@pytest.fixture
def cg(tmp_path):
    g = bootstrap(data_dir=tmp_path, city=city(), clock=lambda: NOW)
    yield g
    g.close()


def watch(cg, user_id: str) -> Watch:
    cg.projections.catch_up()
    return Watch(cg.city.users[user_id], cg.city, head(cg.sql)).begin(cg.sql)


def poll(cg, w: Watch, now=NOW) -> list[dict]:
    cg.projections.catch_up()
    return w.poll(cg.sql, now)


def test_a_unit_hears_of_its_own_dispatches_only(cg):
    hw, cgj, chief = watch(cg, "hw_luo"), watch(cg, "cg_liu"), watch(cg, "chief_zhao")
    mine = drive(cg.service, "dispatched")  # E0102 -> hw by the routing rule
    got = poll(cg, hw)
    assert [(a["kind"], a["case_id"]) for a in got] == [("dispatched", str(mine.id))]
    assert got[0]["no"] and got[0]["category"] == "暴露垃圾" and got[0]["community"]
    assert poll(cg, cgj) == []
    assert poll(cg, hw) == []  # told once

    theirs = report(cg.service, at=T0 + timedelta(hours=1))
    act(cg.service, theirs, "file", "acc_wang", T0 + timedelta(hours=1, minutes=1))
    act(cg.service, theirs, "dispatch", "disp_chen", T0 + timedelta(hours=1, minutes=2),
        unit="cgj", reason="城管执法")
    assert [a["case_id"] for a in poll(cg, cgj)] == [str(theirs.id)]
    assert poll(cg, hw) == []
    assert all(a["kind"] == "reported" for a in poll(cg, chief))


def test_the_center_hears_of_new_reports_and_units_do_not(cg):
    chief, insp, hw = watch(cg, "chief_zhao"), watch(cg, "insp_sun"), watch(cg, "hw_luo")
    case = report(cg.service, at=T0)
    for w in (chief, insp):
        got = poll(cg, w)
        assert [(a["kind"], a["case_id"]) for a in got] == [("reported", str(case.id))]
    assert poll(cg, hw) == []
    act(cg.service, case, "file", "acc_wang", T0 + timedelta(minutes=1))
    assert poll(cg, chief) == []  # filed: the same report, not told again


def test_a_unit_hears_of_its_cases_nearing_their_due_time_once(cg):
    hw, cgj = watch(cg, "hw_luo"), watch(cg, "cg_liu")
    case = drive(cg.service, "dispatched")
    poll(cg, hw)  # the dispatch itself
    due = cg.service.get(case.id).due_at
    assert poll(cg, hw, now=due - timedelta(hours=3)) == []  # not near yet
    got = poll(cg, hw, now=due - timedelta(minutes=30))
    assert [(a["kind"], a["case_id"]) for a in got] == [("due", str(case.id))]
    assert poll(cg, hw, now=due - timedelta(minutes=20)) == []
    assert poll(cg, cgj, now=due - timedelta(minutes=30)) == []


def test_who_listens():
    users = city().users
    assert listens(users["hw_luo"]) and listens(users["chief_zhao"]) and listens(users["insp_sun"])
    assert not listens(users["citizen_app"])


def test_an_urging_or_a_missed_deadline_is_no_new_dispatch_but_a_rework_is(cg):
    case = drive(cg.service, "dispatched")
    hw = watch(cg, "hw_luo")  # the case is already the unit's when the page opens
    act(cg.service, case, "urge", "chief_zhao", T0 + timedelta(minutes=5), reason="请加快")
    due = cg.service.get(case.id).due_at
    cg.projections.catch_up()
    cg.service.tick(due + timedelta(minutes=1), [case.id])  # the resolve step is missed
    assert [a["kind"] for a in poll(cg, hw)] == []
    at = due + timedelta(minutes=2)
    act(cg.service, case, "resolve", "hw_luo", at)
    assert poll(cg, hw) == []  # resolved: no longer the unit's to do
    act(cg.service, case, "check", "sup_zhang", at + timedelta(minutes=1), passed=False,
        reason="仍有垃圾")
    assert [(a["kind"], a["case_id"]) for a in poll(cg, hw)] == [("dispatched", str(case.id))]


def test_a_page_opened_later_hears_what_came_after_its_watermark(cg):
    before = watch(cg, "hw_luo").after  # the last page's watermark
    case = drive(cg.service, "dispatched")
    cg.projections.catch_up()
    later = Watch(cg.city.users["hw_luo"], cg.city, before).begin(cg.sql)
    assert [a["case_id"] for a in poll(cg, later)] == [str(case.id)]
