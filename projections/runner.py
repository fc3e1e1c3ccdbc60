"""Tracking projection runner: follow the notification log, apply each event exactly once.

Each projection has its own row in `cg_tracking`. A batch of events is applied and the
position advanced in one transaction, with a compare-and-set on the old position, so a
crash mid-batch leaves nothing half-applied and two runners never apply an event twice.

The loop is the same on every database: it sees storage only through projections.ports
(`?` SQL, the event log), which adapters/storage/ implements for SQLite and PostgreSQL.

Catching up a large log (measured at a million events, benchmarks/projections.py):
batches of 20,000 events; events decoded with orjson (projections/decode.py); where the
database takes writes on a second connection (PostgreSQL) the server writes one batch
while Python reads and prepares the next; the scoreboard keeps recently touched cases'
rows between batches for as long as this runner alone moved its position; the cyclic
garbage collector is paused meanwhile.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, Protocol

import structlog

from projections import shards, tracking
from projections.decode import EventDecoder
from projections.ports import Cur, EventLog, Sql
from projections.rebuild import rebuild as replay
from projections.tracking import BACKOFF_MAX, LostRace

log = structlog.get_logger("casegrid.projections")


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


# a shard's batch: it also holds its cases' rows and moves until they are written, so a
# smaller batch keeps two processes within the memory of one and a half (measured at 1M
# events: 20,000 → 529 MB for both, 15,000 → 470–480 MB at ~2% less speed)
SHARD_BATCH = 15_000
_GC_LOCK = threading.Lock()
_GC_STATE = {"paused": 0, "was_enabled": True}


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



class ProjectionRunner:
    """Catch projections up in batches of `batch` events.

    With `pipeline` (the composition root turns it on for PostgreSQL) a batch's writes
    run on a writer thread while the next batch is read and prepared: the server works
    on one batch while Python works on the next. A batch's rows and its tracking
    positions still commit in one transaction, in order, and a failed batch discards
    everything prepared after it.
    """

    def __init__(self, sql: Sql, events: EventLog, mapper: Any,
                 projections: Sequence[Projection], *, batch: int = 20_000,
                 pipeline: bool = False):
        self.sql = sql
        self.events = events
        self.projections = {p.name: p for p in projections}
        self.batch = batch
        self.pipeline = pipeline
        self.decode = EventDecoder(mapper)
        self._ready = False
        self._setup_lock = threading.Lock()
        self.run_lock = threading.RLock()  # one catch-up at a time: projections hold state
        self._writer: ThreadPoolExecutor | None = None
        self._erroring: set[str] = set()

    def setup(self) -> None:
        if self._ready:
            return
        with self._setup_lock, self.sql.transaction() as cur:
            tracking.create_tables(cur, self.projections.values(), log)
        self._ready = True

    def position(self, name: str) -> int:
        self.setup()
        rows = self.sql.query("SELECT position FROM cg_tracking WHERE projection = ?", (name,))
        return int(rows[0][0]) if rows else 0

    def head(self) -> int:
        return self.events.head()

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
        with self.run_lock, collector_paused():
            wanted = self._runnable(list(names or self.projections))
            done = 0
            while wanted:
                positions = tracking.positions(self.sql, wanted)
                if any(p < 0 for p in positions.values()):  # rebuilt in shards elsewhere
                    wanted = [n for n in wanted if positions[n] >= 0 or self._take_over(n)]
                    continue
                low = min(positions.values())
                group = [n for n, p in positions.items() if p == low]
                above = [p for p in positions.values() if p > low]
                budget = None if max_events is None else max_events - done
                try:
                    n = self._run(group, low, min(above) if above else None, progress, budget)
                except LostRace:
                    continue
                except Exception as e:
                    if self.sql.is_store_error(e):
                        raise
                    if self._moved(group, low):  # another runner folded these first (a
                        continue  # unique key it wrote before our compare-and-set): lost race
                    n = self._isolate(group, low, e)
                    wanted = self._runnable(wanted)
                    done += n
                    continue
                for name in set(group) & self._erroring:  # it folded the event it stalled on
                    tracking.clear_stall(self.sql, name)
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

    def catch_up_shard(self, names: Sequence[str], shard: int, of: int, to: int, *,
                       progress: Callable[[int], None] | None = None) -> int:
        """Fold one shard's events (projections/shards.py) up to `to` into `names`, moving
        the shard's own tracking rows; returns how many events were read."""
        names = sorted(names, key=lambda n: getattr(self.projections[n], "adds_up", False))
        track = [shards.shard_name(n, shard, of) for n in names]  # adding-up writes last:
        with self.run_lock, collector_paused():  # their row locks are held the shortest
            at = set(tracking.positions(self.sql, track).values())
            if len(at) != 1:
                raise LostRace(f"shard {shard}/{of} of {names} stands at {at}")
            pos = at.pop()
            if pos not in (0, to):  # what a shard holds is lost with its process
                raise LostRace(f"shard {shard}/{of} of {names} restarted at {pos}")
            projs = [self.projections[n] for n in names]
            for p in projs:  # projections that write less when nobody reads until the end
                getattr(p, "begin_shard", lambda _of: None)(of)
            done = self._run(list(names), pos, to, progress, None, track=track,
                             shard=(shard, of), size=SHARD_BATCH) if pos < to else 0
            with self.sql.transaction() as cur:  # what they still hold; the shard at `to`
                for p in projs:
                    ops = getattr(p, "end_shard", lambda: None)()
                    if ops is not None:
                        p.write(cur, ops)
                tracking.advance(cur, track, pos + done, to)
            return done

    def _take_over(self, name: str) -> bool:
        """A projection rebuilt in shards: False while that rebuild is alive; once it is
        abandoned, reset it here (True: fold it from 0)."""
        if not shards.abandoned(self.sql, name):
            return False
        with self.sql.transaction() as cur:
            took = shards.reset(cur, self.projections[name])
        if took:
            log.warning("sharded_rebuild_abandoned_replaying", projection=name,
                        after_seconds=shards.ABANDONED_AFTER)
        return True

    # ------------------------------------------------------------------ stalled projections

    def _runnable(self, names: list[str]) -> list[str]:
        """Projections not waiting out the backoff of an earlier failure."""
        self._erroring, waiting = tracking.stalled(self.sql)
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
                    if self.sql.is_store_error(e):
                        raise
                    if self._moved([name], at):  # another runner folded it: not a stall
                        break
                    if size > 1:
                        size = max(1, size // 2)
                        continue
                    self._stall(name, at, e)
                    break
                if n == 0:
                    tracking.clear_stall(self.sql, name)
                    break
                at, done = self.position(name), done + n
                size = min(self.batch, size * 2)
        return done

    def _moved(self, names: list[str], pos: int) -> bool:
        """Whether another runner moved any of these projections past `pos` meanwhile."""
        return any(p != pos for p in tracking.positions(self.sql, names).values())

    def _stall(self, name: str, pos: int, error: Exception) -> None:
        note = self.events.read(pos, 1)
        nid = int(note[0][0]) if note else pos + 1
        text, attempts, wait = tracking.record_stall(self.sql, name, nid, error)
        log.error("projection_stalled", projection=name, notification_id=nid, error=text,
                  attempts=attempts, retry_in_seconds=wait,
                  originator_id=str(note[0][1]) if note else None)

    def errors(self) -> dict[str, dict]:
        """Stalled projections: the event each cannot fold, the error, the next retry."""
        self.setup()
        return tracking.stalls(self.sql)

    def retry_now(self, names: Sequence[str] | None = None) -> None:
        """Forget the backoff: the next catch-up tries stalled projections at once."""
        self.setup()
        tracking.retry_now(self.sql, names or self.projections)

    # ------------------------------------------------------------------ batches

    def _skip(self, names: list[str], pos: int, to: int) -> None:
        """Move a group over a stretch with no notifications (ids are not gapless)."""
        with self.sql.transaction() as cur:
            tracking.advance(cur, names, pos, to)

    def _run(self, names: list[str], pos: int, stop: int | None,
             progress: Callable[[int], None] | None, budget: int | None, *,
             track: list[str] | None = None, shard: tuple[int, int] | None = None,
             size: int | None = None) -> int:
        """Apply batches to one group from `pos` until the head, `stop` or the budget.
        `track` names the tracking rows moved (default: the projections' own); with
        `shard` only that shard's events are read, and `stop` is where it ends; `size`:
        the batch size, if not the runner's."""
        projs = [self.projections[n] for n in names]
        track, size = track or names, size or self.batch
        done, pending = 0, None
        try:
            while budget is None or done < budget:
                limit = size if budget is None else min(size, budget - done)
                items, end, count = self._read(pos, limit, stop, shard)
                if not items:
                    break
                ops = [(p, p.prepare(self.sql, items, pos, end)) for p in projs]
                del items  # free them before the next batch is read (peak memory)
                if pending is not None:
                    self._finish(pending, progress)
                    pending = None
                job = (ops, track, pos, end, count)
                del ops
                if self.pipeline:
                    pending = (self._pool().submit(self._write, job), job)
                else:
                    self._write(job)
                    if progress:
                        progress(count)
                pos, done = end, done + count
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

    def _read(self, pos: int, limit: int, stop: int | None,
              shard: tuple[int, int] | None) -> tuple[list[Item], int, int]:
        """Up to `limit` events after `pos`, decoded; the position they reach, and how many
        were read (for a shard: how many notification ids it passed)."""
        notes = (self.events.read(pos, limit, stop) if shard is None
                 else self.events.read(pos, limit, stop, shard))
        decode = self.decode.with_times
        items = [(*decode(n), n[0], n[5]) for n in notes]
        if shard is None or not items:
            return items, (notes[-1][0] if notes else pos), len(items)
        end = stop if len(notes) < limit else notes[-1][0]  # the ids between: other shards'
        return items, end, end - pos

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
            tracking.advance(cur, names, pos, end)

    def _pool(self) -> ThreadPoolExecutor:
        if self._writer is None:
            self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="projection-writer")
        return self._writer

    # ------------------------------------------------------------------ following, rebuilding

    def follow(self, stop: threading.Event, *, interval: float = 0.5,
               names: Sequence[str] | None = None) -> None:
        """Keep every projection (or those `names`) caught up until `stop` is set.

        Where the event log listens (PostgreSQL's LISTEN/NOTIFY) a subscription wakes the
        runner when events are recorded; otherwise (SQLite) poll every `interval` seconds.
        """
        wait = interval
        while not stop.is_set():
            try:
                self._follow_once(stop, interval, names)
                return
            except Exception as e:  # the store went away: back off, then follow again
                log.warning("follow_store_error", error=repr(e), retry_in_seconds=wait)
                if stop.wait(wait):
                    return
                wait = min(BACKOFF_MAX, wait * 2)

    def _follow_once(self, stop: threading.Event, interval: float,
                     names: Sequence[str] | None) -> None:
        self.catch_up(names)
        if not self.events.listens:
            while not stop.wait(interval):
                self.catch_up(names)
            return
        while not stop.is_set():
            with self.events.subscribe(self.head()) as sub:
                threading.Thread(target=lambda s=sub: (stop.wait(), s.stop()), daemon=True).start()
                self.catch_up(names)  # what was recorded before the subscription listened
                for _ in sub:  # the subscription only wakes us; catch_up reads in batches
                    self.catch_up(names)
                    if stop.is_set():
                        break

    def rebuild(self, names: str | Sequence[str] | None = None, *,
                progress: Callable[[int], None] | None = None) -> int:
        """Drop projections' tables (one name, several, or all) and replay the whole log
        into them together (projections/rebuild.py). Returns how many events were read."""
        return replay(self, [names] if isinstance(names, str) else list(names or self.projections),
                       progress=progress)

    def status(self) -> list[dict]:
        self.setup()
        head = self.head()
        rows = self.sql.query("SELECT projection, position, updated_at FROM cg_tracking")
        errors = self.errors()
        out = []
        for name, pos, updated in sorted(rows):
            if name not in self.projections:
                continue
            rebuilding = int(pos) < 0
            if rebuilding:
                pos, updated = shards.progress(self.sql, name)
            lag_seconds = 0.0
            if pos < head:
                nxt = self.events.read(int(pos), 1)
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
                    "state": "stalled" if name in errors else "rebuilding" if rebuilding else (
                        "behind" if pos < head else "ok"),
                    "error": errors.get(name),
                }
            )
        return out
