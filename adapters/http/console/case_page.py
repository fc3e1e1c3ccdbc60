"""A case's page: its facts, timeline and one form per step the viewer may take; the
posted step goes through the same command as the JSON API."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse

from adapters.http.access import TRAIL_READERS
from adapters.http.api.bodies import ActionBody
from adapters.http.api.commands import act
from adapters.http.api.deps import note
from adapters.http.api.views import ACTIONS, case_detail
from adapters.http.console.pages import (
    NEAR_MINUTES,
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
from domain.lifecycle import CLOSURE_TYPES, RATINGS
from domain.times import optional_time


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
