"""The runner's own tables: each projection's position, fold version and stall.

`cg_tracking` holds each projection's position, moved with a compare-and-set in the
transaction of the batch it applied; `cg_projection_errors` the event a projection
stalled on and when to try again; `cg_projection_versions` the fold version each
projection's tables were built with. Plain `?` SQL through projections.ports.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from projections.ports import Cur, Sql
from projections.times import ts

TRACKING_DDL = (
    "CREATE TABLE IF NOT EXISTS cg_tracking ("
    " projection TEXT PRIMARY KEY, position BIGINT NOT NULL, updated_at TEXT NOT NULL)"
)
# A projection stalled on one event: which event, the error, and when to try again.
ERRORS_DDL = (
    "CREATE TABLE IF NOT EXISTS cg_projection_errors ("
    " projection TEXT PRIMARY KEY, notification_id BIGINT NOT NULL, error TEXT NOT NULL,"
    " failed_at TEXT NOT NULL, attempts INTEGER NOT NULL, retry_at TEXT NOT NULL)"
)
# The fold version each projection's tables were built with; a newer release's fold
# (class attribute `version`) replays the log into fresh tables at start-up.
VERSIONS_DDL = ("CREATE TABLE IF NOT EXISTS cg_projection_versions ("
                " projection TEXT PRIMARY KEY, version INTEGER NOT NULL)")
BACKOFF_FIRST, BACKOFF_MAX = 1.0, 300.0  # seconds between retries of a stalled projection


class LostRace(Exception):
    """Another runner advanced this projection first; the batch was rolled back."""


def now_ts() -> str:
    return ts(datetime.now(UTC))


def create_tables(cur: Cur, projections: Iterable[Any], log: Any) -> None:
    """The runner's tables and each projection's; a projection whose fold version changed
    starts again from nothing."""
    cur.setup_lock()
    cur.execute(TRACKING_DDL)
    cur.execute(ERRORS_DDL)
    cur.execute(VERSIONS_DDL)
    cur.execute("SELECT projection FROM cg_tracking")
    tracked = {r[0] for r in cur.fetchall()}
    cur.execute("SELECT projection, version FROM cg_projection_versions")
    built = {name: int(v) for name, v in cur.fetchall()}
    for p in projections:
        want = int(getattr(p, "version", 1))
        had = built.get(p.name, 1 if p.name in tracked else want)  # before versions: 1
        if had != want:
            log.warning("projection_version_changed_rebuilding", projection=p.name,
                        built=had, version=want)
            drop(cur, p)
        p.create(cur)
        cur.execute(
            "INSERT INTO cg_tracking (projection, position, updated_at) VALUES (?, 0, ?)"
            " ON CONFLICT (projection) DO NOTHING", (p.name, now_ts()))
        cur.execute("DELETE FROM cg_projection_versions WHERE projection = ?", (p.name,))
        cur.execute("INSERT INTO cg_projection_versions (projection, version)"
                    " VALUES (?, ?)", (p.name, want))


def rebuild_rows(name: str) -> tuple[str, tuple]:
    """The condition and its arguments picking the rows of `name`'s sharded rebuild in
    cg_tracking (its shards' and its heartbeat's: `NAME#…`, projections/shards.py)."""
    return "substr(projection, 1, ?) = ?", (len(name) + 1, f"{name}#")


def drop(cur: Cur, proj: Any) -> None:
    """Drop a projection's tables and memory, back to position 0 with no stall (and no
    shards of a sharded rebuild: projections/shards.py)."""
    proj.forget()
    for table in proj.tables:
        cur.execute(f"DROP TABLE IF EXISTS {table}")
    cur.execute("UPDATE cg_tracking SET position = 0, updated_at = ? WHERE projection = ?",
                (now_ts(), proj.name))
    where, args = rebuild_rows(proj.name)
    cur.execute(f"DELETE FROM cg_tracking WHERE {where}", args)
    cur.execute("DELETE FROM cg_projection_errors WHERE projection = ?", (proj.name,))


def positions(sql: Sql, names: Sequence[str]) -> dict[str, int]:
    rows = dict(sql.query("SELECT projection, position FROM cg_tracking"))
    return {n: int(rows.get(n, 0)) for n in names}


def advance(cur: Cur, names: Sequence[str], pos: int, to: int) -> None:
    """Move each projection from `pos` to `to`; LostRace if one was not at `pos`."""
    now = now_ts()
    for name in names:
        moved = cur.execute(
            "UPDATE cg_tracking SET position = ?, updated_at = ?"
            " WHERE projection = ? AND position = ?", (to, now, name, pos))
        if moved != 1:
            raise LostRace(name)


def stalled(sql: Sql) -> tuple[set[str], set[str]]:
    """The stalled projections, and those of them still waiting out their backoff."""
    now = now_ts()
    rows = sql.query("SELECT projection, retry_at FROM cg_projection_errors")
    return {r[0] for r in rows}, {r[0] for r in rows if r[1] > now}


def record_stall(sql: Sql, name: str, nid: int, error: Exception) -> tuple[str, int, float]:
    """Note the event `name` cannot fold; returns the error text, the attempts so far and
    the seconds until the next one."""
    rows = sql.query("SELECT attempts FROM cg_projection_errors WHERE projection = ?", (name,))
    attempts = (int(rows[0][0]) if rows else 0) + 1
    wait = min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** (attempts - 1))
    now = datetime.now(UTC)
    text = f"{type(error).__name__}: {error}"[:2000]
    with sql.transaction() as cur:
        cur.execute("DELETE FROM cg_projection_errors WHERE projection = ?", (name,))
        cur.execute("INSERT INTO cg_projection_errors (projection, notification_id, error,"
                    " failed_at, attempts, retry_at) VALUES (?, ?, ?, ?, ?, ?)",
                    (name, nid, text, ts(now), attempts, ts(now + timedelta(seconds=wait))))
    return text, attempts, wait


def clear_stall(sql: Sql, name: str) -> None:
    with sql.transaction() as cur:
        cur.execute("DELETE FROM cg_projection_errors WHERE projection = ?", (name,))


def stalls(sql: Sql) -> dict[str, dict]:
    """Stalled projections: the event each cannot fold, the error, the next retry."""
    rows = sql.query("SELECT projection, notification_id, error, failed_at, attempts,"
                     " retry_at FROM cg_projection_errors")
    return {r[0]: {"notification_id": int(r[1]), "error": r[2], "failed_at": r[3],
                   "attempts": int(r[4]), "retry_at": r[5]} for r in rows}


def retry_now(sql: Sql, names: Iterable[str]) -> None:
    """Forget the backoff: the next catch-up tries these projections at once."""
    with sql.transaction() as cur:
        for name in names:
            cur.execute("UPDATE cg_projection_errors SET retry_at = ? WHERE projection = ?",
                        (ts(datetime(2000, 1, 1, tzinfo=UTC)), name))
