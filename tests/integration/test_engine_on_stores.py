"""The engine on real SQLite and real PostgreSQL: replay, snapshots, deadline watch, batches."""

from __future__ import annotations

from datetime import datetime, timedelta

from projections.cases import due_case_ids
from tests.support import MEMBER, SH, T0, act, drive, grid, report
from workflows.commands import CaseAction
from workflows.simulation import Simulation


def _fold(events):
    case = None
    for e in events:
        case = e.mutate(case)
    return case


def _state(case) -> dict:
    return {k: v for k, v in vars(case).items() if k != "_pending_events"}


def test_replay_rebuilds_equal_cases(store_env):
    cg = grid(store_env)
    sim = Simulation(cg.city, seed=3, start=datetime(2026, 10, 1, tzinfo=SH), days=10,
                     end=datetime(2026, 11, 1, tzinfo=SH))

    def tick(now):
        cg.projections.catch_up(["cases"])
        return len(cg.service.tick(now, due_case_ids(cg.sql, now)))

    stats = sim.run(60, cg.service.execute, tick, batch=50)
    assert stats.refused == 0, stats.first_errors
    cg.projections.catch_up()
    ids = [r[0] for r in cg.sql.query("SELECT case_id FROM cg_cases")]
    assert len(ids) == 60
    for cid in ids:
        stored = cg.service.get(cid)
        replayed = _fold(cg.service.timeline(cid))
        assert _state(replayed) == _state(stored)


def test_long_stream_uses_snapshots_and_replays_equal(store_env):
    cg = grid(store_env)
    case = drive(cg.service, "dispatched")
    for i in range(120):  # 督办 again and again: a long stream
        case = act(cg.service, case, "urge", "chief_zhao", T0 + timedelta(minutes=10 + i),
                   reason=f"第{i + 1}次督办")
    snapshots = list(cg.app.snapshots.get(case.id))
    assert [s.originator_version for s in snapshots] == [50, 100]
    stored = cg.service.get(case.id)
    assert stored.version == 123 and stored.urgings == 120
    assert _state(_fold(cg.service.timeline(case.id))) == _state(stored)


def test_deadline_tick_records_each_miss_once(store_env):
    cg = grid(store_env)
    filing = report(cg.service)  # file due 09:30
    resolving = drive(cg.service, "dispatched")  # resolve due 2026-10-12 15:02 (4 working hours)
    extended = drive(cg.service, "dispatched")
    extended = act(cg.service, extended, "request_extension", MEMBER, T0 + timedelta(minutes=5),
                   extra="1d", reason="需协调")
    extended = act(cg.service, extended, "decide_extension", "chief_zhao",
                   T0 + timedelta(minutes=6), approved=True)

    def tick(now):
        cg.projections.catch_up(["cases"])
        return cg.service.tick(now, due_case_ids(cg.sql, now))

    first = tick(datetime(2026, 10, 12, 15, 10, tzinfo=SH))
    got = {(str(e.originator_id), e.missed_step, e.holder_kind, e.holder) for e in first}
    assert got == {
        (str(filing.id), "file", "role", "acceptor"),
        (str(resolving.id), "resolve", "unit", "hw"),
    }
    assert tick(datetime(2026, 10, 12, 15, 10, tzinfo=SH)) == []
    assert tick(datetime(2026, 10, 12, 16, 0, tzinfo=SH)) == []
    # the approved extension moved the due time by one working day: missed only after it
    later = tick(datetime(2026, 10, 13, 18, 0, tzinfo=SH))
    assert [(str(e.originator_id), e.missed_step) for e in later] == [(str(extended.id), "resolve")]
    assert later[0].missed_due_at == cg.service.get(extended.id).due_at
    for cid in (filing.id, resolving.id, extended.id):
        misses = [e for e in cg.service.timeline(cid) if type(e).__name__ == "DeadlineMissed"]
        assert len(misses) == 1
    # completing the late step later does not record the miss a second time
    act(cg.service, resolving, "resolve", MEMBER, datetime(2026, 10, 14, 9, 0, tzinfo=SH))
    misses = [e for e in cg.service.timeline(resolving.id) if type(e).__name__ == "DeadlineMissed"]
    assert len(misses) == 1


def test_batch_saves_together_and_reports_refusals(store_env):
    cg = grid(store_env)
    case = drive(cg.service, "pending_dispatch")
    head = cg.app.recorder.max_notification_id()
    outcomes = cg.service.execute([
        CaseAction(case.id, "dispatch", "disp_chen", T0 + timedelta(minutes=5)),
        CaseAction(case.id, "file", "acc_wang", T0 + timedelta(minutes=6)),  # refused: dispatched
        CaseAction(case.id, "resolve", MEMBER, T0 + timedelta(minutes=7)),
    ])
    assert [o.error is None for o in outcomes] == [True, False, True]
    assert "refused" in str(outcomes[1].error)
    assert cg.app.recorder.max_notification_id() == head + 2
    assert cg.service.get(case.id).state == "pending_check"


def test_batch_conflict_falls_back_without_losing_updates(store_env):
    cg = grid(store_env)
    other = grid(store_env)  # a second process's application on the same store
    case = drive(cg.service, "dispatched")  # cg now holds the case as it saved it (v3)
    other.service.act(CaseAction(case.id, "urge", "chief_zhao", T0 + timedelta(minutes=5),
                                 reason="先督办"))  # v4, written behind cg's back
    outcomes = cg.service.execute([
        CaseAction(case.id, "urge", "chief_zhao", T0 + timedelta(minutes=6), reason="再督办"),
    ])
    assert outcomes[0].error is None, outcomes[0].error
    reasons = [e.reason for e in other.service.timeline(case.id) if type(e).__name__ == "Urged"]
    assert reasons == ["先督办", "再督办"]
    # and a single command on a stale copy reloads and retries too
    other.service.act(CaseAction(case.id, "urge", "chief_zhao", T0 + timedelta(minutes=7),
                                 reason="三督办"))
    cg.service.act(CaseAction(case.id, "urge", "chief_zhao", T0 + timedelta(minutes=8),
                              reason="四督办"))
    reasons = [e.reason for e in other.service.timeline(case.id) if type(e).__name__ == "Urged"]
    assert reasons == ["先督办", "再督办", "三督办", "四督办"]


def test_a_stale_held_copy_never_refuses_what_the_stored_case_allows(store_env):
    """This process holds the case as it saved it; another process moved it on since.
    A command the stored case allows must not be refused on the stale copy."""
    cg, other = grid(store_env), grid(store_env)
    case = drive(cg.service, "pending_filing")  # cg holds it: pending filing
    act(other.service, case, "file", "acc_wang", T0 + timedelta(minutes=5))
    # on cg's copy 'dispatch' is not allowed (not filed yet); on the stored case it is
    act(cg.service, case, "dispatch", "disp_chen", T0 + timedelta(minutes=6),
        expected_version=2)  # the version the dispatcher saw, which is current
    assert cg.service.get(case.id).state == "dispatched"
    act(other.service, case, "urge", "chief_zhao", T0 + timedelta(minutes=7), reason="督办")
    outcomes = cg.service.execute([CaseAction(case.id, "resolve", MEMBER,
                                              T0 + timedelta(minutes=8))])
    assert outcomes[0].error is None, outcomes[0].error
    assert cg.service.get(case.id).state == "pending_check"
