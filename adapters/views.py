"""Plain-dict views of cases and events, for --json output and the terminal."""

from __future__ import annotations

from dataclasses import fields, is_dataclass
from datetime import datetime
from uuid import UUID

from domain.case import Case
from domain.case_callback import PROTECTED
from domain.city import City
from domain.glossary import EVENT, zh_of
from domain.lifecycle import STATES
from domain.times import local_text

COMMON = ("originator_id", "originator_version", "timestamp", "originator_topic")
EVENT_ZH = zh_of(EVENT)


def jsonable(v):
    if isinstance(v, datetime):
        return v.isoformat()
    if isinstance(v, UUID):
        return str(v)
    if isinstance(v, (list, tuple)):
        return [jsonable(x) for x in v]
    if isinstance(v, dict):
        return {k: jsonable(x) for k, x in v.items()}
    return v


def event_view(e: Case.Event, city: City) -> dict:
    out = {
        "version": e.originator_version,
        "type": type(e).__name__,
        "zh": EVENT_ZH.get(type(e).__name__, ""),
        "occurred_at": local_text(e.occurred_at, city.tz),
        "recorded_at": local_text(e.timestamp, city.tz),
    }
    if is_dataclass(e):
        for f in fields(e):
            if f.name not in COMMON and f.name != "occurred_at" and f.name not in PROTECTED:
                out[f.name] = jsonable(getattr(e, f.name))
    out["due_at"] = local_text(e.due_at, city.tz)
    if type(e).__name__ == "DeadlineMissed":
        out["missed_due_at"] = local_text(e.missed_due_at, city.tz)
    return out


def case_view(case: Case, city: City, holder, now: datetime | None = None) -> dict:
    cat = city.categories.get(case.category)
    cell = city.cells.get(case.grid)
    out = {
        "case_id": str(case.id),
        "number": case.number,
        "version": case.version,
        "state": case.state,
        "state_zh": STATES[case.state]["zh"],
        "channel": case.channel,
        "category": case.category,
        "category_name": cat.name if cat else None,
        "grid": case.grid,
        "community": city.areas.get(cell.community) if cell else None,
        "squad": cell.squad if cell else None,
        "urgency": case.urgency,
        "description": case.description,
        "lat": case.lat,
        "lon": case.lon,
        "evidence": list(case.evidence),
        "external_id": case.external_id,
        "reporter": case.reporter,
        "reported_at": local_text(case.reported_at, city.tz),
        "unit": case.unit,
        "routing_rule": case.routing_rule,
        "holder": f"{holder[0]}:{holder[1]}" if holder else None,
        "step": case.step,
        "step_started_at": local_text(case.step_started_at, city.tz),
        "due_at": local_text(case.due_at, city.tz),
        "overdue": bool(case.due_at and now and now > case.due_at),
        "missed_steps": list(case.missed_steps),
        "returns": case.returns,
        "reworks": case.reworks,
        "extensions": case.extensions,
        "urgings": case.urgings,
        "closure_type": case.closure_type,
        "rating": case.rating,
        "callbacks": list(case.callbacks),  # 回访: the citizen's ratings, in order
        "last_at": local_text(case.last_at, city.tz),
        "merged_into": case.merged_into,  # 合并: the original this duplicate was merged into
        "duplicates": [{**d, "reported_at": local_text(d["reported_at"], city.tz)}
                       for d in case.duplicates],  # the reports merged into this case
    }
    return out


def city_summary(city: City) -> dict:
    """The loaded configuration in a few numbers (config show, GET /api/config)."""
    return {
        "name": city.name, "timezone": str(city.tz), "cells": len(city.cells),
        "communities": sum(1 for c in city.areas if len(c) == 12),
        "categories": len(city.categories), "units": len(city.units),
        "routing_rules": len(city.routing), "time_limits": len(city.time_limits),
        "users": len(city.users), "day_minutes": city.calendar.day_minutes,
    }
