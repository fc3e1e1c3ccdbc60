"""Work queues (待办): what waits on the center and on each unit, ordered by due time."""

from __future__ import annotations

from datetime import datetime

from domain.city import City
from domain.lifecycle import QUEUES, UNIT_STATES
from domain.times import as_zone
from projections.ports import Sql
from projections.times import from_ts, ts
from projections.trail import assists, case_events

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


def assist_inbox(sql: Sql, city: City, unit: str) -> list[dict]:
    """The open cases where `unit` is an assisting unit (协办) still owing its feedback on the
    current dispatch, earliest assist due time first."""
    city.unit(unit)
    marks = ",".join("?" * len(UNIT_STATES))
    ids = [r[0] for r in sql.query(
        "SELECT DISTINCT t.case_id FROM cg_trail t JOIN cg_cases c ON c.case_id = t.case_id"
        f" WHERE t.type = 'AssistRequested' AND t.detail LIKE ? AND c.state IN ({marks})",
        [f'%"{unit}"%', *UNIT_STATES])]
    out = []
    for cid, events in case_events(sql, ids).items():
        rows = assists(events, city)
        last = max((r["dispatch"] for r in rows), default=0)
        dispatches = sum(e["type"] == "Dispatched" for e in events)
        for r in rows:
            if (r["unit"] == unit and r["dispatch"] == last == dispatches
                    and not r["answered_at"] and not r["waived"]):
                numbers = sql.query("SELECT number, state, category, grid FROM cg_cases"
                                    " WHERE case_id = ?", (cid,))
                number, state, category, grid = numbers[0]
                out.append({"case_id": cid, "number": number, "state": state,
                            "category": category, "grid": grid, "lead": r["lead"],
                            "assist_due_at": r["due_at"], "missed": r["missed"]})
    return sorted(out, key=lambda d: (d["assist_due_at"] or "9", d["case_id"]))
