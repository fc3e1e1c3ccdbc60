"""Named leases (租约): any number of processes may run a singleton, exactly one works.

PostgreSQL: `pg_try_advisory_lock(key)` on a dedicated connection held while the holder
lives; the key is a stable hash of the name. A SIGKILLed holder's socket is closed by
the kernel, the server ends its session and frees the lock at once, so the takeover
time is the waiting processes' retry interval. SQLite (one machine): an exclusive
`fcntl.flock` on a file beside the database, freed by the OS when the process dies.

    with Lease(cg.sql, "deadline-tick") as lease:
        if lease.acquire(): ...
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import structlog

NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")


def lease_key(name: str) -> int:
    """A stable signed 64-bit advisory-lock key for `name` (not Python's salted hash)."""
    return int.from_bytes(hashlib.sha256(f"casegrid-lease:{name}".encode()).digest()[:8],
                          "big", signed=True)


class Lease:
    """A named lease on the store behind `target` (a projections Sql, or a SQLite path)."""

    def __init__(self, target: Any, name: str):
        if not NAME.fullmatch(name):
            raise ValueError(f"lease name {name!r}: lower-case letters, digits, . _ - only")
        self.name = name
        self.held = False
        self._conn: Any = None
        self._fd: int | None = None
        datastore = getattr(target, "datastore", None)
        if getattr(target, "dialect", None) == "postgres":
            self._pg = datastore.pool
            self._path = None
        else:
            self._pg = None
            db = getattr(getattr(datastore, "pool", None), "db_name", None) or target
            if not isinstance(db, str | os.PathLike) or ":memory:" in str(db) or "mode=memory" in str(db):
                raise ValueError("a lease needs PostgreSQL or a SQLite file")
            self._path = Path(db).with_name(f"{Path(db).name}.{name}.lease")

    def acquire(self) -> bool:
        """Take the lease if nobody holds it; True while we hold it (never blocks)."""
        if self.held:
            return True
        self.held = self._try_pg() if self._pg is not None else self._try_file()
        return self.held

    def alive(self) -> bool:
        """Do we still hold it? (False once our PostgreSQL session is gone.)"""
        if not self.held or self._pg is None:
            return self.held
        try:
            self._conn.execute("SELECT 1")
            return True
        except Exception:  # noqa: BLE001 - a lost session is a lost lease
            self.release()
            return False

    def release(self) -> None:
        was_held, self.held = self.held, False
        if self._conn is not None:
            with contextlib.suppress(Exception):  # already gone
                if was_held:  # unlock first: a closed session frees it only later, on the server
                    self._conn.execute("SELECT pg_advisory_unlock(%s)", (lease_key(self.name),))
                self._conn.close()  # the session ends: the advisory lock goes with it
            self._conn = None
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = None

    def _try_pg(self) -> bool:
        import psycopg

        if self._conn is None or self._conn.closed:
            kw = {k: v for k, v in self._pg.kwargs.items() if k != "row_factory"}
            self._conn = psycopg.connect(**kw, autocommit=True, connect_timeout=5,
                                         application_name=f"casegrid-lease-{self.name}")
        try:
            row = self._conn.execute("SELECT pg_try_advisory_lock(%s)",
                                     (lease_key(self.name),)).fetchone()
        except psycopg.Error:
            self.release()
            return False
        return bool(row and row[0])

    def _try_file(self) -> bool:
        fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return True

    def __enter__(self) -> Lease:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def run_as_singleton(lease: Lease, step: Callable[[], object], interval: float,
                     stop: threading.Event, retry: float | None = None) -> None:
    """Run `step()` every `interval` seconds while holding `lease`; otherwise retry the
    lease every `retry` (default `interval`) seconds. Logs lease_acquired /
    lease_waiting / lease_lost once each change. Returns when `stop` is set (the lease released)."""
    log = structlog.get_logger("casegrid.lease")
    waiting_logged = False
    try:
        while not stop.is_set():
            was_held = lease.held
            try:
                have = lease.alive() if lease.held else lease.acquire()
            except Exception as e:  # noqa: BLE001 - store down: keep waiting
                log.warning("lease_error", name=lease.name, error=repr(e))
                have = False
            if was_held and not have:
                log.warning("lease_lost", name=lease.name)
            if have and not was_held:
                log.info("lease_acquired", name=lease.name, pid=os.getpid())
                waiting_logged = False
            if have:
                step()
            elif not waiting_logged:
                log.info("lease_waiting", name=lease.name, pid=os.getpid())
                waiting_logged = True
            stop.wait(interval if have or retry is None else retry)
    finally:
        lease.release()


def follow_as_singleton(lease: Lease, run: Callable[[threading.Event], object],
                        interval: float, stop: threading.Event) -> None:
    """For a loop of its own (`run(inner_stop)`, e.g. projections follow): wait for the
    lease, run until `stop` or until the lease is lost (checked every `interval`), then
    wait for it again."""
    log = structlog.get_logger("casegrid.lease")
    waiting_logged = False
    try:
        while not stop.is_set():
            try:
                have = lease.acquire()
            except Exception as e:  # noqa: BLE001 - store down: keep waiting
                log.warning("lease_error", name=lease.name, error=repr(e))
                have = False
            if not have:
                if not waiting_logged:
                    log.info("lease_waiting", name=lease.name, pid=os.getpid())
                    waiting_logged = True
                stop.wait(interval)
                continue
            log.info("lease_acquired", name=lease.name, pid=os.getpid())
            waiting_logged = False
            inner = threading.Event()

            def watch(inner: threading.Event = inner) -> None:
                while not inner.wait(interval):
                    if stop.is_set() or not lease.alive():
                        inner.set()

            watcher = threading.Thread(target=watch, name=f"lease-{lease.name}", daemon=True)
            watcher.start()
            try:
                run(inner)
            finally:
                inner.set()
                watcher.join()
            if not stop.is_set():
                log.warning("lease_lost", name=lease.name)
    finally:
        lease.release()
