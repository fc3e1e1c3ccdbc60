"""`casegrid projections status | rebuild [NAME…] [--processes N] | follow [--only NAME]`:
the read models (adapters/cli/projection_workers.py runs them in processes of their own)."""

from __future__ import annotations

import math
from typing import Annotated

import structlog
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from adapters.cli.common import JsonOpt, casegrid, emit, err, fail, out
from domain.errors import ConflictError, ValidationError

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


OnlyOpt = Annotated[list[str] | None, typer.Option(
    "--only", help="Only this projection (repeatable); default: all")]


def _names(cg, names: list[str] | None, as_json: bool = False) -> list[str]:
    known = list(cg.projections.projections)
    for name in names or ():
        if name not in known:
            fail(ValidationError("name", f"'{name}' is not one of {', '.join(known)}"), as_json)
    return list(dict.fromkeys(names)) if names else known


@proj_app.command("follow")
def projections_follow(ctx: typer.Context, only: OnlyOpt = None,
                       interval: Annotated[float, typer.Option(
                           min=0.01, max=3600, help="SQLite poll seconds")] = 0.5,
                       singleton: Annotated[bool, typer.Option(
                           help="Follow a projection only while holding its lease "
                                "'projection.NAME' (租约); others wait and take over within "
                                "--interval s")] = True):
    """Keep the projections caught up until stopped (LISTEN/NOTIFY on PostgreSQL, polling on
    SQLite). Run several processes (e.g. one per --only) to use more than one core."""
    from adapters.cli.projection_workers import follow_leased
    from adapters.cli.singleton import stop_on_signals

    if not math.isfinite(interval):  # NaN passes min and max
        fail(ValidationError("interval", "must be a number of seconds, 0.01–3600"), False)
    cg = casegrid(ctx)
    names = _names(cg, only)
    stop = stop_on_signals()
    if singleton:
        follow_leased(cg, names, interval, stop)
        return
    structlog.get_logger("casegrid.projections").info(
        "following", projections=names, store=cg.projections.sql.dialect)
    cg.projections.follow(stop, interval=interval, names=names)


@proj_app.command("rebuild")
def projections_rebuild(ctx: typer.Context,
                        names: Annotated[list[str] | None, typer.Argument(
                            help="Projections to rebuild (default: all)")] = None,
                        processes: Annotated[int, typer.Option(
                            min=1, max=16, help="Rebuild in this many processes at once: on "
                                                "PostgreSQL each takes a share of the cases, on "
                                                "SQLite whole projections")] = 1,
                        wait: Annotated[float, typer.Option(
                            min=0, max=3600, help="Seconds to wait for a follower holding a "
                                                  "projection's lease")] = 10.0,
                        as_json: JsonOpt = False):
    """Drop and replay projections (or all) from the event log, each under its lease."""
    from adapters.cli.common import state
    from adapters.cli.projection_shards import rebuild_sharded
    from adapters.cli.projection_workers import rebuild_leased

    cg = casegrid(ctx, as_json)
    names = _names(cg, names, as_json)
    sharded = processes > 1 and cg.sql.dialect == "postgres"
    if processes > 1 and not sharded and len(names) > 1:
        _rebuild_groups(ctx, cg, names, processes, wait, as_json)
        return
    head = cg.projections.head()
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  console=err, disable=as_json or not err.is_terminal) as bar:
        task = bar.add_task(", ".join(names), total=head)
        step = lambda k: bar.advance(task, k)  # noqa: E731
        try:
            if sharded:
                st = state(ctx)
                n = rebuild_sharded(cg, names, processes, wait, progress=step,
                                    data_dir=st.data_dir, config=st.config)
            else:
                n = rebuild_leased(cg, names, wait, progress=step)
        except ConflictError as e:
            fail(e, as_json)
    done = dict.fromkeys(names, n)
    extra = {"shards": processes} if sharded else {}
    emit({"rebuilt": done, **extra}, as_json,
         lambda: print(f"rebuilt {done}" + (f" in {processes} shards" if sharded else "")))


def _rebuild_groups(ctx: typer.Context, cg, names: list[str], processes: int, wait: float,
                    as_json: bool) -> None:
    """SQLite: the projections split into groups, one process each (this one the first)."""
    from adapters.cli.common import state
    from adapters.cli.projection_workers import collect, plan, rebuild_leased, spawn_rebuilds

    groups = plan(names, processes)
    st = state(ctx)
    children = spawn_rebuilds(groups[1:], data_dir=st.data_dir, config=st.config, wait=wait)
    try:
        n = rebuild_leased(cg, groups[0], wait)
    except ConflictError as e:
        collect(children)
        fail(e, as_json)
    done, errors = collect(children)
    if errors:
        fail(ConflictError("; ".join(errors)), as_json)
    done = {**dict.fromkeys(groups[0], n), **done}
    emit({"rebuilt": done, "processes": [list(g) for g in groups]}, as_json,
         lambda: print(f"rebuilt {done} in {len(groups)} processes"))
