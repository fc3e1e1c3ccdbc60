"""Sessions and failed-login counts, kept in the event store's database (cg_sessions,
cg_login_failures) so that every server process sees the same logouts, revocations and
lockouts. `MemoryAuthStore` is the same thing for one process (unit tests, the in-memory
event store). Times are whole seconds since the epoch.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from eventsourcing.utils import retry

from adapters.storage.sql import Sql

CHANNEL = "casegrid_sessions"  # PostgreSQL: NOTIFY <session id> | user:<id> on revocation
DDL = (
    "CREATE TABLE IF NOT EXISTS cg_sessions ("
    " session_id TEXT PRIMARY KEY, user_id TEXT NOT NULL, issued_at BIGINT NOT NULL,"
    " expires_at BIGINT NOT NULL, revoked_at BIGINT, revoked_by TEXT)",
    "CREATE INDEX IF NOT EXISTS cg_sessions_user ON cg_sessions (user_id, revoked_at)",
    "CREATE TABLE IF NOT EXISTS cg_login_failures ("
    " throttle_key TEXT PRIMARY KEY, failures INTEGER NOT NULL, last_at BIGINT NOT NULL)",
)


@dataclass(frozen=True)
class SessionRow:
    session_id: str
    user_id: str
    expires_at: int
    revoked_at: int | None


class MemoryAuthStore:
    """Sessions and failure counts in this process only."""

    def __init__(self):
        self._sessions: dict[str, SessionRow] = {}
        self._failures: dict[str, tuple[int, int]] = {}
        self._lock = threading.Lock()

    def add_session(self, sid: str, user_id: str, issued: int, expires: int) -> None:
        with self._lock:
            self._sessions[sid] = SessionRow(sid, user_id, expires, None)

    def session(self, sid: str) -> SessionRow | None:
        return self._sessions.get(sid)

    def revoke(self, sid: str, by: str) -> int:
        with self._lock:
            row = self._sessions.get(sid)
            if row is None or row.revoked_at is not None:
                return 0
            self._sessions[sid] = SessionRow(sid, row.user_id, row.expires_at, int(time.time()))
            return 1

    def revoke_user(self, user_id: str, by: str) -> int:
        now = int(time.time())
        with self._lock:
            mine = [r for r in self._sessions.values()
                    if r.user_id == user_id and r.revoked_at is None and r.expires_at > now]
            for r in mine:
                self._sessions[r.session_id] = SessionRow(r.session_id, user_id, r.expires_at, now)
            return len(mine)

    def failures(self, key: str) -> tuple[int, int]:
        return self._failures.get(key, (0, 0))

    def add_failure(self, key: str, now: int, reset_before: int) -> int:
        """Count one more failure (from 1 again if the last was before `reset_before`)."""
        with self._lock:
            count, last = self._failures.get(key, (0, 0))
            count = 1 if last < reset_before else count + 1
            self._failures[key] = (count, now)
            return count

    def clear_failures(self, key: str) -> None:
        with self._lock:
            self._failures.pop(key, None)


class SqlAuthStore:
    """The same, in tables of the event store's database (SQLite or PostgreSQL)."""

    def __init__(self, sql: Sql):
        self.sql = sql

    @retry(Exception, max_attempts=5, wait=0.2)
    def create_tables(self) -> None:
        """CREATE … IF NOT EXISTS can collide between processes on PostgreSQL: retried."""
        with self.sql.transaction() as cur:
            for stmt in DDL:
                cur.execute(stmt)

    def add_session(self, sid: str, user_id: str, issued: int, expires: int) -> None:
        with self.sql.transaction() as cur:
            cur.execute("DELETE FROM cg_sessions WHERE expires_at < ?", (issued - 86400,))
            cur.execute("INSERT INTO cg_sessions (session_id, user_id, issued_at, expires_at)"
                        " VALUES (?, ?, ?, ?)", (sid, user_id, issued, expires))

    def session(self, sid: str) -> SessionRow | None:
        rows = self.sql.query("SELECT session_id, user_id, expires_at, revoked_at FROM cg_sessions"
                              " WHERE session_id = ?", (sid,))
        return SessionRow(*rows[0]) if rows else None

    def revoke(self, sid: str, by: str) -> int:
        with self.sql.transaction() as cur:
            n = cur.execute("UPDATE cg_sessions SET revoked_at = ?, revoked_by = ?"
                            " WHERE session_id = ? AND revoked_at IS NULL",
                            (int(time.time()), by, sid))
            self._notify(cur, sid)
            return n

    def revoke_user(self, user_id: str, by: str) -> int:
        now = int(time.time())
        with self.sql.transaction() as cur:
            n = cur.execute("UPDATE cg_sessions SET revoked_at = ?, revoked_by = ?"
                            " WHERE user_id = ? AND revoked_at IS NULL AND expires_at > ?",
                            (now, by, user_id, now))
            self._notify(cur, f"user:{user_id}")
            return n

    def _notify(self, cur, payload: str) -> None:
        """Every process's session cache (session_cache.py) drops it when this commits."""
        if self.sql.dialect == "postgres":
            cur.execute("SELECT pg_notify(?, ?)", (CHANNEL, payload))

    def failures(self, key: str) -> tuple[int, int]:
        rows = self.sql.query("SELECT failures, last_at FROM cg_login_failures"
                              " WHERE throttle_key = ?", (key,))
        return (int(rows[0][0]), int(rows[0][1])) if rows else (0, 0)

    def add_failure(self, key: str, now: int, reset_before: int) -> int:
        """Count one more failure atomically (several processes may count at once)."""
        with self.sql.transaction() as cur:
            cur.execute("DELETE FROM cg_login_failures WHERE last_at < ?", (now - 86400,))
            cur.execute(
                "INSERT INTO cg_login_failures (throttle_key, failures, last_at) VALUES (?, 1, ?)"
                " ON CONFLICT (throttle_key) DO UPDATE SET failures = CASE WHEN"
                " cg_login_failures.last_at < ? THEN 1 ELSE cg_login_failures.failures + 1 END,"
                " last_at = excluded.last_at", (key, now, reset_before))
            cur.execute("SELECT failures FROM cg_login_failures WHERE throttle_key = ?", (key,))
            return int(cur.fetchone()[0])

    def clear_failures(self, key: str) -> None:
        with self.sql.transaction() as cur:
            cur.execute("DELETE FROM cg_login_failures WHERE throttle_key = ?", (key,))


def store_for(sql: Sql | None, *, cache: bool = False):
    """The database's tables when there is a database, else this process's memory;
    `cache` on PostgreSQL: sessions kept in memory until revoked (session_cache.py; the
    caller starts and stops its listener)."""
    if sql is None or sql.datastore is None:
        return MemoryAuthStore()
    store = SqlAuthStore(sql)
    store.create_tables()
    if cache and sql.dialect == "postgres":
        from adapters.http.session_cache import CachedAuthStore

        return CachedAuthStore(store)
    return store
