"""The case-number sequence (案件编号) in the event store's database: one row per year,
advanced in a transaction of its own, so two processes never hand out one number twice.

On PostgreSQL that transaction commits without waiting for its WAL flush (synchronous_commit
off, for it alone): a command's events commit after it, flushing the WAL up to and past the
advance, so a number carried by a stored event is never handed out again after a crash; a
crash before them loses only an advance no stored event used. One fsync per batch saved,
and the advance is one statement (one round trip) rather than BEGIN, SET, INSERT, COMMIT."""

from __future__ import annotations

from adapters.storage.sql import Sql

DDL = ("CREATE TABLE IF NOT EXISTS cg_case_numbers ("
       " scope TEXT PRIMARY KEY, last BIGINT NOT NULL)")
ADVANCE = ("INSERT INTO cg_case_numbers (scope, last) VALUES (?, ?)"
           " ON CONFLICT (scope) DO UPDATE SET last = cg_case_numbers.last + ? RETURNING last")
# one statement, one round trip, its own transaction; set_config(…, true) is SET LOCAL
ADVANCE_PG = ("WITH async AS (SELECT set_config('synchronous_commit', 'off', true))"
              " INSERT INTO cg_case_numbers (scope, last) SELECT %s, %s FROM async"
              " ON CONFLICT (scope) DO UPDATE SET last = cg_case_numbers.last + %s RETURNING last")


class SqlNumbers:
    def __init__(self, sql: Sql):
        self.sql = sql
        self.ready = False

    def take(self, scope: str, count: int) -> int:
        """Reserve `count` numbers of `scope`; the first of them."""
        if not self.ready:
            with self.sql.transaction() as cur:
                cur.setup_lock()
                cur.execute(DDL)
            self.ready = True
        if self.sql.dialect == "postgres":
            with self.sql.datastore.get_connection() as conn:  # autocommit: one statement,
                row = conn.execute(ADVANCE_PG, (scope, count, count), prepare=True).fetchone()
            last = int(next(iter(row.values())) if isinstance(row, dict) else row[0])
            return last - count + 1
        with self.sql.transaction() as cur:
            cur.execute(ADVANCE, (scope, count, count))
            last = int(cur.fetchall()[0][0])
        return last - count + 1
