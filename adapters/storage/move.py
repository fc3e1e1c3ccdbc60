"""Move a city's store from SQLite to PostgreSQL (迁移存储): `casegrid migrate-store`.

1. The event log, in order, each event keeping its notification id (SQLite's rowid
   becomes PostgreSQL's notification_id; the sequence is set past the last), in batches,
   each in one transaction with the batch's progress row (`cg_migrate_progress`): a run
   stopped anywhere resumes after the last batch committed.
2. Our tables that hold facts, not folds (case numbers, the Kafka inbox, offsets, dead
   letters and publish positions, sessions, saved filters, the notifier's tables and its
   position, the signed audit heads), copied row for row; rerunning replaces them.
3. What is derived is rebuilt on the target: the read models (`projections rebuild`) and
   the audit leaves (`audit follow`); the ids being the same, the copied heads verify.
4. Verified: event counts and a SHA-256 over every event's canonical bytes (id, aggregate,
   version, topic, state: adapters/audit/rows.py) on both sides, and each copied table's
   row count. Only then is the move marked finished.

Snapshots are not copied (an optimisation: aggregates load from their events and take
new snapshots as they grow). A target holding events or facts of its own is refused.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import structlog

from adapters.audit.rows import EventRows
from adapters.storage.migrations import columns, tables
from adapters.storage.sql import Sql
from domain.errors import ValidationError

log = structlog.get_logger("casegrid.migrate_store")

PROGRESS_DDL = ("CREATE TABLE IF NOT EXISTS cg_migrate_progress (source TEXT PRIMARY KEY,"
                " position BIGINT NOT NULL, events BIGINT NOT NULL, started_at TEXT NOT NULL,"
                " finished_at TEXT)")
NOT_COPIED = {"cg_audit_leaves", "cg_schema_versions", "cg_migrate_progress"}
# the runner's bookkeeping, one row per projection: the read models' rows are rebuilt
PER_PROJECTION = ("cg_tracking", "cg_projection_errors", "cg_projection_versions")


@dataclass
class MoveReport:
    source: str
    resumed_after: int = 0
    events: int = 0  # copied by this run
    tables: dict[str, int] = field(default_factory=dict)
    rebuilt: int = 0
    audit_leaves: int = 0
    source_events: int = 0
    target_events: int = 0
    source_hash: str = ""
    target_hash: str = ""
    mismatches: list[str] = field(default_factory=list)
    seconds: float = 0.0
    phases: dict[str, float] = field(default_factory=dict)  # seconds of each step

    @property
    def ok(self) -> bool:
        return not self.mismatches

    def as_dict(self) -> dict:
        return {**{k: v for k, v in self.__dict__.items()}, "ok": self.ok}


class Mover:
    """From a source store (SQLite) to a target (PostgreSQL) bootstrapped by the caller."""

    def __init__(self, source_app: Any, target: Any, source_key: str, *, batch: int = 5000):
        self.src_sql = Sql(source_app.recorder)
        self.src = EventRows(source_app.recorder, self.src_sql)
        self.target = target  # a bootstrapped Casegrid on the target store
        self.dst_sql: Sql = target.sql
        self.dst = EventRows(target.app.recorder, self.dst_sql)
        self.key = source_key
        self.batch = batch
        recorder = target.app.recorder
        self.table = f'"{recorder.datastore.schema}"."{recorder.events_table_name}"' \
            if self.dst_sql.dialect == "postgres" else recorder.events_table_name
        self.read_models = dict(target.projections.projections)

    def run(self, progress: Callable[[int], None] | None = None) -> MoveReport:
        t0 = time.perf_counter()
        report = MoveReport(self.key)

        def timed(phase, work):
            t = time.perf_counter()
            result = work()
            report.phases[phase] = round(time.perf_counter() - t, 2)
            return result

        from adapters.audit.service import audit_log

        report.resumed_after = self.start()
        report.events = timed("events", lambda: self.copy_events(report.resumed_after, progress))
        report.tables = timed("tables", self.copy_tables)
        report.rebuilt = timed("projections", lambda: self.target.projections.rebuild(
            list(self.read_models)))
        report.audit_leaves = timed("audit", lambda: audit_log(self.target).follow())
        timed("verify", lambda: self.verify(report))
        if report.ok:
            with self.dst_sql.transaction() as cur:
                cur.execute("UPDATE cg_migrate_progress SET finished_at = ? WHERE source = ?",
                            (now(), self.key))
        report.seconds = round(time.perf_counter() - t0, 2)
        log.info("store_moved" if report.ok else "store_move_mismatch", source=self.key,
                 events=report.target_events, mismatches=report.mismatches)
        return report

    def start(self) -> int:
        """Where to start: 0 on an empty target, after the last batch on a resumed one."""
        with self.dst_sql.transaction() as cur:
            cur.setup_lock()
            cur.execute(PROGRESS_DDL)
        rows = self.dst_sql.query("SELECT source, position, finished_at FROM cg_migrate_progress")
        if rows:
            source, position, finished = rows[0]
            if source != self.key:
                raise ValidationError("to", f"the target is being filled from '{source}',"
                                            f" not '{self.key}'")
            if finished:
                raise ValidationError("to", f"the target was already filled from '{source}'"
                                            f" (finished {finished})")
            log.info("store_move_resuming", source=source, after=int(position))
            return int(position)
        self.refuse_non_empty()
        with self.dst_sql.transaction() as cur:
            cur.execute("INSERT INTO cg_migrate_progress (source, position, events, started_at)"
                        " VALUES (?, 0, 0, ?)", (self.key, now()))
        return 0

    def refuse_non_empty(self) -> None:
        n = self.dst_sql.query(f"SELECT COUNT(*) FROM {self.table}")[0][0]
        if n:
            raise ValidationError("to", f"the target store is not empty ({n} events); "
                                        "migrate-store fills an empty one only")
        for table in self.fact_tables():
            if self.dst_sql.query(f"SELECT COUNT(*) FROM {table}")[0][0]:
                raise ValidationError("to", f"the target store is not empty (table {table})")

    def fact_tables(self) -> list[str]:
        derived = {t for p in self.read_models.values() for t in p.tables}
        return [t for t in tables(self.dst_sql)
                if t not in derived | NOT_COPIED and t not in PER_PROJECTION]

    def copy_events(self, after: int, progress: Callable[[int], None] | None) -> int:
        copied = 0
        while rows := self.src.after(after, self.batch):
            after = rows[-1].notification_id
            values = [(r.notification_id, UUID(r.originator_id), r.version, r.topic, r.state)
                      for r in rows]
            with self.dst_sql.transaction() as cur:
                cur.copy_rows(self.table, ("notification_id", "originator_id", "originator_version",
                                           "topic", "state"), values)
                cur.execute("UPDATE cg_migrate_progress SET position = ?, events = events + ?"
                            " WHERE source = ?", (after, len(rows), self.key))
            copied += len(rows)
            if progress:
                progress(len(rows))
        if self.dst_sql.dialect == "postgres" and copied:
            with self.dst_sql.transaction() as cur:
                cur.execute(f"SELECT setval(pg_get_serial_sequence('{self.table}',"
                            f" 'notification_id'), (SELECT MAX(notification_id) FROM {self.table}))")
        return copied

    def copy_tables(self) -> dict[str, int]:
        """The facts, row for row (rerunning replaces them), and the bookkeeping rows of
        followers that are not rebuilt here (the notifier). Each table's rows are read
        from the source before its target transaction opens: a transaction left idle
        for seconds is ended by PostgreSQL."""
        have = set(tables(self.src_sql))
        counts: dict[str, int] = {}
        for table in [*self.fact_tables(), *PER_PROJECTION]:
            if table not in have:
                continue
            with self.dst_sql.transaction(commit=False) as cur:
                target_cols = columns(cur, table)
            cols = sorted(target_cols & self.source_columns(table))
            where, params = self.keep_rows(table)
            rows = self.src_sql.query(f"SELECT {', '.join(cols)} FROM {table}{where}", params)
            with self.dst_sql.transaction() as cur:
                cur.execute(f"DELETE FROM {table}{where}", params)
                cur.copy_rows(table, tuple(cols), rows)
            counts[table] = len(rows)
        return counts

    def keep_rows(self, table: str) -> tuple[str, tuple]:
        if table not in PER_PROJECTION or not self.read_models:
            return "", ()
        marks = ", ".join("?" * len(self.read_models))
        return f" WHERE projection NOT IN ({marks})", tuple(self.read_models)

    def source_columns(self, table: str) -> set[str]:
        with self.src_sql.transaction(commit=False) as cur:
            return columns(cur, table)

    def verify(self, report: MoveReport) -> None:
        report.source_events, report.source_hash = log_hash(self.src)
        report.target_events, report.target_hash = log_hash(self.dst)
        if report.source_events != report.target_events:
            report.mismatches.append(f"events: {report.source_events} in the source,"
                                     f" {report.target_events} in the target")
        if report.source_hash != report.target_hash:
            report.mismatches.append("events: the hashes of the two logs differ")
        for table, n in report.tables.items():
            where, params = self.keep_rows(table)
            got = self.dst_sql.query(f"SELECT COUNT(*) FROM {table}{where}", params)[0][0]
            if got != n:
                report.mismatches.append(f"{table}: {n} rows copied, {got} in the target")
        head = self.target.projections.head()
        for row in self.target.projections.status():
            if row["projection"] in self.read_models and row["position"] != head:
                report.mismatches.append(f"projection {row['projection']} at {row['position']}"
                                         f" of {head}")


def log_hash(rows: EventRows) -> tuple[int, str]:
    """How many events, and SHA-256 over their canonical bytes in log order."""
    h, n = hashlib.sha256(), 0
    for row in rows.all():
        h.update(row.canonical())
        n += 1
    return n, h.hexdigest()


def now() -> str:
    from datetime import UTC, datetime

    return datetime.now(UTC).isoformat(timespec="seconds")
