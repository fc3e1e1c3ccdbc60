"""Sessions kept in this process's memory on PostgreSQL, ended everywhere at once (会话缓存).

A request's session lookup was one query per request. Here a session row read once is
kept while this process LISTENs on `casegrid_sessions`; a logout or a revocation (from any
server process or the CLI: auth_store.SqlAuthStore) NOTIFYs that channel in its own
transaction, and every listener drops the rows at once. Trusted only while the listener is
connected: until it is, after it loses its connection, and for a row read while a
notification arrived, every lookup goes to the database as before. Rows also age out
after `ttl` seconds.
"""

from __future__ import annotations

import threading
import time

import structlog

from adapters.background import BackgroundLoop
from adapters.http.auth_store import CHANNEL, SessionRow, SqlAuthStore

log = structlog.get_logger("casegrid.http.auth")


class CachedAuthStore:
    """SqlAuthStore's interface; `session()` answered from memory while it is safe."""

    def __init__(self, store: SqlAuthStore, ttl: float = 300.0, size: int = 100_000):
        self.store, self.ttl, self.size = store, ttl, size
        self._rows: dict[str, tuple[SessionRow, float]] = {}
        self._lock = threading.Lock()
        self._epoch = 0  # moves with every notification, connect and disconnect
        self._listening = False
        self._listener = BackgroundLoop("casegrid-sessions", self._listen)

    def __getattr__(self, name):  # add_session, revoke, failures … go straight through
        return getattr(self.store, name)

    def cached(self, sid: str) -> SessionRow | None:
        """The row if memory holds it and may be trusted (never a database round trip)."""
        if not self._listening:
            return None
        got = self._rows.get(sid)
        if got is None or got[1] < time.monotonic():
            return None
        return got[0]

    def session(self, sid: str) -> SessionRow | None:
        row = self.cached(sid)
        if row is not None:
            return row
        epoch, listening = self._epoch, self._listening
        row = self.store.session(sid)
        if row is not None and listening:
            with self._lock:
                if epoch == self._epoch and self._listening:  # no revocation in between
                    if len(self._rows) >= self.size:
                        self._rows.clear()
                    self._rows[sid] = (row, time.monotonic() + self.ttl)
        return row

    def _forget(self, payload: str) -> None:
        with self._lock:
            self._epoch += 1
            if payload.startswith("user:"):
                uid = payload[5:]
                for sid in [s for s, (r, _) in self._rows.items() if r.user_id == uid]:
                    del self._rows[sid]
            else:
                self._rows.pop(payload, None)

    def _reset(self, listening: bool) -> None:
        with self._lock:
            self._epoch += 1
            self._listening = listening
            self._rows.clear()

    # ------------------------------------------------------------------ the listener

    def start(self) -> None:
        self._listener.start()

    def stop(self) -> None:
        self._listener.stop()
        self._reset(False)

    def _listen(self, stop: threading.Event) -> None:
        import psycopg

        wait = 0.5
        while not stop.is_set():
            try:
                kw = {k: v for k, v in self.store.sql.datastore.pool.kwargs.items()
                      if k != "row_factory"}
                with psycopg.connect(**kw, autocommit=True, connect_timeout=5,
                                     application_name="casegrid-sessions") as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self._reset(True)
                    wait = 0.5
                    while not stop.is_set():
                        for note in conn.notifies(timeout=1.0):
                            self._forget(note.payload)
                        conn.execute("SELECT 1")  # a dead connection raises here
            except Exception as e:  # noqa: BLE001 - no cache until listening again
                log.warning("session_listener_error", error=repr(e), retry_in_seconds=wait)
            self._reset(False)
            if stop.wait(wait):
                return
            wait = min(wait * 2, 10.0)
