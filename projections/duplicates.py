"""A report's possible duplicates (可能重复的案件), read from the case summaries (cg_cases).

The open cases (not closed, evaluated, voided or merged) of the same category reported
within the city's window of the report and, where both have coordinates, within its
radius; where either has none, in the same grid cell (domain/duplicates.py). Nearest
first (same-cell matches after the measured ones), then the closest in time.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from domain.city import City
from domain.duplicates import distance_m
from projections.ports import Sql
from projections.times import from_ts, ts

SHUT = ("closed", "evaluated", "voided", "merged")  # nothing merges into these
SCAN_MAX = 5000  # rows of one category and window read at most


def candidates(sql: Sql, city: City, case_id: str, category: str, grid: str,
               lat: float | None, lon: float | None, reported_at: datetime,
               photos: Callable[[str], list[str]] | None = None) -> list[dict]:
    """The possible duplicates of the case described, each with its distance in metres
    (None for a same-cell match), its age relative to this report in minutes (positive:
    reported before it) and its photos (`sha256:` refs, via `photos(case_id)`)."""
    rule = city.duplicates
    window = timedelta(hours=rule.window_hours)
    try:  # a report dated at the very edge of time (stored by an older version)
        lo, hi = ts(reported_at - window), ts(reported_at + window)
    except OverflowError:
        return []
    rows = sql.query(
        "SELECT case_id, number, state, grid, lat, lon, reported_at, unit FROM cg_cases"
        f" WHERE category = ? AND reported_at >= ? AND reported_at <= ? AND case_id <> ?"
        f" AND state NOT IN ({', '.join('?' * len(SHUT))})"
        f" ORDER BY reported_at DESC LIMIT {SCAN_MAX}",
        (category, lo, hi, str(case_id), *SHUT))
    found = []
    for cid, number, state, cell, clat, clon, rep, unit in rows:
        measured = None not in (lat, lon, clat, clon)
        if measured:
            d = distance_m(lat, lon, clat, clon)
            if d > rule.radius_m:
                continue
        elif cell != grid:
            continue
        else:
            d = None
        try:
            at = from_ts(rep)
            age = round((reported_at - at).total_seconds() / 60)
        except (ValueError, OverflowError):  # year 0 in UTC text: no candidate
            continue
        found.append({
            "case_id": str(cid), "number": number, "state": state, "grid": cell, "unit": unit,
            "distance_m": None if d is None else round(d, 1),
            "age_minutes": age,
            "reported_at": at,
        })
    found.sort(key=lambda c: (c["distance_m"] is None, c["distance_m"] or 0.0,
                              abs(c["age_minutes"])))
    found = found[:rule.limit]
    for c in found:
        c["photos"] = [p for p in (photos(c["case_id"]) if photos else [])
                       if p.startswith("sha256:")]
    return found


def candidates_of(sql: Sql, city: City, case, photos=None) -> list[dict]:
    """The possible duplicates of a Case (the aggregate, or anything with its fields)."""
    return candidates(sql, city, str(case.id), case.category, case.grid, case.lat, case.lon,
                      case.reported_at, photos)
