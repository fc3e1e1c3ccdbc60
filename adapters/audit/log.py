"""The audit tables beside the events, and the tracked follower that turns every new
stored event into the next leaf (审计叶子), in log order, never skipping one.

cg_audit_leaves(position, leaf_hash, notification_id, originator_id, version): the
notification ids seen are kept, so `verify` knows which ids the log held and which
were gaps when they were logged. cg_audit_heads(size, root_hash, at, signature, key_id,
published_at): published_at is NULL until the head reached casegrid.audit.v1; schema step
4 (adapters/storage/steps.py) adds it to a table made by an older version (its heads then
count as not sent).
"""

from __future__ import annotations

from dataclasses import dataclass

from adapters.audit.rows import EventRows, Row
from adapters.storage.sql import Cur, Sql

FOLLOW_LOCK = 0x61756474  # 'audt': one follower writes leaves at a time (PostgreSQL)

TABLES = (
    "CREATE TABLE IF NOT EXISTS cg_audit_leaves (position BIGINT PRIMARY KEY,"
    " leaf_hash TEXT NOT NULL, notification_id BIGINT NOT NULL UNIQUE,"
    " originator_id TEXT NOT NULL, version BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS cg_audit_heads (size BIGINT NOT NULL, root_hash TEXT NOT NULL,"
    " at TEXT NOT NULL, signature TEXT NOT NULL, key_id TEXT NOT NULL,"
    " PRIMARY KEY (size, at))",
    "CREATE INDEX IF NOT EXISTS cg_audit_leaves_case ON cg_audit_leaves (originator_id)",
)
# cg_audit_heads.published_at came after the first release: schema step 4 adds it


class AuditGap(RuntimeError):
    """A notification id is missing before the head of the log: refuse to go on."""


@dataclass(frozen=True)
class Leaf:
    position: int
    leaf_hash: bytes
    notification_id: int
    originator_id: str
    version: int


def create_tables(sql: Sql) -> None:
    with sql.transaction() as cur:
        cur.setup_lock()
        for statement in TABLES:
            cur.execute(statement)


def leaves(sql: Sql) -> list[Leaf]:
    rows = sql.query("SELECT position, leaf_hash, notification_id, originator_id, version"
                     " FROM cg_audit_leaves ORDER BY position")
    return [Leaf(int(p), unhex(h), int(n), o, int(v)) for p, h, n, o, v in rows]


def unhex(text: str) -> bytes:
    """Hex from our tables; an edited, unreadable value reads as no hash (never a crash)."""
    try:
        return bytes.fromhex(text)
    except (ValueError, TypeError):
        return b""


def last_leaf(sql: Sql | Cur) -> tuple[int, int]:
    """(leaves so far, last notification id logged)."""
    q = ("SELECT position, notification_id FROM cg_audit_leaves"
         " ORDER BY position DESC LIMIT 1")
    if isinstance(sql, Sql):
        rows = sql.query(q)
        row = rows[0] if rows else None
    else:
        sql.execute(q)
        row = sql.fetchone()
    return (0, 0) if row is None else (int(row[0]) + 1, int(row[1]))


def check_next(rows: list[Row], last_id: int, dialect: str) -> None:
    """SQLite's rowids have no gaps: a missing one is an event deleted before it was
    logged. PostgreSQL's recorder inserts and commits under an EXCLUSIVE table lock, so
    an id below a visible one that is not there was rolled back and never will be."""
    if dialect == "postgres":
        return
    for row in rows:
        if row.notification_id != last_id + 1:
            raise AuditGap(f"notification id {last_id + 1} is missing before"
                           f" {row.notification_id}: refusing to log past it")
        last_id = row.notification_id


def follow(sql: Sql, events: EventRows, *, limit: int | None = None) -> int:
    """Log every stored event not yet logged (at most `limit`); returns how many."""
    done = 0
    while limit is None or done < limit:
        size, last_id = last_leaf(sql)
        rows = events.after(last_id)[:None if limit is None else limit - done]
        if not rows:
            return done
        check_next(rows, last_id, sql.dialect)
        with sql.transaction() as cur:
            if sql.dialect == "postgres":
                cur.execute("SELECT pg_advisory_xact_lock(?)", (FOLLOW_LOCK,))
            if last_leaf(cur) != (size, last_id):
                continue  # another follower logged them first: read again
            cur.copy_rows("cg_audit_leaves", ("position", "leaf_hash", "notification_id",
                                              "originator_id", "version"),
                          [(size + i, r.leaf().hex(), r.notification_id, r.originator_id,
                            r.version) for i, r in enumerate(rows)])
        done += len(rows)
    return done
