"""Work queues (待办): what waits on the center and on each unit, ordered by due time."""

from __future__ import annotations

from datetime import datetime

from domain.city import City
from domain.lifecycle import QUEUES, UNIT_STATES
from domain.times import as_zone
from projections.ports import Sql
from projections.times import from_ts, ts

COLS = ("case_id", "state", "step", "due_at", "unit", "category", "grid", "channel", "urgency",
        "reported_at", "lat", "lon", "number")


def _item(r: tuple, city: City, now: datetime) -> dict:
    d = dict(zip(COLS, r, strict=True))
    due = from_ts(d["due_at"])
    d["overdue"] = bool(due and due < now)
    d["due_at"] = as_zone(due, city.tz).isoformat(timespec="seconds") if due else None
    d["reported_at"] = as_zone(from_ts(d["reported_at"]), city.tz).isoformat(timespec="seconds")
    cat = city.categories.get(d["category"])
    d["category_name"] = cat.name if cat else None
    return d


def queues(sql: Sql, city: City, *, unit: str | None = None, now: datetime) -> dict:
    """The center's queues (or one unit's inbox), overdue cases per unit; earliest due first."""
    if unit is not None:
        city.unit(unit)
    order = " ORDER BY CASE WHEN due_at IS NULL THEN 1 ELSE 0 END, due_at, case_id"
    out: dict = {"now": as_zone(now, city.tz).isoformat(timespec="seconds"), "unit": unit}
    if unit is None:
        out["queues"] = {}
        for name, state in QUEUES.items():
            rows = sql.query(f"SELECT {', '.join(COLS)} FROM cg_cases WHERE state = ?{order}", (state,))
            out["queues"][name] = [_item(r, city, now) for r in rows]
    marks = ",".join("?" * len(UNIT_STATES))
    cond, params = f"state IN ({marks})", list(UNIT_STATES)
    if unit is not None:
        cond += " AND unit = ?"
        params.append(unit)
    inbox = [_item(r, city, now) for r in
             sql.query(f"SELECT {', '.join(COLS)} FROM cg_cases WHERE {cond}{order}", params)]
    out["unit_inbox"] = inbox
    overdue: dict[str, list] = {}
    for r in sql.query(
        f"SELECT {', '.join(COLS)} FROM cg_cases WHERE {cond} AND due_at < ?{order}",
        [*params, ts(now)],
    ):
        item = _item(r, city, now)
        overdue.setdefault(item["unit"], []).append(item)
    out["overdue_by_unit"] = overdue
    out["counts"] = {k: len(v) for k, v in out.get("queues", {}).items()} | {
        "unit_inbox": len(inbox), "overdue": sum(len(v) for v in overdue.values())}
    return out
