"""Our own tables in the event store's database, for SQLite and PostgreSQL alike.

SQL is written once with `?` placeholders and ISO-8601 UTC text for times, so the
same statements run on both; the cursor wrapper swaps placeholders for psycopg.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from domain.times import utc_text


class Sql:
    def __init__(self, recorder: Any):
        self.datastore = getattr(recorder, "datastore", None)  # None: in-memory store
        self.dialect = "postgres" if _is_postgres(self.datastore) else "sqlite"

    @contextmanager
    def transaction(self, *, commit: bool = True) -> Iterator[Cur]:
        if self.datastore is None:
            raise RuntimeError("projections need SQLite or PostgreSQL, not the in-memory store")
        with self.datastore.transaction(commit=commit) as cur:
            yield Cur(cur, self.dialect)

    def query(self, sql: str, params: tuple | list = ()) -> list[tuple]:
        with self.transaction(commit=False) as cur:
            cur.execute(sql, params)
            return cur.fetchall()


def _is_postgres(datastore: Any) -> bool:
    if datastore is None:
        return False
    try:
        from eventsourcing.postgres import PostgresDatastore
    except ImportError:  # psycopg missing: it cannot be PostgreSQL
        return False
    return isinstance(datastore, PostgresDatastore)


class Cur:
    def __init__(self, cur: Any, dialect: str):
        self._cur = getattr(cur, "sqlite_cursor", cur)  # eventsourcing wraps sqlite3 cursors
        self.dialect = dialect

    def _sql(self, sql: str) -> str:
        return sql.replace("?", "%s") if self.dialect == "postgres" else sql

    def execute(self, sql: str, params: tuple | list = ()) -> int:
        self._cur.execute(self._sql(sql), params)
        return self._cur.rowcount

    def executemany(self, sql: str, rows: list) -> None:
        if rows:
            self._cur.executemany(sql if isinstance(rows[0], dict) else self._sql(sql), rows)

    def insert_values(self, head: str, rows: list[tuple], tail: str = "", *, types: tuple) -> None:
        """`head VALUES … tail` for many rows: executemany on SQLite; on PostgreSQL one
        statement per batch, the columns sent as typed arrays and unnested server-side."""
        if not rows:
            return
        if self.dialect == "sqlite":
            marks = ", ".join("?" * len(types))
            self._cur.executemany(f"{head} VALUES ({marks}) {tail}", rows)
            return
        self.execute_arrays(f"{head} SELECT * FROM unnest({{arrays}}) {tail}", rows, types)

    def copy_rows(self, table: str, cols: tuple[str, ...], rows: list[tuple]) -> None:
        """Plain inserts of new rows: COPY on PostgreSQL, executemany on SQLite."""
        if not rows:
            return
        if self.dialect == "postgres":
            with self._cur.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            return
        marks = ", ".join("?" * len(cols))
        self._cur.executemany(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({marks})", rows)

    def execute_arrays(self, sql: str, rows: list[tuple], types: tuple) -> None:
        """PostgreSQL: run `sql` once with each column of `rows` as one typed array,
        sent in binary (no text escaping); `{arrays}` in `sql` stands for the arrays."""
        arrays = ", ".join(f"%b::{t}[]" for t in types)
        self._cur.execute(sql.replace("{arrays}", arrays),
                          [list(col) for col in zip(*rows, strict=True)])

    def fetchall(self) -> list[tuple]:
        rows = self._cur.fetchall()
        if self.dialect == "postgres":
            return [tuple(r.values()) for r in rows]
        return [tuple(r) for r in rows]

    def fetchone(self) -> tuple | None:
        r = self._cur.fetchone()
        if r is None:
            return None
        return tuple(r.values()) if self.dialect == "postgres" else tuple(r)


def ts(t: datetime | None) -> str | None:
    """A time as sortable UTC text: '2026-11-21T08:30:00.000000Z'."""
    if t is None:
        return None
    try:
        return t.astimezone(UTC).isoformat(timespec="microseconds")[:-6] + "Z"
    except (OverflowError, ValueError):  # year 1 at +14:00, stored by an older version
        return utc_text(t)


_HH = [f"{h:02d}" for h in range(24)]
_SHIFT = {f"{sign}{h:02d}:00": (-h if sign == "+" else h) for h in range(15) for sign in "+-"}


def iso_ts(s: str) -> str:
    """ts() of a time given as datetime.isoformat() text: by string arithmetic for a
    whole-hour offset that does not cross midnight, else through datetime."""
    n = len(s)
    if n == 32 and s[19] == ".":
        frac = s[19:26]
    elif n == 25:
        frac = ".000000"
    else:
        return ts(datetime.fromisoformat(s))
    tail = s[-6:]
    if tail == "+00:00":
        return s[:19] + frac + "Z"
    shift = _SHIFT.get(tail)
    if shift is not None and s[10] == "T":
        h = int(s[11:13]) + shift
        if 0 <= h < 24:
            return s[:11] + _HH[h] + s[13:19] + frac + "Z"
    return ts(datetime.fromisoformat(s))


def from_ts(s: str | None) -> datetime | None:
    if s is None:
        return None
    return datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
