"""Projection machinery: bulletin arithmetic, rebuild = incremental, crash mid-batch, as-of."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from projections.cases import due_case_ids
from projections.scoreboard import scoreboard
from tests.support import SH, grid
from workflows.commands import CaseAction, ReportCase
from workflows.simulation import Simulation

ROOT = Path(__file__).resolve().parents[2]
DUMPS = {
    "cg_cases": "SELECT * FROM cg_cases ORDER BY case_id",
    "cg_sb_case": "SELECT case_id, day, unit, row FROM cg_sb_case ORDER BY case_id",
    "cg_sb_counts": "SELECT day, dim, key, name, n FROM cg_sb_counts WHERE n <> 0"
                    " ORDER BY day, dim, key, name",
    "cg_sb_months": "SELECT month, dim, key, name, n FROM cg_sb_months WHERE n <> 0"
                    " ORDER BY month, dim, key, name",
    "cg_trail": "SELECT * FROM cg_trail ORDER BY case_id, version",
}


def dump(cg) -> dict:
    return {t: cg.sql.query(q) for t, q in DUMPS.items()}


def simulate(cg, cases=120, days=12, seed=5):
    sim = Simulation(cg.city, seed=seed, start=datetime(2026, 10, 12, tzinfo=SH), days=days,
                     end=datetime(2026, 11, 10, tzinfo=SH))

    def tick(now):
        cg.projections.catch_up()  # incremental, in many small steps
        return len(cg.service.tick(now, due_case_ids(cg.sql, now)))

    stats = sim.run(cases, cg.service.execute, tick, batch=40)
    assert stats.refused == 0, stats.first_errors
    return stats


def test_bulletin_arithmetic(tmp_path):
    """应结案数 972: 911 closed (737 on time, 174 late), 61 still open → 93.72%, 75.82%."""
    cg = grid({"PERSISTENCE_MODULE": "eventsourcing.sqlite",
               "SQLITE_DBNAME": str(tmp_path / "b.sqlite")})
    day = datetime(2026, 10, 12, 9, 0, tzinfo=SH)
    plan = ["on_time"] * 737 + ["late"] * 174 + ["open"] * 61
    commands, late_at = [], day + timedelta(days=2)
    for i, kind in enumerate(plan):
        t = day + timedelta(seconds=i)
        r = ReportCase(channel="patrol", category="E0102", grid="44030301000101",
                       actor="sup_zhang", occurred_at=t)
        from uuid import NAMESPACE_URL, uuid5
        r.case_id = cid = uuid5(NAMESPACE_URL, f"bulletin-{i}")
        steps = [r, CaseAction(cid, "file", "acc_wang", t + timedelta(minutes=5)),
                 CaseAction(cid, "dispatch", "disp_chen", t + timedelta(minutes=10))]
        if kind != "open":
            done = t + timedelta(minutes=60) if kind == "on_time" else late_at + timedelta(seconds=i)
            steps += [CaseAction(cid, "resolve", "hw_luo", done),
                      CaseAction(cid, "check", "sup_zhang", done + timedelta(minutes=5), passed=True),
                      CaseAction(cid, "close", "acc_wang", done + timedelta(minutes=10))]
        commands += steps
    for i in range(0, len(commands), 500):
        assert all(o.error is None for o in cg.service.execute(commands[i:i + 500]))
    cg.projections.catch_up()
    row = scoreboard(cg.sql, cg.city, by="street", start=date(2026, 10, 1),
                     end=date(2026, 10, 31))["rows"][0]
    assert (row["counts"]["due_closure"], row["counts"]["closed"],
            row["counts"]["closed_on_time"]) == (972, 911, 737)
    assert f"{row['rates']['closure_rate']:.2%}" == "93.72%"
    assert f"{row['rates']['on_time_closure_rate']:.2%}" == "75.82%"


def indexes(cg) -> set[tuple[str, str]]:
    if cg.sql.dialect == "postgres":
        return set(cg.sql.query("SELECT tablename, indexname FROM pg_indexes"
                                " WHERE starts_with(tablename, 'cg_')"))
    return set(cg.sql.query("SELECT tbl_name, name FROM sqlite_master WHERE type = 'index'"
                            " AND tbl_name LIKE 'cg_%'"))


def test_rebuild_equals_incremental(store_env):
    """A rebuild (its non-unique indexes set aside and built at the end) gives the same
    tables and the same indexes as following the log step by step."""
    cg = grid(store_env)
    simulate(cg)
    cg.projections.catch_up()
    incremental, made = dump(cg), indexes(cg)
    assert len(incremental["cg_cases"]) == 120
    assert {("cg_cases", "cg_cases_due"), ("cg_trail", "cg_trail_miss")} <= made
    for name in cg.projections.projections:
        cg.projections.rebuild(name)
    assert dump(cg) == incremental
    assert indexes(cg) == made
    cg.projections.rebuild()
    assert dump(cg) == incremental and indexes(cg) == made
    if cg.sql.dialect == "postgres":  # room on each page for a case's updated row (HOT)
        opts = dict(cg.sql.query("SELECT relname, array_to_string(reloptions, ',')"
                                 " FROM pg_class WHERE relname IN ('cg_cases', 'cg_sb_case')"))
        assert opts == {"cg_cases": "fillfactor=70", "cg_sb_case": "fillfactor=70"}
    status = {s["projection"]: s for s in cg.projections.status()}
    assert all(s["lag_events"] == 0 for s in status.values())


CHILD = r"""
import json, os, sys, time
sys.path.insert(0, {root!r})
from projections.scoreboard_fold import Scoreboard
from tests.support import grid
env, flag = json.loads(sys.argv[1]), sys.argv[2]
orig, batches = Scoreboard.write, []
def slow(self, cur, ops):
    orig(self, cur, ops)
    batches.append(1)
    if len(batches) == 3:  # written but not committed: die here
        open(flag, "w").write("in batch")
        time.sleep(120)
Scoreboard.write = slow
cg = grid(env)
cg.projections.batch = 100
cg.projections.catch_up()
"""


def test_killed_mid_batch_counts_each_event_once(store_env, tmp_path):
    cg = grid(store_env)
    simulate(cg, cases=80, days=10, seed=9)
    for name in cg.projections.projections:  # start the projections from nothing
        cg.projections.rebuild(name)
    expected = dump(cg)
    with cg.projections.sql.transaction() as cur:
        for table in DUMPS:
            cur.execute(f"DELETE FROM {table}")
        cur.execute("UPDATE cg_tracking SET position = 0")
    flag = tmp_path / "flag"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD.format(root=str(ROOT)), json.dumps(store_env), str(flag)],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        deadline = time.time() + 60
        while not flag.exists():
            assert child.poll() is None, child.stderr.read().decode()
            assert time.time() < deadline, "the child never reached its third batch"
            time.sleep(0.02)
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
    partial = {s["projection"]: s["position"] for s in cg.projections.status()}
    assert 0 < partial["scoreboard"] < cg.projections.head()  # two batches committed, not three
    cg.projections.catch_up()
    assert dump(cg) == expected


def test_case_and_board_as_of(store_env):
    cg = grid(store_env)
    svc = cg.service
    t0 = datetime(2026, 10, 12, 9, 0, tzinfo=SH)
    case = svc.report(ReportCase(channel="patrol", category="E0102", grid="44030301000101",
                                 actor="sup_zhang", occurred_at=t0))
    svc.act(CaseAction(case.id, "file", "acc_wang", t0 + timedelta(minutes=5)))
    svc.act(CaseAction(case.id, "dispatch", "disp_chen", t0 + timedelta(minutes=10)))
    cg.projections.catch_up()
    before = scoreboard(cg.sql, cg.city, by="unit", start=date(2026, 10, 1), end=date(2026, 10, 31))
    moment = svc.timeline(case.id)[-1].timestamp
    time.sleep(0.01)
    svc.act(CaseAction(case.id, "resolve", "hw_luo", t0 + timedelta(minutes=60)))
    svc.act(CaseAction(case.id, "check", "sup_zhang", t0 + timedelta(minutes=65), passed=True))
    cg.projections.catch_up()
    after = scoreboard(cg.sql, cg.city, by="unit", start=date(2026, 10, 1), end=date(2026, 10, 31))
    assert after["rows"] != before["rows"]
    then = scoreboard(cg.sql, cg.city, by="unit", start=date(2026, 10, 1), end=date(2026, 10, 31),
                      as_of=moment)
    assert then["rows"] == before["rows"]
    old = svc.timeline(case.id, as_of=moment)
    assert [type(e).__name__ for e in old] == ["Reported", "Filed", "Dispatched"]


def test_runners_taking_turns_drop_what_they_held(store_env):
    """A runner holds scoreboard rows between batches; when another runner (another
    process) moved the projection meanwhile, it must read them again, not reuse them."""
    a, b = grid(store_env), grid(store_env)
    t0 = datetime(2026, 10, 12, 9, 0, tzinfo=SH)
    ids = [a.service.report(ReportCase(channel="patrol", category="E0102",
                                       grid="44030301000101", actor="sup_zhang",
                                       occurred_at=t0 + timedelta(minutes=i))).id
           for i in range(5)]
    a.projections.catch_up()  # a now holds the five rows
    for cid in ids:
        b.service.act(CaseAction(cid, "file", "acc_wang", t0 + timedelta(minutes=20)))
    b.projections.catch_up()  # b moves the projections on
    for cid in ids:
        a.service.act(CaseAction(cid, "dispatch", "disp_chen", t0 + timedelta(minutes=30)))
    a.projections.catch_up()  # a must not fold the dispatch into its stale (unfiled) rows
    board = scoreboard(a.sql, a.city, by="street", start=date(2026, 10, 1),
                       end=date(2026, 10, 31))["rows"][0]["counts"]
    assert board["filed"] == 5 and board["dispatched"] == 5
    incremental = dump(a)
    for name in a.projections.projections:
        a.projections.rebuild(name)
    assert dump(a) == incremental


def test_collector_is_back_on_after_a_catch_up_even_one_that_failed(tmp_path, monkeypatch):
    import gc

    from projections import scoreboard_fold as sb

    cg = grid({"PERSISTENCE_MODULE": "eventsourcing.sqlite",
               "SQLITE_DBNAME": str(tmp_path / "gc.sqlite")})
    simulate(cg, cases=10, days=2)
    assert gc.isenabled()

    import sqlite3

    def boom(self, *args):
        assert not gc.isenabled()  # paused while catching up
        raise sqlite3.OperationalError("boom")  # the store failed: the catch-up raises

    monkeypatch.setattr(sb.Scoreboard, "prepare", boom)
    with cg.projections.sql.transaction() as cur:
        cur.execute("UPDATE cg_tracking SET position = 0 WHERE projection = 'scoreboard'")
    with pytest.raises(sqlite3.OperationalError, match="boom"):
        cg.projections.catch_up()
    assert gc.isenabled()

    def bug(self, *args):  # a fold that fails on data: the projection stalls, no raise
        raise RuntimeError("bug")

    monkeypatch.setattr(sb.Scoreboard, "prepare", bug)
    cg.projections.catch_up()
    assert gc.isenabled()
    assert cg.projections.errors()["scoreboard"]["error"] == "RuntimeError: bug"


@pytest.mark.postgres
def test_runners_racing_on_one_position_never_stall(pg_env):
    """Two runners (two processes' worth: own connections) fold the same events: each time b
    is about to read a batch, a folds it (and a new event) and commits first. b's insert of a row a just wrote
    fails on its unique key *before* the tracking compare-and-set. That is a lost race, not
    an event b cannot fold: no stall is recorded (a stall turns /readyz 503; found by the
    soak, docs/soak.md), and b goes on from a's position. PostgreSQL: where several
    processes fold at once (SQLite has one writer at a time)."""
    a, b = grid(pg_env), grid(pg_env)
    t0 = datetime(2026, 10, 12, 9, 0, tzinfo=SH)
    for i in range(30):
        a.service.report(ReportCase(channel="patrol", category="E0102", grid="44030301000101",
                                    actor="sup_zhang", occurred_at=t0 + timedelta(minutes=i)))
    a.projections.catch_up(["patrol"])
    b.projections.catch_up(["patrol"])  # both set up; the case tables still at 0
    read, raced = b.projections.events.read, []

    def read_after_losing_the_race(pos, limit, stop=None):
        if len(raced) < 12:  # a takes every batch b is about to read, and a new event too
            raced.append(pos)
            a.service.report(ReportCase(channel="patrol", category="E0102",
                                        grid="44030301000101", actor="sup_zhang",
                                        occurred_at=t0 + timedelta(hours=2, minutes=len(raced))))
            a.projections.catch_up()
        return read(pos, limit, stop)

    b.projections.events.read = read_after_losing_the_race
    b.projections.catch_up()
    assert raced and b.projections.errors() == {} and a.projections.errors() == {}
    assert a.sql.query("SELECT count(*) FROM cg_cases")[0][0] == 30 + len(raced)
    incremental = dump(a)
    for name in a.projections.projections:
        a.projections.rebuild(name)
    assert dump(a) == incremental
