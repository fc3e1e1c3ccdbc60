"""Rebuilding projections (重建): fresh tables, the whole log replayed into them.

In one process (`rebuild`), or split by aggregate over several (`begin_sharded`, each
shard's `ProjectionRunner.catch_up_shard`, then `finish_sharded`; projections/shards.py).
Either way the tables' non-unique indexes are set aside while the rows go in and built
once at the end (if the process dies first, the next start's create() makes them), and
the planner's statistics are refreshed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from projections import shards, tracking


@dataclass(frozen=True)
class ShardedRebuild:
    names: tuple[str, ...]
    of: int  # shards
    to: int  # the last notification id the shards fold
    tables: tuple[str, ...]
    again: tuple[str, ...]  # the statements that make the set-aside indexes again


def _fresh(runner: Any, names: Sequence[str], cur: Any) -> tuple[list[str], list[str]]:
    """Drop and create the projections' tables at position 0, indexes set aside."""
    tables = [t for name in names for t in runner.projections[name].tables]
    for name in names:
        proj = runner.projections[name]
        tracking.drop(cur, proj)
        proj.create(cur)
    return tables, cur.set_aside_indexes(tables)


def _index_and_analyze(runner: Any, tables: Sequence[str], again: Sequence[str]) -> None:
    """Make the set-aside indexes and keys, then refresh the planner's statistics. Where
    the database builds indexes side by side (PostgreSQL), two at a time, each in its own
    transaction: the other core is idle otherwise."""
    def run(statements: Sequence[str]) -> None:
        with runner.sql.transaction() as cur:
            for ddl in statements:
                cur.execute(ddl)

    if runner.sql.dialect == "postgres" and len(again) > 1:
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="index-build") as pool:
            for done in [pool.submit(run, [ddl]) for ddl in again]:
                done.result()
    else:
        run(again)
    run([f"ANALYZE {table}" for table in tables])


def rebuild(runner: Any, names: list[str], *,
            progress: Callable[[int], None] | None = None) -> int:
    """Replay the log into fresh tables of `names`, in this process together."""
    runner.setup()
    with runner.run_lock:
        with runner.sql.transaction() as cur:
            tables, again = _fresh(runner, names, cur)
        done = runner.catch_up(names, progress=progress)
        _index_and_analyze(runner, tables, again)
    return done


def begin_sharded(runner: Any, names: Sequence[str], of: int) -> ShardedRebuild:
    """Fresh tables for `names`, marked as rebuilt in `of` shards up to today's head."""
    runner.setup()
    with runner.run_lock, runner.sql.transaction() as cur:
        tables, again = _fresh(runner, names, cur)
        # keys no write relies on are checked once at the end (a crash before resets all);
        # made first (the trail's is the largest build)
        again = cur.set_aside_keys([k for n in names for k in getattr(
            runner.projections[n], "loose_keys", ())]) + again
        shards.begin(cur, names, of)
        to = runner.head()
    return ShardedRebuild(tuple(names), of, to, tuple(tables), tuple(again))


def finish_sharded(runner: Any, plan: ShardedRebuild, *,
                   progress: Callable[[int], None] | None = None) -> int:
    """Every shard reached the target: the tables' indexes and keys, then the projections
    stand there (LostRace if a shard did not: the rebuild is then reset by whoever finds
    it abandoned), then the events recorded meanwhile. Returns those events."""
    with runner.run_lock:
        _index_and_analyze(runner, plan.tables, plan.again)
        with runner.sql.transaction() as cur:
            shards.finish(cur, plan.names, plan.of, plan.to)
        return runner.catch_up(list(plan.names), progress=progress)
