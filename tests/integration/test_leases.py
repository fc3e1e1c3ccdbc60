"""Singletons by lease (租约): exactly one process works at a time; a SIGKILLed holder is
taken over within a bounded time; on SQLite (flock) and PostgreSQL (advisory lock)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from adapters.bootstrap import bootstrap
from adapters.storage.lease import Lease, lease_key
from tests.integration.lease_support import (
    REPO,
    cli_loop,
    ended_well,
    events,
    stop_all,
    wait_contending,
    wait_for,
)

RETRY = 0.5
CONTENDER = """
import json, os, sys, threading, time
import structlog
from eventsourcing.application import Application
from adapters.storage.sql import Sql
from adapters.storage.lease import Lease, run_as_singleton
structlog.configure(logger_factory=structlog.PrintLoggerFactory(file=sys.stdout),
                    processors=[structlog.processors.JSONRenderer()])
env, name, mark = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3]
# the test made the tables: two contenders making them at once race inside eventsourcing
sql = Sql(Application(env={**env, "CREATE_TABLE": "false"}).recorder)
def step():
    with open(mark, "a") as f:
        f.write(f"{os.getpid()} {time.time()}\\n")
run_as_singleton(Lease(sql, name), step, 0.1, threading.Event(), retry=float(sys.argv[4]))
"""


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def env(request):
    return request.getfixturevalue("pg_env" if request.param == "postgres" else "sqlite_env")


def sql_for(env: dict):
    from eventsourcing.application import Application

    from adapters.storage.sql import Sql

    return Sql(Application(env=env).recorder)


def marks(path: Path) -> list[tuple[int, float]]:
    if not path.exists():
        return []
    return [(int(p), float(t)) for p, t in (ln.split() for ln in path.read_text().splitlines()
                                            if len(ln.split()) == 2)]


def test_key_is_stable_and_names_are_checked(tmp_path):
    assert lease_key("deadline-tick") == lease_key("deadline-tick") != lease_key("patrol-tick")
    assert -(2**63) <= lease_key("x") < 2**63
    for bad in ("", "Deadline", "a/b", "x" * 65, "a\x00b"):
        with pytest.raises(ValueError, match="lease name"):
            Lease(str(tmp_path / "e.sqlite"), bad)
    with pytest.raises(ValueError, match="PostgreSQL or a SQLite file"):
        Lease(":memory:", "x")


def test_one_holder_per_name_and_names_independent(env):
    sql = sql_for(env)
    with Lease(sql, "deadline-tick") as a, Lease(sql, "deadline-tick") as b, \
            Lease(sql, "patrol-tick") as c:
        assert a.acquire() and a.acquire()  # re-entrant for its holder
        assert not b.acquire()
        assert c.acquire()  # another name is not blocked
        assert a.alive() and not b.alive()
        a.release()
        assert b.acquire() and not a.acquire()
    with Lease(sql, "deadline-tick") as d:
        assert d.acquire()  # everything released on leaving the with


def test_sigkilled_holder_is_taken_over(env, tmp_path):
    mark = tmp_path / "marks.txt"
    sql_for(env)  # the store's tables, made once (two first starts race on PostgreSQL)
    cmd = [sys.executable, "-c", CONTENDER, json.dumps(env), "outbound-publisher", str(mark),
           str(RETRY)]
    logs = [tmp_path / f"p{i}.log" for i in range(2)]
    procs = [subprocess.Popen(cmd, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
                              stdout=log.open("w"), stderr=subprocess.STDOUT) for log in logs]
    try:
        wait_contending(logs, 60, "both contenders running")
        wait_for(lambda: len(marks(mark)) >= 3, 10, "the holder's steps")
        since = time.time()
        time.sleep(1.0)
        pids = {p for p, t in marks(mark) if t >= since}
        assert len(pids) == 1, f"exactly one holder, got {pids}"
        holder = pids.pop()
        assert holder in {p.pid for p in procs}
        os.kill(holder, signal.SIGKILL)
        killed_at = time.time()
        other = next(p.pid for p in procs if p.pid != holder)
        first = wait_for(lambda: [t for p, t in marks(mark) if p == other], 10, "takeover")[0]
        takeover = first - killed_at
        print(f"takeover {takeover:.2f} s ({env['PERSISTENCE_MODULE']}, retry {RETRY} s)")
        assert 0 <= takeover < 5
        assert all(p == other for p, t in marks(mark) if t > killed_at)
    finally:
        stop_all(procs)


LOOPS = {
    "deadlines": (["deadlines", "tick", "--loop", "--interval", "0.3"], "tick"),
    "projections": (["projections", "follow", "--only", "cases", "--interval", "0.3"], "following"),
    "patrol": (["patrol", "tick", "--loop", "--interval", "0.3"], "tick"),
    "notifications": (["notifications", "run", "--loop", "--interval", "0.3"], "lease_acquired"),
}


@pytest.mark.parametrize(("loop", "backend"), [
    ("deadlines", "sqlite"), pytest.param("deadlines", "postgres", marks=pytest.mark.postgres),
    ("projections", "sqlite"), pytest.param("projections", "postgres", marks=pytest.mark.postgres),
    ("patrol", "sqlite"), ("notifications", "sqlite")])
def test_cli_loop_works_in_one_process_only(loop, backend, request, tmp_path):
    store = request.getfixturevalue("pg_env" if backend == "postgres" else "sqlite_env")
    args, work = LOOPS[loop]
    data = tmp_path / "d"
    bootstrap(data_dir=data, env=store).close()  # set the store up once
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    procs = [cli_loop(args, data, store, log) for log in logs]
    try:
        wait_contending(logs, 20, "both loops started")
        wait_for(lambda: any(work in events(log) for log in logs), 10, "work")
        time.sleep(0.7)
        counts = [events(log).count(work) for log in logs]
        assert sorted(counts)[0] == 0, f"only one process works: {counts}"
        holder = counts.index(max(counts))
        procs[holder].kill()
        other = logs[1 - holder]
        wait_for(lambda: work in events(other), 5, "the other loop takes over")
        assert "lease_acquired" in events(other)
    finally:
        stop_all(procs)
        assert ended_well(procs), [log.read_text()[-2000:] for log in logs]
