"""`casegrid kafka run | status | retry-parked`: the Kafka worker, its positions, parked items."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer
from rich.table import Table

from adapters.cli.common import JsonOpt, fail, out, state
from domain.errors import CasegridError

kafka_app = typer.Typer(help="Kafka in and out with the city's systems (数字城管系统, 12345, units).",
                        no_args_is_help=True)

Bootstrap = Annotated[str | None, typer.Option("--bootstrap", envvar="CASEGRID_KAFKA_BOOTSTRAP",
                                               help="Kafka bootstrap servers host:port[,host:port].")]
Group = Annotated[str | None, typer.Option("--group", envvar="CASEGRID_KAFKA_GROUP",
                                           help="Consumer group (default casegrid).")]
KafkaConfig = Annotated[str | None, typer.Option("--kafka-config", envvar="CASEGRID_KAFKA_CONFIG",
                                                 help="YAML file with a `kafka:` mapping.")]


def _open(ctx: typer.Context, bootstrap, group, kafka_config, as_json: bool, **more):
    """The Kafka settings and the worker's store, or the error (exit 2) naming the field."""
    from adapters.kafka.worker import KafkaSettings, open_store

    st = state(ctx)
    try:
        settings = KafkaSettings.load(kafka_config, bootstrap=bootstrap, group=group, **more)
        app, service, sql = open_store(data_dir=st.data_dir, config=st.config)
    except CasegridError as e:
        fail(e, as_json)
    return settings, app, service, sql


@kafka_app.command("run")
def run(
    ctx: typer.Context,
    inbound: Annotated[bool, typer.Option("--in", help="Consume reports and unit updates.")] = False,
    outbound: Annotated[bool, typer.Option("--out", help="Publish case events.")] = False,
    bootstrap: Bootstrap = None,
    group: Group = None,
    kafka_config: KafkaConfig = None,
    batch: Annotated[int | None, typer.Option(help="Records per transaction (default 500).")] = None,
    idle_exit: Annotated[float | None, typer.Option(
        help="Stop after this many seconds with nothing done (default: run until SIGTERM); "
             "exit 1 if a part was still failing.")] = None,
    singleton: Annotated[bool, typer.Option(
        help="Publish case events only while holding the 'kafka-outbound' lease (租约), and "
             "dead letters only while holding 'kafka-dead-letters': run as many workers as "
             "you like, one publishes; another takes over within 0.5 s of its death.")] = True,
    metrics_port: Annotated[int | None, typer.Option(
        help="Serve Prometheus metrics of this worker on http://0.0.0.0:PORT/metrics "
             "(consumer lag per partition, dead letters, parked items, counters).",
        min=1, max=65535)] = None,
):
    """Run the worker (both directions unless --in or --out is given); SIGTERM stops it cleanly."""
    from adapters.kafka.worker import KafkaWorker

    if not inbound and not outbound:
        inbound = outbound = True
    settings, app, service, _ = _open(ctx, bootstrap, group, kafka_config, False, batch=batch)
    from kafka.errors import KafkaError

    worker = KafkaWorker(app, service, settings, inbound=inbound, outbound=outbound,
                         singleton=singleton)
    worker.install_signal_handlers()
    if metrics_port is not None:
        from adapters.kafka.metrics import serve_metrics

        try:
            serve_metrics(worker, metrics_port)
        except OSError as e:
            app.close()
            print(f"error: --metrics-port {metrics_port}: {e}", file=sys.stderr)
            raise typer.Exit(2) from None
    try:
        stats = worker.run(idle_exit=idle_exit)
    except KafkaError as e:
        print(f"error: kafka ({settings.bootstrap}): {type(e).__name__}: {e}", file=sys.stderr)
        raise typer.Exit(1) from None
    finally:
        app.close()
    print(json.dumps({"stopped": True, **stats}, ensure_ascii=False), file=sys.stderr)
    if stats.get("failing"):  # stopped while a part kept failing: say so in the exit code
        raise typer.Exit(1)


@kafka_app.command("status")
def status_cmd(
    ctx: typer.Context,
    bootstrap: Bootstrap = None,
    group: Group = None,
    kafka_config: KafkaConfig = None,
    as_json: JsonOpt = False,
):
    """Inbound positions and lag per partition, outbound position, dead letters, parked items."""
    from adapters.kafka.status import status
    settings, app, _, _ = _open(ctx, bootstrap, group, kafka_config, as_json)
    try:
        st = status(app, settings)
    finally:
        app.close()
    if as_json:
        print(json.dumps(st, ensure_ascii=False))
        return
    out.print(f"broker {st['bootstrap']} ({st['broker']}), group [bold]{st['group']}[/]")
    t = Table("topic", "partition", "next offset (ours)", "kafka committed", "end offset", "lag")
    for r in st["inbound"]:
        t.add_row(r["topic"], str(r["partition"]), str(r["next_offset"]),
                  str(r["kafka_committed"]), str(r["end_offset"]), str(r["lag"]))
    out.print(t)
    o = st["outbound"]
    out.print(f"outbound {o['topic']}: position {o['position']} of {o['head']} "
              f"(lag {o['lag_events']} events, {o['parked']} parked)")
    d = Table("dead letters from", "kind", "count", "unpublished", "parked",
              title=st["dead_letter_topic"])
    for r in st["dead_letters"]:
        d.add_row(r["topic"], r["kind"], str(r["count"]), str(r["unpublished"]), str(r["parked"]))
    out.print(d)
    if st["recent_dead_letters"]:
        r_ = Table("from", "partition", "offset", "kind", "recorded", "error", title="latest dead letters")
        for r in st["recent_dead_letters"]:
            r_.add_row(r["topic"], str(r["partition"]), str(r["offset"]), r["kind"], r["recorded_at"],
                       r["error"][:200])
        out.print(r_)
    if st["failing"]:
        f = Table("worker", "part", "failures", "since", "last", "error", title="failing parts")
        for r in st["failing"]:
            f.add_row(r["worker"], r["part"], str(r["failures"]), r["since"], r["updated_at"], r["error"])
        out.print(f)
    _print_parked(st["parked"])


def _print_parked(parked: dict) -> None:
    if parked["events_count"]:
        t = Table("position", "case", "version", "attempts", "last failed", "error",
                  title=f"parked case events ({parked['events_count']})")
        for r in parked["events"]:
            t.add_row(str(r["position"]), r["case_id"], str(r["stream_version"]), str(r["attempts"]),
                      r["last_failed_at"], r["error"])
        out.print(t)
    if parked["dead_letters_count"]:
        t = Table("from", "partition", "offset", "kind", "attempts", "parked at", "error",
                  title=f"parked dead letters ({parked['dead_letters_count']})")
        for r in parked["dead_letters"]:
            t.add_row(r["topic"], str(r["partition"]), str(r["offset"]), r["kind"], str(r["attempts"]),
                      r["parked_at"], r["error"])
        out.print(t)
    if parked["events_count"] or parked["dead_letters_count"]:
        out.print("send them again with: casegrid kafka retry-parked")


@kafka_app.command("retry-parked")
def retry_parked_cmd(
    ctx: typer.Context,
    bootstrap: Bootstrap = None,
    group: Group = None,
    kafka_config: KafkaConfig = None,
    as_json: JsonOpt = False,
):
    """Send parked case events and dead letters again (e.g. after raising the broker's limits)."""
    from kafka import KafkaProducer
    from kafka.errors import KafkaError

    from adapters.kafka.dead_letters import publish_dead_letters
    from adapters.kafka.outbound import OutboundPublisher, producer_config
    from adapters.kafka.store import unpark_dead_letters
    settings, app, _, sql = _open(ctx, bootstrap, group, kafka_config, as_json)
    producer = None
    try:
        producer = KafkaProducer(**producer_config(settings.bootstrap, settings.client_id))
        pub = OutboundPublisher(app, producer, settings.topics["case_events"], source=settings.source)
        events = pub.retry_parked()
        requeued = unpark_dead_letters(sql)
        sent = publish_dead_letters(sql, producer, settings.topics["dead_letter"])
    except KafkaError as e:
        print(f"error: kafka ({settings.bootstrap}): {type(e).__name__}: {e}", file=sys.stderr)
        raise typer.Exit(1) from None
    finally:
        if producer is not None:
            producer.close(timeout=10)
        app.close()
    res = {"events": events, "dead_letters": {"requeued": requeued, "published": sent}}
    if as_json:
        print(json.dumps(res))
        return
    out.print(f"case events: {events['published']} published, {events['failed']} still parked; "
              f"dead letters: {requeued} requeued, {sent} published")



@kafka_app.command("replay-dlq")
def replay_dlq_cmd(
    ctx: typer.Context,
    topic: Annotated[str | None, typer.Option(help="The dead letters from this inbound topic.")] = None,
    ids: Annotated[list[str] | None, typer.Option(
        "--id", help="One dead letter, TOPIC:PARTITION:OFFSET as `kafka status` lists it "
                     "(repeatable).")] = None,
    every: Annotated[bool, typer.Option("--all", help="Every dead letter of the group.")] = False,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Say what each would become; store nothing.")] = False,
    bootstrap: Bootstrap = None,
    group: Group = None,
    kafka_config: KafkaConfig = None,
    as_json: JsonOpt = False,
):
    """Feed dead-lettered (and parked) messages through the inbound path again, e.g. after a
    city-file fix: a fixed one becomes its case or step once, one still bad stays a dead letter
    with the new error. docs/kafka.md "Replaying dead letters"."""
    from adapters.kafka.inbound import InboundProcessor
    from adapters.kafka.replay import replay, select
    from adapters.kafka.store import create_tables

    settings, app, service, sql = _open(ctx, bootstrap, group, kafka_config, as_json)
    try:
        create_tables(sql)
        try:
            rows = select(sql, settings.group, topic=topic, ids=ids, every=every)
        except CasegridError as e:
            fail(e, as_json)
        processor = InboundProcessor(service, group=settings.group, topics=settings.topics,
                                     channel_actors=settings.channel_actors,
                                     max_message_bytes=settings.max_message_bytes)
        res = replay(processor, rows, dry_run=dry_run)
    finally:
        app.close()
    if as_json:
        print(json.dumps(res, ensure_ascii=False))
        return
    verb = "would replay" if dry_run else "replayed"
    out.print(f"{verb} {res['selected']} dead letters of group {settings.group}: "
              f"{res['applied']} {'would apply' if dry_run else 'applied'}, "
              f"{res['duplicates']} already there, {res['still_dead']} still dead")
    bad = [it for it in res["items"] if it["outcome"] == "still_dead"]
    if bad:
        t = Table("dead letter", "kind", "field", "error", title="still dead")
        for it in bad[:50]:
            t.add_row(it["id"], it.get("kind") or "", it.get("field") or "", (it.get("error") or "")[:200])
        out.print(t)
