"""A rebuild split by aggregate over processes (分片重建): each shard folds the events of
its own cases (and patrol days) into the same tables, so the processes share the work
of every projection instead of each taking whole projections.

Every table a projection writes is keyed by aggregate (a case's row, its trail, a patrol
day) or adds up (the scoreboard's count cells, each added to in one order), so shards
never write the same rows except by adding to the same counts. While a sharded rebuild
runs, the projection's own tracking row stands at REBUILDING and no runner folds it; each
shard moves its own row, `NAME#S/K`, in the transaction of every batch it applies. When
every shard reached the target, one transaction moves the projection to the target and
removes the shard rows. The process running the rebuild also marks a row `NAME#alive`
every HEARTBEAT seconds (its indexes at the end may take minutes on a large log). If
the rebuild dies, its rows stop moving: after ABANDONED_AFTER seconds the next runner to
look resets the projection (fresh tables, position 0) and replays the log itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from projections.ports import Cur, Sql
from projections.times import ts
from projections.tracking import LostRace, drop, now_ts, rebuild_rows

REBUILDING = -1  # the position of a projection being rebuilt in shards
ABANDONED_AFTER = 60.0  # seconds without a shard's batch or a heartbeat: the rebuild is dead
HEARTBEAT = 10.0  # seconds between the rebuilding process's marks that it is alive


def shard_name(name: str, shard: int, shards: int) -> str:
    return f"{name}#{shard}/{shards}"


def _alive(name: str) -> str:
    return f"{name}#alive"


def begin(cur: Cur, names: Sequence[str], shards: int) -> None:
    """Mark `names`, just dropped (tracking.drop: no rows of an earlier sharded rebuild
    left), as rebuilt in `shards` shards, each at position 0."""
    now = now_ts()
    for name in names:
        cur.execute("UPDATE cg_tracking SET position = ?, updated_at = ? WHERE projection = ?",
                    (REBUILDING, now, name))
        for row in [*(shard_name(name, s, shards) for s in range(shards)), _alive(name)]:
            cur.execute("INSERT INTO cg_tracking (projection, position, updated_at)"
                        " VALUES (?, 0, ?)", (row, now))


def heartbeat(cur: Cur, names: Sequence[str]) -> None:
    """The process running the rebuild of `names` is alive (not the shards' own rows:
    their batches hold those locked)."""
    now = now_ts()
    for name in names:
        cur.execute("UPDATE cg_tracking SET updated_at = ? WHERE projection = ?",
                    (now, _alive(name)))


def finish(cur: Cur, names: Sequence[str], shards: int, to: int) -> None:
    """Every shard reached `to`: move the projections there, drop the shard rows.
    LostRace when a shard is missing or elsewhere, or the projection was reset."""
    now = now_ts()
    for name in names:
        where, args = rebuild_rows(name)
        cur.execute(f"SELECT projection, position FROM cg_tracking WHERE {where}", args)
        got = {p: int(n) for p, n in cur.fetchall() if p != _alive(name)}
        want = {shard_name(name, s, shards): to for s in range(shards)}
        if got != want:
            raise LostRace(f"{name}: shards stand at {got}, not {to}")
        cur.execute(f"DELETE FROM cg_tracking WHERE {where}", args)
        if cur.execute("UPDATE cg_tracking SET position = ?, updated_at = ? WHERE projection = ?"
                       " AND position = ?", (to, now, name, REBUILDING)) != 1:
            raise LostRace(name)


def progress(sql: Sql, name: str) -> tuple[int, str | None]:
    """The shards' lowest position, and their last move or heartbeat (None when there are
    none)."""
    where, args = rebuild_rows(name)
    rows = sql.query("SELECT MIN(CASE WHEN projection <> ? THEN position END),"
                     f" MAX(updated_at) FROM cg_tracking WHERE {where}", (_alive(name), *args))
    low, last = rows[0] if rows else (None, None)
    return int(low or 0), last


def abandoned(sql: Sql, name: str, now: datetime | None = None) -> bool:
    """No shard of `name` moved and its rebuild gave no heartbeat for ABANDONED_AFTER
    seconds (or none is left)."""
    _low, last = progress(sql, name)
    limit = (now or datetime.now(UTC)) - timedelta(seconds=ABANDONED_AFTER)
    return last is None or last < ts(limit)


def reset(cur: Cur, proj: Any) -> bool:
    """Take over an abandoned sharded rebuild: fresh tables at position 0, no shard rows.
    False when another runner took it over first."""
    if cur.execute("UPDATE cg_tracking SET position = 0 WHERE projection = ? AND position = ?",
                   (proj.name, REBUILDING)) != 1:
        return False
    drop(cur, proj)  # the shard rows too
    proj.create(cur)
    return True
