"""The notification log as the projections read it (projections.ports.EventLog).

When the recorder is one of eventsourcing's own, notifications are read straight from
its stored-events table as plain tuples, without a Notification object per row; any
other recorder is read through `select_notifications`. PostgreSQL's recorder can
subscribe (LISTEN/NOTIFY); on SQLite the runner polls.
"""

from __future__ import annotations

import zlib
from typing import Any

from adapters.storage.sql import Sql

NO_STOP = 2**62
# the planner guesses a shard's filter keeps few rows, so it would scan the whole table
# (or scan in parallel workers) rather than walk the id index: both many times the work
INDEX_WALK = ("SELECT set_config('enable_seqscan', 'off', true),"
              " set_config('max_parallel_workers_per_gather', '0', true)")


def event_log(recorder: Any, sql: Sql) -> RecorderEvents:
    """The fastest reader the recorder allows."""
    table = getattr(recorder, "events_table_name", None)
    listens = sql.dialect == "postgres"
    if listens and table:
        return PostgresEvents(recorder, table)
    if (sql.dialect == "sqlite" and table and table.isidentifier()
            and hasattr(recorder, "convert_originator_id")):
        return SQLiteEvents(recorder, sql, table)
    return RecorderEvents(recorder, listens=listens)


class RecorderEvents:
    """Any recorder, through its own API."""

    def __init__(self, recorder: Any, *, listens: bool):
        self.recorder = recorder
        self.listens = listens

    def head(self) -> int:
        return self.recorder.max_notification_id() or 0

    def subscribe(self, after: int) -> Any:
        return self.recorder.subscribe(gt=after)

    def read(self, after: int, limit: int, stop: int | None = None,
             shard: tuple[int, int] | None = None) -> list[tuple]:
        stop = NO_STOP if stop is None else stop
        if shard is None:
            return self.rows(after, limit, stop)
        s, k = shard  # a shard's rows, by a checksum of the id's text
        out: list[tuple] = []
        while len(out) < limit:
            rows = self.rows(after, limit, stop)
            if not rows:
                break
            out += [r for r in rows if zlib.crc32(r[5].encode()) % k == s]
            after = rows[-1][0]
        return out[:limit]

    def rows(self, after: int, limit: int, stop: int) -> list[tuple]:
        return [(n.id, n.originator_id, n.originator_version, n.topic, n.state,
                 str(n.originator_id))
                for n in self.recorder.select_notifications(start=after + 1, limit=limit,
                                                            stop=stop)]


class PostgresEvents(RecorderEvents):
    """eventsourcing's PostgreSQL table, on a pooled connection of its own, as a
    prepared statement."""

    def __init__(self, recorder: Any, table: str):
        from psycopg.sql import SQL, Identifier

        super().__init__(recorder, listens=True)
        query = ("SELECT notification_id, originator_id, originator_version, topic, state,"
                 " originator_id::text"
                 " FROM {}.{} WHERE notification_id > %s AND notification_id <= %s{}"
                 " ORDER BY notification_id LIMIT %s")
        where = Identifier(recorder.datastore.schema), Identifier(table)
        self.query = SQL(query).format(*where, SQL(""))
        # a shard's rows, picked by the server (the other shards' rows are never sent):
        # by the last byte of a uuid id, by a hash of a text one
        pick = ("get_byte(uuid_send(originator_id), 15)"
                if getattr(recorder.datastore, "originator_id_type", "uuid") == "uuid"
                else "(hashtext(originator_id) & 2147483647)")
        self.shard_query = SQL(query).format(*where, SQL(f" AND {pick} %% %s = %s"))

    def read(self, after: int, limit: int, stop: int | None = None,
             shard: tuple[int, int] | None = None) -> list[tuple]:
        from psycopg.rows import tuple_row

        stop = NO_STOP if stop is None else stop
        query, args = ((self.query, (after, stop, limit)) if shard is None
                       else (self.shard_query, (after, stop, shard[1], shard[0], limit)))
        with (self.recorder.datastore.get_connection() as conn, conn.transaction(),
              conn.cursor(row_factory=tuple_row) as c):
            if shard is not None:
                c.execute(INDEX_WALK)
            c.execute(query, args, prepare=True, binary=True)
            return c.fetchall()  # binary: the state as it is stored, not as hex text


class SQLiteEvents(RecorderEvents):
    """eventsourcing's SQLite table, by rowid; originator ids are stored as hex text."""

    def __init__(self, recorder: Any, sql: Sql, table: str):
        super().__init__(recorder, listens=False)
        self.sql = sql
        self.query = (f"SELECT rowid, originator_id, originator_version, topic, state FROM {table}"
                      " WHERE rowid > ? AND rowid <= ? ORDER BY rowid LIMIT ?")

    def rows(self, after: int, limit: int, stop: int) -> list[tuple]:
        rows = self.sql.query(self.query, (after, stop, limit))
        convert = self.recorder.convert_originator_id
        return [(n, i, v, t, s, str(i)) for n, o, v, t, s in rows for i in (convert(o),)]
