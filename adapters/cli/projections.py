"""`casegrid projections status | rebuild [NAME] | follow`: the read models."""

from __future__ import annotations

from typing import Annotated

import structlog
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from adapters.cli.common import JsonOpt, casegrid, emit, err, fail, out
from domain.errors import ValidationError

proj_app = typer.Typer(help="Read models built from the event stream.", no_args_is_help=True)


@proj_app.command("status")
def projections_status(ctx: typer.Context, as_json: JsonOpt = False):
    """Each projection's position and lag (events, seconds)."""
    cg = casegrid(ctx, as_json)
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

    emit({"projections": rows}, as_json, text)


@proj_app.command("follow")
def projections_follow(ctx: typer.Context,
                       interval: Annotated[float, typer.Option(help="SQLite poll seconds")] = 0.5,
                       singleton: Annotated[bool, typer.Option(
                           help="Follow only while holding the 'projections-follow' lease "
                                "(租约); others wait and take over within --interval s")] = True):
    """Keep the projections caught up until stopped (LISTEN/NOTIFY on PostgreSQL, polling on SQLite)."""
    from adapters.cli.singleton import follow_singleton, stop_on_signals

    cg = casegrid(ctx)
    stop = stop_on_signals()

    def follow(until):
        structlog.get_logger("casegrid.projections").info("following", store=cg.projections.sql.dialect)
        cg.projections.follow(until, interval=interval)

    if singleton:
        follow_singleton(cg, "projections-follow", follow, interval, stop)
    else:
        follow(stop)


@proj_app.command("rebuild")
def projections_rebuild(ctx: typer.Context, name: Annotated[str | None, typer.Argument()] = None,
                        as_json: JsonOpt = False):
    """Drop and replay a projection (or all) from the event log."""
    cg = casegrid(ctx, as_json)
    names = [name] if name else list(cg.projections.projections)
    if name and name not in cg.projections.projections:
        fail(ValidationError("name", f"'{name}' is not one of {', '.join(cg.projections.projections)}"), as_json)
    head = cg.projections.head()
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  console=err, disable=as_json or not err.is_terminal) as bar:
        task = bar.add_task(", ".join(names), total=head)
        n = cg.projections.rebuild(names, progress=lambda k: bar.advance(task, k))
    done = dict.fromkeys(names, n)
    emit({"rebuilt": done}, as_json, lambda: print(f"rebuilt {done}"))
