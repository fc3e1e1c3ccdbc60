"""Reading the boards: scoreboard (考评排名), accountability trail (责任倒查), work queues (待办)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.table import Table

from adapters.cli.common import JsonOpt, casegrid, emit, fail, out, period
from domain.errors import CasegridError, ValidationError
from domain.times import optional_time
from workflows.service import parse_case_id


def scoreboard_cmd(
    ctx: typer.Context,
    by: Annotated[str, typer.Option(help="unit, grid, community, street, district, squad, "
                                         "supervisor, dispatcher, duty-chief")] = "unit",
    start: Annotated[str | None, typer.Option("--from", help="First day (cases reported from)")] = None,
    end: Annotated[str | None, typer.Option("--to", help="Last day, inclusive")] = None,
    month: Annotated[str | None, typer.Option(help="A calendar month YYYY-MM instead of --from/--to")] = None,
    week: Annotated[str | None, typer.Option(help="An ISO week YYYY-Www, e.g. 2026-W42")] = None,
    as_of: Annotated[str | None, typer.Option(help="Only events recorded up to this time")] = None,
    explain_: Annotated[str | None, typer.Option("--explain", help="Indicator to drill into")] = None,
    key: Annotated[str | None, typer.Option(help="Row key for --explain (unit id, grid code…)")] = None,
    as_json: JsonOpt = False,
):
    """考评排名: counts, rates, score, grade and rank per unit, area or person."""
    from projections.scoreboard import INDICATORS, explain, scoreboard

    cg = casegrid(ctx, as_json)
    try:
        a, b = period(cg, start, end, month, week)
        cutoff = optional_time(as_of, "as_of", cg.city.tz, blank_ok=False)
        if explain_ and not key:
            raise ValidationError("key", "--explain needs --key (the row to drill into)")
        cg.projections.catch_up()
        if explain_:
            result = explain(cg.sql, cg.city, by=by, key=key, indicator=explain_, start=a, end=b,
                             as_of=cutoff)
        else:
            result = scoreboard(cg.sql, cg.city, by=by, start=a, end=b, as_of=cutoff)
    except CasegridError as e:
        fail(e, as_json)

    def text():
        if explain_:
            r = result
            out.print(f"[bold]{r['indicator']} {r['zh']}[/] for {r['by']} {r['key']} {r['name']}"
                      f" {r['from']}..{r['to']}: {r['value']}")
            for part in ("numerator", "denominator"):
                if r[part]:
                    out.print(f"{part} ({r[part]['count']}, {r[part]['n']} cases):")
                    for cid in r[part]["case_ids"]:
                        out.print(f"  {cid}")
            return
        t = Table(title=f"scoreboard by {result['by']} {result['from']}..{result['to']}"
                  + (f" as of {result['as_of']}" if result["as_of"] else ""))
        shown = [r for r in ("resolution_rate", "on_time_resolution_rate", "rectification_rate",
                             "rework_rate", "closure_rate", "discovery_rate", "valid_report_rate",
                             "on_time_verify_rate", "on_time_dispatch_rate", "on_time_filing_rate")
                 if any(row["rates"].get(r) is not None for row in result["rows"])]
        for col in ("rank", "key", "name", "score", "grade", *[INDICATORS[r]["zh"] for r in shown]):
            t.add_column(col)
        for row in result["rows"]:
            cells = [f"{row['rates'][r]:.1%}" if row["rates"].get(r) is not None else "—"
                     for r in shown]
            t.add_row(str(row["rank"] or "—"), row["key"], row["name"], str(row["score"] or "—"),
                      row["grade"] or "—", *cells)
        out.print(t)

    emit(result, as_json, text)


def trail_cmd(
    ctx: typer.Context,
    case_id: Annotated[str | None, typer.Argument(help="A case id")] = None,
    unit: Annotated[str | None, typer.Option(help="Missed deadlines of a member unit")] = None,
    actor: Annotated[str | None, typer.Option(help="Missed deadlines of a person")] = None,
    squad: Annotated[str | None, typer.Option(help="Missed daily reports (零报告) of a squad")] = None,
    start: Annotated[str | None, typer.Option("--from")] = None,
    end: Annotated[str | None, typer.Option("--to")] = None,
    as_json: JsonOpt = False,
):
    """责任倒查: who held a case and for how long, or the misses of a unit, person or squad."""
    from projections.patrol import squad_misses
    from projections.trail import case_trail, missed_deadlines

    cg = casegrid(ctx, as_json)
    try:
        if (case_id is None) == (unit is None and actor is None and squad is None):
            raise ValidationError(
                "case_id", "give a case id, or --unit / --actor / --squad with --from/--to")
        cg.projections.catch_up()
        if case_id is not None:
            result = case_trail(cg.sql, cg.city, str(parse_case_id(case_id)))
        elif squad is not None:
            a, b = period(cg, start, end, None)
            result = squad_misses(cg.sql, cg.city, squad=squad, start=a, end=b)
        else:
            a, b = period(cg, start, end, None)
            result = missed_deadlines(cg.sql, cg.city, unit=unit, actor=actor, start=a, end=b)
    except CasegridError as e:
        fail(e, as_json)

    def text():
        if squad is not None:
            t = Table(title=f"daily reports missed or late {squad} {result['name']}"
                      f" {result['from']}..{result['to']} ({result['count']})")
            for col in ("day", "status", "cut-off passed", "reported at", "by"):
                t.add_column(col)
            for m in result["patrol_misses"]:
                t.add_row(m["day"], m["status"], m["cut_off"] or "", m["reported_at"] or "",
                          m["reported_by"] or "")
            out.print(t)
            return
        if case_id is not None:
            t = Table(title=f"custody 责任链 {case_id}")
            for col in ("holder", "person", "from", "to", "step", "due", "met", "overrun (working min)"):
                t.add_column(col)
            for s in result["custody"]:
                t.add_row(f"{s['holder_kind']}:{s['holder']}", s["person"] or "", s["from"] or "",
                          s["to"] or "(now)", s["step"] or "", s["due_at"] or "",
                          {True: "yes", False: "NO", None: ""}[s["met"]],
                          str(s["overrun_working_minutes"] or ""))
            out.print(t)
            for part in ("misses", "extensions", "returns", "reworks", "shelving", "urgings"):
                for item in result[part]:
                    out.print(f"{part}: {item}")
            return
        t = Table(title=f"missed deadlines {unit or actor} {result['from']}..{result['to']}"
                  f" ({result['count']})")
        for col in ("case_id", "step", "due", "done", "overrun (working min)", "holder", "person"):
            t.add_column(col)
        for m in result["misses"]:
            t.add_row(m["case_id"], m["step"], m["due_at"], m["done_at"] or "(open)",
                      str(m["overrun_working_minutes"] or ""), m["holder"], m["person"] or "")
        out.print(t)

    emit(result, as_json, text)


def queue_cmd(
    ctx: typer.Context,
    unit: Annotated[str | None, typer.Option(help="One member unit's inbox")] = None,
    now: Annotated[str | None, typer.Option(help="Treat this time as now")] = None,
    as_json: JsonOpt = False,
):
    """待办: the center's queues or a unit's inbox, earliest due first; overdue per unit."""
    from projections.queues import queues

    cg = casegrid(ctx, as_json)
    try:
        t_now = optional_time(now, "now", cg.city.tz, blank_ok=False) or datetime.now(UTC)
        cg.projections.catch_up(["cases"])
        result = queues(cg.sql, cg.city, unit=unit, now=t_now)
    except CasegridError as e:
        fail(e, as_json)

    def text():
        sections = dict(result.get("queues", {}))
        sections["unit_inbox"] = result["unit_inbox"]
        for name, items in sections.items():
            t = Table(title=f"{name} ({len(items)})")
            for col in ("case_id", "state", "category", "unit", "due_at", "overdue"):
                t.add_column(col)
            for it in items[:20]:
                t.add_row(it["case_id"], it["state"], f"{it['category']} {it['category_name'] or ''}",
                          it["unit"] or "", it["due_at"] or "", "OVERDUE" if it["overdue"] else "")
            out.print(t)

    emit(result, as_json, text)
