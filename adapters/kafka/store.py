"""Kafka bookkeeping in our own database, written in the same transaction as the case events.

The inbound worker saves a batch's case events together with
  * the inbox rows (source, message_id) of the messages it applied (dedupe),
  * the dead letters of the messages it could not apply (an outbox: published afterwards),
  * the next offset of every (group, topic, partition) the batch came from,
all in ONE database transaction. It does so by passing them as a keyword of
`Application.save(...)`: eventsourcing hands keywords down to the recorder's
`_insert_events(cursor, stored_events, **kwargs)`, which runs inside the transaction
that inserts the events. The recorders below add our rows there. So an event without
its inbox row, or an offset past a message whose events are missing, cannot exist.

Tables (same database as the events; `?` SQL through adapters.storage.sql):
  cg_kafka_inbox         (source, message_id) -> case id, outcome, where it came from
  cg_kafka_offsets       (group_id, topic, partition_id) -> next offset to read
  cg_kafka_dead_letters  (group_id, topic, partition_id, kafka_offset) -> error, original bytes,
                         published_at (NULL until the dead-letter topic has it), parked_at /
                         publish_error / publish_attempts (a send that failed for good)
  cg_kafka_publish       (publisher) -> position in the event log already published
  cg_kafka_parked_events (publisher, position) -> an event the publisher moved past without
                         publishing it (its send failed for good): error, attempts, times
  cg_kafka_worker_errors (worker, part) -> a worker part that is failing and backing off:
                         last error, failures, since (deleted when the part recovers)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from eventsourcing.sqlite import SQLiteApplicationRecorder
from eventsourcing.utils import retry

from adapters.storage.recorder import CasegridPostgresRecorder
from adapters.storage.sql import Cur, Sql
from projections.times import ts

KWARG = "casegrid_kafka"

DDL = (
    "CREATE TABLE IF NOT EXISTS cg_kafka_inbox ("
    " source TEXT NOT NULL, message_id TEXT NOT NULL, case_id TEXT, outcome TEXT NOT NULL,"
    " topic TEXT NOT NULL, partition_id INTEGER NOT NULL, kafka_offset BIGINT NOT NULL,"
    " recorded_at TEXT NOT NULL, PRIMARY KEY (source, message_id))",
    "CREATE TABLE IF NOT EXISTS cg_kafka_offsets ("
    " group_id TEXT NOT NULL, topic TEXT NOT NULL, partition_id INTEGER NOT NULL,"
    " next_offset BIGINT NOT NULL, updated_at TEXT NOT NULL,"
    " PRIMARY KEY (group_id, topic, partition_id))",
    "CREATE TABLE IF NOT EXISTS cg_kafka_dead_letters ("
    " group_id TEXT NOT NULL, topic TEXT NOT NULL, partition_id INTEGER NOT NULL,"
    " kafka_offset BIGINT NOT NULL, msg_key TEXT, payload TEXT NOT NULL, error_kind TEXT NOT NULL,"
    " error_field TEXT, error TEXT NOT NULL, recorded_at TEXT NOT NULL, published_at TEXT,"
    " PRIMARY KEY (group_id, topic, partition_id, kafka_offset))",
    "CREATE INDEX IF NOT EXISTS cg_kafka_dead_letters_unpublished"
    " ON cg_kafka_dead_letters (published_at, recorded_at)",
    "CREATE TABLE IF NOT EXISTS cg_kafka_publish ("
    " publisher TEXT PRIMARY KEY, position BIGINT NOT NULL, updated_at TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS cg_kafka_parked_events ("
    " publisher TEXT NOT NULL, position BIGINT NOT NULL, case_id TEXT, stream_version INTEGER,"
    " error TEXT NOT NULL, attempts INTEGER NOT NULL, first_failed_at TEXT NOT NULL,"
    " last_failed_at TEXT NOT NULL, published_at TEXT, PRIMARY KEY (publisher, position))",
    "CREATE TABLE IF NOT EXISTS cg_kafka_worker_errors ("
    " worker TEXT NOT NULL, part TEXT NOT NULL, group_id TEXT NOT NULL, error TEXT NOT NULL,"
    " failures INTEGER NOT NULL, since TEXT NOT NULL, updated_at TEXT NOT NULL,"
    " PRIMARY KEY (worker, part))",
)
# cg_kafka_dead_letters' publish_attempts, publish_error and parked_at came after the
# first release: schema step 2 adds them (adapters/storage/steps.py), never this module


REPLACE_DEAD = ("UPDATE SET error_kind = excluded.error_kind, error_field = excluded.error_field,"
                " error = excluded.error, recorded_at = excluded.recorded_at, published_at = NULL,"
                " parked_at = NULL, publish_error = NULL")


INBOX_TYPES = ("text", "text", "text", "text", "text", "int4", "int8", "text")


def now_ts() -> str:
    return ts(datetime.now(UTC))


@dataclass
class KafkaRows:
    """What one inbound transaction writes besides the case events."""

    inbox: list[tuple] = field(default_factory=list)  # source, message_id, case_id, outcome, topic, partition_id, offset
    dead: list[tuple] = field(default_factory=list)  # group, topic, partition_id, offset, key, payload_b64, kind, field, error
    offsets: dict[tuple[str, str, int], int] = field(default_factory=dict)  # (group, topic, partition) -> next
    resolved: list[tuple] = field(default_factory=list)  # dead letters replayed and now applied
    replace_dead: bool = False  # a replay: a dead letter still bad takes its new error

    def write(self, cur: Cur) -> None:
        at = now_ts()
        cur.executemany(
            "DELETE FROM cg_kafka_dead_letters"
            " WHERE group_id = ? AND topic = ? AND partition_id = ? AND kafka_offset = ?",
            list(self.resolved),
        )
        cur.insert_values(  # on PostgreSQL one statement of typed arrays, not one per row
            "INSERT INTO cg_kafka_inbox (source, message_id, case_id, outcome, topic, partition_id,"
            " kafka_offset, recorded_at)", [(*row, at) for row in self.inbox],
            "ON CONFLICT (source, message_id) DO NOTHING", types=INBOX_TYPES)
        cur.executemany(
            "INSERT INTO cg_kafka_dead_letters (group_id, topic, partition_id, kafka_offset, msg_key,"
            " payload, error_kind, error_field, error, recorded_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (group_id, topic, partition_id, kafka_offset) DO "
            + (REPLACE_DEAD if self.replace_dead else "NOTHING"),
            [(*row, at) for row in self.dead],
        )
        cur.executemany(
            "INSERT INTO cg_kafka_offsets (group_id, topic, partition_id, next_offset, updated_at)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (group_id, topic, partition_id) DO UPDATE"
            " SET next_offset = excluded.next_offset, updated_at = excluded.updated_at"
            " WHERE cg_kafka_offsets.next_offset < excluded.next_offset",
            [(g, t, p, n, at) for (g, t, p), n in sorted(self.offsets.items())],
        )


class SQLiteKafkaRecorder(SQLiteApplicationRecorder):
    def _insert_events(self, c: Any, stored_events: Any, **kwargs: Any) -> Any:
        ids = super()._insert_events(c, stored_events, **kwargs)
        rows: KafkaRows | None = kwargs.get(KWARG)
        if rows is not None:
            rows.write(Cur(c, "sqlite"))
        return ids


class PostgresKafkaRecorder(CasegridPostgresRecorder):
    """casegrid's PostgreSQL recorder (binary arrays, one round trip: adapters/storage/
    recorder.py) with our rows in the events' transaction."""

    def _insert_events(self, curs: Any, stored_events: Any, **kwargs: Any) -> None:
        super()._insert_events(curs, stored_events, **kwargs)
        rows: KafkaRows | None = kwargs.get(KWARG)
        if rows is not None:
            rows.write(Cur(curs, "postgres"))


def recorder_env(env: dict[str, str]) -> dict[str, str]:
    """The store settings with our recorder class, for the application the worker uses."""
    module = env.get("PERSISTENCE_MODULE", "")
    if module.endswith("postgres"):
        if env.get("POSTGRES_ENABLE_DB_FUNCTIONS", "").lower() in ("y", "yes", "t", "true", "on", "1"):
            raise RuntimeError(
                "POSTGRES_ENABLE_DB_FUNCTIONS must be off for the Kafka worker: the inbox rows "
                "are written in the events' transaction"
            )
        return env | {"APPLICATION_RECORDER_TOPIC": "adapters.kafka.store:PostgresKafkaRecorder"}
    if module.endswith("sqlite"):
        return env | {"APPLICATION_RECORDER_TOPIC": "adapters.kafka.store:SQLiteKafkaRecorder"}
    raise RuntimeError("the Kafka worker needs SQLite or PostgreSQL, not the in-memory store")


@retry(Exception, max_attempts=5, wait=0.2)
def create_tables(sql: Sql) -> None:
    """Create our tables if missing (their later columns: the schema steps, run when the
    store was opened). Two processes starting at once can collide on PostgreSQL's catalog
    (CREATE TABLE IF NOT EXISTS is not race-free): retried."""
    with sql.transaction() as cur:
        for stmt in DDL:
            cur.execute(stmt)


def seen_messages(sql: Sql, keys: list[tuple[str, str]]) -> set[tuple[str, str]]:
    """Which (source, message_id) pairs are already in the inbox."""
    found: set[tuple[str, str]] = set()
    by_source: dict[str, list[str]] = {}
    for s, m in keys:
        by_source.setdefault(s, []).append(m)
    for source, ids in by_source.items():
        if sql.dialect == "postgres":  # one parsed statement whatever the count
            rows = sql.query("SELECT message_id FROM cg_kafka_inbox WHERE source = ?"
                             " AND message_id = ANY(?::text[])", (source, ids))
            found.update((source, r[0]) for r in rows)
            continue
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            marks = ", ".join("?" * len(chunk))
            rows = sql.query(
                f"SELECT message_id FROM cg_kafka_inbox WHERE source = ? AND message_id IN ({marks})",
                (source, *chunk),
            )
            found.update((source, r[0]) for r in rows)
    return found


def existing_cases(recorder: Any, sql: Sql, ids: list[UUID]) -> set[UUID]:
    """Which of these case ids already have a first event: one indexed query per 500
    (the primary key (originator_id, originator_version)), not one read per report."""
    table = getattr(recorder, "events_table_name", None)
    if not table or not table.replace(".", "_").isidentifier():
        raise RuntimeError("existing_cases needs eventsourcing's own SQLite or PostgreSQL recorder")
    found: set[UUID] = set()
    for i in range(0, len(ids), 500):
        chunk = ids[i : i + 500]
        if sql.dialect == "postgres":  # ids as text: psycopg dumps a text list fastest
            schema = recorder.datastore.schema
            rows = sql.query(f'SELECT originator_id FROM "{schema}"."{table}"'
                             " WHERE originator_id = ANY(?::uuid[]) AND originator_version = 1",
                             ([str(c) for c in chunk],))
            found.update(r[0] if isinstance(r[0], UUID) else UUID(str(r[0])) for r in rows)
        else:
            marks = ", ".join("?" * len(chunk))
            rows = sql.query(f"SELECT originator_id FROM {table} WHERE originator_id IN ({marks})"
                             " AND originator_version = 1", [c.hex for c in chunk])
            found.update(UUID(r[0]) for r in rows)
    return found


def stored_offsets(sql: Sql, group: str) -> dict[tuple[str, int], int]:
    rows = sql.query(
        "SELECT topic, partition_id, next_offset FROM cg_kafka_offsets WHERE group_id = ?", (group,)
    )
    return {(t, int(p)): int(n) for t, p, n in rows}


def publish_position(sql: Sql, publisher: str) -> int:
    rows = sql.query("SELECT position FROM cg_kafka_publish WHERE publisher = ?", (publisher,))
    return int(rows[0][0]) if rows else 0


class _Lost(Exception):
    """Another publisher moved the position first: roll our writes back."""


def advance_publish_position(sql: Sql, publisher: str, old: int, new: int,
                             parked: list[tuple] = ()) -> bool:
    """Compare-and-set, with the events parked on the way (position, case_id, version,
    error) in the same transaction; False if another publisher moved it first."""
    at = now_ts()
    try:
        with sql.transaction() as cur:
            cur.execute(
                "INSERT INTO cg_kafka_publish (publisher, position, updated_at) VALUES (?, 0, ?)"
                " ON CONFLICT (publisher) DO NOTHING",
                (publisher, at),
            )
            moved = cur.execute(
                "UPDATE cg_kafka_publish SET position = ?, updated_at = ?"
                " WHERE publisher = ? AND position = ?",
                (new, at, publisher, old),
            )
            if moved != 1:
                raise _Lost
            _park_events(cur, publisher, parked, at)
    except _Lost:
        return False
    return True


def _park_events(cur: Cur, publisher: str, parked: list[tuple], at: str) -> None:
    cur.executemany(
        "INSERT INTO cg_kafka_parked_events (publisher, position, case_id, stream_version, error,"
        " attempts, first_failed_at, last_failed_at) VALUES (?, ?, ?, ?, ?, 1, ?, ?)"
        " ON CONFLICT (publisher, position) DO UPDATE SET error = excluded.error,"
        " attempts = cg_kafka_parked_events.attempts + 1, last_failed_at = excluded.last_failed_at,"
        " published_at = NULL",
        [(publisher, int(p), c, v, e, at, at) for p, c, v, e in parked],
    )


def parked_events(sql: Sql, publisher: str, limit: int = 1000, after: int = 0) -> list[dict]:
    """Events moved past without being published, oldest first (positions after `after`)."""
    rows = sql.query(
        "SELECT position, case_id, stream_version, error, attempts, first_failed_at, last_failed_at"
        " FROM cg_kafka_parked_events WHERE publisher = ? AND published_at IS NULL"
        " AND position > ? ORDER BY position LIMIT ?",
        (publisher, after, limit),
    )
    keys = ("position", "case_id", "stream_version", "error", "attempts", "first_failed_at",
            "last_failed_at")
    return [dict(zip(keys, r, strict=True)) for r in rows]


def count_parked_events(sql: Sql, publisher: str) -> int:
    return int(sql.query("SELECT COUNT(*) FROM cg_kafka_parked_events"
                         " WHERE publisher = ? AND published_at IS NULL", (publisher,))[0][0])


def settle_parked_event(sql: Sql, publisher: str, position: int, error: str | None) -> None:
    """After a retry: published (error None), or one more failed attempt."""
    at = now_ts()
    with sql.transaction() as cur:
        if error is None:
            cur.execute("UPDATE cg_kafka_parked_events SET published_at = ?"
                        " WHERE publisher = ? AND position = ?", (at, publisher, position))
        else:
            cur.execute("UPDATE cg_kafka_parked_events SET error = ?, attempts = attempts + 1,"
                        " last_failed_at = ? WHERE publisher = ? AND position = ?",
                        (error, at, publisher, position))


DEAD_LETTER_COLS = ("group_id, topic, partition_id, kafka_offset, msg_key, payload, error_kind,"
                    " error_field, error, recorded_at")


def unpublished_dead_letters(sql: Sql, limit: int = 500) -> list[tuple]:
    """Dead letters still to publish (not parked), oldest first."""
    return sql.query(
        f"SELECT {DEAD_LETTER_COLS} FROM cg_kafka_dead_letters"
        " WHERE published_at IS NULL AND parked_at IS NULL"
        " ORDER BY recorded_at, topic, partition_id, kafka_offset LIMIT ?",
        (limit,),
    )


def stored_dead_letter(sql: Sql, key: tuple) -> tuple | None:
    """One dead letter by (group_id, topic, partition_id, kafka_offset), original bytes included."""
    rows = sql.query(
        f"SELECT {DEAD_LETTER_COLS} FROM cg_kafka_dead_letters"
        " WHERE group_id = ? AND topic = ? AND partition_id = ? AND kafka_offset = ?",
        tuple(key),
    )
    return rows[0] if rows else None


def mark_dead_letters_published(sql: Sql, keys: list[tuple]) -> None:
    at = now_ts()
    with sql.transaction() as cur:
        cur.executemany(
            "UPDATE cg_kafka_dead_letters SET published_at = ?, parked_at = NULL,"
            " publish_attempts = publish_attempts + 1"
            " WHERE group_id = ? AND topic = ? AND partition_id = ? AND kafka_offset = ?",
            [(at, *k) for k in keys],
        )


def park_dead_letters(sql: Sql, failed: list[tuple[tuple, str]]) -> None:
    """Dead letters whose send failed for good: kept unpublished, with the error, out of the queue."""
    at = now_ts()
    with sql.transaction() as cur:
        cur.executemany(
            "UPDATE cg_kafka_dead_letters SET parked_at = ?, publish_error = ?,"
            " publish_attempts = publish_attempts + 1"
            " WHERE group_id = ? AND topic = ? AND partition_id = ? AND kafka_offset = ?",
            [(at, error, *k) for k, error in failed],
        )


def unpark_dead_letters(sql: Sql) -> int:
    """Put parked dead letters back in the queue (kafka retry-parked); returns how many."""
    with sql.transaction() as cur:
        return cur.execute("UPDATE cg_kafka_dead_letters SET parked_at = NULL"
                           " WHERE parked_at IS NOT NULL AND published_at IS NULL")


def parked_dead_letters(sql: Sql, limit: int = 1000) -> list[dict]:
    rows = sql.query(
        "SELECT group_id, topic, partition_id, kafka_offset, error_kind, publish_error,"
        " publish_attempts, parked_at FROM cg_kafka_dead_letters"
        " WHERE parked_at IS NOT NULL AND published_at IS NULL"
        " ORDER BY parked_at, topic, partition_id, kafka_offset LIMIT ?",
        (limit,),
    )
    return [
        {"group_id": g, "topic": t, "partition": int(p), "offset": int(o), "kind": k,
         "error": e, "attempts": int(a), "parked_at": at}
        for g, t, p, o, k, e, a, at in rows
    ]


def recent_dead_letters(sql: Sql, limit: int = 10) -> list[dict]:
    """The latest dead letters with their errors (without the original bytes)."""
    rows = sql.query(
        "SELECT group_id, topic, partition_id, kafka_offset, error_kind, error_field, error,"
        " recorded_at, published_at FROM cg_kafka_dead_letters"
        " ORDER BY recorded_at DESC, topic, partition_id, kafka_offset DESC LIMIT ?",
        (limit,),
    )
    keys = ("group_id", "topic", "partition", "offset", "kind", "field", "error", "recorded_at",
            "published_at")
    return [dict(zip(keys, r, strict=True)) for r in rows]


def dead_letter_counts(sql: Sql) -> list[dict]:
    rows = sql.query(
        "SELECT topic, error_kind, COUNT(*) AS n,"
        " SUM(CASE WHEN published_at IS NULL THEN 1 ELSE 0 END) AS unpublished,"
        " SUM(CASE WHEN published_at IS NULL AND parked_at IS NOT NULL THEN 1 ELSE 0 END) AS parked"
        " FROM cg_kafka_dead_letters GROUP BY topic, error_kind ORDER BY topic, error_kind"
    )
    return [
        {"topic": t, "kind": k, "count": int(n), "unpublished": int(u or 0), "parked": int(pk or 0)}
        for t, k, n, u, pk in rows
    ]


def record_part_error(sql: Sql, worker: str, part: str, group: str, error: str, failures: int) -> None:
    at = now_ts()
    with sql.transaction() as cur:
        cur.execute(
            "INSERT INTO cg_kafka_worker_errors (worker, part, group_id, error, failures, since,"
            " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (worker, part) DO UPDATE"
            " SET error = excluded.error, failures = excluded.failures,"
            " updated_at = excluded.updated_at",
            (worker, part, group, error, failures, at, at),
        )


def clear_part_error(sql: Sql, worker: str, part: str) -> None:
    with sql.transaction() as cur:
        cur.execute("DELETE FROM cg_kafka_worker_errors WHERE worker = ? AND part = ?", (worker, part))


def part_errors(sql: Sql, group: str) -> list[dict]:
    rows = sql.query(
        "SELECT worker, part, error, failures, since, updated_at FROM cg_kafka_worker_errors"
        " WHERE group_id = ? ORDER BY updated_at DESC, worker, part", (group,))
    keys = ("worker", "part", "error", "failures", "since", "updated_at")
    return [dict(zip(keys, r, strict=True)) for r in rows]
