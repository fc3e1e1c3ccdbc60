"""The key paths of a case, by hand: due times in working time, routing, branches, closure types."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from domain.errors import ValidationError
from tests.support import GRID, MEMBER, SH, T0, act, drive, grid, report


@pytest.fixture
def svc():
    return grid().service


def test_citizen_report_to_evaluation(svc):
    case = report(svc, "citizen", description="路口垃圾堆积", lat=22.57, lon=114.12,
                  evidence=["https://img.example/1.jpg"])
    assert case.state == "pending_verification"
    assert case.due_at == T0 + timedelta(minutes=30)  # verify: 30 working minutes
    case = act(svc, case, "verify", "sup_zhang", T0 + timedelta(minutes=10), passed=True)
    assert (case.state, case.confirmed) == ("pending_filing", True)
    case = act(svc, case, "file", "acc_wang", T0 + timedelta(minutes=20))
    case = act(svc, case, "dispatch", "disp_chen", T0 + timedelta(minutes=30))
    assert (case.state, case.unit, case.routing_rule) == ("dispatched", "hw", "R-E0102")
    # resolve 暴露垃圾: 4 working hours from 09:30 = 09:30-12:00 (150) + 14:00-15:30 (90)
    assert case.due_at == datetime(2026, 10, 12, 15, 30, tzinfo=SH)
    case = act(svc, case, "resolve", MEMBER, T0 + timedelta(hours=2),
               evidence=["https://img.example/2.jpg"])
    assert case.state == "pending_check"
    case = act(svc, case, "check", "sup_zhang", T0 + timedelta(hours=2, minutes=10), passed=True)
    case = act(svc, case, "close", "acc_wang", T0 + timedelta(hours=2, minutes=20))
    assert (case.state, case.closure_type) == ("closed", "normal")
    case = act(svc, case, "evaluate", "chief_zhao", T0 + timedelta(hours=3), rating="satisfied")
    assert case.state == "evaluated"
    assert case.missed_steps == []
    assert case.evidence == ["https://img.example/1.jpg", "https://img.example/2.jpg"]
    types = [type(e).__name__ for e in svc.timeline(case.id)]
    assert types == ["Reported", "Verified", "Filed", "Dispatched", "Resolved", "Checked",
                     "Closed", "Evaluated"]


def test_failed_verification_needs_reason_then_refuse(svc):
    case = report(svc, "hotline")
    with pytest.raises(ValidationError) as e:
        act(svc, case, "verify", "sup_zhang", T0 + timedelta(minutes=5), passed=False)
    assert e.value.field == "reason"
    case = act(svc, case, "verify", "sup_zhang", T0 + timedelta(minutes=5), passed=False,
               reason="现场无此问题")
    assert case.confirmed is False
    case = act(svc, case, "refuse", "acc_wang", T0 + timedelta(minutes=9), reason="核实不属实")
    assert case.state == "voided"


def test_misroute_return_and_redispatch(svc):
    case = drive(svc, "pending_dispatch")
    with pytest.raises(ValidationError, match="overrides the routing suggestion 'hw'"):
        act(svc, case, "dispatch", "disp_chen", T0 + timedelta(minutes=5), unit="cgj")
    case = act(svc, case, "dispatch", "disp_chen", T0 + timedelta(minutes=5), unit="cgj",
               reason="属地经验")
    assert (case.unit, case.routing_rule) == ("cgj", "manual")
    case = act(svc, case, "return", "cg_liu", T0 + timedelta(minutes=15), reason="不属于本单位")
    assert (case.state, case.unit, case.returns) == ("pending_dispatch", None, 1)
    assert case.due_at == T0 + timedelta(minutes=45)  # a fresh dispatch clock
    case = act(svc, case, "dispatch", "disp_chen", T0 + timedelta(minutes=20))
    assert (case.unit, case.routing_rule, case.dispatches) == ("hw", "R-E0102", 2)


def test_rework_goes_back_to_same_unit_with_new_deadline(svc):
    case = drive(svc, "pending_check")
    at = datetime(2026, 10, 13, 10, 0, tzinfo=SH)
    with pytest.raises(ValidationError) as e:
        act(svc, case, "check", "sup_zhang", at, passed=False, reason="  ")
    assert e.value.field == "reason"
    case = act(svc, case, "check", "sup_zhang", at, passed=False, reason="未清理干净")
    assert (case.state, case.unit, case.reworks) == ("dispatched", "hw", 1)
    assert case.due_at == datetime(2026, 10, 13, 16, 0, tzinfo=SH)  # 10-12 + 14-16
    assert case.step_started_at == at


def test_extension_approved_moves_due_rejected_keeps_it(svc):
    case = drive(svc, "dispatched")
    due = case.due_at
    case = act(svc, case, "request_extension", MEMBER, T0 + timedelta(minutes=10),
               extra="1d", reason="需协调车辆")
    assert case.state == "extension_requested" and case.due_at == due
    case = act(svc, case, "decide_extension", "chief_zhao", T0 + timedelta(minutes=20),
               approved=True)
    assert case.due_at == svc.city.calendar.add(due, svc.city.calendar.day_minutes)
    assert case.extensions == 1
    moved = case.due_at
    case = act(svc, case, "request_extension", MEMBER, T0 + timedelta(minutes=30), extra="2h",
               reason="再延")
    with pytest.raises(ValidationError) as e:
        act(svc, case, "decide_extension", "chief_zhao", T0 + timedelta(minutes=40), approved=False)
    assert e.value.field == "reason"
    case = act(svc, case, "decide_extension", "chief_zhao", T0 + timedelta(minutes=40),
               approved=False, reason="理由不足")
    assert case.due_at == moved and case.extensions == 1


def test_bad_extension_duration(svc):
    case = drive(svc, "dispatched")
    for extra in (None, "soon", "-2h", "0h"):
        with pytest.raises(ValidationError) as e:
            act(svc, case, "request_extension", MEMBER, T0 + timedelta(minutes=9), extra=extra,
                reason="x")
        assert e.value.field == "extra"


def test_shelve_then_special_closure(svc):
    case = drive(svc, "shelve_requested")
    case = act(svc, case, "decide_shelve", "chief_zhao", T0 + timedelta(minutes=10),
               approved=False, reason="继续处置")
    assert case.state == "dispatched"
    case = act(svc, case, "request_shelve", MEMBER, T0 + timedelta(minutes=11), reason="需预算")
    case = act(svc, case, "decide_shelve", "chief_zhao", T0 + timedelta(minutes=12),
               approved=True, reason="列入挂账台账")
    assert case.state == "shelved" and case.step is None and case.due_at is None
    with pytest.raises(ValidationError) as e:
        act(svc, case, "close", "chief_zhao", T0 + timedelta(minutes=13), closure_type="normal")
    assert e.value.field == "closure_type"
    with pytest.raises(ValidationError) as e:
        act(svc, case, "close", "chief_zhao", T0 + timedelta(minutes=13))
    assert e.value.field == "reason"
    case = act(svc, case, "close", "chief_zhao", T0 + timedelta(minutes=13), reason="预算落实后另案处理")
    assert case.closure_type == "special"


def test_urge_records_pressure_without_moving(svc):
    case = drive(svc, "dispatched")
    case = act(svc, case, "urge", "chief_zhao", T0 + timedelta(minutes=9), reason="请尽快处置")
    assert (case.state, case.urgings) == ("dispatched", 1)


def test_late_resolution_records_one_miss_and_overdue_closure(svc):
    case = drive(svc, "dispatched")  # resolve due 2026-10-12 13:?? (4 working hours)
    late = datetime(2026, 10, 13, 16, 0, tzinfo=SH)
    case = act(svc, case, "resolve", MEMBER, late)
    events = svc.timeline(case.id)
    missed = [e for e in events if type(e).__name__ == "DeadlineMissed"]
    assert len(missed) == 1
    m = missed[0]
    assert (m.missed_step, m.holder_kind, m.holder) == ("resolve", "unit", "hw")
    assert m.occurred_at == m.missed_due_at < late
    case = act(svc, case, "check", "sup_zhang", late + timedelta(minutes=5), passed=True)
    case = act(svc, case, "close", "acc_wang", late + timedelta(minutes=10))
    assert case.closure_type == "overdue"


def test_error_closure_needs_reason(svc):
    case = drive(svc, "pending_closure")
    with pytest.raises(ValidationError) as e:
        act(svc, case, "close", "acc_wang", T0 + timedelta(minutes=9), closure_type="error")
    assert e.value.field == "reason"
    with pytest.raises(ValidationError) as e:
        act(svc, case, "close", "acc_wang", T0 + timedelta(minutes=9), closure_type="weird")
    assert e.value.field == "closure_type"


def test_urgent_case_gets_urgent_limit(svc):
    case = drive(svc, "pending_dispatch")
    urgent = report(svc, urgency="urgent")
    urgent = act(svc, urgent, "file", "acc_wang", T0 + timedelta(minutes=1))
    urgent = act(svc, urgent, "dispatch", "disp_chen", T0 + timedelta(minutes=2))
    assert urgent.due_at == T0 + timedelta(minutes=62)  # 暴露垃圾 urgent: 1 working hour
    assert case.state == "pending_dispatch"


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"category": "E9999"}, "category"),
        ({"grid": "4403030100010"}, "grid"),
        ({"grid": "44030301000100"}, "grid"),  # a community code, not a cell
        ({"grid": "44030301000199"}, "grid"),  # well-formed, unknown
        ({"actor": "nobody"}, "actor"),
        ({"urgency": "asap"}, "urgency"),
        ({"lat": 22.5}, "lon"),
        ({"lat": 122.5, "lon": 114.0}, "lat"),
        ({"evidence": ["not a url"]}, "evidence[0]"),
        ({"occurred_at": datetime(2030, 1, 1, tzinfo=SH)}, "occurred_at"),
        ({"description": "x" * 2001}, "description"),
    ],
)
def test_bad_report_is_rejected_and_nothing_stored(svc, fields, field):
    head = svc.app.recorder.max_notification_id()
    with pytest.raises(ValidationError) as e:
        report(svc, **fields)
    assert e.value.field == field
    assert svc.app.recorder.max_notification_id() == head


@pytest.mark.parametrize(
    ("trigger", "actor", "fields", "field"),
    [
        ("dispatch", "disp_chen", {"unit": "nosuchunit", "reason": "x"}, "unit"),
        ("dispatch", "ghost", {}, "actor"),
        ("refuse", "acc_wang", {"reason": ""}, "reason"),
        ("refuse", "acc_wang", {}, "reason"),
        ("urge", "chief_zhao", {"reason": None}, "reason"),
        ("dispatch", "disp_chen", {"at": datetime(2026, 10, 12, 8, 0, tzinfo=SH)}, "occurred_at"),
    ],
)
def test_bad_action_is_rejected_and_nothing_stored(svc, trigger, actor, fields, field):
    case = drive(svc, "pending_dispatch")
    at = fields.pop("at", T0 + timedelta(minutes=30))
    with pytest.raises(ValidationError) as e:
        act(svc, case, trigger, actor, at, **fields)
    assert e.value.field == field
    assert svc.get(case.id).version == case.version


def test_external_id_reports_once(svc):
    a = report(svc, "hotline", external_id="12345-2026-000001")
    with pytest.raises(ValidationError) as e:
        report(svc, "hotline", external_id="12345-2026-000001")
    assert e.value.field == "external_id" and str(a.id) in e.value.rule
    b = report(svc, "citizen", external_id="12345-2026-000001")  # another source, another case
    assert a.id != b.id


def test_cell_rolls_up(svc):
    cell = svc.city.cells[GRID]
    assert (cell.community, cell.street, cell.district) == ("440303010001", "440303010", "440303")
    assert cell.squad == "patrol-1"


def test_expected_version_refuses_a_stale_decision(svc):
    from domain.errors import ConflictError
    from workflows.commands import CaseAction

    case = drive(svc, "pending_dispatch")  # version 2
    svc.act(CaseAction(case.id, "urge", "chief_zhao", T0 + timedelta(minutes=5), reason="快"))
    with pytest.raises(ConflictError) as e:
        svc.act(CaseAction(case.id, "dispatch", "disp_chen", T0 + timedelta(minutes=6),
                           expected_version=2))
    assert e.value.current_version == 3
    assert svc.get(case.id).state == "pending_dispatch"
    done = svc.act(CaseAction(case.id, "dispatch", "disp_chen", T0 + timedelta(minutes=6),
                              expected_version=3))
    assert done.state == "dispatched"
