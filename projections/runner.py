"""Tracking projection runner: follow the notification log, apply each event exactly once.

Each projection has its own row in `cg_tracking`. A batch of events is applied and the
position advanced in one transaction, with a compare-and-set on the old position, so a
crash mid-batch leaves nothing half-applied and two runners never apply an event twice.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from projections.sql import Cur, Sql, ts

TRACKING_DDL = (
    "CREATE TABLE IF NOT EXISTS cg_tracking ("
    " projection TEXT PRIMARY KEY, position BIGINT NOT NULL, updated_at TEXT NOT NULL)"
)


SETUP_LOCK = 0x63617365  # 'case': the advisory lock that serialises table creation


class Projection(Protocol):
    name: str
    tables: Sequence[str]

    def create(self, cur: Cur) -> None: ...

    def apply(self, cur: Cur, event: Any, position: int) -> None: ...


class LostRace(Exception):
    """Another runner advanced this projection first; the batch was rolled back."""


class ProjectionRunner:
    def __init__(self, app: Any, projections: Sequence[Projection], *, batch: int = 5000):
        self.app = app
        self.sql = Sql(app.recorder)
        self.projections = {p.name: p for p in projections}
        self.batch = batch
        self._ready = False
        self._setup_lock = threading.Lock()

    def setup(self) -> None:
        if self._ready:
            return
        with self._setup_lock, self.sql.transaction() as cur:
            if self.sql.dialect == "postgres":  # CREATE … IF NOT EXISTS races between processes
                cur.execute("SELECT pg_advisory_xact_lock(?)", (SETUP_LOCK,))
            cur.execute(TRACKING_DDL)
            for p in self.projections.values():
                p.create(cur)
                cur.execute(
                    "INSERT INTO cg_tracking (projection, position, updated_at) VALUES (?, 0, ?)"
                    " ON CONFLICT (projection) DO NOTHING",
                    (p.name, ts(datetime.now(UTC))),
                )
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
        transaction per batch; each still has its own tracking row.
        """
        self.setup()
        wanted = list(names or self.projections)
        done = 0
        while True:
            positions = self._positions(wanted)
            low = min(positions.values())
            group = [n for n, p in positions.items() if p == low]
            try:
                n = self._step(group, low)
            except LostRace:
                continue
            if n == 0:
                if len(set(positions.values())) == 1:
                    return done
                # the lowest group is level with the head: nothing left for anyone below it
                wanted = [n for n in wanted if positions[n] != low]
                if not wanted:
                    return done
                continue
            done += n
            if progress:
                progress(n)
            if max_events is not None and done >= max_events:
                return done

    def _positions(self, names: Sequence[str]) -> dict[str, int]:
        rows = dict(self.sql.query("SELECT projection, position FROM cg_tracking"))
        return {n: int(rows.get(n, 0)) for n in names}

    def _step(self, names: list[str], pos: int) -> int:
        notes = self.app.recorder.select_notifications(start=pos + 1, limit=self.batch)
        if not notes:
            return 0
        to_event = self.app.mapper.to_domain_event
        items = [(to_event(note), note.id) for note in notes]
        with self.sql.transaction() as cur:
            for name in names:
                proj = self.projections[name]
                if hasattr(proj, "apply_batch"):
                    proj.apply_batch(cur, items)
                else:
                    for event, position in items:
                        proj.apply(cur, event, position)
                moved = cur.execute(
                    "UPDATE cg_tracking SET position = ?, updated_at = ?"
                    " WHERE projection = ? AND position = ?",
                    (notes[-1].id, ts(datetime.now(UTC)), name, pos),
                )
                if moved != 1:
                    raise LostRace(name)
        return len(notes)

    def follow(self, stop: threading.Event, *, interval: float = 0.5) -> None:
        """Keep every projection caught up until `stop` is set.

        PostgreSQL: an eventsourcing subscription (LISTEN/NOTIFY) wakes the runner when
        events are recorded. SQLite has no subscriptions: poll every `interval` seconds.
        """
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

    def rebuild(self, name: str, *, progress: Callable[[int], None] | None = None) -> int:
        """Drop a projection's tables and replay the whole log into them."""
        proj = self.projections[name]
        self.setup()
        with self.sql.transaction() as cur:
            for table in proj.tables:
                cur.execute(f"DROP TABLE IF EXISTS {table}")
            proj.create(cur)
            cur.execute(
                "UPDATE cg_tracking SET position = 0, updated_at = ? WHERE projection = ?",
                (ts(datetime.now(UTC)), name),
            )
        return self.catch_up([name], progress=progress)

    def status(self) -> list[dict]:
        self.setup()
        head = self.head()
        rows = self.sql.query("SELECT projection, position, updated_at FROM cg_tracking")
        out = []
        for name, pos, updated in sorted(rows):
            if name not in self.projections:
                continue
            lag_seconds = 0.0
            if pos < head:
                nxt = self.app.recorder.select_notifications(start=pos + 1, limit=1)
                if nxt:
                    first = self.app.mapper.to_domain_event(nxt[0])
                    lag_seconds = (datetime.now(UTC) - first.timestamp).total_seconds()
            out.append(
                {
                    "projection": name,
                    "position": int(pos),
                    "head": head,
                    "lag_events": head - int(pos),
                    "lag_seconds": round(lag_seconds, 3),
                    "updated_at": updated,
                }
            )
        return out
