"""The reporter's contact (protected) and 回访 (the callback after closure), on SQLite and
PostgreSQL: the contact is its own event and leaves by no outward path; a callback scores
群众满意率 and, where the city says so, an unsatisfied one reopens the case to its unit."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, date, datetime, timedelta

import pytest
from jsonschema import Draft202012Validator

from adapters.bootstrap import bootstrap
from adapters.kafka.messages import schema
from adapters.kafka.outbound import envelope
from adapters.views import event_view
from domain.case_callback import visible_contact
from domain.errors import RefusedError, ValidationError
from domain.lifecycle import STATES, TRANSITIONS, sources
from projections.scoreboard import explain, scoreboard
from projections.trail import case_events
from tests.support import NOW, USER_OF_ROLE, act, city, drive, grid, report

PHONE = "139 1234 5678"
NAME = "李四"
OCT = {"start": date(2026, 10, 1), "end": date(2026, 10, 31)}


def reopening(env):
    """The sample city with `callback.reopen_unsatisfied: true`."""
    return bootstrap(env=env, city=dataclasses.replace(city(), callback_reopens=True),
                     clock=lambda: NOW)


def test_contact_is_its_own_event_and_leaves_by_no_outward_path(store_env):
    cg = grid(store_env)
    case = report(cg.service, "hotline", reporter_name=NAME, reporter_phone=PHONE)
    events = cg.service.timeline(case.id)
    assert [type(e).__name__ for e in events] == ["Reported", "ContactGiven"]
    assert not hasattr(events[0], "reporter_phone")  # Reported (class_version 3) unchanged
    again = cg.service.get(case.id)
    assert again.contact == {"reporter_name": NAME, "reporter_phone": PHONE}
    for role in ("acceptor", "duty_chief", "dispatcher"):
        assert visible_contact(again, role)["reporter_phone"] == PHONE
    for role in ("supervisor", "unit_member", "channel", "inspector", "system"):
        assert visible_contact(again, role) is None
    published = Draft202012Validator(schema("case-event.v1.json"))
    for i, e in enumerate(events, start=1):
        assert PHONE not in json.dumps(envelope(e, i), ensure_ascii=False)
        assert published.is_valid(json.loads(json.dumps(envelope(e, i))))
        assert PHONE not in json.dumps(event_view(e, cg.city), ensure_ascii=False)
    leaky = json.loads(json.dumps(envelope(events[1], 2)))
    leaky["data"]["reporter_phone"] = PHONE
    assert not published.is_valid(leaky)  # the published schema itself forbids a contact
    cg.projections.catch_up()
    trail = json.dumps(case_events(cg.sql, [str(case.id)]), ensure_ascii=False, default=str)
    assert "ContactGiven" in trail and PHONE not in trail and NAME not in trail
    for table in ("cg_trail", "cg_cases", "cg_sb_case"):
        dump = json.dumps(cg.sql.query(f"SELECT * FROM {table}"), ensure_ascii=False, default=str)
        assert PHONE not in dump, table


def test_a_report_without_contact_records_no_contact_event(store_env):
    cg = grid(store_env)
    case = report(cg.service, "citizen")
    assert case.version == 1 and case.contact is None


@pytest.mark.parametrize(("fields", "field"), [
    ({"reporter_phone": "12ab5678"}, "reporter_phone"),
    ({"reporter_phone": "1234"}, "reporter_phone"),
    ({"reporter_phone": "1" * 21}, "reporter_phone"),
    ({"reporter_phone": "-- ++ --"}, "reporter_phone"),
    ({"reporter_phone": 13912345678}, "reporter_phone"),
    ({"reporter_phone": "139\x0012345678"}, "reporter_phone"),
    ({"reporter_name": "名" * 41}, "reporter_name"),
    ({"reporter_name": "a\x00b"}, "reporter_name"),
    ({"reporter_name": "\ud800"}, "reporter_name"),
])
def test_a_bad_contact_is_refused_by_field_and_stores_nothing(fields, field):
    cg = grid()
    with pytest.raises(ValidationError) as got:
        report(cg.service, "citizen", **fields)
    assert got.value.field == field
    assert str(fields[field])[:8] not in got.value.rule  # the value never reaches the logs
    assert not list(cg.app.recorder.select_notifications(start=1, limit=10))


def test_a_contact_only_with_citizen_and_hotline_reports():
    cg = grid()
    with pytest.raises(ValidationError, match="citizen or hotline") as got:
        report(cg.service, "patrol", reporter_phone=PHONE)
    assert got.value.field == "reporter_phone"


def test_callback_of_a_closed_case_scores_satisfaction(store_env):
    cg = grid(store_env)
    a = drive(cg.service, "closed")
    a = act(cg.service, a, "callback", "acc_wang", a.last_at + timedelta(minutes=5),
            rating="satisfied", comment="很快就清理了")
    assert a.state == "closed" and a.callbacks == ["satisfied"]
    b = drive(cg.service, "closed")
    b = act(cg.service, b, "callback", "hotline_12345", b.last_at + timedelta(minutes=5),
            rating="unsatisfied", comment="还有异味")
    assert b.state == "closed" and b.unit == "hw"  # the sample city does not reopen
    b = act(cg.service, b, "evaluate", "chief_zhao", b.last_at + timedelta(minutes=1),
            rating="basic")
    with pytest.raises(RefusedError):  # after evaluation there is no callback
        act(cg.service, b, "callback", "acc_wang", b.last_at + timedelta(minutes=1),
            rating="satisfied")
    cg.projections.catch_up()
    board = {r["key"]: r for r in scoreboard(cg.sql, cg.city, by="unit", **OCT)["rows"]}
    assert board["hw"]["counts"]["callbacks"] == 2
    assert board["hw"]["counts"]["callbacks_satisfied"] == 1
    assert board["hw"]["rates"]["satisfaction_rate"] == 0.5
    why = explain(cg.sql, cg.city, by="unit", key="hw", indicator="satisfaction_rate", **OCT)
    assert why["value"] == 0.5
    assert why["numerator"]["case_ids"] == [str(a.id)]
    assert why["denominator"]["case_ids"] == sorted([str(a.id), str(b.id)])
    street = scoreboard(cg.sql, cg.city, by="street", **OCT)["rows"][0]
    assert street["rates"]["satisfaction_rate"] == 0.5


def test_unsatisfied_callback_reopens_to_the_same_unit_when_configured(store_env):
    cg = reopening(store_env)
    case = drive(cg.service, "closed")
    at = case.last_at + timedelta(minutes=5)
    with pytest.raises(ValidationError) as got:
        act(cg.service, case, "callback", "acc_wang", at, rating="unsatisfied")
    assert got.value.field == "comment"
    case = act(cg.service, case, "callback", "acc_wang", at, rating="unsatisfied",
               comment="垃圾又堆起来了")
    assert case.state == "dispatched" and case.unit == "hw" and case.step == "resolve"
    assert case.step_started_at == at and case.due_at > at  # a new resolve clock
    assert case.closure_type is None and case.reworks == 1
    case = act(cg.service, case, "resolve", "hw_luo", at + timedelta(minutes=30))
    case = act(cg.service, case, "check", "sup_zhang", at + timedelta(minutes=40), passed=True)
    case = act(cg.service, case, "close", "acc_wang", at + timedelta(minutes=50))
    case = act(cg.service, case, "callback", "acc_wang", at + timedelta(minutes=60),
               rating="basic")
    assert case.state == "closed" and case.callbacks == ["unsatisfied", "basic"]
    cg.projections.catch_up()
    row = scoreboard(cg.sql, cg.city, by="unit", **OCT)["rows"][0]
    assert row["counts"]["callbacks"] == 2 and row["counts"]["callbacks_satisfied"] == 1
    assert row["counts"]["rework_events"] == 1 and row["counts"]["closed"] == 1
    as_of = scoreboard(cg.sql, cg.city, by="unit", as_of=datetime.now(UTC), **OCT)["rows"][0]
    assert as_of["counts"] == row["counts"]  # the trail's copy folds the same


@pytest.mark.parametrize("rating", ["satisfied", "unsatisfied"])
def test_callback_matrix_with_reopening(rating):
    """(state, callback, role) exactly as the definition says, with the city reopening."""
    cg = reopening({"PERSISTENCE_MODULE": "eventsourcing.popo"})
    rework = rating == "unsatisfied"
    wrong = []
    for state in [s for s in STATES if s not in ("new", "merged")]:
        for role, user in USER_OF_ROLE.items():
            case = drive(cg.service, state)
            want = any(t["trigger"] == "callback" and state in sources(t) and role in t["roles"]
                       and (t.get("conditions") == "rework") == rework for t in TRANSITIONS)
            try:
                got = act(cg.service, case, "callback", user, case.last_at + timedelta(minutes=1),
                          rating=rating, comment="测试")
                allowed = True
                assert got.state == ("dispatched" if rework else state)
            except RefusedError:
                allowed = False
            if allowed != want:
                wrong.append((state, role, allowed))
    assert not wrong


# ------------------------------------------------------------------ Kafka (no broker)

def _rec(topic: str, offset: int, doc: dict):
    from adapters.kafka.messages import Record
    return Record(topic, 0, offset, None, json.dumps(doc, ensure_ascii=False).encode())


def _callback(case_id, i: int, **over) -> dict:
    return {"schema": "casegrid.callback.v1", "message_id": f"cb-{i}", "source": "hotline12345",
            "case_id": str(case_id), "rating": "satisfied", "comment": "满意",
            "occurred_at": "2026-10-13T10:00:00+08:00", **over}


def test_kafka_report_contact_and_callbacks(store_env):
    from adapters.kafka.inbound import InboundProcessor
    from adapters.kafka.messages import report_case_id
    from adapters.kafka.worker import DEFAULT_TOPICS, open_store
    from tests.integration.kafka_support import report as report_msg

    app, svc, sql = open_store(env=store_env, city=city(), clock=lambda: NOW)
    try:
        p = InboundProcessor(svc, group="g", topics=DEFAULT_TOPICS)
        reports, callbacks = DEFAULT_TOPICS["reports"], DEFAULT_TOPICS["callbacks"]
        got = p.process([_rec(reports, 0, report_msg(1, reporter={"name": NAME, "phone": PHONE})),
                         _rec(reports, 1, report_msg(2, reporter={"phone": "not a phone"}))])
        assert (got.applied, got.dead) == (1, 1)
        assert svc.get(report_case_id("szcg", "SZ-000001")).contact["reporter_phone"] == PHONE
        closed, open_ = drive(svc, "closed"), drive(svc, "dispatched")
        got = p.process([
            _rec(callbacks, 0, _callback(closed.id, 1)),
            _rec(callbacks, 1, _callback(closed.id, 1)),  # the same message again
            _rec(callbacks, 2, _callback(open_.id, 2)),  # not closed: refused
            _rec(callbacks, 3, _callback(closed.id, 3, rating="very")),  # not in the schema
            _rec(callbacks, 4, _callback(closed.id, 4, actor="hw_luo")),  # a unit member
        ])
        assert (got.applied, got.duplicates, got.dead) == (1, 1, 3)
        case = svc.get(closed.id)
        assert case.callbacks == ["satisfied"] and case.state == "closed"
        assert svc.timeline(closed.id)[-1].actor == "hotline_12345"
        # 12345 knows its own case: a callback naming a merged duplicate is the original's
        closed2 = drive(svc, "dispatched")
        dup = svc.get(report_case_id("szcg", "SZ-000001"))
        t = max(dup.last_at, closed2.last_at)
        dup = act(svc, dup, "merge", "acc_wang", t + timedelta(minutes=1), reason="同一问题",
                  into=str(closed2.id))
        assert dup.state == "merged"
        for i, (trigger, who, kw) in enumerate((("resolve", "hw_luo", {}),
                                               ("check", "sup_zhang", {"passed": True}),
                                               ("close", "acc_wang", {})), start=2):
            act(svc, closed2, trigger, who, t + timedelta(minutes=i), **kw)
        got = p.process([_rec(callbacks, 5, _callback(dup.id, 5, rating="basic"))])
        assert (got.applied, got.dead) == (1, 0)
        assert svc.get(closed2.id).callbacks == ["basic"]
        letters = sql.query("SELECT error, error_field, payload FROM cg_kafka_dead_letters")
        assert "not a phone" not in json.dumps(letters, ensure_ascii=False)  # the rule only
        import base64
        assert b"not a phone" not in base64.b64decode(letters[0][2])  # nor the kept bytes
    finally:
        app.close()


def test_two_citizens_and_a_supervisor_one_case_each_citizen_called_back(store_env):
    """Done means: two citizens and a supervisor report the same problem; one dispatched case
    with three reporters; each citizen gets a callback recorded and scored."""
    from adapters.http.api.views import case_detail

    cg = grid(store_env)
    svc = cg.service
    original = drive(svc, "dispatched")  # the supervisor's patrol report, dispatched to hw
    t = original.last_at
    a = report(svc, "citizen", t + timedelta(minutes=5), reporter_name=NAME,
               reporter_phone=PHONE)
    b = report(svc, "hotline", t + timedelta(minutes=6), reporter_name="周八",
               reporter_phone="0755 1234 5678")
    for i, dup in enumerate((a, b), start=1):
        act(svc, dup, "merge", "acc_wang", t + timedelta(minutes=10 + i), reason="同一问题",
            into=str(original.id))
    case = svc.get(original.id)
    assert case.state == "dispatched" and len(case.duplicates) == 2
    assert {case.reporter, *(d["reporter"] for d in case.duplicates)} == {
        "sup_zhang", "citizen_app", "hotline_12345"}
    acc, unit = city().users["acc_wang"], city().users["hw_luo"]
    phones = {m["reporter_phone"] for m in case_detail(cg, acc, str(case.id))["case"]["merged_contacts"]}
    assert phones == {PHONE, "0755 1234 5678"}
    seen = case_detail(cg, unit, str(case.id))["case"]
    assert seen["merged_contacts"] == [] and seen["contact"] is None
    at = t + timedelta(minutes=20)
    case = act(svc, case, "resolve", "hw_luo", at)
    case = act(svc, case, "check", "sup_zhang", at + timedelta(minutes=1), passed=True)
    case = act(svc, case, "close", "acc_wang", at + timedelta(minutes=2))
    # the first citizen called back by the acceptor, the second by the 12345 hotline
    act(svc, case, "callback", "acc_wang", at + timedelta(minutes=3), rating="satisfied",
        comment=f"{NAME}：满意")
    act(svc, case, "callback", "hotline_12345", at + timedelta(minutes=4), rating="unsatisfied",
        comment="周八：还有味道")
    case = svc.get(original.id)
    assert case.callbacks == ["satisfied", "unsatisfied"] and case.state == "closed"
    cg.projections.catch_up()
    row = {r["key"]: r for r in scoreboard(cg.sql, cg.city, by="unit", **OCT)["rows"]}["hw"]
    assert row["counts"]["callbacks"] == 2 and row["counts"]["callbacks_satisfied"] == 1
    assert row["counts"]["dispatched"] == 1 and row["rates"]["satisfaction_rate"] == 0.5
