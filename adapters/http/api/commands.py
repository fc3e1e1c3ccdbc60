"""The case commands over HTTP: report, one endpoint per lifecycle step (the CLI's action
names), and the deadline tick. The actor is always the logged-in user."""

from __future__ import annotations

from fastapi import APIRouter, Request

from adapters.bootstrap import Casegrid
from adapters.http import reads
from adapters.http.access import check_read_case, check_write, require_role
from adapters.http.api.auth import Me
from adapters.http.api.bodies import ActionBody, ReportBody
from adapters.http.api.deps import Cg, note
from adapters.http.api.views import ACTIONS, TRIGGER_ZH
from adapters.views import case_view, event_view
from domain.city import User
from domain.errors import NotFoundError, ValidationError
from domain.glossary import STATE, zh
from domain.times import local_text, optional_time
from workflows.commands import CaseAction, ReportCase
from workflows.service import parse_case_id

router = APIRouter(prefix="/api", tags=["commands"])


@router.post("/cases", status_code=201)
def report(request: Request, body: ReportBody, user: Me, cg: Cg):
    """上报: report a new problem; the reporter is the logged-in user."""
    check_write(user, "report")
    case = request.app.state.reports.report(ReportCase(  # group commit: report_batch.py
        channel=body.channel, category=body.category, grid=body.grid, actor=user.id,
        occurred_at=body.at, description=body.description, urgency=body.urgency, lat=body.lat,
        lon=body.lon, evidence=body.evidence, external_id=body.external_id,
        idempotency_key=body.idempotency_key, reporter_name=body.reporter_name,
        reporter_phone=body.reporter_phone))
    note(request, case_id=str(case.id))
    return {"case_id": str(case.id), "number": case.number, "state": case.state, "state_zh": zh(STATE, case.state),
            "version": case.version, "due_at": local_text(case.due_at, cg.city.tz)}


def act(cg: Casegrid, user: User, case_id: str, trigger: str, body: ActionBody):
    """Run one lifecycle step as `user`; with expected_version, refuse a stale client (409)."""
    check_write(user, trigger)
    cmd = CaseAction(
        case_id=parse_case_id(reads.case_key(cg, case_id)), trigger=trigger, actor=user.id, occurred_at=body.at,
        unit=body.unit, passed=body.passed, approved=body.approve, reason=body.reason,
        evidence=body.evidence, extra=body.extra, closure_type=body.closure_type,
        rating=body.rating, comment=body.comment, expected_version=body.expected_version,
        idempotency_key=body.idempotency_key, into=merge_target(cg, body.into),
        assist=body.assist, assignee=body.assignee)
    case = cg.service.get(cmd.case_id)
    check_read_case(user, case)
    check_write(user, trigger, case.state)
    return cg.service.act(cmd)  # a stale expected_version is a ConflictError (409)


def merge_target(cg: Casegrid, into: str | None) -> str | None:
    """A merge's original as a person names it (number or id), as its id; checked by field."""
    if not isinstance(into, str) or not into or len(into) > 64:
        return into  # absent, or refused by field at the edge (workflows/intake.py)
    try:
        return reads.case_key(cg, into)
    except NotFoundError:
        raise ValidationError("into", f"no case numbered '{into}'") from None


def action_endpoint(name: str, trigger: str):
    """The endpoint of one action (`case_<trigger>`)."""
    def endpoint(request: Request, case_id: str, user: Me, cg: Cg,
                 body: ActionBody | None = None):
        note(request, case_id=case_id)
        case = act(cg, user, case_id, trigger, body or ActionBody())
        return case_view(case, cg.city, case.holder, cg.service.clock())

    endpoint.__name__ = f"case_{trigger}"
    endpoint.__doc__ = f"{TRIGGER_ZH.get(trigger, '')} ({trigger}) as the logged-in user."
    return endpoint


for _name, _trigger in ACTIONS.items():
    router.post(f"/cases/{{case_id}}/{_name}",
                summary=f"{_name}: {TRIGGER_ZH.get(_trigger, '')}")(action_endpoint(_name, _trigger))


@router.post("/deadlines/tick")
def deadlines_tick(request: Request, user: Me, cg: Cg, now: str | None = None):
    """Record one DeadlineMissed (超时) per step past its due time (the server does this every minute)."""
    require_role(user, ("duty_chief", "system"), "the deadline tick")
    t = optional_time(now, "now", cg.city.tz)
    missed = request.app.state.follower.tick(t)
    return {"now": local_text(t or cg.service.clock(), cg.city.tz),
            "missed": [event_view(e, cg.city) | {"case_id": str(e.originator_id)} for e in missed]}
