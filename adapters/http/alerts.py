"""Live alerts (实时提醒) for the console, scoped like the inbox and the queues
(adapters/http/access.py):

- a unit member hears of cases newly dispatched to their own unit (派遣, also a rework or a
  rejected extension sending it back) and of their unit's cases nearing their due time;
- the center's roles (and the inspector, who reads everything) hear of new reports.

`Watch.poll` reads the case read model (cg_cases) since a watermark, the position of the
last event it has seen; the SSE endpoint (console/events.py) calls it every few seconds.
Nothing is held on the server between connections: the browser keeps the watermark and
the alerts it has shown (static/alerts.js).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from adapters.http.access import CENTER_READERS
from adapters.reports.numbers import case_numbers
from domain.city import City, User
from projections.times import ts

NEAR = timedelta(minutes=60)  # "due soon", as the console colours it (pages.NEAR_MINUTES)
NEW_STATES = ("pending_verification", "pending_filing", "pending_dispatch")
MAX_PER_POLL = 50  # a burst (an import) is cut here; the client sums it up


def listens(user: User) -> bool:
    """Whether the user's role gets alerts at all (a channel account does not)."""
    return user.role == "unit_member" or user.role in CENTER_READERS


def head(sql) -> int:
    rows = sql.query("SELECT MAX(position) FROM cg_cases")
    return int(rows[0][0] or 0) if rows else 0


@dataclass
class Watch:
    """One viewer's alerts: what changed after `after` (an event position), and what is near.
    `begin` notes the unit's cases already with it, so that a later event on one of them
    (an urging, a missed deadline) is not taken for a new dispatch."""

    user: User
    city: City
    after: int
    held: set = field(default_factory=set)  # the unit's cases now dispatched to it
    told: set = field(default_factory=set)  # keys already sent on this connection

    def begin(self, sql) -> Watch:
        if self.user.role == "unit_member":
            self.held = {r[0] for r in sql.query(
                "SELECT case_id FROM cg_cases WHERE unit = ? AND state = 'dispatched'"
                " AND position <= ?", (self.user.unit, self.after))}
        return self

    def poll(self, sql, now: datetime) -> list[dict]:
        out: list[dict] = []
        unit = self.user.unit if self.user.role == "unit_member" else None
        cols = "case_id, state, unit, category, grid, due_at, reported_at, position"
        if unit is not None:
            rows = sql.query(f"SELECT {cols} FROM cg_cases WHERE position > ? AND unit = ?"
                             " ORDER BY position LIMIT ?", (self.after, unit, MAX_PER_POLL))
            for r in rows:
                if r[1] == "dispatched" and r[0] not in self.held:
                    out.append(self._alert("dispatched", r))
                (self.held.add if r[1] == "dispatched" else self.held.discard)(r[0])
            near = sql.query(f"SELECT {cols} FROM cg_cases WHERE unit = ? AND step IS NOT NULL"
                             " AND state IN ('dispatched', 'extension_requested',"
                             " 'shelve_requested') AND due_at > ? AND due_at <= ?"
                             " ORDER BY due_at LIMIT ?",
                             (unit, ts(now), ts(now + NEAR), MAX_PER_POLL))
            for r in near:
                if ("due", r[0], r[5]) not in self.told:
                    self.told.add(("due", r[0], r[5]))
                    out.append(self._alert("due", r))
        elif self.user.role in CENTER_READERS:  # a new report: the case's first event only
            marks = ",".join("?" * len(NEW_STATES))
            rows = sql.query(f"SELECT {cols} FROM cg_cases WHERE position > ? AND version = 1"
                             f" AND state IN ({marks}) ORDER BY position LIMIT ?",
                             (self.after, *NEW_STATES, MAX_PER_POLL))
            for r in rows:
                if ("reported", r[0]) not in self.told:
                    self.told.add(("reported", r[0]))
                    out.append(self._alert("reported", r))
        else:
            rows = []
        self.after = max([self.after, *(int(r[7]) for r in rows)])
        numbers = case_numbers(sql, [a["case_id"] for a in out])
        for a in out:
            a["no"] = numbers[a["case_id"]]
        return out

    def _alert(self, kind: str, r: tuple) -> dict:
        cat = self.city.categories.get(r[3])
        cell = self.city.cells.get(r[4])
        return {"kind": kind, "case_id": r[0], "state": r[1], "unit": r[2],
                "category": cat.name if cat else "",
                "community": self.city.areas.get(cell.community, "") if cell else "",
                "due_at": r[5], "position": int(r[7]),
                "key": f"{kind}:{r[0]}" + {"due": f":{r[5]}", "dispatched": f":{r[7]}"}.get(kind, "")}
