"""The read side for the HTTP adapter: keep projections caught up, and call the read models.

`Follower` runs the projection runner's `follow` in a background thread of the server
(woken by LISTEN/NOTIFY on PostgreSQL, polling every 0.5 s on SQLite) and the deadline
tick every minute, so the console follows the event log live; a reader also catches up
on demand before it reads (`ensure`), so an answer never misses a write the same client
made a moment before, whichever server process took the write.
With several processes (`leases=True`) only the holder of each lease follows or ticks.
"""

from __future__ import annotations

import importlib
import os
import threading
from datetime import UTC, date, datetime, timedelta

import structlog

from adapters.background import BackgroundLoop
from adapters.bootstrap import Casegrid
from adapters.http.head_reads import SharedHead
from adapters.storage.lease import Lease, follow_as_singleton, run_as_singleton
from domain import times
from domain.errors import CasegridError
from domain.lifecycle import QUEUES, UNIT_STATES
from projections.cases import case_key as projection_case_key
from projections.cases import due_case_ids, list_cases, numbers_of
from projections.times import from_ts

log = structlog.get_logger("casegrid.http")


class Unavailable(CasegridError):
    """503: a read model this server was built without (module not installed yet)."""

    kind = "unavailable"


def projection_module(name: str):
    try:
        return importlib.import_module(f"projections.{name}")
    except ModuleNotFoundError as e:
        if e.name == f"projections.{name}":
            raise Unavailable(f"read model 'projections.{name}' is not available in this build") from None
        raise


class Follower:
    """`leases=True` (several server processes): follow and tick only while holding the
    'projections-follow' / 'deadline-tick' lease, shared with the CLI's loops, so exactly
    one process on the store does each; `ensure()` still runs in every process."""

    def __init__(self, cg: Casegrid, *, interval: float = 0.5, tick_every: float = 60.0,
                 leases: bool = False):
        self.cg = cg
        self.interval = interval
        self.tick_every = tick_every
        self.leases = leases
        self._lock = threading.Lock()
        self._applied = -1
        self._head = SharedHead(lambda: self.cg.projections.head())  # one query, many waiting
        self._loops = [BackgroundLoop("casegrid-follow", self._follow)]
        if tick_every:
            self._loops.append(BackgroundLoop("casegrid-tick", self._ticks))

    @property
    def lock(self) -> threading.Lock:
        """Held while catching up: hold it to keep the follower out (a rebuild does)."""
        return self._lock

    def ensure(self) -> int:
        """Catch every projection up to the log's head (cheap when already there); the head,
        read by a query begun after this call (adapters/http/head_reads.py)."""
        head = self._head()
        if head <= self._applied:
            return head
        with self._lock:
            if head <= self._applied:
                return head
            self.cg.projections.catch_up()
            self._applied = head
        return head

    def tick(self, now: datetime | None = None) -> list:
        self.ensure()
        now = now or self.cg.service.clock()
        return self.cg.service.tick(now, due_case_ids(self.cg.sql, now))

    def start(self) -> None:
        for loop in self._loops:
            loop.start()

    def stop(self) -> None:
        for loop in self._loops:
            loop.stop()

    def _follow(self, stop: threading.Event) -> None:
        if self.leases:
            follow_as_singleton(Lease(self.cg.sql, "projections-follow"), self._follow_until,
                                self.interval, stop)
        else:
            self._follow_until(stop)

    def _follow_until(self, stop: threading.Event) -> None:
        """The runner's own follow (LISTEN/NOTIFY on PostgreSQL, polling on SQLite); if it
        fails, poll here until stopped."""
        follow = getattr(self.cg.projections, "follow", None)
        if follow is not None:
            try:
                follow(stop, interval=self.interval)
                return
            except Exception as e:
                log.warning("follow_failed_polling_instead", error=repr(e))
        while not stop.wait(self.interval):
            try:
                self.ensure()
            except Exception as e:  # keep following; the next round retries
                log.warning("follower_error", error=repr(e))

    def _ticks(self, stop: threading.Event) -> None:
        if self.leases:  # the first tick when the lease is taken, then every tick_every
            run_as_singleton(Lease(self.cg.sql, "deadline-tick"), self._tick_once,
                             self.tick_every, stop, retry=min(self.tick_every, 5.0))
            return
        while not stop.wait(self.tick_every):
            self._tick_once()

    def _tick_once(self) -> None:
        try:
            missed = self.tick()
            if missed:
                log.info("deadline_tick", missed=len(missed), pid=os.getpid())
        except Exception as e:
            log.warning("deadline_tick_error", error=repr(e))


# ---------------------------------------------------------------- read models


def queues(cg: Casegrid, *, unit: str | None, now: datetime) -> dict:
    """projections.queues when present, else the same shape from the case summaries."""
    try:
        mod = projection_module("queues")
    except Unavailable:
        return _queues_from_summaries(cg, unit=unit, now=now)
    return mod.queues(cg.sql, cg.city, unit=unit, now=now)


def _item(row: dict, now: datetime) -> dict:
    due = from_ts(row["due_at"]) if row.get("due_at") else None
    return {"case_id": row["case_id"], "number": row.get("number"), "state": row["state"],
            "category": row["category"],
            "grid": row["grid"], "unit": row["unit"], "due_at": due.isoformat() if due else None,
            "overdue": bool(due and due < now), "lat": None, "lon": None}


def _queues_from_summaries(cg: Casegrid, *, unit: str | None, now: datetime) -> dict:
    rows = list_cases(cg.sql, limit=100_000)
    out: dict = {"now": now.isoformat(), "queues": {q: [] for q in QUEUES},
                 "overdue_by_unit": {}, "unit_inbox": []}
    for r in sorted(rows, key=lambda r: r["due_at"] or "9"):
        it = _item(r, now)
        for q, state in QUEUES.items():
            if r["state"] == state and unit is None:
                out["queues"][q].append(it)
        if r["state"] in UNIT_STATES and r["unit"]:
            if it["overdue"]:
                out["overdue_by_unit"].setdefault(r["unit"], []).append(it)
            if unit is None or r["unit"] == unit:
                out["unit_inbox"].append(it)
    return out


def has_locations() -> bool:
    """Whether the queue items carry lat/lon (projections.queues does; the fallback does not)."""
    try:
        projection_module("queues")
    except Unavailable:
        return False
    return True


def scoreboard(cg: Casegrid, *, by: str, start: date, end: date, as_of: datetime | None = None):
    return projection_module("scoreboard").scoreboard(cg.sql, cg.city, by=by, start=start, end=end,
                                                      as_of=as_of)


def explain(cg: Casegrid, *, by: str, key: str, indicator: str, start: date, end: date,
            as_of: datetime | None = None):
    return projection_module("scoreboard").explain(cg.sql, cg.city, by=by, key=key,
                                                   indicator=indicator, start=start, end=end,
                                                   as_of=as_of)


def scope_explain(cg: Casegrid, user, data: dict) -> dict:
    """A unit member's drill-down lists only their own unit's case ids (the cases they may
    open); the others are counted as `hidden`, so the figures still add up."""
    if user.role != "unit_member":
        return data
    mine = {r[0] for r in cg.sql.query("SELECT case_id FROM cg_cases WHERE unit = ?",
                                        (user.unit,))}
    for part in ("numerator", "denominator"):
        block = data.get(part)
        if block and block.get("case_ids") is not None:
            ids = block["case_ids"]
            block["case_ids"] = [i for i in ids if str(i) in mine]
            block["hidden"] = len(ids) - len(block["case_ids"])
    return data


def indicators() -> dict:
    try:
        return dict(projection_module("scoreboard").INDICATORS)
    except Unavailable:
        return {}


def dimensions() -> tuple:
    try:
        return tuple(projection_module("scoreboard").DIMENSIONS)
    except Unavailable:
        return ("unit",)


def case_trail(cg: Casegrid, case_id: str) -> dict:
    out = projection_module("trail").case_trail(cg.sql, cg.city, case_id)
    out["number"] = numbers_of(cg.sql, [out.get("case_id") or case_id]).get(
        str(out.get("case_id") or case_id))
    return _numbered(cg, _split_holders(out))


def _numbered(cg: Casegrid, out: dict) -> dict:
    """Each miss with its case's readable number (案件编号)."""
    misses = out.get("misses", [])
    numbers = numbers_of(cg.sql, [m["case_id"] for m in misses if "case_id" in m])
    for m in misses:  # one case's trail lists its misses without the case id
        if "case_id" in m:
            m["number"] = numbers.get(str(m["case_id"]))
    return out


def missed_deadlines(cg: Casegrid, *, unit: str | None, actor: str | None, start: date, end: date):
    """One unit's or one person's missed deadlines; with neither, everyone's (each unit, then
    each person at the center), every miss once, with per-unit and per-person counts."""
    mod = projection_module("trail")
    if unit is not None or actor is not None:
        out = mod.missed_deadlines(cg.sql, cg.city, unit=unit, actor=actor, start=start, end=end)
        return _numbered(cg, _split_holders(out))
    seen, misses, per_unit, per_person = set(), [], {}, {}
    center = [u.id for u in cg.city.users.values()
              if u.role in ("supervisor", "acceptor", "dispatcher", "duty_chief")]
    parts = [("unit", u) for u in cg.city.units] + [("actor", a) for a in center]
    for kind, key in parts:
        got = mod.missed_deadlines(cg.sql, cg.city, start=start, end=end, **{kind: key})
        for m in got["misses"]:
            ident = (m["case_id"], m.get("step"), m.get("due_at"))
            if ident in seen:
                continue
            seen.add(ident)
            misses.append(m)
        if got["count"]:
            (per_unit if kind == "unit" else per_person)[key] = got["count"]
    misses.sort(key=lambda m: (m.get("due_at") or "", m["case_id"]))
    return _numbered(cg, _split_holders({"unit": None, "actor": None, "from": start.isoformat(),
                           "to": end.isoformat(), "count": len(misses),
                           "cases": sorted({m["case_id"] for m in misses}), "misses": misses,
                           "per_unit": per_unit, "per_person": per_person}))


def _split_holders(out: dict) -> dict:
    """Give each miss holder_kind / holder apart ('unit:hw' -> 'unit', 'hw') for the console."""
    for m in out.get("misses", []):
        h = m.get("holder") or ""
        if "holder_kind" not in m and ":" in h:
            m["holder_kind"], m["holder"] = h.split(":", 1)
    return out


def default_range(cg: Casegrid) -> tuple[date, date]:
    """From the first reported case (at most 92 days back) to today, in the city's zone."""
    today = cg.service.clock().astimezone(cg.city.tz).date()
    rows = cg.sql.query("SELECT MIN(reported_at) FROM cg_cases")
    first = times.local_day(from_ts(rows[0][0]), cg.city.tz) if rows and rows[0][0] else today
    return max(first, today - timedelta(days=92)), today


def weeks(start: date, end: date, limit: int = 14) -> list[tuple[date, date]]:
    """Consecutive week-long periods (Monday to Sunday) covering start..end, at most `limit`."""
    first = start - timedelta(days=start.weekday())
    out = []
    while first <= end:
        out.append((max(first, start), min(first + timedelta(days=6), end)))
        first += timedelta(days=7)
    return out[-limit:]


def now_utc() -> datetime:
    return datetime.now(UTC)


def case_key(cg: Casegrid, text: str) -> str:
    """A case as a person names it: its readable number (2026-11-000123) or its id."""
    return projection_case_key(cg.sql, text)
