"""`casegrid case …`: report a case, move it through the lifecycle, show and list cases."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.table import Table

from adapters.bootstrap import Casegrid
from adapters.cli.common import JsonOpt, casegrid, emit, fail, out
from adapters.views import case_view, event_view
from domain.errors import CasegridError, ValidationError
from domain.lifecycle import CLOSURE_TYPES, RATINGS, STATES
from domain.machine import allowed_triggers
from domain.times import local_text, optional_time
from projections.cases import case_key, list_cases
from workflows.commands import CaseAction, ReportCase
from workflows.numbering import is_number

case_app = typer.Typer(help="Report and move cases (案件).", no_args_is_help=True)


def _show_case(cg: Casegrid, case, as_json: bool) -> None:
    view = case_view(case, cg.city, case.holder, datetime.now(UTC))
    emit(view, as_json, lambda: out.print(
        f"[bold]{view['number'] or ''} {view['case_id']}[/] v{view['version']} {view['state']} ({view['state_zh']})"
        f" {view['category']} {view['category_name']} @ {view['grid']}"
        + (f" → {view['unit']}" if view["unit"] else "")
        + (f"  due {view['due_at']}" if view["due_at"] else "")))


@case_app.command("report")
def case_report(
    ctx: typer.Context,
    channel: Annotated[str, typer.Option(help="patrol, citizen, hotline, camera, inspection, unit")],
    category: Annotated[str, typer.Option(help="Category code, e.g. E0102 (暴露垃圾)")],
    grid: Annotated[str, typer.Option(help="14-digit grid cell code")],
    actor: Annotated[str, typer.Option(help="User id from the configuration")],
    description: str = "",
    urgency: Annotated[str, typer.Option(help="normal or urgent")] = "normal",
    lat: float | None = None,
    lon: float | None = None,
    evidence: Annotated[list[str] | None, typer.Option(help="Photo URL or sha256: ref (evidence put); repeatable")] = None,
    external_id: str | None = None,
    at: Annotated[str | None, typer.Option(help="Business time, ISO 8601 (default now)")] = None,
    reporter_name: Annotated[str | None, typer.Option(help="citizen, hotline: reporter's name (protected)")] = None,
    reporter_phone: Annotated[str | None, typer.Option(help="citizen, hotline: reporter's phone (protected)")] = None,
    as_json: JsonOpt = False,
):
    """上报: report a new problem; prints the new case id."""
    cg = casegrid(ctx, as_json)
    try:
        case = cg.service.report(ReportCase(
            channel=channel, category=category, grid=grid, actor=actor,
            occurred_at=optional_time(at, "at", cg.city.tz, blank_ok=False),
            description=description, urgency=urgency, lat=lat, lon=lon,
            evidence=evidence or [], external_id=external_id, reporter_name=reporter_name,
            reporter_phone=reporter_phone))
    except CasegridError as e:
        fail(e, as_json)
    emit({"case_id": str(case.id), "state": case.state,
          "due_at": local_text(case.due_at, cg.city.tz)},
         as_json, lambda: print(case.id))


def by_number(cg, text: str) -> str:
    """A case id, or a readable number looked up in the (caught-up) case summaries."""
    if is_number(text):
        cg.projections.catch_up(["cases"])
    return case_key(cg.sql, text)


def _action(trigger: str, doc: str):
    def command(
        ctx: typer.Context,
        case_id: Annotated[str, typer.Argument(help="Case id or number (2026-11-000123)")],
        actor: Annotated[str, typer.Option(help="User id from the configuration")],
        unit: Annotated[str | None, typer.Option(help="Member unit (dispatch)")] = None,
        passed: Annotated[bool | None, typer.Option("--passed/--failed", help="Outcome (verify, check)")] = None,
        approve: Annotated[bool | None, typer.Option("--approve/--reject", help="Decision")] = None,
        reason: Annotated[str | None, typer.Option(help="Reason or comment")] = None,
        extra: Annotated[str | None, typer.Option(help="Extra working time asked, e.g. 4h, 2d")] = None,
        closure_type: Annotated[str | None, typer.Option("--type", help=", ".join(CLOSURE_TYPES))] = None,
        rating: Annotated[str | None, typer.Option(help=", ".join(RATINGS))] = None,
        comment: Annotated[str | None, typer.Option(help="回访: the citizen's comment")] = None,
        evidence: Annotated[list[str] | None, typer.Option(help="Photo URL or sha256: ref (evidence put); repeatable")] = None,
        at: Annotated[str | None, typer.Option(help="Business time, ISO 8601 (default now)")] = None,
        into: Annotated[str | None, typer.Option(help="merge: the original case (id or number)")] = None,
        assist: Annotated[list[str] | None, typer.Option(help="dispatch: an assisting unit (协办); repeatable")] = None,
        assignee: Annotated[str | None, typer.Option(help="assign: the unit member (指派到人)")] = None,
        as_json: JsonOpt = False,
    ):
        cg = casegrid(ctx, as_json)
        try:
            case = cg.service.act(CaseAction(
                case_id=by_number(cg, case_id), trigger=trigger, actor=actor, unit=unit,
                occurred_at=optional_time(at, "at", cg.city.tz, blank_ok=False),
                passed=passed, approved=approve, reason=reason, evidence=evidence or [],
                extra=extra, closure_type=closure_type, rating=rating, comment=comment,
                into=by_number(cg, into) if into else None, assist=assist,
                assignee=assignee))
        except CasegridError as e:
            fail(e, as_json)
        _show_case(cg, case, as_json)

    command.__doc__ = doc
    return command


ACTIONS = {
    "verify": ("verify", "核实: confirm (--passed) or not (--failed, with --reason) a public report."),
    "file": ("file", "立案: file the case."),
    "refuse": ("refuse", "不予立案 / 作废: refuse or void, with --reason."),
    "dispatch": ("dispatch", "派遣: to --unit, or to the routing rule's suggestion."),
    "return": ("return", "退回: the unit hands back a case that is not theirs (--reason)."),
    "request-extension": ("request_extension", "申请延期: ask for --extra working time (--reason)."),
    "decide-extension": ("decide_extension", "审批延期: --approve or --reject."),
    "shelve": ("request_shelve", "申请挂账: ask to shelve (--reason)."),
    "decide-shelve": ("decide_shelve", "审批挂账: --approve or --reject (--reason)."),
    "resolve": ("resolve", "处置反馈: the unit reports the fix (--evidence)."),
    "check": ("check", "核查: --passed, or --failed to send it back for rework (返工)."),
    "close": ("close", "结案: close; --type error|special needs --reason."),
    "evaluate": ("evaluate", "评价: --rating satisfied|basic|unsatisfied."),
    "urge": ("urge", "督办: press the holder (--reason); the state does not change."),
    "merge": ("merge", "合并: close this report as a duplicate of --into (--reason)."),
    "accept": ("accept", "签收: the unit signs for a case dispatched to it (once per dispatch)."),
    "callback": ("callback", "回访: the citizen's --rating satisfied|basic|unsatisfied and --comment."),
    "assist-feedback": ("assist_feedback", "协办反馈: an assisting unit's answer (--comment, --evidence)."),
    "assist-override": ("assist_override", "免除协办反馈: the center lets the lead resolve without "
                                           "the answers still owed (--reason)."),
    "assign": ("assign", "指派到人: assign the case to a member of the unit (--assignee)."),
}
for _name, (_trigger, _doc) in ACTIONS.items():
    case_app.command(_name)(_action(_trigger, _doc))


@case_app.command("show")
def case_show(
    ctx: typer.Context,
    case_id: str,
    as_of: Annotated[str | None, typer.Option(help="Only events recorded up to this time")] = None,
    as_json: JsonOpt = False,
):
    """The case: state, holder, due times and its full event timeline."""
    cg = casegrid(ctx, as_json)
    try:
        cutoff = optional_time(as_of, "as_of", cg.city.tz, blank_ok=False)
        events = cg.service.timeline(by_number(cg, case_id), as_of=cutoff)
        if not events:
            raise ValidationError("as_of", f"the case had no events recorded by {as_of}")
        case = cg.app.repository.get(events[0].originator_id, version=events[-1].originator_version)
    except CasegridError as e:
        fail(e, as_json)
    holder = case.holder
    view = case_view(case, cg.city, holder, datetime.now(UTC))
    view["allowed"] = {role: allowed_triggers(case.state, role) for role in
                       ("supervisor", "acceptor", "duty_chief", "dispatcher", "unit_member")}
    timeline = [event_view(e, cg.city) for e in events]

    def text():
        out.print(f"[bold]Case {view['number'] or ''} {view['case_id']}[/]  v{view['version']}")
        for k in ("state", "state_zh", "category", "category_name", "grid", "community", "channel",
                  "urgency", "unit", "routing_rule", "holder", "step", "due_at", "closure_type"):
            if view[k] is not None:
                out.print(f"  {k:14} {view[k]}")
        t = Table(title="timeline 时间线")
        for col in ("#", "occurred_at", "event", "actor (role)", "state", "due", "detail"):
            t.add_column(col)
        for ev in timeline:
            detail = " ".join(f"{k}={ev[k]}" for k in ("unit", "passed", "approved", "minutes",
                              "closure_type", "rating", "missed_step", "holder", "reason")
                              if ev.get(k) not in (None, ""))
            t.add_row(str(ev["version"]), ev["occurred_at"], f"{ev['type']} {ev['zh']}",
                      f"{ev['actor']} ({ev['role']})", ev["state"], ev["due_at"] or "", detail)
        out.print(t)

    emit({"case": view, "timeline": timeline}, as_json, text)


@case_app.command("list")
def case_list(
    ctx: typer.Context,
    state: Annotated[str | None, typer.Option(help="Only cases in this state")] = None,
    unit: Annotated[str | None, typer.Option(help="Only cases with this unit")] = None,
    limit: int = 50,
    as_json: JsonOpt = False,
):
    """Cases, newest first (reads the case summaries, caught up first)."""
    cg = casegrid(ctx, as_json)
    try:
        if state is not None and state not in STATES:
            raise ValidationError("state", f"'{state}' is not one of {', '.join(STATES)}")
        if unit is not None:
            cg.city.unit(unit)
    except CasegridError as e:
        fail(e, as_json)
    cg.projections.catch_up(["cases"])
    rows = list_cases(cg.sql, state=state, unit=unit, limit=limit)

    def text():
        t = Table(title=f"cases ({len(rows)})")
        for col in ("case_id", "state", "category", "grid", "unit", "due_at", "reported_at"):
            t.add_column(col)
        for r in rows:
            cat = cg.city.categories.get(r["category"])
            t.add_row(r["case_id"], f"{r['state']} {STATES[r['state']]['zh']}",
                      f"{r['category']} {cat.name if cat else ''}", r["grid"], r["unit"] or "",
                      r["due_at"] or "", r["reported_at"])
        out.print(t)

    emit({"count": len(rows), "cases": rows}, as_json, text)
