"""`casegrid deadlines tick`: record missed deadlines (超时), once each."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Annotated

import structlog
import typer

from adapters.bootstrap import Casegrid
from adapters.cli.common import JsonOpt, casegrid, emit, fail
from adapters.cli.singleton import run_singleton_loop
from adapters.views import event_view
from domain.errors import CasegridError
from domain.times import local_text, optional_time
from projections.cases import due_case_ids

deadlines_app = typer.Typer(help="Deadline watch (超时监控).", no_args_is_help=True)


def tick(cg: Casegrid, now: datetime) -> list:
    """Record the deadlines missed by `now` (case summaries caught up first); the new events."""
    cg.projections.catch_up(["cases"])
    return cg.service.tick(now, due_case_ids(cg.sql, now))


@deadlines_app.command("tick")
def deadlines_tick(
    ctx: typer.Context,
    now: Annotated[str | None, typer.Option(help="Treat this time as now (ISO 8601)")] = None,
    loop: Annotated[bool, typer.Option(help="Keep ticking every --interval seconds")] = False,
    interval: float = 60.0,
    singleton: Annotated[bool, typer.Option(
        help="With --loop: tick only while holding the 'deadline-tick' lease (租约); "
             "others wait and take over within min(--interval, 5) s")] = True,
    as_json: JsonOpt = False,
):
    """Record one DeadlineMissed (超时) per step past its due time; never twice."""
    cg = casegrid(ctx, as_json)
    try:
        fixed = optional_time(now, "now", cg.city.tz, blank_ok=False)
    except CasegridError as e:
        fail(e, as_json)
    log = structlog.get_logger("casegrid.deadlines")
    if loop and singleton:
        def step():
            t = fixed or datetime.now(UTC)
            log.info("tick", now=t.isoformat(), missed=len(tick(cg, t)))

        run_singleton_loop(cg, "deadline-tick", step, interval, retry=min(interval, 5.0))
        return
    while True:
        t = fixed or datetime.now(UTC)
        missed = tick(cg, t)
        views = [event_view(e, cg.city) | {"case_id": str(e.originator_id)} for e in missed]
        if loop:
            log.info("tick", now=t.isoformat(), missed=len(missed))
            time.sleep(interval)
            continue
        def text(views=views):
            for v in views:
                print(f"{v['case_id']} {v['missed_step']} due {v['missed_due_at']}"
                      f" held by {v['holder_kind']}:{v['holder']}")
            if not views:
                print("no new missed deadlines")

        emit({"now": local_text(t, cg.city.tz), "missed": views}, as_json, text)
        return
