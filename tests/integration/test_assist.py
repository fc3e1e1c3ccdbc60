"""主办/协办 and 指派到人 (issue 13 part 3), on SQLite and PostgreSQL: a dispatch names
assisting units, each with its own due time, answer and miss; the lead resolves only when
they answered or the center waived them; the trail keeps each unit's deadlines apart; a
unit assigns the case to one of its members and the trail shows that person."""

from __future__ import annotations

from datetime import timedelta

import pytest

from domain.errors import RefusedError, ValidationError
from projections.cases import due_case_ids
from projections.trail import case_trail, missed_deadlines
from tests.support import MEMBER, T0, UNIT, act, drive, grid

LEAD_DAY = T0.date()


def assisted(cg, units=("cgj", "gs")):
    case = drive(cg.service, "pending_dispatch")
    return act(cg.service, case, "dispatch", "disp_chen", T0 + timedelta(minutes=5),
               assist=list(units))


def names(cg, case) -> list[str]:
    return [type(e).__name__ for e in cg.service.timeline(case.id)]


def test_each_unit_has_its_own_deadline_answer_and_miss(store_env):
    cg = grid(store_env)
    svc = cg.service
    case = assisted(cg)
    assert case.unit == UNIT and case.assist_units == ["cgj", "gs"]
    due = case.current_assists[0]["due_at"]
    assert due is not None and case.due_at is not None
    with pytest.raises(ValidationError) as got:  # the lead waits for both
        act(svc, case, "resolve", MEMBER, T0 + timedelta(minutes=10))
    assert got.value.field == "assist" and "cgj, gs" in got.value.rule
    case = act(svc, case, "assist_feedback", "cg_liu", T0 + timedelta(minutes=20),
               comment="已协助清运")  # cgj on time
    with pytest.raises(RefusedError, match="already answered"):
        act(svc, case, "assist_feedback", "cg_liu", T0 + timedelta(minutes=21), comment="again")
    with pytest.raises(RefusedError, match="not an assisting unit"):
        act(svc, case, "assist_feedback", "ga_zhou", T0 + timedelta(minutes=21), comment="x")
    # the deadline watch: gs's due time passes unanswered — its own miss, once
    later = due + timedelta(hours=30)
    cg.projections.catch_up()
    assert str(case.id) in due_case_ids(cg.sql, later)
    recorded = svc.tick(later, due_case_ids(cg.sql, later))
    kinds = sorted(type(e).__name__ for e in recorded)
    assert "AssistDeadlineMissed" in kinds
    assist_misses = [e for e in recorded if type(e).__name__ == "AssistDeadlineMissed"]
    assert [e.assist_unit for e in assist_misses] == ["gs"]
    cg.projections.catch_up()
    again = svc.tick(later + timedelta(hours=1), due_case_ids(cg.sql, later + timedelta(hours=1)))
    assert not [e for e in again if type(e).__name__ == "AssistDeadlineMissed"]
    case = svc.get(case.id)
    at = case.last_at + timedelta(minutes=1)
    with pytest.raises(ValidationError) as got:
        act(svc, case, "assist_override", "chief_zhao", at)
    assert got.value.field == "reason"
    with pytest.raises(RefusedError):
        act(svc, case, "assist_override", MEMBER, at, reason="x")
    case = act(svc, case, "assist_override", "chief_zhao", at, reason="园林所无人值守，不再等待")
    case = act(svc, case, "resolve", MEMBER, at + timedelta(minutes=1))
    assert case.state == "pending_check"
    cg.projections.catch_up()
    trail = case_trail(cg.sql, cg.city, str(case.id))
    by_unit = {a["unit"]: a for a in trail["assists"]}
    assert set(by_unit) == {"cgj", "gs"} and all(a["lead"] == UNIT for a in by_unit.values())
    assert by_unit["cgj"]["met"] is True and by_unit["cgj"]["answered_by"] == "cg_liu"
    assert by_unit["gs"]["met"] is False and by_unit["gs"]["waived"]
    assert by_unit["gs"]["due_at"] == by_unit["cgj"]["due_at"] != None  # noqa: E711
    lead = [s for s in trail["custody"] if s["holder"] == UNIT]
    assert lead and lead[0]["step"] == "resolve" and lead[0]["due_at"]
    holders = {(m["holder"], m["step"]) for m in trail["misses"]}
    assert ("unit:gs", "assist") in holders and ("unit:cgj", "assist") not in holders
    assert all(m["step"] == "resolve" for m in trail["misses"] if m["holder"] == f"unit:{UNIT}")
    day = due.date()
    gs = missed_deadlines(cg.sql, cg.city, unit="gs", start=LEAD_DAY, end=day)
    assert gs["count"] == 1 and gs["misses"][0]["step"] == "assist"
    lead_misses = missed_deadlines(cg.sql, cg.city, unit=UNIT, start=LEAD_DAY, end=day)
    assert all(m["step"] != "assist" for m in lead_misses["misses"])
    assert missed_deadlines(cg.sql, cg.city, unit="cgj", start=LEAD_DAY, end=day)["count"] == 0


def test_a_late_answer_records_the_miss_first_and_a_return_stops_the_clocks(store_env):
    cg = grid(store_env)
    svc = cg.service
    case = assisted(cg, ("cgj",))
    late = case.current_assists[0]["due_at"] + timedelta(minutes=5)
    case = act(svc, case, "assist_feedback", "cg_liu", late, comment="迟到的反馈")
    assert names(cg, case)[-2:] == ["AssistDeadlineMissed", "AssistAnswered"]
    other = assisted(cg, ("cgj",))
    other = act(svc, other, "return", MEMBER, T0 + timedelta(minutes=6), reason="非本单位")
    cg.projections.catch_up()
    after = other.current_assists[0]["due_at"] + timedelta(days=2)
    assert cg.sql.query("SELECT assist_due FROM cg_cases WHERE case_id = ?",
                        (str(other.id),)) == [(None,)]  # no assisting clock runs
    missed = svc.tick(after, due_case_ids(cg.sql, after))  # the dispatch step's own miss only
    assert not [e for e in missed if type(e).__name__ == "AssistDeadlineMissed"]
    other = svc.get(other.id)
    other = act(svc, other, "dispatch", "disp_chen", after)
    assert other.assist_units == [] and other.owed_assists == []  # a new dispatch, no assists
    other = act(svc, other, "resolve", MEMBER, after + timedelta(minutes=1))
    assert other.state == "pending_check"


@pytest.mark.parametrize(("assist", "field"), [
    ("cgj", "assist"), (["cgj"] * 6, "assist"), (["nope"], "assist[0]"),
    ([UNIT], "assist[0]"), (["cgj", "cgj"], "assist[1]"), (["c\x00g"], "assist[0]"),
    ([3], "assist[0]"), (["x" * 500], "assist[0]"),
])
def test_bad_assisting_units_are_refused_by_field_and_store_nothing(assist, field):
    cg = grid()
    case = drive(cg.service, "pending_dispatch")
    with pytest.raises(ValidationError) as got:
        act(cg.service, case, "dispatch", "disp_chen", T0 + timedelta(minutes=5), assist=assist)
    assert got.value.field == field
    assert cg.service.get(case.id).version == case.version


def test_feedback_needs_words_and_bounds_them():
    cg = grid()
    case = assisted(cg, ("cgj",))
    for text in (None, "", "字" * 2001, "a\x00b"):
        with pytest.raises(ValidationError) as got:
            act(cg.service, case, "assist_feedback", "cg_liu", T0 + timedelta(minutes=9),
                comment=text)
        assert got.value.field == "comment"
    assert cg.service.get(case.id).version == case.version


def test_the_city_may_give_assisting_units_a_limit_of_their_own():
    import dataclasses

    from adapters.bootstrap import bootstrap
    from adapters.config.city_file import Limit
    from domain.city import TimeLimit
    from tests.support import NOW, city

    assert Limit(step="assist", limit="2h").step == "assist"
    base = city()
    own = dataclasses.replace(base, time_limits=(*base.time_limits, TimeLimit("assist", 120.0)))
    cg = bootstrap(env={"PERSISTENCE_MODULE": "eventsourcing.popo"}, city=own, clock=lambda: NOW)
    case = assisted(cg, ("cgj",))
    at = T0 + timedelta(minutes=5)
    assert case.current_assists[0]["due_at"] == own.calendar.add(at, 120.0)
    assert case.due_at == own.calendar.add(at, own.limit("resolve", case.category, "normal"))


def test_a_unit_assigns_the_case_to_one_of_its_members(store_env):
    cg = grid(store_env)
    svc = cg.service
    case = drive(svc, "pending_dispatch")
    case = act(svc, case, "dispatch", "disp_chen", T0 + timedelta(minutes=5), unit="qsh-zf",
               reason="执法中队负责")
    at = T0 + timedelta(minutes=6)
    for who, field in (("cg_liu", "assignee"), ("nobody", "assignee"), (None, "assignee"),
                       ("chief_zhao", "assignee")):
        with pytest.raises(ValidationError) as got:
            act(svc, case, "assign", "zf_guo", at, assignee=who)
        assert got.value.field == field
    with pytest.raises(RefusedError):
        act(svc, case, "assign", "cg_liu", at, assignee="zf_deng")  # another unit
    case = act(svc, case, "assign", "zf_guo", at, assignee="zf_deng")
    assert case.assignee == "zf_deng" and case.assigned_by == "zf_guo"
    with pytest.raises(ValidationError, match="already assigned"):
        act(svc, case, "assign", "zf_guo", at + timedelta(minutes=1), assignee="zf_deng")
    cg.projections.catch_up()
    trail = case_trail(cg.sql, cg.city, str(case.id))
    span = next(s for s in trail["custody"] if s["holder"] == "qsh-zf")
    assert span["person"] == "zf_deng" and span["assignee"] == "zf_deng"
    assert trail["assignments"][0]["assignee"] == "zf_deng"


def test_an_assisting_units_miss_counts_against_it_and_never_the_lead(store_env):
    from datetime import date

    from projections.scoreboard import explain, scoreboard

    cg = grid(store_env)
    svc = cg.service
    case = assisted(cg)  # cgj answers on time, gs misses and answers late
    case = act(svc, case, "assist_feedback", "cg_liu", T0 + timedelta(minutes=20), comment="已协助")
    late = case.current_assists[0]["due_at"] + timedelta(minutes=5)
    case = act(svc, case, "assist_feedback", "gs_ma", late, comment="迟到")
    case = act(svc, case, "resolve", MEMBER, late + timedelta(minutes=1))
    plain = drive(svc, "pending_check")  # the lead's own case without assisting units
    cg.projections.catch_up()
    period = {"start": date(2026, 10, 1), "end": date(2026, 10, 31)}
    board = {r["key"]: r for r in scoreboard(cg.sql, cg.city, by="unit", **period)["rows"]}
    assert board["cgj"]["counts"].get("assist_due") == 1
    assert board["cgj"]["counts"].get("assist_on_time") == 1
    assert board["cgj"]["rates"]["assist_on_time_rate"] == 1.0
    assert board["gs"]["counts"].get("assist_due") == 1
    assert not board["gs"]["counts"].get("assist_on_time")
    assert board["gs"]["rates"]["assist_on_time_rate"] == 0.0
    lead = board[UNIT]
    assert not lead["counts"].get("assist_due") and lead["rates"]["assist_on_time_rate"] is None
    assert lead["counts"]["resolved"] == 2  # both cases, the lead's own figures
    got = explain(cg.sql, cg.city, by="unit", key="gs", indicator="assist_on_time_rate", **period)
    assert got["denominator"]["case_ids"] == [str(case.id)] and got["value"] == 0.0
    assert str(plain.id) not in got["denominator"]["case_ids"]


def test_the_api_dispatches_with_assisting_units_and_each_answers(tmp_path):
    import httpx

    from adapters.bootstrap import bootstrap
    from tests.e2e.http_support import LiveServer, login
    from tests.support import city

    cg = bootstrap(data_dir=tmp_path, city=city())
    case = drive(cg.service, "pending_dispatch")
    with LiveServer(cg) as s, httpx.Client(base_url=s.url) as c:
        disp, lead, helper, other = (login(c, u) for u in ("disp_chen", MEMBER, "cg_liu", "ga_zhou"))
        url = f"/api/cases/{case.id}"
        for bad, field in ((["nope"], "assist[0]"), ("cgj", "assist"), ([UNIT], "assist[0]")):
            r = c.post(f"{url}/dispatch", headers=disp, json={"assist": bad})
            assert r.status_code == 422 and r.json()["field"] == field, r.text
        r = c.post(f"{url}/dispatch", headers=disp, json={"assist": ["cgj"]})
        assert r.status_code == 200, r.text
        assert c.get(url, headers=other).status_code == 404  # neither lead nor assisting
        inbox = c.get("/api/queues", headers=helper).json()
        assert [i["case_id"] for i in inbox["assist_inbox"]] == [str(case.id)]
        assert inbox["unit_inbox"] == []  # the lead's inbox is not the assisting unit's
        got = c.get(url, headers=helper)
        assert got.status_code == 200
        assert [a["trigger"] for a in got.json()["allowed"]] == ["assist_feedback"]
        assert "assist_feedback" not in [a["trigger"] for a in c.get(url, headers=lead).json()["allowed"]]
        r = c.post(f"{url}/resolve", headers=lead, json={})
        assert r.status_code == 422 and r.json()["field"] == "assist" and "cgj" in r.text
        r = c.post(f"{url}/assist-feedback", headers=helper, json={"comment": "\x00"})
        assert r.status_code == 422 and r.json()["field"] == "comment"
        r = c.post(f"{url}/assist-feedback", headers=helper, json={"comment": "已协助清运"})
        assert r.status_code == 200, r.text
        assert c.get(url, headers=helper).json()["allowed"] == []
        assert c.post(f"{url}/resolve", headers=lead, json={}).status_code == 200
        trail = c.get(f"/api/trail/cases/{case.id}", headers=login(c, "chief_zhao")).json()
        (a,) = trail["assists"]
        assert a["unit"] == "cgj" and a["lead"] == UNIT and a["met"] is True and a["due_at"]
    cg.close()
