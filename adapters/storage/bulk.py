"""The bulk ports of the case store (workflows.case_store.BulkWriter and Existing): many
new events in one transaction, and which of many cases are stored, in one query each.

PostgreSQL: the events go in by binary COPY, under the same EXCLUSIVE table lock and
NOTIFY as the library's own insert (so notification ids are committed in order and the
projections, the audit log and the publishers see every event, as after any save); a
(case, version) already taken fails the COPY as an IntegrityError, like the library's
insert. Rows the recorder writes beside the events (the Kafka inbox: `save(**kwargs)`)
are written in the same transaction. SQLite: the library's own save (executemany), and
one `IN (…)` query for existence. The in-memory store: neither (the store's defaults).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any
from uuid import UUID

from adapters.storage.sql import is_postgres

COPY_COLUMNS = "originator_id, originator_version, topic, state"
COPY_TYPES = ("uuid", "int8", "text", "bytea")
SQLITE_VARIABLES = 500  # ids per IN (…) query (SQLite's bound-variable limit is 999+)


def bulk_ports(app: Any) -> tuple[Callable[..., None] | None, Callable[[list[UUID]], set[UUID]] | None]:
    """(writer, existing) for the application's store; None where the store's default is best."""
    recorder = app.recorder
    table = getattr(recorder, "events_table_name", None)
    datastore = getattr(recorder, "datastore", None)
    if table is None or datastore is None:
        return None, None
    if is_postgres(datastore):
        return PostgresBulk(app).write, PostgresBulk(app).existing
    if hasattr(recorder, "convert_originator_id") and table.isidentifier():
        return None, SQLiteExisting(recorder).existing
    return None, None


class PostgresBulk:
    def __init__(self, app: Any):
        from psycopg.sql import SQL, Identifier

        self.mapper = app.mapper
        self.recorder = app.recorder
        self.datastore = app.recorder.datastore
        table = SQL("{}.{}").format(Identifier(self.datastore.schema),
                                    Identifier(self.recorder.events_table_name))
        self.copy_sql = SQL("COPY {} (" + COPY_COLUMNS + ") FROM STDIN (FORMAT BINARY)").format(table)
        self.notify_sql = SQL("NOTIFY {}").format(Identifier(self.recorder.channel_name))
        self.exists_sql = SQL("SELECT originator_id FROM {} WHERE originator_version = 1"
                              " AND originator_id = ANY(%s)").format(table)

    def write(self, events: Sequence[Any], **kwargs: Any) -> None:
        """Encode (the application's mapper: its transcoder, compression, cipher) and COPY
        the events in one transaction."""
        if not events:
            return
        stored = [self.mapper.to_stored_event(e) for e in events]
        with self.datastore.transaction(commit=True) as curs:
            for statement in self.recorder.lock_table_statements:  # as the library inserts
                curs.execute(statement, prepare=True)
            curs.execute(self.notify_sql)
            if kwargs:  # the recorder's own rows beside the events (Kafka inbox, offsets)
                self.recorder._insert_events(curs, stored, **kwargs)
            with curs.copy(self.copy_sql) as copy:
                copy.set_types(COPY_TYPES)
                for s in stored:
                    copy.write_row((s.originator_id, s.originator_version, s.topic, s.state))

    def existing(self, case_ids: list[UUID]) -> set[UUID]:
        from psycopg.rows import tuple_row

        with self.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as cur:
            cur.execute(self.exists_sql, (case_ids,), prepare=True)
            return {row[0] for row in cur.fetchall()}


class SQLiteExisting:
    """eventsourcing's SQLite table stores a UUID as its 32 hex digits."""

    def __init__(self, recorder: Any):
        self.recorder = recorder
        self.table = recorder.events_table_name

    def existing(self, case_ids: list[UUID]) -> set[UUID]:
        found: set[UUID] = set()
        for at in range(0, len(case_ids), SQLITE_VARIABLES):
            part = case_ids[at:at + SQLITE_VARIABLES]
            marks = ", ".join("?" * len(part))
            with self.recorder.datastore.transaction(commit=False) as cur:
                cur.execute(f"SELECT originator_id FROM {self.table} WHERE originator_version = 1"
                            f" AND originator_id IN ({marks})", [c.hex for c in part])
                found |= {UUID(row[0]) for row in cur.fetchall()}
        return found
