"""`casegrid patrol …` (daily reports, 零报告) and `casegrid report …` (日汇总、周小结、月通报).

    casegrid patrol report --squad patrol-1 --date 2026-10-12 --nil
    casegrid patrol tick [--now T] [--since D]
    casegrid patrol list --from D --to D
    casegrid report daily   --date 2026-10-12 --format html --out daily.html
    casegrid report weekly  --week 2026-W43   --format xlsx
    casegrid report monthly --month 2026-10   --format pdf [--policy OTHER.yaml]
    casegrid report ledger  --month 2026-10   [--policy OTHER.yaml] [--json]
    casegrid report compare --month 2026-10   --policy OTHER.yaml [--base BASE.yaml]
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from adapters.cli.common import JsonOpt, casegrid, emit, fail, out
from adapters.policies import load_policy
from domain.errors import CasegridError, ValidationError
from domain.policy import month_bounds
from domain.times import optional_day, optional_time, parse_day

# ---------------------------------------------------------------- patrol


def patrol_report(
    ctx: typer.Context,
    squad: Annotated[str, typer.Option(help="Squad id (巡查中队), e.g. patrol-1")],
    day: Annotated[str, typer.Option("--date", help="The day reported, YYYY-MM-DD")],
    nil: Annotated[bool, typer.Option("--nil", help="零报告: nothing found today")] = False,
    case_id: Annotated[list[str] | None, typer.Option("--case-id", help="A case found; repeatable")] = None,
    findings: Annotated[int | None, typer.Option(help="Number of findings (default: case ids given)")] = None,
    note: Annotated[str, typer.Option(help="Free text: what was patrolled, what was found")] = "",
    actor: Annotated[str | None, typer.Option(
        help="Who reports (default: the squad's first supervisor in the city file)")] = None,
    at: Annotated[str | None, typer.Option(help="Business time of the report (default now)")] = None,
    as_json: JsonOpt = False,
):
    """巡查日报 / 零报告: a squad's report of the day's findings, or an explicit nil report."""
    cg = casegrid(ctx, as_json)
    try:
        if actor is None:
            actor = next((u.id for u in cg.city.users.values()
                          if u.role == "supervisor" and u.squad == squad), None)
            if actor is None:
                raise ValidationError("actor", f"squad '{squad}' has no supervisor; give --actor")
        when = optional_time(at, "at", cg.city.tz, blank_ok=False)
        pd = cg.patrol.report(squad=squad, day=day, actor=actor, nil=nil, case_ids=case_id or [],
                                findings=findings, note=note, at=when)
    except CasegridError as e:
        fail(e, as_json)
    result = {"squad": squad, "date": pd.day, "nil": pd.nil, "reported_at": pd.reported_at,
              "late": pd.reported_at > pd.cut_off, "missed_recorded": pd.missed, "actor": pd.reporter,
              "id": str(pd.id)}
    emit(result, as_json, lambda: print(
        f"{squad} {pd.day}: {'零报告' if pd.nil else '日报'} recorded"
        + (" (late: after the cut-off; the miss is recorded)" if result["late"] else "")))


def patrol_tick(
    ctx: typer.Context,
    now: Annotated[str | None, typer.Option(help="Treat this time as now (ISO 8601)")] = None,
    since: Annotated[str | None, typer.Option(help="First day to check (default: patrol.start or 31 days back)")] = None,
    loop: Annotated[bool, typer.Option(help="Keep ticking every --interval seconds")] = False,
    interval: float = 300.0,
    singleton: Annotated[bool, typer.Option(
        help="With --loop: tick only while holding the 'patrol-tick' lease (租约); "
             "others wait and take over within min(--interval, 5) s")] = True,
    as_json: JsonOpt = False,
):
    """Record a PatrolReportMissed for every squad-day past its cut-off without a report; never twice."""
    import time

    import structlog

    cg = casegrid(ctx, as_json)
    try:
        first = optional_day(since, "since")
        if loop and singleton:
            from adapters.cli.singleton import run_singleton_loop

            fixed = optional_time(now, "now", cg.city.tz, blank_ok=False)

            def step():
                t = fixed or datetime.now(UTC)
                structlog.get_logger("casegrid.patrol").info(
                    "tick", now=t.isoformat(), missed=len(cg.patrol.tick(t, since=first)))

            run_singleton_loop(cg, "patrol-tick", step, interval, retry=min(interval, 5.0))
            return
        while True:
            t = optional_time(now, "now", cg.city.tz, blank_ok=False) or datetime.now(UTC)
            missed = cg.patrol.tick(t, since=first)
            if not loop:
                break
            structlog.get_logger("casegrid.patrol").info("tick", now=t.isoformat(), missed=len(missed))
            time.sleep(interval)
    except CasegridError as e:
        fail(e, as_json)
    views = [{"squad": e.squad, "date": e.day, "cut_off": e.cut_off} for e in missed]
    emit({"now": t, "missed": views}, as_json, lambda: print(
        "\n".join(f"{v['squad']} {v['date']} missed the {v['cut_off']:%H:%M} cut-off" for v in views)
        or "no new missed patrol reports"))


def patrol_list(
    ctx: typer.Context,
    start: Annotated[str, typer.Option("--from", help="First day")],
    end: Annotated[str | None, typer.Option("--to", help="Last day (default: --from)")] = None,
    as_json: JsonOpt = False,
):
    """Every squad and day: reported, nil, late or missing (the 09:00 summary's first table)."""
    from adapters.reports import patrol_section

    cg = casegrid(ctx, as_json)
    try:
        a = parse_day(start, "from")
        b = optional_day(end, "to") or a
        cg.projections.catch_up()
        sec, rows = patrol_section(cg.sql, cg.city, a, b, datetime.now(UTC))
    except CasegridError as e:
        fail(e, as_json)

    def text():
        t = Table(title=sec["title"])
        for c in sec["columns"]:
            t.add_column(c["label"])
        for r in rows:
            t.add_row(*(str(r.get(c["key"], "")) for c in sec["columns"]))
        out.print(t)

    emit({"days": rows}, as_json, text)


# ---------------------------------------------------------------- reports


FormatOpt = Annotated[str, typer.Option("--format", help="html, xlsx, pdf or json")]
OutOpt = Annotated[str | None, typer.Option("--out", help="Output file (default reports/<kind>-<period>.<format>)")]
NowOpt = Annotated[str | None, typer.Option("--now", help="Generation time (default now)")]
PolicyOpt = Annotated[str | None, typer.Option("--policy", help="Policy file (default: the city's, else the sample)")]
AsOfOpt = Annotated[str | None, typer.Option(
    "--as-of", help="As it stood then: only events recorded up to this time (and --now defaults to it)")]


def _times(cg, now: str | None, as_of: str | None) -> tuple[datetime, datetime | None]:
    """The report's now and its cutoff (--as-of, also now unless --now is given)."""
    cutoff = optional_time(as_of, "now", cg.city.tz)
    t = optional_time(now, "now", cg.city.tz, blank_ok=False) if now or cutoff is None else cutoff
    return t or datetime.now(UTC), cutoff


def _write(cg, doc: dict, fmt: str, out_path: str | None, stem: str, as_json: bool) -> None:
    from adapters.reports import FORMATS, render

    if fmt not in FORMATS:
        fail(ValidationError("format", f"'{fmt}' is not one of {', '.join(FORMATS)}"), as_json)
    path = Path(out_path or f"reports/{stem}.{fmt}")
    render(doc, fmt, path)
    emit({"report": doc["kind"], "format": fmt, "path": str(path), "title": doc["title"]},
         as_json, lambda: print(path))


def report_daily(
    ctx: typer.Context,
    day: Annotated[str, typer.Option("--date", help="The day, YYYY-MM-DD")],
    fmt: FormatOpt = "html", out_path: OutOpt = None, now: NowOpt = None, as_json: JsonOpt = False,
):
    """日汇总: every squad's report, nil report or missing report; new, overdue and urged cases."""
    from adapters.reports import daily

    cg = casegrid(ctx, as_json)
    try:
        d = parse_day(day, "date")
        cg.projections.catch_up()
        t = optional_time(now, "now", cg.city.tz, blank_ok=False) or datetime.now(UTC)
        doc = daily(cg.sql, cg.city, d, t)
    except CasegridError as e:
        fail(e, as_json)
    _write(cg, doc, fmt, out_path, f"daily-{d}", as_json)


def report_weekly(
    ctx: typer.Context,
    week: Annotated[str, typer.Option("--week", help="ISO week, e.g. 2026-W43")],
    fmt: FormatOpt = "html", out_path: OutOpt = None, now: NowOpt = None, as_json: JsonOpt = False,
):
    """周小结: per street, community and unit: found, filed, resolved, overdue, beside last week."""
    from adapters.reports import weekly

    cg = casegrid(ctx, as_json)
    try:
        cg.projections.catch_up()
        t = optional_time(now, "now", cg.city.tz, blank_ok=False) or datetime.now(UTC)
        doc = weekly(cg.sql, cg.city, week, t)
    except CasegridError as e:
        fail(e, as_json)
    _write(cg, doc, fmt, out_path, f"weekly-{week}", as_json)


def _month(month: str) -> str:
    month_bounds(month)  # ValidationError("month", …) when it is not YYYY-MM
    return month


def report_monthly(
    ctx: typer.Context,
    month: Annotated[str, typer.Option("--month", help="YYYY-MM")],
    fmt: FormatOpt = "pdf", out_path: OutOpt = None, now: NowOpt = None,
    policy: PolicyOpt = None, as_of: AsOfOpt = None, as_json: JsonOpt = False,
):
    """月通报: ranking and grades, indicators, trends, hot spots, ledgers, rewards and penalties."""
    from adapters.reports import monthly

    cg = casegrid(ctx, as_json)
    try:
        pol = load_policy(policy, cg.city)
        t_now, cutoff = _times(cg, now, as_of)
        cg.projections.catch_up()
        doc = monthly(cg.sql, cg.city, _month(month), t_now, pol, app=cg.app, as_of=cutoff)
    except CasegridError as e:
        fail(e, as_json)
    stem = f"monthly-{month}" + ("" if policy is None else f"-{pol.id}")
    _write(cg, doc, fmt, out_path, stem, as_json)


def report_ledger(
    ctx: typer.Context,
    month: Annotated[str, typer.Option("--month", help="YYYY-MM")],
    now: NowOpt = None, policy: PolicyOpt = None, as_of: AsOfOpt = None, as_json: JsonOpt = False,
):
    """奖惩台账: every amount with its rule, source and cases (nothing is stored)."""
    from projections.ledger import ledger

    cg = casegrid(ctx, as_json)
    try:
        pol = load_policy(policy, cg.city)
        a, b = month_bounds(_month(month))
        t_now, cutoff = _times(cg, now, as_of)
        cg.projections.catch_up()
        led = ledger(cg.sql, cg.city, pol, a, b, t_now, app=cg.app, as_of=cutoff)
    except CasegridError as e:
        fail(e, as_json)

    def text():
        t = Table(title=f"奖惩台账 {month} ({pol.id})")
        for c in ("rule", "who", "amount", "cases", "explanation"):
            t.add_column(c)
        for ln in led["lines"]:
            t.add_row(ln["rule_id"], f"{ln['who_kind']}:{ln['who_name']}", f"{ln['amount']:+,d}",
                      " ".join(c[:8] for c in ln["case_ids"]), ln["explanation"])
        out.print(t)
        out.print(f"rewards {led['reward_total']:+,d}  deductions {led['deduction_total']:+,d}")

    emit(led, as_json, text)


def report_compare(
    ctx: typer.Context,
    month: Annotated[str, typer.Option("--month", help="YYYY-MM")],
    policy: Annotated[str, typer.Option("--policy", help="The other policy file (what-if)")],
    base: Annotated[str | None, typer.Option("--base", help="Base policy (default: the current one)")] = None,
    fmt: Annotated[str | None, typer.Option("--format", help="Also write html, xlsx, pdf or json")] = None,
    out_path: OutOpt = None, now: NowOpt = None, as_of: AsOfOpt = None, as_json: JsonOpt = False,
):
    """What-if: the month's scores, grades and ledger under another policy, and what changes."""
    from adapters.reports import compare

    cg = casegrid(ctx, as_json)
    try:
        a = load_policy(base, cg.city)
        b = load_policy(policy, cg.city)
        t_now, cutoff = _times(cg, now, as_of)
        cg.projections.catch_up()
        doc = compare(cg.sql, cg.city, _month(month), t_now, a, b, app=cg.app, as_of=cutoff)
    except CasegridError as e:
        fail(e, as_json)
    if fmt:
        _write(cg, doc, fmt, out_path, f"compare-{month}-{a.id}-{b.id}", as_json)
        return
    diff = next(s for s in doc["sections"] if s["id"] == "ledger_diff")
    grades = [s for s in doc["sections"] if s["id"].startswith("grades_")]

    def text():
        for s in grades:
            changed = [r for r in s["rows"] if r["changed"]]
            out.print(f"[bold]{s['title']}[/]: {len(changed)} changed")
            for r in changed:
                out.print(f"  {r['name']}: {r['score_a']} {r['grade_a']} #{r['rank_a']}"
                          f" → {r['score_b']} {r['grade_b']} #{r['rank_b']}")
        t = Table(title=diff["title"])
        for c in diff["columns"]:
            t.add_column(c["label"])
        for r in diff["rows"]:
            if r["diff"] or r["who_kind_zh"] == "合计":
                t.add_row(r["who_kind_zh"], r["who_name"], f"{r['net_a']:,}", f"{r['net_b']:,}",
                          f"{r['diff']:+,}")
        out.print(t)

    result = {"month": month, "base": a.id, "other": b.id,
              "grades": {s["id"][7:]: s["rows"] for s in grades}, "ledger_diff": diff["rows"],
              "line_changes": next(s for s in doc["sections"] if s["id"] == "line_changes")["rows"]}
    emit(result, as_json, text)


patrol_app = typer.Typer(help="Daily patrol reports (巡查日报 / 零报告).", no_args_is_help=True)
patrol_app.command("report")(patrol_report)
patrol_app.command("tick")(patrol_tick)
patrol_app.command("list")(patrol_list)
report_app = typer.Typer(help="Reports: daily summary, weekly summary, monthly bulletin, ledger.",
                         no_args_is_help=True)
report_app.command("daily")(report_daily)
report_app.command("weekly")(report_weekly)
report_app.command("monthly")(report_monthly)
report_app.command("ledger")(report_ledger)
report_app.command("compare")(report_compare)
