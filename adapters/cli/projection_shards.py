"""`projections rebuild --processes N` on PostgreSQL: each projection's work split by
aggregate over N processes (分片重建, projections/shards.py).

This process holds the projections' leases, gives them fresh tables marked as being
rebuilt, starts N-1 children (adapters/shard_worker.py, one shard each) and folds
shard 0 itself. When every shard reached the target it moves the projections there and
folds what was recorded meanwhile. If any shard fails, the others are stopped and the
projections are rebuilt in this one process instead, so a failure costs time, never rows.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Sequence

import structlog

from adapters.background import BackgroundLoop
from adapters.bootstrap import Casegrid
from adapters.cli.projection_workers import failure, leases_held
from projections import shards
from projections.rebuild import ShardedRebuild, begin_sharded, finish_sharded
from projections.tracking import LostRace

log = structlog.get_logger("casegrid.projections")


def rebuild_sharded(cg: Casegrid, names: Sequence[str], processes: int, wait: float, *,
                    progress: Callable[[int], None] | None = None,
                    data_dir: str | None = None, config: str | None = None) -> int:
    """Rebuild `names` in `processes` shards; returns how many events were read."""
    runner = cg.projections
    # the children start up (imports, connections) while this process takes the leases
    # and gives the tables their fresh start; then each is told where the shards end
    children = spawn_shards(names, processes, data_dir=data_dir, config=config)
    try:
        with leases_held(cg, names, wait):
            plan = begin_sharded(runner, names, processes)
            log.info("sharded_rebuild_started", projections=list(names), shards=plan.of,
                     to=plan.to)
            for child in children:
                try:
                    child.stdin.write(f"{plan.to}\n")
                    child.stdin.flush()
                except OSError:  # it died starting: collected below as a failed shard
                    pass
            beat = BackgroundLoop("rebuild-heartbeat", lambda stop: _beat(cg, names, stop))
            beat.start()
            try:
                return _fold_and_finish(runner, plan, children, progress)
            finally:
                beat.stop()
    finally:
        for child in children:
            if child.poll() is None:
                child.stdin.close()  # a child not told to start: it exits
                child.terminate()
            child.wait()


def _beat(cg: Casegrid, names: Sequence[str], stop) -> None:
    """Mark the rebuild alive every HEARTBEAT seconds until `stop` (a store error is
    logged, and the next beat tried)."""
    while not stop.wait(shards.HEARTBEAT):
        try:
            with cg.sql.transaction() as cur:
                shards.heartbeat(cur, names)
        except Exception as e:  # noqa: BLE001 - the shards' own batches may still beat
            log.warning("rebuild_heartbeat_failed", error=repr(e))


def _fold_and_finish(runner, plan: ShardedRebuild, children: list[subprocess.Popen],
                     progress: Callable[[int], None] | None) -> int:
    """Fold shard 0 here, wait for the others, finish; on any failure, rebuild in one
    process instead. Returns how many events were read."""
    errors: list[str] = []
    try:
        runner.catch_up_shard(plan.names, 0, plan.of, plan.to, progress=progress)
    except Exception as e:
        errors.append(f"shard 0: {type(e).__name__}: {e}")
        for child in children:
            child.terminate()
    errors += collect_shards(children)
    if not errors:
        try:
            return plan.to + finish_sharded(runner, plan, progress=progress)
        except LostRace as e:
            errors.append(f"finish: {e}")
    log.warning("sharded_rebuild_failed_rebuilding_in_one_process",
                projections=list(plan.names), errors=errors)
    return runner.rebuild(list(plan.names), progress=progress)


def spawn_shards(names: Sequence[str], of: int, *, data_dir: str | None = None,
                 config: str | None = None) -> list[subprocess.Popen]:
    """One child (adapters/shard_worker.py) per shard but the first; each waits on its
    standard input for the last notification id of the rebuild."""
    opts = [*(["--data-dir", data_dir] if data_dir else []),
            *(["--config", config] if config else [])]
    return [subprocess.Popen(
        [sys.executable, "-m", "adapters.shard_worker", *names, *opts,
         "--shard", str(s), "--of", str(of)],
        env=dict(os.environ), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        stdin=subprocess.PIPE, text=True) for s in range(1, of)]


def collect_shards(procs: Sequence[subprocess.Popen]) -> list[str]:
    """Wait for every child; the errors of those that failed."""
    errors = []
    for p in procs:
        out, err = p.communicate()
        if p.returncode == 0:
            got = json.loads(out.strip().splitlines()[-1])
            log.info("shard_done", shard=got["shard"], read=got["read"])
            continue
        errors.append(failure(p, out, err))
    return errors
