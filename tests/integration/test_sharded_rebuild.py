"""A rebuild split by aggregate over shards (projections/shards.py): the shards' tables equal
following the log; while it runs nobody folds the projections; an abandoned one is reset
and replayed by the next runner; a failed shard makes the command rebuild in one process."""

from __future__ import annotations

import json
import subprocess
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest

from adapters.bootstrap import bootstrap
from adapters.cli.projection_shards import rebuild_sharded
from projections import shards
from projections.rebuild import begin_sharded, finish_sharded
from projections.scoreboard_fold import Scoreboard
from projections.tracking import LostRace
from tests.integration.test_projection_processes import NAMES, cli, dump, simulate


def indexes(cg) -> list[str]:
    """The projection tables' indexes (keys included), by name."""
    if cg.sql.dialect == "postgres":
        q = ("SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() AND"
             " substr(tablename, 1, 3) = 'cg_'")
    else:
        q = "SELECT name FROM sqlite_master WHERE type = 'index' AND substr(tbl_name, 1, 3) = 'cg_'"
    return sorted(r[0] for r in cg.sql.query(q))


@contextmanager
def followed_store(tmp_path, env, cases: int, seed: int):
    """A store of `cases` simulated cases with its projections followed: (the Casegrid,
    its data dir, its projection tables as followed)."""
    data = tmp_path / "d"
    cg = bootstrap(data_dir=data, env=env)
    try:
        simulate(cg, cases, seed=seed)
        cg.projections.catch_up()
        yield cg, data, dump(cg)
    finally:
        cg.close()


def fresh(data, env, *, batch=7, hold=5):
    """Another process's view: a Casegrid of its own, small batches and holds (every batch
    boundary, eviction and read-back is crossed)."""
    cg = bootstrap(data_dir=data, env=env)
    cg.projections.batch = batch
    cg.projections.projections["scoreboard"].hold = hold
    cg.projections.projections["cases"].hold = hold
    return cg


def test_event_log_shards_are_disjoint_and_cover_the_log(store_env, tmp_path):
    cg = bootstrap(data_dir=tmp_path / "d", env=store_env)
    try:
        simulate(cg, 40, seed=3)  # ids are random: an empty shard has odds of 3·(2/3)^40
        head = cg.projections.head()
        every = [n[0] for n in cg.projections.events.read(0, 10**6)]
        got = []
        for s in range(3):
            part = cg.projections.events.read(0, 10**6, head, (s, 3))
            assert len({n[1] for n in part} & {n[1] for p in got for n in p}) == 0
            got.append(part)
            few = cg.projections.events.read(0, 4, head, (s, 3))
            assert [n[0] for n in few] == [n[0] for n in part[:4]]  # `limit` of the shard's
        assert sorted(n[0] for p in got for n in p) == every
        assert all(len(p) for p in got), [len(p) for p in got]
    finally:
        cg.close()


def test_shards_equal_following_and_nobody_folds_meanwhile(store_env, tmp_path):
    with followed_store(tmp_path, store_env, 40, seed=11) as (cg, data, followed):
        keys = indexes(cg)
        plan = begin_sharded(cg.projections, NAMES, 3)
        assert "cg_trail_pkey" not in indexes(cg) or cg.sql.dialect == "sqlite"
        other = fresh(data, store_env)
        try:
            assert other.projections.catch_up() == 0  # being rebuilt: not folded here
            assert {r["projection"]: r["state"] for r in other.projections.status()} == dict.fromkeys(
                NAMES, "rebuilding")
            for s in range(3):  # each shard a process of its own (here one after another)
                worker = fresh(data, store_env)
                try:
                    assert worker.projections.catch_up_shard(NAMES, s, 3, plan.to) > 0
                finally:
                    worker.close()
            simulate(cg, 5, seed=12)  # recorded during the rebuild: folded at the end
            finish_sharded(cg.projections, plan)
            assert indexes(cg) == keys  # made again: set aside ones, and keys
            assert all(cg.projections.position(n) == cg.projections.head() for n in NAMES)
            cg.projections.catch_up()
            other.projections.catch_up()
            again = dump(cg)
            cg.projections.rebuild()  # in one process, the ordinary way
            assert again == dump(cg)
            assert not [r for r in cg.sql.query("SELECT projection FROM cg_tracking")
                        if "#" in r[0]]
        finally:
            other.close()
        assert followed["cg_sb_months"] and followed["cg_trail"]


def test_abandoned_sharded_rebuild_is_reset_and_replayed(store_env, tmp_path, monkeypatch):
    with followed_store(tmp_path, store_env, 30, seed=5) as (cg, data, followed):
        plan = begin_sharded(cg.projections, NAMES, 2)
        worker = fresh(data, store_env)
        try:  # one shard done, the other never starts: the process died
            worker.projections.catch_up_shard(NAMES, 0, 2, plan.to)
        finally:
            worker.close()
        with pytest.raises(LostRace):
            finish_sharded(cg.projections, plan)
        other = fresh(data, store_env)
        try:
            assert other.projections.catch_up() == 0  # still young: left alone
            later = datetime.now(UTC) + timedelta(seconds=shards.ABANDONED_AFTER + 1)
            assert shards.abandoned(other.sql, "scoreboard", later)
            monkeypatch.setattr(shards, "ABANDONED_AFTER", -1.0)
            assert other.projections.catch_up() > 0  # reset, then replayed from 0
            assert dump(other) == followed
            assert all(other.projections.position(n) == other.projections.head() for n in NAMES)
        finally:
            other.close()


def test_shard_restarted_midway_is_refused(sqlite_env, tmp_path):
    data = tmp_path / "d"
    cg = bootstrap(data_dir=data, env=sqlite_env)
    try:
        simulate(cg, 10, seed=2)
        plan = begin_sharded(cg.projections, NAMES, 2)
        with cg.sql.transaction() as cur:  # as if a dead process had moved it
            cur.execute("UPDATE cg_tracking SET position = 3 WHERE projection LIKE '%#1/2'")
        with pytest.raises(LostRace, match="restarted"):
            cg.projections.catch_up_shard(NAMES, 1, 2, plan.to)
    finally:
        cg.close()


def test_deferred_scoreboard_refuses_a_gap_between_batches(sqlite_env, tmp_path):
    cg = bootstrap(data_dir=tmp_path / "d", env=sqlite_env)
    try:
        board = Scoreboard(cg.city)
        board.begin_shard(2)
        board.prepare(cg.sql, [], 0, 10)
        with pytest.raises(RuntimeError, match="follow each other"):
            board.prepare(cg.sql, [], 20, 30)
    finally:
        cg.close()


@pytest.mark.postgres
def test_failed_shard_falls_back_to_one_process(pg_env, tmp_path, monkeypatch):
    with followed_store(tmp_path, pg_env, 30, seed=7) as (cg, data, followed):
        monkeypatch.setenv("PYTHONPATH", str(__import__("pathlib").Path(__file__).parents[2]))
        for k, v in pg_env.items():
            monkeypatch.setenv(k, v)

        def broken(*a, **k):
            raise RuntimeError("shard 0 broke")

        monkeypatch.setattr(cg.projections, "catch_up_shard", broken)
        read = rebuild_sharded(cg, NAMES, 2, 5.0, data_dir=str(data))
        assert read == cg.projections.head()
        assert dump(cg) == followed
        assert all(cg.projections.position(name) == cg.projections.head() for name in NAMES)


@pytest.mark.postgres
def test_cli_rebuild_in_shards_reports_and_equals_following(pg_env, tmp_path):
    with followed_store(tmp_path, pg_env, 30, seed=9) as (cg, data, followed):
        proc = cli(["projections", "rebuild", "scoreboard", "trail", "--processes", "3",
                    "--json"], data, pg_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                   text=True)
        out, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, err[-3000:]
        got = json.loads(out.strip().splitlines()[-1])
        assert got["shards"] == 3 and sorted(got["rebuilt"]) == ["scoreboard", "trail"]
        assert dump(cg) == followed
        assert "sharded_rebuild_failed" not in err


def test_heartbeat_keeps_a_sharded_rebuild_alive(sqlite_env, tmp_path):
    """The rebuilding process marks itself alive: its indexes at the end may take minutes
    while no shard moves."""
    cg = bootstrap(data_dir=tmp_path / "d", env=sqlite_env)
    try:
        simulate(cg, 5, seed=1)
        begin_sharded(cg.projections, NAMES, 2)
        with cg.sql.transaction() as cur:  # every row of the rebuild as if long still
            cur.execute("UPDATE cg_tracking SET updated_at = '2000-01-01T00:00:00.000000Z'"
                        " WHERE projection LIKE '%#%'")
        assert shards.abandoned(cg.sql, "trail")
        with cg.sql.transaction() as cur:
            shards.heartbeat(cur, NAMES)
        assert not shards.abandoned(cg.sql, "trail")
        assert shards.progress(cg.sql, "trail")[0] == 0  # the heartbeat row is no shard
        assert cg.projections.catch_up() == 0  # alive: nobody folds or resets it
    finally:
        cg.close()
