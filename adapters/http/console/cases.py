"""Cases in the console: the center's queues, a unit's inbox, the case list, a case's page
with one form per step the viewer may take, and the report form (上报)."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import quote

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse

from adapters.http import reads
from adapters.http.access import TRAIL_READERS, Forbidden, check_write, unit_scope
from adapters.http.api.bodies import ActionBody
from adapters.http.api.commands import act
from adapters.http.api.deps import note
from adapters.http.api.views import ACTIONS, case_detail
from adapters.http.console.pages import (
    NEAR_MINUTES,
    SHORT,
    cgrid,
    due_class,
    page,
    posted_form,
    router,
    viewer,
)
from adapters.http.errors import status_of
from adapters.views import EVENT_ZH
from domain.city import User
from domain.errors import CasegridError, ValidationError
from domain.glossary import CHANNEL, zh_of
from domain.lifecycle import CHANNELS, CLOSURE_TYPES, RATINGS, STATES
from domain.times import local_format, optional_time
from projections.cases import list_cases
from projections.times import from_ts
from workflows.commands import ReportCase

MY_QUEUES = {
    "supervisor": ["verification", "check"],
    "acceptor": ["filing", "closure", "verification"],
    "duty_chief": ["extension_decision", "shelve_decision", "filing", "closure"],
    "dispatcher": ["dispatch", "extension_decision"],
}
ROWS_PER_QUEUE = 100


def decorate(items: list[dict], now: datetime) -> list[dict]:
    """Give each queue item its due-time colour."""
    for it in items:
        it["due_class"] = due_class(it.get("due_at"), now)
    return items


@router.get("/queues")
def queues_page(request: Request):
    user = viewer(request)
    if user.role == "unit_member":
        return RedirectResponse("/inbox", status_code=303)
    if user.role == "channel":
        raise Forbidden("the queues are for the center's roles", role=user.role)
    cg = cgrid(request)
    request.app.state.follower.ensure()
    now = cg.service.clock()
    data = reads.queues(cg, unit=None, now=now)
    mine = MY_QUEUES.get(user.role, [])
    order = mine + [q for q in data["queues"] if q not in mine]
    qs = [{"name": q, "mine": q in mine, "total": len(data["queues"].get(q, [])),
           "overdue": sum(1 for i in data["queues"].get(q, []) if i.get("overdue")),
           "rows": decorate(data["queues"].get(q, [])[:ROWS_PER_QUEUE], now)} for q in order]
    overdue = sorted(((u, len(v)) for u, v in data.get("overdue_by_unit", {}).items()),
                     key=lambda x: -x[1])
    return page(request, "queues.html", user=user, queues=qs, overdue=overdue, now=now,
                near=NEAR_MINUTES)


@router.get("/inbox")
def inbox_page(request: Request):
    user = viewer(request)
    cg = cgrid(request)
    unit = unit_scope(user, None) if user.role == "unit_member" else request.query_params.get("unit")
    if unit is None:
        return RedirectResponse("/queues", status_code=303)
    request.app.state.follower.ensure()
    now = cg.service.clock()
    data = reads.queues(cg, unit=unit, now=now)
    items = decorate(list(data.get("unit_inbox", [])), now)
    return page(request, "inbox.html", user=user, unit=unit, items=items, now=now,
                near=NEAR_MINUTES)


@router.get("/cases")
def cases_page(request: Request, state: str | None = None, unit: str | None = None,
               limit: int = 100):
    user = viewer(request)
    cg = cgrid(request)
    unit = unit_scope(user, unit or None)
    state = state or None
    if state is not None and state not in STATES:
        raise ValidationError("state", f"'{state}' is not one of {', '.join(STATES)}")
    request.app.state.follower.ensure()
    rows = list_cases(cg.sql, state=state, unit=unit, limit=max(1, min(limit, 1000)))
    now = cg.service.clock()
    for r in rows:
        r["due_class"] = due_class(from_ts(r["due_at"]) if r["due_at"] else None, now)
        r["due_local"] = local_format(r["due_at"], cg.city.tz, SHORT)
        r["reported_local"] = local_format(r["reported_at"], cg.city.tz, SHORT)
    return page(request, "cases.html", user=user, rows=rows, state=state, unit=unit,
                states=STATES, units=cg.city.units, pinned=user.role == "unit_member")


def case_page_for(request: Request, user: User, case_id: str, *, status: int = 200,
                  error: dict | None = None, form: dict | None = None):
    """A case's page (as of ?as_of=), with a refused step's error and form when given."""
    cg = cgrid(request)
    note(request, case_id=case_id)
    as_of = optional_time(request.query_params.get("as_of"), "as_of", cg.city.tz)
    detail = case_detail(cg, user, case_id, as_of)
    now = cg.service.clock()
    c = detail["case"]
    c["due_class"] = due_class(c["due_at"], now) if c["step"] else ""
    suggested = detail["dispatch_suggestion"]
    return page(request, "case.html", status=status, user=user, c=c, timeline=detail["timeline"],
                allowed=detail["allowed"], suggestion=suggested, units=cg.city.units,
                closure_types=CLOSURE_TYPES, ratings=RATINGS, error=error, form=form or {},
                done=request.query_params.get("done"), event_zh=EVENT_ZH, near=NEAR_MINUTES,
                channel_zh=zh_of(CHANNEL),
                as_of=request.query_params.get("as_of"),
                trail_ok=user.role in TRAIL_READERS or user.role == "unit_member")


@router.get("/cases/{case_id}")
def case_page(request: Request, case_id: str):
    return case_page_for(request, viewer(request), case_id)


def flag(value) -> bool | None:
    """A form's yes/no field (None when not given)."""
    if value in (None, ""):
        return None
    return str(value) in ("1", "true", "yes", "on", "passed", "approve")


@router.post("/cases/{case_id}/act/{action}")
async def case_act(request: Request, case_id: str, action: str):
    user = viewer(request)
    cg = cgrid(request)
    form = await posted_form(request)
    if action not in ACTIONS:
        raise ValidationError("action", f"'{action}' is not one of {', '.join(ACTIONS)}")
    evidence = [e.strip() for e in str(form.get("evidence") or "").split() if e.strip()]
    version = str(form.get("expected_version") or "")
    body = ActionBody(
        unit=form.get("unit") or None, passed=flag(form.get("passed")),
        approve=flag(form.get("approve")), reason=form.get("reason") or None,
        extra=form.get("extra") or None, closure_type=form.get("closure_type") or None,
        rating=form.get("rating") or None, evidence=evidence,
        expected_version=int(version) if version.isdigit() else None)
    try:
        await run_in_threadpool(act, cg, user, case_id, ACTIONS[action], body)
    except CasegridError as e:
        status, error = status_of(e), e.to_dict() | {"action": action}
        return await run_in_threadpool(
            lambda: case_page_for(request, user, case_id, status=status, error=error,
                                  form=dict(form)))
    return RedirectResponse(f"/cases/{case_id}?done={quote(action)}", status_code=303)


def channels_for(user: User) -> list[str]:
    """The channels the user's role may report through."""
    return [c for c, v in CHANNELS.items() if user.role in v["roles"]]


@router.get("/report")
def report_form(request: Request):
    user = viewer(request)
    return report_page(request, user)


def report_page(request: Request, user: User, status: int = 200, error=None, form=None):
    cg = cgrid(request)
    cells = [(code, cg.city.areas.get(c.community, "")) for code, c in sorted(cg.city.cells.items())]
    cats = sorted(cg.city.categories.values(), key=lambda c: c.code)
    return page(request, "report.html", status=status, user=user, channels=channels_for(user),
                channel_zh=zh_of(CHANNEL),
                as_of=request.query_params.get("as_of"), cells=cells, cats=cats,
                error=error, form=form or {})


@router.post("/report")
async def report_post(request: Request):
    user = viewer(request)
    cg = cgrid(request)
    form = await posted_form(request)
    evidence = [e.strip() for e in str(form.get("evidence") or "").split() if e.strip()]

    def run():
        if user.role == "inspector":
            check_write(user, "report")
        lat = float(form["lat"]) if form.get("lat") else None
        lon = float(form["lon"]) if form.get("lon") else None
        return cg.service.report(ReportCase(
            channel=str(form.get("channel") or ""), category=str(form.get("category") or ""),
            grid=str(form.get("grid") or ""), actor=user.id,
            description=str(form.get("description") or ""),
            urgency=str(form.get("urgency") or "normal"), lat=lat, lon=lon, evidence=evidence))

    try:
        case = await run_in_threadpool(run)
    except CasegridError as e:
        return report_page(request, user, status_of(e), e.to_dict(), dict(form))
    except ValueError as e:
        return report_page(request, user, 422, {"field": "lat", "rule": str(e)}, dict(form))
    return RedirectResponse(f"/cases/{case.id}?done=report", status_code=303)
