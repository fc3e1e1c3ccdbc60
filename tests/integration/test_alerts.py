"""Live alerts (adapters/http/alerts.py) are scoped like the inbox and the queues: a unit
hears only of its own unit's dispatches and due times, never another unit's; the center
hears of new reports; nothing is told twice on one connection."""

from __future__ import annotations

from datetime import timedelta

import pytest

from adapters.bootstrap import bootstrap
from adapters.http.alerts import Watch, head, listens
from projections.times import ts
from tests.support import NOW, T0, act, city, drive, report


@pytest.fixture
def cg(tmp_path):
    g = bootstrap(data_dir=tmp_path, city=city(), clock=lambda: NOW)
    yield g
    g.close()


def watch(cg, user_id: str) -> Watch:
    cg.projections.catch_up()
    return Watch(cg.city.users[user_id], cg.city, head(cg.sql), ts(T0 - timedelta(days=1)))


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
