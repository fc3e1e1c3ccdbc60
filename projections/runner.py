"""Tracking projection runner: follow the notification log, apply each event exactly once.

Each projection has its own row in `cg_tracking`. A batch of events is applied and the
position advanced in one transaction, with a compare-and-set on the old position, so a
crash mid-batch leaves nothing half-applied and two runners never apply an event twice.

Catching up a large log (measured at a million events, benchmarks/projections.py):
batches of 50,000 events; events decoded with orjson (projections/decode.py); on
PostgreSQL the server writes one batch while Python reads and prepares the next; the
scoreboard keeps recently touched cases' rows between batches for as long as this runner
alone moved its position; the cyclic garbage collector is paused meanwhile.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import structlog

from projections.decode import EventDecoder
from projections.sql import Cur, Sql, ts

TRACKING_DDL = (
    "CREATE TABLE IF NOT EXISTS cg_tracking ("
    " projection TEXT PRIMARY KEY, position BIGINT NOT NULL, updated_at TEXT NOT NULL)"
)
# A projection stalled on one event: which event, the error, and when to try again.
ERRORS_DDL = (
    "CREATE TABLE IF NOT EXISTS cg_projection_errors ("
    " projection TEXT PRIMARY KEY, notification_id BIGINT NOT NULL, error TEXT NOT NULL,"
    " failed_at TEXT NOT NULL, attempts INTEGER NOT NULL, retry_at TEXT NOT NULL)"
)
# The fold version each projection's tables were built with; a newer release's fold
# (class attribute `version`) replays the log into fresh tables at start-up.
VERSIONS_DDL = ("CREATE TABLE IF NOT EXISTS cg_projection_versions ("
                " projection TEXT PRIMARY KEY, version INTEGER NOT NULL)")
BACKOFF_FIRST, BACKOFF_MAX = 1.0, 300.0  # seconds between retries of a stalled projection
log = structlog.get_logger("casegrid.projections")


def is_store_error(e: BaseException) -> bool:
    """The database itself failed (down, locked, connection lost): retry the same batch
    later, never blame an event for it."""
    import sqlite3

    from eventsourcing.persistence import InterfaceError, OperationalError

    kinds: tuple = (sqlite3.OperationalError, sqlite3.InterfaceError, OperationalError,
                    InterfaceError, ConnectionError, TimeoutError)
    try:
        import psycopg

        kinds += (psycopg.OperationalError, psycopg.InterfaceError)
    except ImportError:  # pragma: no cover
        pass
    return isinstance(e, kinds)


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while catching up.

    A batch allocates millions of short-lived, acyclic objects (decoded events, rows);
    with the collector on, each full collection walks every row held between batches
    again. Measured at a million events: 111 s with it, 63 s without. Reference
    counting still frees everything; cycles wait until the collector is back on.
    """
    with _GC_LOCK:
        if _GC_STATE["paused"] == 0:
            _GC_STATE["was_enabled"] = gc.isenabled()
            gc.disable()
        _GC_STATE["paused"] += 1
    try:
        yield
    finally:
        with _GC_LOCK:
            _GC_STATE["paused"] -= 1
            if _GC_STATE["paused"] == 0 and _GC_STATE["was_enabled"]:
                gc.enable()


_GC_LOCK = threading.Lock()
_GC_STATE = {"paused": 0, "was_enabled": True}
SETUP_LOCK = 0x63617365  # 'case': the advisory lock that serialises table creation


class Projection(Protocol):
    """A read model. `prepare` turns a batch into writes (pure computation, plus reads of
    rows it does not hold); `write` performs them inside the batch's transaction."""

    name: str
    tables: Sequence[str]

    def create(self, cur: Cur) -> None: ...

    def prepare(self, sql: Sql, items: list[Item], start: int, end: int) -> Any: ...

    def write(self, cur: Cur, ops: Any) -> None: ...

    def forget(self) -> None:
        """Drop whatever the projection holds in memory between batches."""


Item = tuple[Any, dict, int, str]  # (event, its times as ts() text, notification id,
#                                    originator id as text)


class LostRace(Exception):
    """Another runner advanced this projection first; the batch was rolled back."""


class ProjectionRunner:
    """Catch projections up in batches of `batch` events.

    On PostgreSQL a batch's writes run on a writer thread while the next batch is read
    and prepared (`pipeline`): the server works on one batch while Python works on the
    next. A batch's rows and its tracking positions still commit in one transaction,
    in order, and a failed batch discards everything prepared after it.
    """

    def __init__(self, app: Any, projections: Sequence[Projection], *, batch: int = 50_000,
                 pipeline: bool | None = None):
        self.app = app
        self.sql = Sql(app.recorder)
        self.projections = {p.name: p for p in projections}
        self.batch = batch
        self.pipeline = self.sql.dialect == "postgres" if pipeline is None else pipeline
        self.decode = EventDecoder(app.mapper)
        self._ready = False
        self._setup_lock = threading.Lock()
        self._run_lock = threading.RLock()  # one catch-up at a time: projections hold state
        self._writer: ThreadPoolExecutor | None = None
        self._erroring: set[str] = set()

    def setup(self) -> None:
        if self._ready:
            return
        with self._setup_lock, self.sql.transaction() as cur:
            if self.sql.dialect == "postgres":  # CREATE … IF NOT EXISTS races between processes
                cur.execute("SELECT pg_advisory_xact_lock(?)", (SETUP_LOCK,))
            cur.execute(TRACKING_DDL)
            cur.execute(ERRORS_DDL)
            cur.execute(VERSIONS_DDL)
            cur.execute("SELECT projection FROM cg_tracking")
            tracked = {r[0] for r in cur.fetchall()}
            cur.execute("SELECT projection, version FROM cg_projection_versions")
            built = {name: int(v) for name, v in cur.fetchall()}
            for p in self.projections.values():
                want = int(getattr(p, "version", 1))
                had = built.get(p.name, 1 if p.name in tracked else want)  # before versions: 1
                if had != want:
                    log.warning("projection_version_changed_rebuilding", projection=p.name,
                                built=had, version=want)
                    p.forget()
                    for table in p.tables:
                        cur.execute(f"DROP TABLE IF EXISTS {table}")
                    cur.execute("UPDATE cg_tracking SET position = 0, updated_at = ?"
                                " WHERE projection = ?", (ts(datetime.now(UTC)), p.name))
                    cur.execute("DELETE FROM cg_projection_errors WHERE projection = ?", (p.name,))
                p.create(cur)
                cur.execute(
                    "INSERT INTO cg_tracking (projection, position, updated_at) VALUES (?, 0, ?)"
                    " ON CONFLICT (projection) DO NOTHING",
                    (p.name, ts(datetime.now(UTC))),
                )
                cur.execute("DELETE FROM cg_projection_versions WHERE projection = ?", (p.name,))
                cur.execute("INSERT INTO cg_projection_versions (projection, version)"
                            " VALUES (?, ?)", (p.name, want))
        self._ready = True

    def position(self, name: str) -> int:
        self.setup()
        rows = self.sql.query("SELECT position FROM cg_tracking WHERE projection = ?", (name,))
        return int(rows[0][0]) if rows else 0

    def head(self) -> int:
        return self.app.recorder.max_notification_id() or 0

    def catch_up(
        self,
        names: Sequence[str] | None = None,
        *,
        progress: Callable[[int], None] | None = None,
        max_events: int | None = None,
    ) -> int:
        """Apply every event not yet applied; returns how many events were read.

        Projections standing at the same position share one read, one decode and one
        transaction per batch; each still has its own tracking row. A group behind the
        others stops where the next group stands, and from there they go on together.
        """
        self.setup()
        with self._run_lock, collector_paused():
            wanted = self._runnable(list(names or self.projections))
            done = 0
            while wanted:
                positions = self._positions(wanted)
                low = min(positions.values())
                group = [n for n, p in positions.items() if p == low]
                above = [p for p in positions.values() if p > low]
                budget = None if max_events is None else max_events - done
                try:
                    n = self._run(group, low, min(above) if above else None, progress, budget)
                except LostRace:
                    continue
                except Exception as e:
                    if is_store_error(e):
                        raise
                    n = self._isolate(group, low, e)
                    wanted = self._runnable(wanted)
                    done += n
                    continue
                for name in set(group) & self._erroring:  # it folded the event it stalled on
                    self._clear(name)
                    self._erroring.discard(name)
                    log.info("projection_recovered", projection=name)
                if n == 0 and not above:
                    return done
                if n == 0:  # nothing recorded between this group and the next: join it
                    self._skip(group, low, min(above))
                    continue
                done += n
                if max_events is not None and done >= max_events:
                    return done
            return done

    # ------------------------------------------------------------------ stalled projections

    def _runnable(self, names: list[str]) -> list[str]:
        """Projections not waiting out the backoff of an earlier failure."""
        now = ts(datetime.now(UTC))
        rows = self.sql.query("SELECT projection, retry_at FROM cg_projection_errors")
        self._erroring = {r[0] for r in rows}
        waiting = {r[0] for r in rows if r[1] > now}
        return [n for n in names if n not in waiting]

    def _isolate(self, group: list[str], pos: int, first: Exception) -> int:
        """A batch failed: run each projection of the group alone, and for one that still
        fails narrow the batch down (halving) to the one event it cannot fold. Everything
        before that event is applied; the projection then stalls there, loudly, and the
        others go on. Returns how many events were applied."""
        done = 0
        for name in group:
            size, at = self.batch, self.position(name)  # a pipelined batch may have committed
            while True:
                try:
                    n = self._run([name], at, None, None, size)
                except LostRace:
                    break
                except Exception as e:
                    if is_store_error(e):
                        raise
                    if size > 1:
                        size = max(1, size // 2)
                        continue
                    self._stall(name, at, e)
                    break
                if n == 0:
                    self._clear(name)
                    break
                at, done = self.position(name), done + n
                size = min(self.batch, size * 2)
        return done

    def _stall(self, name: str, pos: int, error: Exception) -> None:
        note = self.read(pos, 1)
        nid = int(note[0][0]) if note else pos + 1
        rows = self.sql.query("SELECT attempts FROM cg_projection_errors WHERE projection = ?",
                              (name,))
        attempts = (int(rows[0][0]) if rows else 0) + 1
        wait = min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** (attempts - 1))
        now = datetime.now(UTC)
        text = f"{type(error).__name__}: {error}"[:2000]
        with self.sql.transaction() as cur:
            cur.execute("DELETE FROM cg_projection_errors WHERE projection = ?", (name,))
            cur.execute("INSERT INTO cg_projection_errors (projection, notification_id, error,"
                        " failed_at, attempts, retry_at) VALUES (?, ?, ?, ?, ?, ?)",
                        (name, nid, text, ts(now), attempts, ts(now + timedelta(seconds=wait))))
        log.error("projection_stalled", projection=name, notification_id=nid, error=text,
                  attempts=attempts, retry_in_seconds=wait,
                  originator_id=str(note[0][1]) if note else None)

    def _clear(self, name: str) -> None:
        with self.sql.transaction() as cur:
            cur.execute("DELETE FROM cg_projection_errors WHERE projection = ?", (name,))

    def errors(self) -> dict[str, dict]:
        """Stalled projections: the event each cannot fold, the error, the next retry."""
        self.setup()
        rows = self.sql.query("SELECT projection, notification_id, error, failed_at, attempts,"
                              " retry_at FROM cg_projection_errors")
        return {r[0]: {"notification_id": int(r[1]), "error": r[2], "failed_at": r[3],
                       "attempts": int(r[4]), "retry_at": r[5]} for r in rows}

    def retry_now(self, names: Sequence[str] | None = None) -> None:
        """Forget the backoff: the next catch-up tries stalled projections at once."""
        self.setup()
        with self.sql.transaction() as cur:
            for name in names or self.projections:
                cur.execute("UPDATE cg_projection_errors SET retry_at = ? WHERE projection = ?",
                            (ts(datetime(2000, 1, 1, tzinfo=UTC)), name))

    def _positions(self, names: Sequence[str]) -> dict[str, int]:
        rows = dict(self.sql.query("SELECT projection, position FROM cg_tracking"))
        return {n: int(rows.get(n, 0)) for n in names}

    def _skip(self, names: list[str], pos: int, to: int) -> None:
        """Move a group over a stretch with no notifications (ids are not gapless)."""
        with self.sql.transaction() as cur:
            self._advance(cur, names, pos, to)

    def _advance(self, cur: Cur, names: list[str], pos: int, to: int) -> None:
        now = ts(datetime.now(UTC))
        for name in names:
            moved = cur.execute(
                "UPDATE cg_tracking SET position = ?, updated_at = ?"
                " WHERE projection = ? AND position = ?", (to, now, name, pos))
            if moved != 1:
                raise LostRace(name)

    def _run(self, names: list[str], pos: int, stop: int | None,
             progress: Callable[[int], None] | None, budget: int | None) -> int:
        """Apply batches to one group from `pos` until the head, `stop` or the budget."""
        projs = [self.projections[n] for n in names]
        done, pending = 0, None
        try:
            while budget is None or done < budget:
                limit = self.batch if budget is None else min(self.batch, budget - done)
                notes = self.read(pos, limit, stop)
                if not notes:
                    break
                end = notes[-1][0]
                decode = self.decode.with_times
                items = [(*decode(n), n[0], n[5]) for n in notes]
                ops = [(p, p.prepare(self.sql, items, pos, end)) for p in projs]
                if pending is not None:
                    self._finish(pending, progress)
                    pending = None
                job = (ops, names, pos, end, len(notes))
                if self.pipeline:
                    pending = (self._pool().submit(self._write, job), job)
                else:
                    self._write(job)
                    if progress:
                        progress(len(notes))
                pos, done = end, done + len(notes)
                if stop is not None and end >= stop:
                    break
            if pending is not None:
                self._finish(pending, progress)
                pending = None
        except BaseException:
            if pending is not None:  # let the batch in flight end before anything else
                pending[0].exception()
            for p in projs:
                p.forget()
            raise
        return done

    def read(self, pos: int, limit: int, stop: int | None = None) -> list[tuple]:
        """Notifications after `pos` (up to `stop`) as tuples (id, originator_id, version,
        topic, state, originator_id as text): read straight from the recorder's table, without building a
        Notification object per row, when the recorder is one of eventsourcing's own."""
        rec = self.app.recorder
        table = getattr(rec, "events_table_name", None)
        stop = 2**62 if stop is None else stop
        if self.sql.dialect == "postgres" and table:
            from psycopg.rows import tuple_row
            from psycopg.sql import SQL, Identifier

            query = SQL("SELECT notification_id, originator_id, originator_version, topic, state,"
                        " originator_id::text"
                        " FROM {}.{} WHERE notification_id > %s AND notification_id <= %s"
                        " ORDER BY notification_id LIMIT %s").format(
                Identifier(rec.datastore.schema), Identifier(table))
            with rec.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as c:
                c.execute(query, (pos, stop, limit), prepare=True)
                return c.fetchall()
        if (self.sql.dialect == "sqlite" and table and table.isidentifier()
                and hasattr(rec, "convert_originator_id")):
            rows = self.sql.query(
                f"SELECT rowid, originator_id, originator_version, topic, state FROM {table}"
                " WHERE rowid > ? AND rowid <= ? ORDER BY rowid LIMIT ?", (pos, stop, limit))
            convert = rec.convert_originator_id  # stored as hex text
            return [(n, i, v, t, s, str(i)) for n, o, v, t, s in rows for i in (convert(o),)]
        return [(n.id, n.originator_id, n.originator_version, n.topic, n.state,
                 str(n.originator_id))
                for n in rec.select_notifications(start=pos + 1, limit=limit, stop=stop)]

    def _finish(self, pending: tuple, progress: Callable[[int], None] | None) -> None:
        future, job = pending
        future.result()
        if progress:
            progress(job[4])

    def _write(self, job: tuple) -> None:
        ops, names, pos, end, _n = job
        with self.sql.transaction() as cur:
            for proj, op in ops:
                proj.write(cur, op)
            self._advance(cur, names, pos, end)

    def _pool(self) -> ThreadPoolExecutor:
        if self._writer is None:
            self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="projection-writer")
        return self._writer

    def follow(self, stop: threading.Event, *, interval: float = 0.5) -> None:
        """Keep every projection caught up until `stop` is set.

        PostgreSQL: an eventsourcing subscription (LISTEN/NOTIFY) wakes the runner when
        events are recorded. SQLite has no subscriptions: poll every `interval` seconds.
        """
        wait = interval
        while not stop.is_set():
            try:
                self._follow_once(stop, interval)
                return
            except Exception as e:  # the store went away: back off, then follow again
                log.warning("follow_store_error", error=repr(e), retry_in_seconds=wait)
                if stop.wait(wait):
                    return
                wait = min(BACKOFF_MAX, wait * 2)

    def _follow_once(self, stop: threading.Event, interval: float) -> None:
        self.catch_up()
        if self.sql.dialect != "postgres":
            while not stop.wait(interval):
                self.catch_up()
            return
        while not stop.is_set():
            with self.app.recorder.subscribe(gt=self.head()) as sub:
                threading.Thread(target=lambda s=sub: (stop.wait(), s.stop()), daemon=True).start()
                self.catch_up()  # what was recorded before the subscription started listening
                for _ in sub:  # the subscription only wakes us; catch_up reads in batches
                    self.catch_up()
                    if stop.is_set():
                        break

    def rebuild(self, names: str | Sequence[str] | None = None, *,
                progress: Callable[[int], None] | None = None) -> int:
        """Drop projections' tables (one name, several, or all) and replay the whole log
        into them together; then refresh the planner's statistics of the new tables.
        Returns how many events were read."""
        wanted = [names] if isinstance(names, str) else list(names or self.projections)
        self.setup()
        with self._run_lock:
            with self.sql.transaction() as cur:
                for name in wanted:
                    proj = self.projections[name]
                    proj.forget()
                    for table in proj.tables:
                        cur.execute(f"DROP TABLE IF EXISTS {table}")
                    proj.create(cur)
                    cur.execute(
                        "UPDATE cg_tracking SET position = 0, updated_at = ? WHERE projection = ?",
                        (ts(datetime.now(UTC)), name),
                    )
                    cur.execute("DELETE FROM cg_projection_errors WHERE projection = ?", (name,))
            done = self.catch_up(wanted, progress=progress)
            with self.sql.transaction() as cur:
                for name in wanted:
                    for table in self.projections[name].tables:
                        cur.execute(f"ANALYZE {table}")
        return done

    def status(self) -> list[dict]:
        self.setup()
        head = self.head()
        rows = self.sql.query("SELECT projection, position, updated_at FROM cg_tracking")
        errors = self.errors()
        out = []
        for name, pos, updated in sorted(rows):
            if name not in self.projections:
                continue
            lag_seconds = 0.0
            if pos < head:
                nxt = self.read(int(pos), 1)
                if nxt:
                    try:
                        first = self.decode(nxt[0])
                        lag_seconds = (datetime.now(UTC) - first.timestamp).total_seconds()
                    except Exception as e:  # status must answer even on an undecodable event
                        lag_seconds = -1.0
                        errors.setdefault(name, {"notification_id": int(nxt[0][0]),
                                                 "error": f"{type(e).__name__}: {e}"})
            out.append(
                {
                    "projection": name,
                    "position": int(pos),
                    "head": head,
                    "lag_events": head - int(pos),
                    "lag_seconds": round(lag_seconds, 3),
                    "updated_at": updated,
                    "state": "stalled" if name in errors else ("behind" if pos < head else "ok"),
                    "error": errors.get(name),
                }
            )
        return out
