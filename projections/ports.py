"""What the projections need of storage; adapters/storage/ implements it.

SQL is written once with `?` placeholders and times as text (projections/times.py); the
adapters run it on SQLite or PostgreSQL and read the event log for the runner.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any, Protocol


class Cur(Protocol):
    """A cursor inside one transaction."""

    def execute(self, sql: str, params: tuple | list = ()) -> int:
        """Run one statement; returns how many rows it changed."""

    def executemany(self, sql: str, rows: list) -> None: ...

    def fetchall(self) -> list[tuple]: ...

    def fetchone(self) -> tuple | None: ...

    def insert_values(self, head: str, rows: list[tuple], tail: str = "", *,
                      types: tuple) -> None:
        """`head VALUES (…) tail` for each row, in as few round trips as the database
        allows; `types` names each column's SQL type."""

    def copy_rows(self, table: str, cols: tuple[str, ...], rows: list[tuple]) -> None:
        """Insert rows known to be new, the fastest way the database has."""

    def update_values(self, table: str, key: str, sets: str, cols: tuple[str, ...],
                      rows: list[tuple], *, types: tuple) -> None:
        """`UPDATE table SET sets` for each row, matched on `key`; in `sets`, `v.col`
        is the row's value and `table.col` the stored one."""

    def updated_often(self) -> str:
        """The storage clause ending a CREATE TABLE whose rows are updated many times."""

    def set_aside_indexes(self, tables: list[str]) -> list[str]:
        """Drop the tables' non-unique indexes; the statements that make them again."""

    def set_aside_keys(self, names: list[str]) -> list[str]:
        """Drop these unique keys and indexes where the database allows; the statements
        that make them again."""

    def setup_lock(self) -> None:
        """Serialise table creation with other processes until the transaction ends."""


class Sql(Protocol):
    """The database holding the events and the read models."""

    dialect: str  # "sqlite" or "postgres", for logs

    def transaction(self, *, commit: bool = True) -> AbstractContextManager[Cur]: ...

    def query(self, sql: str, params: tuple | list = ()) -> list[tuple]: ...

    def is_store_error(self, e: BaseException) -> bool:
        """The database itself failed (down, locked, connection lost), not an event."""


class EventLog(Protocol):
    """The application's notification log, read in order of notification id."""

    listens: bool  # subscribe() wakes on new events; otherwise poll

    def read(self, after: int, limit: int, stop: int | None = None,
             shard: tuple[int, int] | None = None) -> list[tuple]:
        """Notifications after `after` (up to `stop`) as tuples (id, originator id, version,
        topic, state, originator id as text); with `shard` (S, K) only those of the
        aggregates in shard S of K (the same aggregates every time), up to `limit` of
        them."""

    def head(self) -> int:
        """The last notification id, 0 for an empty log."""

    def subscribe(self, after: int) -> AbstractContextManager[Any]:
        """An iterable that yields as events after `after` are recorded; `.stop()` ends it."""
