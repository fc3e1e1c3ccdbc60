"""`casegrid notifications run|list`: the notification worker (通知) and what it made."""

from __future__ import annotations

import time
from typing import Annotated

import structlog
import typer

from adapters.cli.common import JsonOpt, casegrid, emit, fail
from domain.city import User
from domain.errors import CasegridError, ValidationError
from domain.notify import CENTER_ROLES
from domain.times import local_format, optional_time
from projections.notifications import listing

notify_app = typer.Typer(help="Notifications (通知): the worker and its list.",
                         no_args_is_help=True)
Bootstrap = Annotated[str | None, typer.Option(
    "--bootstrap", envvar="CASEGRID_KAFKA_BOOTSTRAP",
    help="Kafka bootstrap servers: also publish onto the notifications topic.")]


@notify_app.command("run")
def run_cmd(
    ctx: typer.Context,
    loop: Annotated[bool, typer.Option(help="Keep running a round every --interval seconds")] = False,
    interval: float = 2.0,
    now: Annotated[str | None, typer.Option(help="Treat this time as now (ISO 8601)")] = None,
    bootstrap: Bootstrap = None,
    singleton: Annotated[bool, typer.Option(
        help="With --loop: work only while holding the 'notifications-run' lease (租约); "
             "others wait and take over within --interval s")] = True,
    topic: Annotated[str, typer.Option(envvar="CASEGRID_NOTIFICATIONS_TOPIC")]
    = "casegrid.notifications.v1",
    as_json: JsonOpt = False,
):
    """Notify for every event not yet seen and every step due soon, then deliver (SMS,
    Kafka); each notification once, however often this runs or is killed."""
    from adapters.notify.worker import NotifyWorker

    cg = casegrid(ctx, as_json)
    try:
        fixed = optional_time(now, "now", cg.city.tz, blank_ok=False)
        if interval <= 0 or interval > 86400:
            raise ValidationError("interval", "must be more than 0 and at most 86400 seconds")
    except CasegridError as e:
        fail(e, as_json)
    producer = None
    if bootstrap:
        from kafka import KafkaProducer

        from adapters.kafka.outbound import producer_config
        producer = KafkaProducer(**producer_config(bootstrap, "casegrid-notify"))
    worker = NotifyWorker(cg, producer=producer, topic=topic)
    log = structlog.get_logger("casegrid.notify")
    try:
        if loop and singleton:
            from adapters.cli.singleton import run_singleton_loop

            def step():
                try:
                    worker.run_once(fixed)
                except Exception as e:  # noqa: BLE001 - a loop backs off
                    log.warning("notify_error", error=repr(e))

            run_singleton_loop(cg, "notifications-run", step, interval)
            return
        while True:
            try:
                done = worker.run_once(fixed)
            except Exception as e:  # noqa: BLE001 - a loop backs off; one round reports it
                if not loop:
                    raise
                log.warning("notify_error", error=repr(e))
                done = None
            if not loop:
                emit(done, as_json, lambda d=done: print(
                    f"{d['events']} events read, {d['due_soon']} due-soon notices, "
                    f"{d['sms']} SMS sent, {d['kafka']} published"))
                return
            time.sleep(interval)
    finally:
        if producer is not None:
            producer.close(timeout=5)
        cg.close()


@notify_app.command("list")
def list_cmd(
    ctx: typer.Context,
    unit: Annotated[str | None, typer.Option(help="A unit's notifications")] = None,
    role: Annotated[str | None, typer.Option(help="A center role's notifications")] = None,
    unread: bool = False,
    limit: int = 50,
    as_json: JsonOpt = False,
):
    """A unit's or a center role's notifications, newest first."""
    from adapters.notify.worker import NotifyWorker

    cg = casegrid(ctx, as_json)
    try:
        if (unit is None) == (role is None):
            raise ValidationError("unit", "give either --unit or --role")
        if unit is not None:
            cg.city.unit(unit)
        if role is not None and role not in CENTER_ROLES:
            raise ValidationError("role", f"must be one of {', '.join(CENTER_ROLES)}")
        if not 1 <= limit <= 1000:
            raise ValidationError("limit", "must be from 1 to 1000")
    except CasegridError as e:
        fail(e, as_json)
    NotifyWorker(cg).setup()
    who = User("cli", "", "unit_member", unit=unit) if unit else User("cli", "", role or "")
    got = listing(cg.sql, who, unread=unread, limit=limit)

    def text():
        for n in got["items"]:
            mark = " " if n["read_at"] else "*"
            print(f"{mark} {local_format(n['at'], cg.city.tz)} "
                  f"{n['case_number'] or n['case_id'][:8]} {n['text_zh']}")
        print(f"{got['total']} notifications, {got['unread']} unread")

    emit(got, as_json, text)


@notify_app.command("status")
def status_cmd(ctx: typer.Context, as_json: JsonOpt = False):
    """The notifier's position and lag, a stall, the notices and their deliveries."""
    from adapters.notify.worker import NotifyWorker

    cg = casegrid(ctx, as_json)
    st = NotifyWorker(cg).status()

    def text():
        print(f"notifier {st['state']}: position {st['position']} of {st['head']} "
              f"({st['lag_events']} behind)")
        if st["error"]:
            print(f"  stalled at event {st['error']['notification_id']}: {st['error']['error']}")
        print(f"{st['total']} notifications, {st['unread']} unread; "
              f"kafka {st['kafka']['pending']} pending, {st['kafka']['parked']} parked; "
              f"sms ({st['sms_gateway']}) {st['sms']['pending']} pending, "
              f"{st['sms']['parked']} parked")

    emit(st, as_json, text)
