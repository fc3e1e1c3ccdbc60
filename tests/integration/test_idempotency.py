"""A field app's resend (城管通 offline queue): the same idempotency key never makes a second
case, and a step already recorded is answered with the case as it is — on both stores."""

from __future__ import annotations

from datetime import timedelta

import pytest

from domain.errors import RefusedError, ValidationError
from tests.support import MEMBER, T0, drive, grid, report
from workflows.commands import CaseAction


def test_a_resent_report_is_the_same_case(store_env):
    cg = grid(store_env)
    first = report(cg.service, idempotency_key="phone-7f3a-0001")
    again = report(cg.service, idempotency_key="phone-7f3a-0001", description="resent")
    assert again.id == first.id and again.version == first.version == 1
    other = report(cg.service, idempotency_key="phone-7f3a-0002")
    assert other.id != first.id
    # the key is the reporter's own: another reporter's same key is another case
    theirs = report(cg.service, "citizen", idempotency_key="phone-7f3a-0001")
    assert theirs.id != first.id
    cg.projections.catch_up()
    assert cg.sql.query("SELECT COUNT(*) FROM cg_cases")[0][0] == 3


def test_a_resent_step_is_answered_and_recorded_once(store_env):
    cg = grid(store_env)
    case = drive(cg.service, "dispatched")
    at = T0 + timedelta(minutes=30)
    resolve = CaseAction(case.id, "resolve", MEMBER, at, idempotency_key="k-resolve-1")
    done = cg.service.act(resolve)
    assert done.state == "pending_check"
    again = cg.service.act(resolve)
    assert again.version == done.version and again.state == "pending_check"
    assert sum(type(e).__name__ == "Resolved" for e in cg.service.timeline(case.id)) == 1
    # without the key, or at another business time, a second resolve is refused as before
    with pytest.raises(RefusedError):
        cg.service.act(CaseAction(case.id, "resolve", MEMBER, at))
    with pytest.raises(RefusedError):
        cg.service.act(CaseAction(case.id, "resolve", MEMBER, at + timedelta(seconds=1),
                                  idempotency_key="k-resolve-1"))


@pytest.mark.parametrize("key", ["", "a" * 65, "has space", "nul\x00", "引号", 7, ["k"]])
def test_a_bad_key_is_refused_by_name_and_stores_nothing(key):
    cg = grid()
    with pytest.raises(ValidationError) as e:
        report(cg.service, idempotency_key=key)
    assert e.value.field == "idempotency_key"
    case = drive(cg.service, "dispatched")
    with pytest.raises(ValidationError) as e:
        cg.service.act(CaseAction(case.id, "resolve", MEMBER, T0 + timedelta(minutes=9),
                                  idempotency_key=key))
    assert e.value.field == "idempotency_key"
    assert cg.service.get(case.id).state == "dispatched"


def test_a_resent_patrol_report_answers_the_day_once(store_env):
    from datetime import datetime

    from tests.support import SH

    cg = grid(store_env)
    at = datetime(2026, 10, 12, 16, 0, tzinfo=SH)
    first = cg.patrol.report(squad="patrol-1", day="2026-10-12", actor="sup_zhang", nil=True,
                             at=at, idempotency_key="day-1")
    again = cg.patrol.report(squad="patrol-1", day="2026-10-12", actor="sup_zhang", nil=True,
                             at=at, idempotency_key="day-1")
    assert again.id == first.id and again.version == first.version
    with pytest.raises(ValidationError):  # a second report of the day, not a resend
        cg.patrol.report(squad="patrol-1", day="2026-10-12", actor="sup_zhang", nil=True,
                         at=at + timedelta(minutes=1), idempotency_key="day-2")
