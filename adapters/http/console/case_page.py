"""A case's page: its facts, timeline and one form per step the viewer may take; the
posted step goes through the same command as the JSON API."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse

from adapters.http import reads
from adapters.http.access import TRAIL_READERS
from adapters.http.api.bodies import ActionBody
from adapters.http.api.commands import act
from adapters.http.api.deps import note
from adapters.http.api.views import ACTIONS, case_detail
from adapters.http.console.case_actions import arrange, done_message, holder_label
from adapters.http.console.evidence_form import photo_refs, typed_refs
from adapters.http.console.pages import (
    NEAR_MINUTES,
    cgrid,
    due_class,
    lang_of,
    page,
    posted_form,
    router,
    viewer,
)
from adapters.http.duplicates import panel as merge_panel
from adapters.http.errors import status_of
from adapters.http.i18n import word
from domain.city import User
from domain.errors import CasegridError, ValidationError
from domain.glossary import CLOSURE_TYPE, EVENT, OUTCOME, RATING, ROLE, RULE_KIND, URGENCY, label
from domain.times import optional_time
from workflows.numbering import is_number


def case_page_for(request: Request, user: User, case_id: str, *, status: int = 200,
                  error: dict | None = None, form: dict | None = None):
    """A case's page (as of ?as_of=), with a refused step's error and form when given."""
    cg = cgrid(request)
    lang = lang_of(request)
    note(request, case_id=case_id)
    as_of = optional_time(request.query_params.get("as_of"), "as_of", cg.city.tz)
    detail = case_detail(cg, user, case_id, as_of)
    now = cg.service.clock()
    c = detail["case"]
    c["due_class"] = due_class(c["due_at"], now) if c["step"] else ""
    c["holder_name"] = holder_label(c["holder"], cg.city.units, lang)
    suggested = detail["dispatch_suggestion"]
    done = request.query_params.get("done")
    done_text = (done_message(ACTIONS[done], c, cg.city.units, cg.city.tz, lang)
                 if done in ACTIONS and not error else None)
    return page(request, "case.html", status=status, user=user, c=c,
                timeline=read_timeline(detail["timeline"], lang),
                allowed=arrange([a for a in detail["allowed"] if a["trigger"] != "merge"], lang), suggestion=suggested,
                units=cg.city.units, closure_types=choices(CLOSURE_TYPE, lang),
                ratings=choices(RATING, lang), urgency=label(URGENCY, c["urgency"], lang),
                rule_kind=label(RULE_KIND, suggested["kind"], lang) if suggested else None,
                error=error, form=form or {}, done=done if done_text else None,
                done_text=done_text, near=NEAR_MINUTES,
                as_of=request.query_params.get("as_of"),
                trail_ok=user.role in TRAIL_READERS or user.role == "unit_member",
                dup=None if as_of else merge_panel(cg, user, c["case_id"], lang),
                members=unit_members(cg, c["unit"]))


def unit_members(cg, unit: str | None) -> list:
    """The members of the case's unit, for 指派到人 (assign)."""
    return [u for u in cg.city.users.values() if u.role == "unit_member" and u.unit == unit]


def choices(table: dict, lang: str) -> dict[str, str]:
    """code → label in the page's language, for a select's options."""
    return {k: label(table, k, lang) for k in table}


def read_timeline(events: list[dict], lang: str) -> list[dict]:
    """The timeline as a person reads it: each event's name in the page's language, and the
    step it ended with that step's due time, marked late when the step was missed at any
    time (a deadline missed, then an extension, is still late: never a green ✓)."""
    missed: set[str] = set()
    for e in events:
        name = label(EVENT, e["type"], lang)
        if e["type"] == "Checked" and e.get("passed") is not None:
            name = label(OUTCOME, ("check", bool(e["passed"])), lang)
        elif e.get("approved") is not None:
            name += " · " + word("approve" if e["approved"] else "reject", lang)
        e["name"] = name
        if e.get("role") == "system":  # the clock, not a person: 系统 / System
            e["actor_name"] = label(ROLE, "system", lang)
        if e["type"] == "DeadlineMissed" and e.get("missed_step"):
            missed.add(e["missed_step"])
        ended = e.get("step_ended")
        if ended:
            e["late"] = bool(e.get("late")) or ended in missed
            if e["type"] != "DeadlineMissed" and e.get("step") != ended:
                missed.discard(ended)  # the step is over; a later round of it starts clean
    return events


@router.get("/cases/{case_id}")
def case_page(request: Request, case_id: str):
    user = viewer(request)
    if is_number(case_id):  # typed by a person: the case's own address
        request.app.state.follower.ensure()
        found = reads.case_key(cgrid(request), case_id)
        query = f"?{request.url.query}" if request.url.query else ""
        return RedirectResponse(f"/cases/{found}{query}", status_code=303)
    return case_page_for(request, user, case_id)


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
    evidence: list[str] = []
    version = str(form.get("expected_version") or "")
    body = ActionBody(
        unit=form.get("unit") or None, passed=flag(form.get("passed")),
        approve=flag(form.get("approve")), reason=form.get("reason") or None,
        extra=form.get("extra") or None, closure_type=form.get("closure_type") or None,
        rating=form.get("rating") or None, evidence=evidence,
        expected_version=int(version) if version.isdigit() else None)
    body.into = form.get("into") or None  # merge (合并): the original, its id or number
    body.comment = form.get("comment") or None  # 回访: the citizen's words; 协办反馈
    body.assist = list(form.getlist("assist")) or None  # 派遣: assisting units (协办)
    body.assignee = form.get("assignee") or None  # 指派到人
    try:  # typed refs, then the posted photos stored (证据材料)
        body.evidence = [*typed_refs(request, form),
                         *await photo_refs(request, user, ACTIONS[action], form)]
        await run_in_threadpool(act, cg, user, case_id, ACTIONS[action], body)
    except CasegridError as e:
        status, error = status_of(e), e.to_dict() | {"action": action}
        return await run_in_threadpool(
            lambda: case_page_for(request, user, case_id, status=status, error=error,
                                  form=dict(form)))
    return RedirectResponse(f"/cases/{case_id}?done={quote(action)}", status_code=303)
