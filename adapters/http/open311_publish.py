"""What Open311 publishes (the city's `open311` section, domain/open311.py): which cases
(the public channels; `open311` = citizen reports that came through this endpoint), and
each request's fields — for the public redacted and rounded, for staff keys in full."""

from __future__ import annotations

from adapters.bootstrap import Casegrid
from adapters.views import EVENT_ZH
from domain.glossary import STATE, zh
from domain.open311 import FIELDS, OPEN311, redact
from domain.times import local_text

CLOSED = ("closed", "evaluated", "voided", "merged")
CHANNEL = "citizen"  # the channel Open311 reports go in through
NOT_STEPS = ("DeadlineMissed", "ContactGiven")  # no status note: the clock, protected data


def published(cg: Casegrid, case) -> bool:
    """Whether the case is one Open311 publishes."""
    channels = cg.city.open311.public_channels
    if case.channel in channels:
        return True
    return (OPEN311 in channels and case.channel == CHANNEL
            and (case.external_id or "").startswith(f"{OPEN311}:"))


def channel_clause(cg: Casegrid) -> tuple[str, list]:
    """The published cases as an SQL condition on cg_cases, and its arguments."""
    channels = cg.city.open311.public_channels
    plain = [c for c in channels if c != OPEN311]
    parts, args = [], []
    if plain:
        parts.append(f"channel IN ({', '.join('?' for _ in plain)})")
        args += plain
    if OPEN311 in channels:
        parts.append("(channel = ? AND external_id LIKE ?)")
        args += [CHANNEL, f"{OPEN311}:%"]
    return ("(" + " OR ".join(parts) + ")" if parts else "1 = 0"), args


def request_view(cg: Casegrid, case, staff: bool) -> dict:
    """One request as the city publishes it (staff: every field, exact, full text)."""
    pub = cg.city.open311
    tz = cg.city.tz
    events = [e for e in cg.app.events.get(case.id, desc=True, limit=4)
              if type(e).__name__ not in NOT_STEPS]
    last = events[0] if events else None
    notes = None
    if last is not None:
        name = type(last).__name__
        notes = f"{EVENT_ZH.get(name, name)} → {zh(STATE, case.state)}"
        if getattr(last, "reason", None) and pub.reasons(staff):
            notes += f"：{last.reason}"
    cat = cg.city.categories.get(case.category)
    cell = cg.city.cells.get(case.grid)
    unit = cg.city.units.get(case.unit) if case.unit else None

    def coord(v):
        return v if staff or v is None else round(v, pub.coordinate_decimals)

    full = {
        "service_request_id": str(case.id),
        "status": "closed" if case.state in CLOSED else "open",
        "status_notes": notes,
        "service_name": cat.name if cat else case.category,
        "service_code": case.category,
        "description": case.description if staff else redact(case.description),
        "agency_responsible": unit.name if unit else None,
        "service_notice": zh(STATE, case.state),
        "requested_datetime": local_text(case.reported_at, tz),
        "updated_datetime": local_text(case.last_at, tz),
        "expected_datetime": local_text(case.due_at, tz),
        "address": f"{cg.city.areas.get(cell.community, '')} 网格 {case.grid}" if cell else None,
        "address_id": case.grid,
        "zipcode": None,
        "lat": coord(case.lat),
        "long": coord(case.lon),
        "media_url": case.evidence[0] if case.evidence else None,
    }
    shown = pub.fields(staff)
    out = {k: full[k] for k in FIELDS if k in shown}
    if case.merged_into:  # 合并: GeoReport v2 has no field for it (docs/api.md, Open311)
        if "status_notes" in shown:
            out["status_notes"] = f"重复案件，已并入 {case.merged_into} (duplicate of {case.merged_into})"
        out["merged_into"] = out["duplicate_of"] = case.merged_into
    return out
