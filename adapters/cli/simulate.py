"""`casegrid simulate`: a synthetic stretch of city life through the same service."""

from __future__ import annotations

import time as _time
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from adapters.cli.common import JsonOpt, casegrid, emit, err, fail, out
from adapters.cli.deadlines import tick
from domain.errors import ValidationError
from workflows.simulation import Simulation


def simulate(
    ctx: typer.Context,
    cases: Annotated[int, typer.Option(min=1, help="How many cases")] = 500,
    days: Annotated[int, typer.Option(min=1, help="Over how many days")] = 30,
    seed: int = 1,
    start: Annotated[str, typer.Option(help="First simulated day")] = "2026-10-01",
    batch: Annotated[int, typer.Option(min=1, help="Commands saved per transaction")] = 200,
    as_json: JsonOpt = False,
):
    """模拟: a realistic synthetic stretch of city life through the same service."""
    cg = casegrid(ctx, as_json)
    try:
        day = date.fromisoformat(start)
    except ValueError:
        fail(ValidationError("start", f"'{start}' is not a date YYYY-MM-DD"), as_json)
    begin = datetime.combine(day, time(0), cg.city.tz)
    sim = Simulation(cg.city, seed=seed, start=begin, days=days, end=datetime.now(UTC) - timedelta(minutes=1))
    t0 = _time.perf_counter()
    with Progress(TextColumn("simulating"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=err, disable=as_json or not err.is_terminal) as bar:
        task = bar.add_task("commands", total=None)
        stats = sim.run(cases, cg.service.execute, lambda now: len(tick(cg, now)), batch=batch,
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
    emit(result, as_json, lambda: out.print(
        f"simulated {stats.cases} cases, {stats.commands} commands in {elapsed:.1f}s "
        f"({result['commands_per_second']}/s), {stats.deadline_misses} deadline misses, "
        f"{stats.refused} refused\nby state: {by_state}\nstore: {result['store']}\n"
        "next: casegrid case list   then   casegrid case show <case_id>"))
