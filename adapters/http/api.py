"""JSON API: every command and query of the CLI, with authentication and the lifecycle's roles.

The actor of every command is the authenticated user: a body cannot name someone else.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from adapters.bootstrap import Casegrid
from adapters.http import csrf, reads
from adapters.http.access import (
    CENTER_READERS,
    TRAIL_READERS,
    Forbidden,
    check_read_case,
    check_write,
    require_role,
    unit_scope,
)
from adapters.http.auth import AuthError, Session
from adapters.views import case_view, city_summary, event_view, jsonable
from domain.calendar import month_range
from domain.city import User
from domain.errors import NotFoundError, ValidationError
from domain.glossary import TRIGGER, zh_of
from domain.lifecycle import CHANNELS, CLOSURE_TYPES, RATINGS, STATES, UNIT_STATES
from domain.machine import allowed_triggers
from domain.times import MAX_PERIOD_DAYS, local_text
from projections.cases import list_cases
from workflows.commands import CaseAction, ReportCase
from workflows.service import parse_case_id

router = APIRouter(prefix="/api")
COOKIE = "cg_session"
log = structlog.get_logger("casegrid.http")

# CLI action name -> lifecycle trigger (the same names as `casegrid case <action>`)
ACTIONS = {
    "verify": "verify", "file": "file", "refuse": "refuse", "dispatch": "dispatch",
    "return": "return", "request-extension": "request_extension",
    "decide-extension": "decide_extension", "shelve": "request_shelve",
    "decide-shelve": "decide_shelve", "resolve": "resolve", "check": "check", "close": "close",
    "evaluate": "evaluate", "urge": "urge",
}
ACTION_OF = {t: a for a, t in ACTIONS.items()}
TRIGGER_ZH = zh_of(TRIGGER)


# ---------------------------------------------------------------- who is calling


def current_session(request: Request) -> Session:
    """The caller's session: a Bearer token, else the console's cookie, which for a
    state-changing request also needs the session's CSRF token or this server's Origin."""
    auth = request.app.state.auth
    h = request.headers.get("authorization", "")
    if h.lower().startswith("bearer "):
        session = auth.session(h[7:].strip())
    else:
        token = request.cookies.get(COOKIE)
        if not token:
            raise AuthError("send 'Authorization: Bearer <token>' (get one from POST /api/login)")
        session = auth.session(token)
        if session.session_id:
            csrf.check_cookie_api(request, auth.csrf_token(session.session_id))
    note(request, user=session.user.id, role=session.user.role)
    return session


def current_user(request: Request) -> User:
    return current_session(request).user


def client_of(request: Request) -> str | None:
    """The client address for login throttling (uvicorn applies X-Forwarded-For only from
    its trusted proxies, --forwarded-allow-ips)."""
    return request.client.host if request.client else None


def note(request: Request, **fields: Any) -> None:
    """Fields for this request's log line (user, role, case_id) and for structlog inside it."""
    request.scope.setdefault("cg_log", {}).update(fields)
    structlog.contextvars.bind_contextvars(**fields)


def grid_of(request: Request) -> Casegrid:
    return request.app.state.cg


Me = Annotated[User, Depends(current_user)]
Cg = Annotated[Casegrid, Depends(grid_of)]


def fresh(request: Request) -> None:
    request.app.state.follower.ensure()


# ---------------------------------------------------------------- bodies


class LoginBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user: str = Field(description="User id from the city file, e.g. acc_wang")
    password: str


class ReportBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    channel: str = Field(description=", ".join(CHANNELS))
    category: str = Field(description="Category code, e.g. E0102 (暴露垃圾)")
    grid: str = Field(description="14-digit grid cell code")
    description: str = ""
    urgency: str = "normal"
    lat: float | None = None
    lon: float | None = None
    evidence: list[str] = []
    external_id: str | None = None
    at: datetime | None = Field(None, description="Business time (default now); naive = city zone")


class ActionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    unit: str | None = Field(None, description="dispatch: member unit (default the routing rule's)")
    passed: bool | None = Field(None, description="verify, check: the outcome")
    approve: bool | None = Field(None, description="decide-extension, decide-shelve: the decision")
    reason: str | None = None
    extra: str | None = Field(None, description="request-extension: working time, e.g. 4h, 2d")
    closure_type: str | None = Field(None, description="close: " + ", ".join(CLOSURE_TYPES))
    rating: str | None = Field(None, description="evaluate: " + ", ".join(RATINGS))
    evidence: list[str] = []
    at: datetime | None = Field(None, description="Business time (default now)")
    expected_version: int | None = Field(
        None, description="The case version the client saw; 409 with the current one if stale")


# ---------------------------------------------------------------- login


@router.post("/login", tags=["auth"], responses={429: {"description": "Too many failed logins "
                                                       "for this user or address (Retry-After)"}})
def login(request: Request, body: LoginBody):
    """Exchange a user id and password for a Bearer token (valid 12 hours, or until
    `POST /api/logout`). Failed logins are throttled per user and per address (429)."""
    user = request.app.state.auth.login(body.user, body.password, client_of(request))
    note(request, user=user.id, role=user.role)
    return {"token": request.app.state.auth.issue(user), "token_type": "bearer",
            "user": user_dict(user)}


@router.get("/me", tags=["auth"])
def me(user: Me):
    return user_dict(user)


def user_dict(user: User) -> dict:
    return {"id": user.id, "name": user.name, "role": user.role, "unit": user.unit,
            "squad": user.squad}


# ---------------------------------------------------------------- commands


@router.post("/cases", status_code=201, tags=["commands"])
def report(request: Request, body: ReportBody, user: Me, cg: Cg):
    """上报: report a new problem; the reporter is the logged-in user."""
    check_write(user, "report")
    case = cg.service.report(ReportCase(
        channel=body.channel, category=body.category, grid=body.grid, actor=user.id,
        occurred_at=body.at, description=body.description, urgency=body.urgency, lat=body.lat,
        lon=body.lon, evidence=body.evidence, external_id=body.external_id))
    note(request, case_id=str(case.id))
    return {"case_id": str(case.id), "state": case.state, "state_zh": STATES[case.state]["zh"],
            "version": case.version, "due_at": _local(case.due_at, cg)}


def act(cg: Casegrid, user: User, case_id: str, trigger: str, body: ActionBody):
    """Run one lifecycle step as `user`; with expected_version, refuse a stale client (409)."""
    check_write(user, trigger)
    cmd = CaseAction(
        case_id=parse_case_id(case_id), trigger=trigger, actor=user.id, occurred_at=body.at,
        unit=body.unit, passed=body.passed, approved=body.approve, reason=body.reason,
        evidence=body.evidence, extra=body.extra, closure_type=body.closure_type,
        rating=body.rating, expected_version=body.expected_version)
    case = cg.service.get(cmd.case_id)
    check_read_case(user, case)
    check_write(user, trigger, case.state)
    return cg.service.act(cmd)  # a stale expected_version is a ConflictError (409)


def _action_endpoint(name: str, trigger: str):
    def endpoint(request: Request, case_id: str, user: Me, cg: Cg,
                 body: ActionBody | None = None):
        note(request, case_id=case_id)
        case = act(cg, user, case_id, trigger, body or ActionBody())
        return case_view(case, cg.city, cg.service.holder(case), cg.service.clock())

    endpoint.__name__ = f"case_{trigger}"
    endpoint.__doc__ = f"{TRIGGER_ZH.get(trigger, '')} ({trigger}) as the logged-in user."
    return endpoint


for _name, _trigger in ACTIONS.items():
    router.post(f"/cases/{{case_id}}/{_name}", tags=["commands"],
                summary=f"{_name}: {TRIGGER_ZH.get(_trigger, '')}")(_action_endpoint(_name, _trigger))


@router.post("/deadlines/tick", tags=["commands"])
def deadlines_tick(request: Request, user: Me, cg: Cg, now: str | None = None):
    """Record one DeadlineMissed (超时) per step past its due time (the server does this every minute)."""
    require_role(user, ("duty_chief", "system"), "the deadline tick")
    t = reads.parse_time(now, "now", cg.city)
    missed = request.app.state.follower.tick(t)
    return {"now": _local(t or cg.service.clock(), cg),
            "missed": [event_view(e, cg.city) | {"case_id": str(e.originator_id)} for e in missed]}


# ---------------------------------------------------------------- case queries


@router.get("/cases", tags=["cases"])
def cases(request: Request, user: Me, cg: Cg, state: str | None = None, unit: str | None = None,
          limit: Annotated[int, Query(ge=1, le=5000)] = 50):
    """Cases, newest first; a unit member sees only their own unit's."""
    unit = unit_scope(user, unit)
    if state is not None and state not in STATES:
        raise ValidationError("state", f"'{state}' is not one of {', '.join(STATES)}")
    if unit is not None:
        cg.city.unit(unit)
    fresh(request)
    rows = list_cases(cg.sql, state=state, unit=unit, limit=limit)
    return {"count": len(rows), "cases": [r | {"state_zh": STATES[r["state"]]["zh"]} for r in rows]}


@router.get("/cases/{case_id}", tags=["cases"])
def case_show(request: Request, case_id: str, user: Me, cg: Cg, as_of: str | None = None):
    """The case: state, holder, due times, evidence, every event, and what the caller may do now."""
    note(request, case_id=case_id)
    return case_detail(cg, user, case_id, reads.parse_time(as_of, "as_of", cg.city))


def case_detail(cg: Casegrid, user: User, case_id: str, as_of: datetime | None = None) -> dict:
    latest = cg.service.get(case_id)
    check_read_case(user, latest)
    events = cg.service.timeline(case_id, as_of=as_of)
    if not events:
        raise ValidationError("as_of", f"the case had no events recorded by {as_of.isoformat()}")
    case = latest if len(events) == latest.version else cg.app.repository.get(
        latest.id, version=events[-1].originator_version)
    now = cg.service.clock()
    view = case_view(case, cg.city, cg.service.holder(case), now)
    view["holder_name"] = holder_name(cg, view["holder"])
    view["unit_name"] = cg.city.units[case.unit].name if case.unit in cg.city.units else None
    return {"case": view, "timeline": timeline(cg, events),
            "allowed": [] if as_of else allowed_actions(user, case),
            "dispatch_suggestion": dispatch_suggestion(cg, case)}


def holder_name(cg: Casegrid, holder: str | None) -> str | None:
    if not holder:
        return None
    kind, who = holder.split(":", 1)
    if kind == "unit":
        return cg.city.units[who].name if who in cg.city.units else who
    return {"supervisor": "监督员", "acceptor": "受理员", "dispatcher": "派遣员",
            "duty_chief": "值班长"}.get(who, who)


def timeline(cg: Casegrid, events: list) -> list[dict]:
    """Every event with actor, role, the due time of the step it ended and the actual time."""
    out = []
    prev = None
    for e in events:
        v = event_view(e, cg.city)
        user = cg.city.users.get(e.actor)
        v["actor_name"] = user.name if user else e.actor
        v["recorded_at_exact"] = e.timestamp.isoformat()  # for ?as_of= links (full precision)
        if prev is not None and prev.step is not None and (e.step != prev.step or
                                                           type(e).__name__ == "DeadlineMissed"):
            v["step_ended"] = prev.step
            v["step_due_at"] = _local(prev.due_at, cg)
            v["late"] = bool(prev.due_at and e.occurred_at > prev.due_at)
        else:
            v["step_ended"] = None
            v["step_due_at"] = None
            v["late"] = False
        out.append(v)
        prev = e
    return out


def allowed_actions(user: User, case) -> list[dict]:
    """The steps this user may take on this case now (from the lifecycle definition)."""
    if user.role == "inspector":
        return []
    if user.role == "unit_member" and case.state in UNIT_STATES and case.unit != user.unit:
        return []
    out = []
    for trig in allowed_triggers(case.state, user.role):
        if trig == "report":
            continue
        out.append({"action": ACTION_OF[trig], "trigger": trig, "zh": TRIGGER_ZH.get(trig, trig)})
    return out


def dispatch_suggestion(cg: Casegrid, case) -> dict | None:
    """The routing rule (确责) that would decide the unit, and the unit it suggests."""
    cell = cg.city.cells.get(case.grid)
    rule = cg.city.route(case.category, cell) if cell else None
    if rule is None:
        return None
    unit = cg.city.units[rule.unit]
    return {"unit": rule.unit, "unit_name": unit.name, "rule": rule.id, "kind": rule.kind,
            "basis": rule.basis}


@router.get("/cases/{case_id}/dispatch-suggestion", tags=["cases"])
def case_dispatch_suggestion(request: Request, case_id: str, user: Me, cg: Cg):
    """确责: the unit the routing table suggests and the rule that made it."""
    case = cg.service.get(case_id)
    check_read_case(user, case)
    sug = dispatch_suggestion(cg, case)
    if sug is None:
        raise NotFoundError(f"routing: no rule matches {case.category} in {case.grid}")
    return sug


# ---------------------------------------------------------------- queues, scoreboards, trail


@router.get("/queues", tags=["read models"])
def queues(request: Request, user: Me, cg: Cg, unit: str | None = None,
           now: Annotated[str | None, Query(description="Treat this time as now")] = None):
    """The center's work queues (due times, overdue), or a unit's inbox for a unit member."""
    unit = unit_scope(user, unit)
    if unit is not None:
        cg.city.unit(unit)
    fresh(request)
    t = reads.parse_time(now, "now", cg.city) or cg.service.clock()
    return reads.queues(cg, unit=unit, now=t)


SERIES_MAX_DAYS = 2 * 366  # weekly points: about two years at most
Dim = Annotated[str, Query(description="unit, grid, community, street, district, squad, "
                           "supervisor, dispatcher, duty-chief")]


def _range(cg: Casegrid, start: str | None, end: str | None,
           month: str | None = None) -> tuple[date, date]:
    if month:
        return month_range(month)
    d0, d1 = reads.default_range(cg)
    s, e = reads.parse_day(start, "from", d0), reads.parse_day(end, "to", d1)
    if e < s:
        raise ValidationError("to", f"{e} is before from {s}")
    if (e - s).days > MAX_PERIOD_DAYS:
        raise ValidationError("to", f"{s} .. {e} spans more than {MAX_PERIOD_DAYS} days")
    return s, e


def _no_channel(user: User) -> None:
    if user.role == "channel":
        raise Forbidden("a channel account does not read scoreboards", role=user.role)


@router.get("/scoreboard", tags=["read models"])
def scoreboard(request: Request, user: Me, cg: Cg, by: Dim = "unit",
               start: Annotated[str | None, Query(alias="from")] = None,
               end: Annotated[str | None, Query(alias="to")] = None, as_of: str | None = None,
               month: Annotated[str | None, Query(description="YYYY-MM instead of from/to")] = None):
    """考评: counts, rates, score, grade and rank per key of a dimension, over business days."""
    _no_channel(user)
    s, e = _range(cg, start, end, month)
    fresh(request)
    return jsonable(reads.scoreboard(cg, by=by, start=s, end=e,
                                     as_of=reads.parse_time(as_of, "as_of", cg.city)))


@router.get("/scoreboard/explain", tags=["read models"])
def scoreboard_explain(request: Request, user: Me, cg: Cg, key: str, indicator: str,
                       by: Dim = "unit",
                       start: Annotated[str | None, Query(alias="from")] = None,
                       end: Annotated[str | None, Query(alias="to")] = None,
                       as_of: str | None = None,
                       month: Annotated[str | None, Query(description="YYYY-MM")] = None):
    """One figure traced to its cases: numerator and denominator with their case ids (a unit
    member sees only their own unit's case ids; the rest are counted as `hidden`)."""
    _no_channel(user)
    s, e = _range(cg, start, end, month)
    fresh(request)
    data = reads.explain(cg, by=by, key=key, indicator=indicator, start=s, end=e,
                         as_of=reads.parse_time(as_of, "as_of", cg.city))
    return jsonable(reads.scope_explain(cg, user, data))


@router.get("/scoreboard/series", tags=["read models"])
def scoreboard_series(request: Request, user: Me, cg: Cg, indicator: str, by: Dim = "unit",
                      start: Annotated[str | None, Query(alias="from")] = None,
                      end: Annotated[str | None, Query(alias="to")] = None):
    """One indicator's rate per key, week by week (for the console's charts)."""
    _no_channel(user)
    s, e = _range(cg, start, end)
    fresh(request)
    return series(cg, by=by, indicator=indicator, start=s, end=e)


def series(cg: Casegrid, *, by: str, indicator: str, start: date, end: date) -> dict:
    inds = reads.indicators()
    if inds and indicator not in inds:
        raise ValidationError("indicator", f"'{indicator}' is not one of {', '.join(inds)}")
    if (end - start).days > SERIES_MAX_DAYS:
        raise ValidationError("to", f"a weekly series spans at most {SERIES_MAX_DAYS} days "
                                    f"({start} .. {end} is longer)")
    periods = reads.weeks(start, end)
    keys: dict[str, dict] = {}
    for i, (p0, p1) in enumerate(periods):
        board = reads.scoreboard(cg, by=by, start=p0, end=p1)
        for row in board["rows"]:
            name = cg.city.units[row["key"]].short if by == "unit" and row["key"] in cg.city.units \
                else row["name"]
            k = keys.setdefault(row["key"], {"key": row["key"], "name": name,
                                             "values": [None] * len(periods)})
            k["values"][i] = row["rates"].get(indicator)
    return {"by": by, "indicator": indicator, "zh": (inds.get(indicator) or {}).get("zh"),
            "periods": [{"from": p0.isoformat(), "to": p1.isoformat()} for p0, p1 in periods],
            "series": list(keys.values())}


@router.get("/trail/cases/{case_id}", tags=["read models"])
def trail_case(request: Request, case_id: str, user: Me, cg: Cg):
    """责任倒查: who held the case when, each deadline met or missed, returns, reworks, urgings."""
    note(request, case_id=case_id)
    case = cg.service.get(case_id)
    check_read_case(user, case)
    if user.role != "unit_member":
        require_role(user, TRAIL_READERS, "the accountability trail")
    fresh(request)
    return jsonable(reads.case_trail(cg, str(case.id)))


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
    s, e = _range(cg, start, end)
    fresh(request)
    return jsonable(reads.missed_deadlines(cg, unit=unit, actor=actor, start=s, end=e))


# ---------------------------------------------------------------- configuration, projections


@router.get("/config", tags=["configuration"])
def config(user: Me, cg: Cg, full: bool = False):
    """The loaded city configuration (summary; `full=true` for the whole file)."""
    city = cg.city
    summary = city_summary(city)
    out: dict = {"summary": summary,
                 "units": {u.id: u.name for u in city.units.values()},
                 "categories": {c.code: c.name for c in city.categories.values()},
                 "channels": {k: v["zh"] for k, v in CHANNELS.items()},
                 "states": {k: v["zh"] for k, v in STATES.items()}}
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
    with follower._lock:
        done = dict.fromkeys(names, cg.projections.rebuild(names))
    return {"rebuilt": done}


def _local(t, cg: Casegrid) -> str | None:
    return local_text(t, cg.city.tz)
