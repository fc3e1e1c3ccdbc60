"""The `casegrid` command line (typer). Every command takes --json and then prints one object."""

from __future__ import annotations

import json
import sys
import time as _time
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated

import structlog
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from typer.core import TyperGroup

from adapters.bootstrap import Casegrid, load_city
from adapters.cli_common import STATE, JsonOpt, _at, _emit, _fail, _grid, err, out
from adapters.logs import setup_logging
from adapters.views import case_view, city_summary, event_view, local
from domain.errors import CasegridError, ValidationError
from domain.lifecycle import CLOSURE_TYPES, RATINGS, STATES
from domain.machine import allowed_triggers
from projections.cases import due_case_ids, list_cases
from workflows.commands import CaseAction, ReportCase
from workflows.simulation import Simulation


class _JsonUsageErrors(TyperGroup):
    """With --json, a usage error (missing option, bad value) is one JSON line on stderr too."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        argv = list(sys.argv[1:] if args is None else args)
        if "--json" not in argv or not standalone_mode:
            return super().main(argv, prog_name, complete_var, standalone_mode, **extra)
        try:
            rv = super().main(argv, prog_name, complete_var, standalone_mode=False, **extra)
        except Exception as e:  # typer vendors click: match its UsageError by shape
            if not (hasattr(e, "format_message") and getattr(e, "exit_code", None) == 2):
                raise
            field = e.param.name if getattr(e, "param", None) is not None else None
            print(json.dumps({"error": "invalid", "field": field, "rule": e.format_message(),
                              "message": e.format_message()}, ensure_ascii=False), file=sys.stderr)
            sys.exit(2)
        sys.exit(rv if isinstance(rv, int) else 0)


app = typer.Typer(help="casegrid: event-sourced case engine for digital urban management (数字城管)",
                  no_args_is_help=True, pretty_exceptions_enable=False, cls=_JsonUsageErrors)
case_app = typer.Typer(help="Report and move cases (案件).", no_args_is_help=True)
deadlines_app = typer.Typer(help="Deadline watch (超时监控).", no_args_is_help=True)
config_app = typer.Typer(help="The city configuration.", no_args_is_help=True)
proj_app = typer.Typer(help="Read models built from the event stream.", no_args_is_help=True)
app.add_typer(case_app, name="case")
app.add_typer(deadlines_app, name="deadlines")
app.add_typer(config_app, name="config")
app.add_typer(proj_app, name="projections")

@app.callback()
def main_options(
    data_dir: Annotated[str | None, typer.Option(envvar="CASEGRID_DATA_DIR",
                        help="Folder of the SQLite store (default ./data).")] = None,
    config: Annotated[str | None, typer.Option(envvar="CASEGRID_CONFIG",
                      help="City configuration file (default: the sample city).")] = None,
    log_level: Annotated[str | None, typer.Option(envvar="CASEGRID_LOG_LEVEL")] = None,
):
    STATE.data_dir, STATE.config = data_dir, config
    setup_logging(log_level)


def _show_case(cg: Casegrid, case, as_json: bool) -> None:
    view = case_view(case, cg.city, cg.service.holder(case), datetime.now(UTC))
    _emit(view, as_json, lambda: out.print(
        f"[bold]{view['case_id']}[/] v{view['version']} {view['state']} ({view['state_zh']})"
        f" {view['category']} {view['category_name']} @ {view['grid']}"
        + (f" → {view['unit']}" if view["unit"] else "")
        + (f"  due {view['due_at']}" if view["due_at"] else "")))


# ---------------------------------------------------------------- config


@config_app.command("show")
def config_show(as_json: JsonOpt = False):
    """Print the loaded, validated configuration."""
    try:
        city = load_city(STATE.config)
    except CasegridError as e:
        _fail(e, as_json)
    summary = city_summary(city)
    _emit({"summary": summary, "config": city.raw}, as_json)


# ---------------------------------------------------------------- case


@case_app.command("report")
def case_report(
    channel: Annotated[str, typer.Option(help="patrol, citizen, hotline, camera, inspection, unit")],
    category: Annotated[str, typer.Option(help="Category code, e.g. E0102 (暴露垃圾)")],
    grid: Annotated[str, typer.Option(help="14-digit grid cell code")],
    actor: Annotated[str, typer.Option(help="User id from the configuration")],
    description: str = "",
    urgency: Annotated[str, typer.Option(help="normal or urgent")] = "normal",
    lat: float | None = None,
    lon: float | None = None,
    evidence: Annotated[list[str] | None, typer.Option(help="Photo URL; repeatable")] = None,
    external_id: str | None = None,
    at: Annotated[str | None, typer.Option(help="Business time, ISO 8601 (default now)")] = None,
    as_json: JsonOpt = False,
):
    """上报: report a new problem; prints the new case id."""
    cg = _grid(as_json)
    try:
        case = cg.service.report(ReportCase(
            channel=channel, category=category, grid=grid, actor=actor,
            occurred_at=_at(at), description=description, urgency=urgency, lat=lat, lon=lon,
            evidence=evidence or [], external_id=external_id))
    except CasegridError as e:
        _fail(e, as_json)
    _emit({"case_id": str(case.id), "state": case.state, "due_at": local(case.due_at, cg.city)},
          as_json, lambda: print(case.id))


def _action(trigger: str, doc: str):
    def command(
        case_id: Annotated[str, typer.Argument(help="Case id")],
        actor: Annotated[str, typer.Option(help="User id from the configuration")],
        unit: Annotated[str | None, typer.Option(help="Member unit (dispatch)")] = None,
        passed: Annotated[bool | None, typer.Option("--passed/--failed", help="Outcome (verify, check)")] = None,
        approve: Annotated[bool | None, typer.Option("--approve/--reject", help="Decision")] = None,
        reason: Annotated[str | None, typer.Option(help="Reason or comment")] = None,
        extra: Annotated[str | None, typer.Option(help="Extra working time asked, e.g. 4h, 2d")] = None,
        closure_type: Annotated[str | None, typer.Option("--type", help=", ".join(CLOSURE_TYPES))] = None,
        rating: Annotated[str | None, typer.Option(help=", ".join(RATINGS))] = None,
        evidence: Annotated[list[str] | None, typer.Option(help="Photo URL; repeatable")] = None,
        at: Annotated[str | None, typer.Option(help="Business time, ISO 8601 (default now)")] = None,
        as_json: JsonOpt = False,
    ):
        cg = _grid(as_json)
        try:
            case = cg.service.act(CaseAction(
                case_id=case_id, trigger=trigger, actor=actor, occurred_at=_at(at), unit=unit,
                passed=passed, approved=approve, reason=reason, evidence=evidence or [],
                extra=extra, closure_type=closure_type, rating=rating))
        except CasegridError as e:
            _fail(e, as_json)
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
}
for _name, (_trigger, _doc) in ACTIONS.items():
    case_app.command(_name)(_action(_trigger, _doc))


@case_app.command("show")
def case_show(
    case_id: str,
    as_of: Annotated[str | None, typer.Option(help="Only events recorded up to this time")] = None,
    as_json: JsonOpt = False,
):
    """The case: state, holder, due times and its full event timeline."""
    cg = _grid(as_json)
    try:
        cutoff = _at(as_of, "as_of")
        if cutoff is not None and cutoff.tzinfo is None:
            cutoff = cutoff.replace(tzinfo=cg.city.tz)
        events = cg.service.timeline(case_id, as_of=cutoff)
        if not events:
            raise ValidationError("as_of", f"the case had no events recorded by {as_of}")
        case = cg.app.repository.get(events[0].originator_id, version=events[-1].originator_version)
    except CasegridError as e:
        _fail(e, as_json)
    holder = cg.service.holder(case)
    view = case_view(case, cg.city, holder, datetime.now(UTC))
    view["allowed"] = {role: allowed_triggers(case.state, role) for role in
                       ("supervisor", "acceptor", "duty_chief", "dispatcher", "unit_member")}
    timeline = [event_view(e, cg.city) for e in events]

    def text():
        out.print(f"[bold]Case {view['case_id']}[/]  v{view['version']}")
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

    _emit({"case": view, "timeline": timeline}, as_json, text)


@case_app.command("list")
def case_list(
    state: Annotated[str | None, typer.Option(help="Only cases in this state")] = None,
    unit: Annotated[str | None, typer.Option(help="Only cases with this unit")] = None,
    limit: int = 50,
    as_json: JsonOpt = False,
):
    """Cases, newest first (reads the case summaries, caught up first)."""
    cg = _grid(as_json)
    try:
        if state is not None and state not in STATES:
            raise ValidationError("state", f"'{state}' is not one of {', '.join(STATES)}")
        if unit is not None:
            cg.city.unit(unit)
    except CasegridError as e:
        _fail(e, as_json)
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

    _emit({"count": len(rows), "cases": rows}, as_json, text)


# ---------------------------------------------------------------- deadlines


def _tick(cg: Casegrid, now: datetime) -> list:
    cg.projections.catch_up(["cases"])
    return cg.service.tick(now, due_case_ids(cg.sql, now))


@deadlines_app.command("tick")
def deadlines_tick(
    now: Annotated[str | None, typer.Option(help="Treat this time as now (ISO 8601)")] = None,
    loop: Annotated[bool, typer.Option(help="Keep ticking every --interval seconds")] = False,
    interval: float = 60.0,
    as_json: JsonOpt = False,
):
    """Record one DeadlineMissed (超时) per step past its due time; never twice."""
    cg = _grid(as_json)
    try:
        fixed = _at(now, "now")
        if fixed is not None and fixed.tzinfo is None:
            fixed = fixed.replace(tzinfo=cg.city.tz)
    except CasegridError as e:
        _fail(e, as_json)
    log = structlog.get_logger("casegrid.deadlines")
    while True:
        t = fixed or datetime.now(UTC)
        missed = _tick(cg, t)
        views = [event_view(e, cg.city) | {"case_id": str(e.originator_id)} for e in missed]
        if loop:
            log.info("tick", now=t.isoformat(), missed=len(missed))
            _time.sleep(interval)
            continue
        def text(views=views):
            for v in views:
                print(f"{v['case_id']} {v['missed_step']} due {v['missed_due_at']}"
                      f" held by {v['holder_kind']}:{v['holder']}")
            if not views:
                print("no new missed deadlines")

        _emit({"now": local(t, cg.city), "missed": views}, as_json, text)
        return


# ---------------------------------------------------------------- simulate


@app.command("simulate")
def simulate(
    cases: Annotated[int, typer.Option(min=1, help="How many cases")] = 500,
    days: Annotated[int, typer.Option(min=1, help="Over how many days")] = 30,
    seed: int = 1,
    start: Annotated[str, typer.Option(help="First simulated day")] = "2026-10-01",
    batch: Annotated[int, typer.Option(min=1, help="Commands saved per transaction")] = 200,
    as_json: JsonOpt = False,
):
    """模拟: a realistic synthetic stretch of city life through the same service."""
    cg = _grid(as_json)
    try:
        day = date.fromisoformat(start)
    except ValueError:
        _fail(ValidationError("start", f"'{start}' is not a date YYYY-MM-DD"), as_json)
    begin = datetime.combine(day, time(0), cg.city.tz)
    sim = Simulation(cg.city, seed=seed, start=begin, days=days, end=datetime.now(UTC) - timedelta(minutes=1))
    t0 = _time.perf_counter()
    with Progress(TextColumn("simulating"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=err, disable=as_json or not err.is_terminal) as bar:
        task = bar.add_task("commands", total=None)
        stats = sim.run(cases, cg.service.execute, lambda now: len(_tick(cg, now)), batch=batch,
                        progress=lambda n: bar.advance(task, n))
    cg.projections.catch_up()
    elapsed = _time.perf_counter() - t0
    result = {
        "cases": stats.cases, "commands": stats.commands, "refused": stats.refused,
        "errors": dict(stats.errors), "first_errors": stats.first_errors,
        "deadline_misses": stats.deadline_misses, "seconds": round(elapsed, 2),
        "commands_per_second": round(stats.commands / elapsed, 1) if elapsed else None,
        "store": cg.app.env.get("SQLITE_DBNAME") or "postgres",
    }
    by_state = {}
    for (s, n) in cg.sql.query("SELECT state, COUNT(*) FROM cg_cases GROUP BY state"):
        by_state[s] = n
    result["by_state"] = by_state
    _emit(result, as_json, lambda: out.print(
        f"simulated {stats.cases} cases, {stats.commands} commands in {elapsed:.1f}s "
        f"({result['commands_per_second']}/s), {stats.deadline_misses} deadline misses, "
        f"{stats.refused} refused\nby state: {by_state}\nstore: {result['store']}\n"
        "next: casegrid case list   then   casegrid case show <case_id>"))


# ---------------------------------------------------------------- projections


@proj_app.command("status")
def projections_status(as_json: JsonOpt = False):
    """Each projection's position and lag (events, seconds)."""
    cg = _grid(as_json)
    rows = cg.projections.status()

    def text():
        t = Table(title="projections")
        cols = ("projection", "state", "position", "head", "lag_events", "lag_seconds")
        for col in cols:
            t.add_column(col)
        for r in rows:
            t.add_row(*(str(r[c]) for c in cols))
        out.print(t)
        for r in rows:
            if r.get("error"):
                e = r["error"]
                out.print(f"[red]STALLED[/red] {r['projection']} at event "
                          f"{e['notification_id']}: {e['error']} "
                          f"(attempt {e.get('attempts', '?')}, next retry {e.get('retry_at', '?')})",
                          markup=True, highlight=False)

    _emit({"projections": rows}, as_json, text)


@proj_app.command("follow")
def projections_follow(interval: Annotated[float, typer.Option(help="SQLite poll seconds")] = 0.5):
    """Keep the projections caught up until stopped (LISTEN/NOTIFY on PostgreSQL, polling on SQLite)."""
    import signal
    import threading

    cg = _grid()
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    structlog.get_logger("casegrid.projections").info("following", store=cg.projections.sql.dialect)
    cg.projections.follow(stop, interval=interval)


@proj_app.command("rebuild")
def projections_rebuild(name: Annotated[str | None, typer.Argument()] = None, as_json: JsonOpt = False):
    """Drop and replay a projection (or all) from the event log."""
    cg = _grid(as_json)
    names = [name] if name else list(cg.projections.projections)
    if name and name not in cg.projections.projections:
        _fail(ValidationError("name", f"'{name}' is not one of {', '.join(cg.projections.projections)}"), as_json)
    head = cg.projections.head()
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  console=err, disable=as_json or not err.is_terminal) as bar:
        task = bar.add_task(", ".join(names), total=head)
        n = cg.projections.rebuild(names, progress=lambda k: bar.advance(task, k))
    done = dict.fromkeys(names, n)
    _emit({"rebuilt": done}, as_json, lambda: print(f"rebuilt {done}"))


# ---------------------------------------------------------------- more command groups
# Each further group lives in its own module with `register(app)`; add one line here.
__import__("adapters.cli_boards", fromlist=["register"]).register(app)
__import__("adapters.cli_kafka", fromlist=["register"]).register(app)
__import__("adapters.cli_import", fromlist=["register"]).register(app)
__import__("adapters.http.server", fromlist=["register"]).register(app)
__import__("adapters.cli_report", fromlist=["register"]).register(app)
__import__("adapters.cli_sessions", fromlist=["register"]).register(app)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
