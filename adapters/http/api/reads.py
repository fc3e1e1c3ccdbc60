"""The read endpoints: cases, the work queues, scoreboards, the accountability trail, the
configuration and the projections' status, each scoped by the caller's role."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from adapters.http import reads as models
from adapters.http.access import (
    CENTER_READERS,
    TRAIL_READERS,
    Forbidden,
    check_read_case,
    require_role,
    unit_scope,
)
from adapters.http.api.auth import Me
from adapters.http.api.deps import Cg, fresh, note
from adapters.http.api.views import case_detail, dispatch_suggestion, period, series
from adapters.http.case_filters import parse
from adapters.http.duplicates import READERS, duplicate_candidates, merge_links
from adapters.http.read_cache import cached_json
from adapters.views import city_summary, jsonable
from domain.city import User
from domain.errors import NotFoundError, ValidationError
from domain.glossary import CHANNEL, STATE, zh, zh_of
from domain.times import optional_time
from projections.case_search import SORTS, search_cases

router = APIRouter(prefix="/api")
Dim = Annotated[str, Query(description="unit, grid, community, street, district, squad, "
                           "supervisor, dispatcher, duty-chief")]


@router.get("/cases", tags=["cases"])
def cases(request: Request, user: Me, cg: Cg, state: str | None = None, unit: str | None = None,
          q: Annotated[str | None, Query(description="in the number, description, external id")] = None,
          category: str | None = None, community: str | None = None, grid: str | None = None,
          channel: str | None = None,
          from_: Annotated[str | None, Query(alias="from", description="reported from, YYYY-MM-DD")] = None,
          to: Annotated[str | None, Query(description="reported to (inclusive), YYYY-MM-DD")] = None,
          late: Annotated[str | None, Query(description="1: overdue or missed a step; 0: neither")] = None,
          sort: Annotated[str | None, Query(description=", ".join(SORTS))] = None,
          offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
          limit: Annotated[int, Query(ge=1, le=5000)] = 50):
    """Cases the filters find, newest first, a page at a time with the total; a unit member
    sees only their own unit's."""
    unit = unit_scope(user, unit or None)  # a unit member: their own unit; a channel: 403
    pinned = unit if user.role == "unit_member" else None
    params = {"state": state, "unit": unit, "q": q, "category": category, "community": community,
              "grid": grid, "channel": channel, "from": from_, "to": to, "late": late, "sort": sort}
    f = parse({k: v for k, v in params.items() if v is not None}, cg.city, pinned_unit=pinned,
              now=cg.service.clock())
    fresh(request)
    rows, total = search_cases(cg.sql, f.query, offset=offset, limit=limit)
    return {"total": total, "offset": offset, "count": len(rows),
            "cases": [r | {"state_zh": zh(STATE, r["state"])} for r in rows]}


@router.get("/cases/{case_id}", tags=["cases"])
def case_show(request: Request, case_id: str, user: Me, cg: Cg, as_of: str | None = None):
    """The case: state, holder, due times, evidence, every event, and what the caller may do now."""
    note(request, case_id=case_id)
    return case_detail(cg, user, case_id, optional_time(as_of, "as_of", cg.city.tz))


@router.get("/cases/{case_id}/dispatch-suggestion", tags=["cases"])
def case_dispatch_suggestion(request: Request, case_id: str, user: Me, cg: Cg):
    """确责: the unit the routing table suggests and the rule that made it."""
    case = cg.service.get(models.case_key(cg, case_id))
    check_read_case(user, case)
    sug = dispatch_suggestion(cg, case)
    if sug is None:
        raise NotFoundError(f"routing: no rule matches {case.category} in {case.grid}")
    return sug


@router.get("/cases/{case_id}/duplicates", tags=["cases"])
def case_duplicates(request: Request, case_id: str, user: Me, cg: Cg):
    """可能重复: open cases of the same category near this one (the city's radius, or its
    grid cell without coordinates) reported within the city's window, with distance, age
    and photos; and the merge links both ways (merged_into, duplicates)."""
    note(request, case_id=case_id)
    require_role(user, READERS, "possible duplicates")
    case = cg.service.get(models.case_key(cg, case_id))
    return {"case_id": str(case.id), "number": case.number, "state": case.state,
            "candidates": jsonable(duplicate_candidates(cg, case)), **merge_links(cg, case)}


def assisting(cg, unit: str) -> list[dict]:
    """The cases `unit` assists (协办) and still owes feedback on; none without the read
    models' queues module."""
    try:
        return models.projection_module("queues").assist_inbox(cg.sql, cg.city, unit)
    except models.Unavailable:
        return []


@router.get("/queues", tags=["read models"])
def queues(request: Request, user: Me, cg: Cg, unit: str | None = None,
           now: Annotated[str | None, Query(description="Treat this time as now")] = None):
    """The center's work queues (due times, overdue), or a unit's inbox for a unit member."""
    unit = unit_scope(user, unit)
    if unit is not None:
        cg.city.unit(unit)
    fresh(request)
    t = optional_time(now, "now", cg.city.tz) or cg.service.clock()
    out = models.queues(cg, unit=unit, now=t)
    if unit is not None:  # 协办: the cases this unit assists and still owes feedback on
        out["assist_inbox"] = assisting(cg, unit)
    return out


def no_channel(user: User) -> None:
    if user.role == "channel":
        raise Forbidden("a channel account does not read scoreboards", role=user.role)


@router.get("/scoreboard", tags=["read models"])
def scoreboard(request: Request, user: Me, cg: Cg, by: Dim = "unit",
               start: Annotated[str | None, Query(alias="from")] = None,
               end: Annotated[str | None, Query(alias="to")] = None, as_of: str | None = None,
               month: Annotated[str | None, Query(description="YYYY-MM instead of from/to")] = None):
    """考评: counts, rates, score, grade and rank per key of a dimension, over business days."""
    no_channel(user)
    if as_of is None:  # the same bytes while no event is recorded (adapters/http/read_cache.py)
        today = cg.service.clock().astimezone(cg.city.tz).date()

        def board():
            s, e = period(cg, start, end, month)
            return models.scoreboard(cg, by=by, start=s, end=e)
        return cached_json(request, ("scoreboard", by, start, end, month, today), board)
    s, e = period(cg, start, end, month)
    fresh(request)
    return jsonable(models.scoreboard(cg, by=by, start=s, end=e,
                                      as_of=optional_time(as_of, "as_of", cg.city.tz)))


@router.get("/scoreboard/explain", tags=["read models"])
def scoreboard_explain(request: Request, user: Me, cg: Cg, key: str, indicator: str,
                       by: Dim = "unit",
                       start: Annotated[str | None, Query(alias="from")] = None,
                       end: Annotated[str | None, Query(alias="to")] = None,
                       as_of: str | None = None,
                       month: Annotated[str | None, Query(description="YYYY-MM")] = None):
    """One figure traced to its cases: numerator and denominator with their case ids (a unit
    member sees only their own unit's case ids; the rest are counted as `hidden`)."""
    no_channel(user)
    s, e = period(cg, start, end, month)
    fresh(request)
    data = models.explain(cg, by=by, key=key, indicator=indicator, start=s, end=e,
                          as_of=optional_time(as_of, "as_of", cg.city.tz))
    return jsonable(models.scope_explain(cg, user, data))


@router.get("/scoreboard/series", tags=["read models"])
def scoreboard_series(request: Request, user: Me, cg: Cg, indicator: str, by: Dim = "unit",
                      start: Annotated[str | None, Query(alias="from")] = None,
                      end: Annotated[str | None, Query(alias="to")] = None):
    """One indicator's rate per key, week by week (for the console's charts)."""
    no_channel(user)
    s, e = period(cg, start, end)
    fresh(request)
    return series(cg, by=by, indicator=indicator, start=s, end=e)


@router.get("/trail/cases/{case_id}", tags=["read models"])
def trail_case(request: Request, case_id: str, user: Me, cg: Cg):
    """责任倒查: who held the case when, each deadline met or missed, returns, reworks, urgings."""
    note(request, case_id=case_id)
    case = cg.service.get(models.case_key(cg, case_id))
    check_read_case(user, case)
    if user.role != "unit_member":
        require_role(user, TRAIL_READERS, "the accountability trail")
    fresh(request)
    return jsonable(models.case_trail(cg, str(case.id)))


@router.get("/trail/misses", tags=["read models"])
def trail_misses(request: Request, user: Me, cg: Cg, unit: str | None = None,
                 actor: str | None = None,
                 start: Annotated[str | None, Query(alias="from")] = None,
                 end: Annotated[str | None, Query(alias="to")] = None):
    """Missed deadlines (超时) per unit or person, with who held the case."""
    if user.role == "unit_member":
        unit = unit_scope(user, unit)
    else:
        require_role(user, TRAIL_READERS, "the accountability trail")
    if unit is not None:
        cg.city.unit(unit)
    if actor is not None:
        cg.city.user(actor, "actor")
    s, e = period(cg, start, end)
    fresh(request)
    return jsonable(models.missed_deadlines(cg, unit=unit, actor=actor, start=s, end=e))


@router.get("/config", tags=["configuration"])
def config(user: Me, cg: Cg, full: bool = False):
    """The loaded city configuration (summary; `full=true` for the whole file)."""
    city = cg.city
    summary = city_summary(city)
    out: dict = {"summary": summary,
                 "units": {u.id: u.name for u in city.units.values()},
                 "categories": {c.code: c.name for c in city.categories.values()},
                 "channels": zh_of(CHANNEL),
                 "states": zh_of(STATE)}
    if full:
        if user.role == "channel":
            raise Forbidden("the full configuration (users, units, routing) is not for channel "
                            "accounts", role=user.role, field="full")
        out["config"] = jsonable(city.raw)
    return out


@router.get("/projections/status", tags=["read models"])
def projections_status(user: Me, cg: Cg):
    """Each projection's position and lag (events, seconds)."""
    require_role(user, CENTER_READERS, "projection status")
    return {"projections": cg.projections.status()}


@router.post("/projections/rebuild", tags=["read models"])
def projections_rebuild(request: Request, user: Me, cg: Cg,
                        name: str | None = None):
    """Drop and replay a projection (or all) from the event log (duty chief)."""
    require_role(user, ("duty_chief",), "rebuilding projections")
    names = [name] if name else list(cg.projections.projections)
    if name and name not in cg.projections.projections:
        raise ValidationError("name", f"'{name}' is not one of {', '.join(cg.projections.projections)}")
    follower = request.app.state.follower
    with follower.lock:
        done = dict.fromkeys(names, cg.projections.rebuild(names))
        request.app.state.read_cache.clear()  # answers read while the tables were refilled
    return {"rebuilt": done}
