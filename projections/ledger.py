"""Facts for the rewards-and-penalties ledger, read from the trail (cg_trail), and the ledger.

The ledger itself is `domain.policy.evaluate`, a pure function: this module only reads
what it needs (each case's events, the period's scoreboards) and hands them over. Nothing
is written, so `--policy OTHER_FILE` is a what-if that leaves the store untouched.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime

from domain.city import City
from domain.policy import CaseFact, Inputs, Policy, evaluate, year_start
from domain.times import as_zone
from projections.ports import Sql
from projections.scoreboard import scoreboard
from projections.times import from_ts, ts
from projections.trail import case_events, day_bounds


def case_facts(sql: Sql, city: City, start: date, end: date,
               describe: Callable[[str], str] | None = None,
               want_description: Callable[[str], bool] = lambda category: False,
               as_of: datetime | None = None) -> list[CaseFact]:
    """One CaseFact per case reported in [start, end] (city days), from its events recorded
    so far (or up to as_of)."""
    lo, hi = day_bounds(start, end, city)
    cutoff = ts(as_of)
    cond, params = "", [lo, hi]
    if cutoff:
        cond, params = " AND recorded_at <= ?", [lo, hi, cutoff]
    ids = [r[0] for r in sql.query(
        "SELECT case_id FROM cg_trail WHERE type = 'Reported' AND occurred_at >= ? AND occurred_at < ?"
        + cond, params)]
    out = []
    for cid, all_evs in sorted(case_events(sql, ids).items()):
        evs = [e for e in all_evs if not cutoff or e["recorded_at"] <= cutoff]
        rep = evs[0]
        d = rep["detail"]
        at = from_ts(rep["occurred_at"])
        cell = city.cells.get(d.get("grid"))
        f = CaseFact(
            case_id=cid, reported_at=at, day=as_zone(at, city.tz).date(),
            channel=d.get("channel"), category=d.get("category"), grid=d.get("grid"),
            community=cell.community if cell else None, street=cell.street if cell else None,
            squad=cell.squad if cell else None, reporter=rep["actor"], reporter_role=rep["role"],
            urgency=d.get("urgency") or "normal", external_id=d.get("external_id"))
        for e in evs[1:]:
            t = e["type"]
            when = from_ts(e["occurred_at"])
            f.first.setdefault(t, when)
            if e["reason"]:
                f.reasons.append(e["reason"])
            if t == "Verified":
                f.confirmed = bool(e["detail"].get("confirmed"))
            elif t == "Filed":
                f.filed = True
            elif t == "Refused":
                f.voided = True
            elif t == "Dispatched":
                f.unit = e["detail"].get("unit")
            elif t == "Returned":
                f.unit = None
        if describe is not None and want_description(f.category):
            f.description = describe(cid) or ""
        out.append(f)
    return out


def describer(app) -> Callable[[str], str]:
    """The description of a case's Reported event, read from the event store."""
    from uuid import UUID

    def describe(case_id: str) -> str:
        for e in app.events.get(UUID(case_id), limit=1):
            return getattr(e, "description", "") or ""
        return ""

    return describe


def boards(sql: Sql, city: City, start: date, end: date, dims=("unit", "community", "squad", "street"),
           as_of: datetime | None = None):
    return {by: scoreboard(sql, city, by=by, start=start, end=end, as_of=as_of)["rows"]
            for by in dims}


def ledger(sql: Sql, city: City, policy: Policy, start: date, end: date, now: datetime,
           app=None, as_of: datetime | None = None) -> dict:
    """The period's ledger under `policy` (grades from the policy's scoring, if it has one),
    from the events recorded so far, or up to `as_of` (the ledger as it stood then)."""
    scored = policy.city_for_scoring(city)
    cats = [c for r in policy.rules if r.kind == "illegal_construction_24h"
            for c in r.params["categories"]]

    def want(category: str) -> bool:
        return any(c == "*" or category.startswith(c) for c in cats)

    describe = describer(app) if app is not None else None
    facts = case_facts(sql, city, start, end, describe, want, as_of=as_of)
    year = None
    if any(r.kind == "no_major_incident_year" and r.params["month"] in ("*", end.month)
           for r in policy.rules):
        year = case_facts(sql, city, year_start(end), end, as_of=as_of)
    inp = Inputs(city=city, start=start, end=end, now=now, cases=facts, year_cases=year,
                 boards=boards(sql, scored, start, end, as_of=as_of))
    out = evaluate(policy, inp)
    out["as_of"] = as_of.isoformat() if as_of else None
    return out
