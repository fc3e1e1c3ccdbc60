"""Projections in processes of their own (issue 14 §2): one lease per projection, so a
projection is followed by exactly one process at a time and taken over when its holder is
SIGKILLed; `rebuild --processes N` gives the same tables as a rebuild in one process."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

from adapters.bootstrap import bootstrap
from adapters.cli.projection_workers import WEIGHT, plan
from projections.cases import due_case_ids
from tests.integration.lease_support import log_events, process_env, stop_all, wait_for
from tests.support import SH
from workflows.simulation import Simulation

NAMES = ["cases", "scoreboard", "trail", "patrol"]


def simulate(cg, cases: int, seed: int) -> None:
    sim = Simulation(cg.city, seed=seed, start=datetime(2026, 10, 12, tzinfo=SH), days=6,
                     end=datetime(2026, 10, 25, tzinfo=SH))

    def tick(now):
        cg.projections.catch_up(["cases"])
        return len(cg.service.tick(now, due_case_ids(cg.sql, now)))

    stats = sim.run(cases, cg.service.execute, tick, batch=25)
    assert stats.refused == 0, stats.first_errors


def dump(cg) -> dict:
    """Every projection table's rows (a count cell that came back to 0 is no row)."""
    out = {}
    for proj in cg.projections.projections.values():
        for table in proj.tables:
            rows = cg.sql.query(f"SELECT * FROM {table}")
            if table in ("cg_sb_counts", "cg_sb_months"):
                rows = [r for r in rows if r[-1] != 0]
            out[table] = sorted(rows, key=repr)
    return out


def cli(args: list[str], data: Path, store: dict, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "adapters.cli", "--data-dir", str(data), *args],
                            cwd=data.parent, env=process_env(store), stdin=subprocess.DEVNULL, **kw)


def following(path: Path) -> list[str] | None:
    """The projections this process last said it follows."""
    got = [e["projections"] for e in log_events(path) if e.get("event") == "following"]
    return got[-1] if got else None


def test_plan_splits_by_weight_and_keeps_every_name_once():
    assert plan(NAMES, 1) == [NAMES]
    two = plan(NAMES, 2)
    assert two == [["scoreboard"], ["cases", "trail", "patrol"]]
    for n in (2, 3, 4, 9):
        groups = plan(NAMES, n)
        assert sorted(x for g in groups for x in g) == sorted(NAMES)
        assert len(groups) == min(n, len(NAMES))
    assert plan(NAMES, 3) == [["scoreboard"], ["trail"], ["cases", "patrol"]]
    assert WEIGHT["scoreboard"] == max(WEIGHT.values())  # the heaviest runs alone
    assert plan(["a", "b"], 2) == [["a"], ["b"]]  # unknown names weigh 1 each


def test_rebuild_in_processes_equals_rebuild_in_one(store_env, tmp_path):
    data = tmp_path / "d"
    cg = bootstrap(data_dir=data, env=store_env)
    try:
        simulate(cg, 40, seed=11)
        cg.projections.catch_up()
        followed = dump(cg)
        head = cg.projections.head()
        proc = cli(["projections", "rebuild", "--processes", "2", "--json"], data, store_env,
                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        out, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, err[-3000:]
        got = json.loads(out.strip().splitlines()[-1])
        if "postgres" in store_env["PERSISTENCE_MODULE"]:  # each process a share of the cases
            assert got["shards"] == 2
        else:  # SQLite has one writer: whole projections per process
            assert got["processes"] == [["scoreboard"], ["cases", "trail", "patrol"]]
        assert sorted(got["rebuilt"]) == sorted(NAMES)
        assert all(cg.projections.position(n) == head for n in NAMES)
        assert dump(cg) == followed  # rebuild in processes = following = rebuild in one
        assert any(r[-1] for r in followed["cg_sb_months"])
    finally:
        cg.close()


def test_rebuild_waits_for_a_follower_holding_the_lease_then_refuses(store_env, tmp_path):
    data = tmp_path / "d"
    bootstrap(data_dir=data, env=store_env).close()
    log = tmp_path / "f.log"
    follower = cli(["projections", "follow", "--only", "trail", "--interval", "0.2"], data,
                   store_env, stdout=log.open("w"), stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: following(log) == ["trail"], 30, "the follower")
        proc = cli(["projections", "rebuild", "trail", "--wait", "0.5", "--json"], data,
                   store_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 5, (out, err)  # conflict
        assert "projection.trail" in json.loads(err.strip().splitlines()[-1])["message"]
    finally:
        follower.send_signal(signal.SIGTERM)
        follower.wait(10)


def test_each_projection_followed_by_one_process_and_taken_over_on_sigkill(store_env, tmp_path):
    data = tmp_path / "d"
    cg = bootstrap(data_dir=data, env=store_env)
    logs = {k: tmp_path / f"{k}.log" for k in ("a", "b")}
    procs = {}
    try:
        procs["a"] = cli(["projections", "follow", "--only", "cases", "--only", "trail",
                          "--interval", "0.2"], data, store_env,
                         stdout=logs["a"].open("w"), stderr=subprocess.STDOUT)
        wait_for(lambda: following(logs["a"]) == ["cases", "trail"], 30, "a follows its two")
        procs["b"] = cli(["projections", "follow", "--interval", "0.2"], data, store_env,
                         stdout=logs["b"].open("w"), stderr=subprocess.STDOUT)
        # b holds the leases a does not: the projections are split between the processes
        wait_for(lambda: following(logs["b"]) == ["scoreboard", "patrol"], 30, "b follows the rest")
        simulate(cg, 15, seed=12)
        head = cg.projections.head()
        wait_for(lambda: all(cg.projections.position(n) == head for n in NAMES), 60, "caught up")
        procs["a"].kill()  # SIGKILL: its leases go with its session / file lock
        killed = time.monotonic()
        wait_for(lambda: following(logs["b"]) == NAMES, 30, "b takes over cases and trail")
        takeover = time.monotonic() - killed
        assert takeover < 10, takeover
        acquired = [e["name"] for e in log_events(logs["b"]) if e.get("event") == "lease_acquired"]
        assert sorted(acquired) == sorted(f"projection.{n}" for n in NAMES)  # each once
        simulate(cg, 15, seed=13)
        head = cg.projections.head()
        wait_for(lambda: all(cg.projections.position(n) == head for n in NAMES), 60,
                 "b follows all four")
        procs["b"].send_signal(signal.SIGTERM)
        assert procs["b"].wait(10) == 0, logs["b"].read_text()[-3000:]
        followed = dump(cg)
        cg.projections.rebuild()
        assert dump(cg) == followed  # every event applied exactly once across the takeover
    finally:
        stop_all(procs.values(), timeout=10)
        cg.close()
