"""Kafka throughput end to end: broker → case stored (inbound) and event log → broker (outbound).

A throwaway Tansu broker is started on a free loopback port and a backlog of report
messages (10% duplicates, 1% malformed, like the tests) is produced before the clock
starts. Inbound: the worker's poll → apply → commit loop, timed from its first
non-empty poll to the moment the last record's offset is stored in our database
(SQLite, and PostgreSQL unless --no-postgres). Baseline, measured in the same run on the
same store: the same worker taking one message per transaction (max_poll_records=1).
Outbound: the publisher sending the stored events (batched flushes) against a baseline
that flushes after every event.

    python benchmarks/kafka.py [--messages 20000] [--baseline-messages 2000] [--no-postgres]
                               [--batch 500] [--workers 2] [--fsync-off]

On PostgreSQL (durable, fsync on, unless --fsync-off) it also prints: inbound with
--workers processes sharing a 6-partition topic; the worker's and the server's CPU time
per message and the rate they allow one process with a core to itself (figures a loaded
shared machine moves much less than wall-clock rates); and the physical ceiling measured
in the same run: plain 100-row INSERT transactions of the events' row shape (one client),
as rows/s and as messages/s (divided by the rows one message writes: its events and its
inbox row), with each inbound rate as a share of it.

Prints one `name: value unit` line per figure; the last line is the headline speedup
(PostgreSQL inbound, or SQLite with --no-postgres: batched vs one message per transaction).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import sys
import tempfile
import time
from pathlib import Path

# this file is named kafka.py: keep its folder off the path so `import kafka` finds the client
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

import structlog  # noqa: E402
from kafka import KafkaProducer  # noqa: E402

from adapters.bootstrap import load_city  # noqa: E402
from adapters.kafka.outbound import OutboundPublisher, producer_config  # noqa: E402
from adapters.kafka.store import stored_offsets  # noqa: E402
from adapters.kafka.worker import KafkaSettings, KafkaWorker, open_store  # noqa: E402
from adapters.storage.sql import Sql  # noqa: E402
from deploy.tansu import ThrowawayBroker, create_topics  # noqa: E402

GRIDS = ["44030301000101", "44030301000202", "44030301000503", "44030301000604"]
CATS = ["E0102", "E0104", "E0107", "C0101", "E0201"]


def backlog(n: int, tag: str, seed: int = 7) -> list[tuple[bytes, bytes]]:
    rng = random.Random(seed)
    n_bad, n_dup = n // 100, n // 10
    out = []
    for i in range(n - n_bad - n_dup):
        doc = {"schema": "casegrid.report.v1", "message_id": f"{tag}-{i}", "source": "szcg",
               "external_id": f"{tag}-{i:07d}", "channel": "hotline", "category": CATS[i % 5],
               "grid": GRIDS[i % 4], "occurred_at": "2026-10-12T09:00:00+08:00",
               "description": f"12345 工单 {i}", "location": {"lat": 22.57, "lon": 114.12}}
        out.append((doc["external_id"].encode(), json.dumps(doc, ensure_ascii=False).encode()))
    uniq = list(out)
    out += [uniq[rng.randrange(len(uniq))] for _ in range(n_dup)]
    out += [(b"bad", b"{not json") for _ in range(n_bad)]
    rng.shuffle(out)
    return out


def produce(bootstrap: str, topic: str, msgs: list[tuple[bytes, bytes]]) -> None:
    p = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5, batch_size=512 * 1024)
    for k, v in msgs:
        p.send(topic, key=k, value=v)
    p.flush()
    p.close()


def pg_cpu_seconds(server) -> float:
    """CPU time (user + system) of one PostgreSQL server so far: the postmaster, its live
    backends, and the backends it has reaped (cutime/cstime), from /proc. 0 if unreadable."""
    if server is None:
        return 0.0
    try:
        pid = int((Path(server.data_dir) / "postmaster.pid").read_text().split()[0])
        tick = os.sysconf("SC_CLK_TCK")
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total = sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
        for d in Path("/proc").iterdir():
            if d.name.isdigit():
                try:
                    f = (d / "stat").read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                if int(f[1]) == pid:
                    total += int(f[11]) + int(f[12])
        return total / tick
    except (OSError, ValueError, AttributeError, IndexError):
        return 0.0


def inbound(broker, env: dict, n: int, batch: int, tag: str, server=None) -> tuple[float, object]:
    topics = {"reports": f"{tag}.reports", "unit_updates": f"{tag}.updates",
              "callbacks": f"{tag}.callbacks", "case_events": f"{tag}.events", "dead_letter": f"{tag}.dlq"}
    create_topics(broker.bootstrap, list(topics.values()), partitions=3)
    produce(broker.bootstrap, topics["reports"], backlog(n, tag))
    app, svc, sql = open_store(env=env, city=load_city())
    settings = KafkaSettings(bootstrap=broker.bootstrap, group=f"{tag}-g", topics=topics,
                             batch=batch, session_timeout_ms=2000, heartbeat_interval_ms=500,
                             create_topics=False)
    w = KafkaWorker(app, svc, settings, inbound=True, outbound=False)
    w.start()
    t0 = None
    done = 0
    try:
        while done < n:
            before = time.perf_counter()
            if t0 is None:
                cpu0, pg0 = time.process_time(), pg_cpu_seconds(server)
            got = w.poll_once(timeout_ms=500)
            if got and t0 is None:
                t0 = before
            done = sum(stored_offsets(sql, settings.group).values()) if got else done
        elapsed = time.perf_counter() - t0
        cpu = (time.process_time() - cpu0, pg_cpu_seconds(server) - pg0)
    finally:
        w.close()
    return n / elapsed, (app, topics, cpu)


def _assigned_worker(env: dict, settings: KafkaSettings, parts: list[int], n: int, out) -> None:
    """One worker process of inbound_processes: the group's steady state (each member holds
    its partitions) as a fixed assignment, polling until every record of the run is stored."""
    from kafka import TopicPartition

    app, svc, sql = open_store(env=env, city=load_city())
    w = KafkaWorker(app, svc, settings, inbound=True, outbound=False)
    w.start()
    w.consumer.unsubscribe()
    tps = [TopicPartition(settings.topics["reports"], p) for p in parts]
    w.consumer.assign(tps)
    w.consumer.seek_to_beginning(*tps)
    first = last = None
    try:
        while sum(stored_offsets(sql, settings.group).values()) < n:
            before = time.time()
            if w.poll_once(timeout_ms=200):
                first = first or before
                last = time.time()
    finally:
        w.close()
        app.close()
    out.put((first, last))


def inbound_processes(broker, env: dict, n: int, batch: int, tag: str, workers: int) -> float:
    """Inbound with `workers` processes sharing a 6-partition topic (A: several workers,
    one group): all records / (last store − first poll) over the processes."""
    import multiprocessing

    topics = {"reports": f"{tag}.reports", "unit_updates": f"{tag}.updates",
              "callbacks": f"{tag}.callbacks", "case_events": f"{tag}.events", "dead_letter": f"{tag}.dlq"}
    create_topics(broker.bootstrap, list(topics.values()), partitions=6)
    produce(broker.bootstrap, topics["reports"], backlog(n, tag))
    app, _, _ = open_store(env=env, city=load_city())  # the tables, made once before the workers
    app.close()
    settings = KafkaSettings(bootstrap=broker.bootstrap, group=f"{tag}-g", topics=topics,
                             batch=batch, session_timeout_ms=2000, heartbeat_interval_ms=500,
                             create_topics=False)
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    procs = [ctx.Process(target=_assigned_worker,
                         args=(env, settings, list(range(k, 6, workers)), n, out))
             for k in range(workers)]
    for p in procs:
        p.start()
    spans = [out.get(timeout=600) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    firsts = [f for f, _ in spans if f]
    lasts = [t for _, t in spans if t]
    return n / (max(lasts) - min(firsts))


def row_shape(app, n_messages: int) -> tuple[float, int]:
    """Rows the inbound run wrote per message (events + inbox rows) and the events' mean
    state size in bytes: the shape the raw-SQL ceiling inserts."""
    sql = Sql(app.recorder)
    table = app.recorder.events_table_name
    events, size = sql.query(f"SELECT COUNT(*), AVG(LENGTH(state)) FROM {table}")[0]
    inbox = sql.query("SELECT COUNT(*) FROM cg_kafka_inbox")[0][0]
    return (int(events) + int(inbox)) / n_messages, int(size or 0)


def ceiling(env: dict, state_bytes: int, rows: int = 30000, per_tx: int = 100) -> float:
    """Plain 100-row INSERT transactions into a table of the events' shape (uuid, version,
    topic, state; primary key and notification id as eventsourcing makes them), one client,
    on the same PostgreSQL: rows/s."""
    import uuid

    import psycopg

    conn = psycopg.connect(host=env["POSTGRES_HOST"], port=env["POSTGRES_PORT"],
                           dbname=env["POSTGRES_DBNAME"], user=env["POSTGRES_USER"],
                           password=env["POSTGRES_PASSWORD"])
    try:
        conn.execute("CREATE TABLE ceiling_events (originator_id uuid NOT NULL,"
                     " originator_version integer NOT NULL, topic text, state bytea,"
                     " notification_id bigserial, PRIMARY KEY (originator_id, originator_version))")
        conn.execute("CREATE UNIQUE INDEX ON ceiling_events (notification_id)")
        conn.commit()
        state = b"x" * state_bytes
        topic = "domain.case:Case.Reported"
        t0 = time.perf_counter()
        for _ in range(rows // per_tx):
            with conn.transaction(), conn.cursor() as cur:
                cur.executemany("INSERT INTO ceiling_events (originator_id, originator_version,"
                                " topic, state) VALUES (%s, %s, %s, %s)",
                                [(uuid.uuid4(), 1, topic, state) for _ in range(per_tx)])
        return rows / (time.perf_counter() - t0)
    finally:
        conn.close()


def outbound(broker, app, topic: str, batch: int, limit: int | None = None) -> float:
    create_topics(broker.bootstrap, [topic], partitions=3)
    producer = KafkaProducer(**producer_config(broker.bootstrap, "bench"))
    pub = OutboundPublisher(app, producer, topic, name=f"bench:{topic}:{batch}", batch=batch)
    head = app.recorder.max_notification_id()
    stop = min(head, limit) if limit else head
    t0 = time.perf_counter()
    sent = 0
    while sent < stop:
        k = pub.step()
        if not k:
            break
        sent += k
    elapsed = time.perf_counter() - t0
    producer.close()
    return sent / elapsed


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=20000)
    ap.add_argument("--baseline-messages", type=int, default=2000)
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--no-postgres", action="store_true")
    ap.add_argument("--fsync-off", action="store_true",
                    help="PostgreSQL without fsync/synchronous_commit (default: durable, as production)")
    ap.add_argument("--workers", type=int, default=2,
                    help="inbound processes of the multi-process run (PostgreSQL)")
    args = ap.parse_args()
    logging.disable(logging.WARNING)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR))
    print(f"inbound_backlog: {args.messages} messages (10% duplicates, 1% malformed)")
    print(f"inbound_batch: {args.batch} records per transaction")
    print(f"postgres_fsync: {'off' if args.fsync_off else 'on'}")
    stores = [("sqlite", None)]
    pg = None
    if not args.no_postgres:
        from deploy.postgres import ThrowawayPostgres

        pg = ThrowawayPostgres(durable=not args.fsync_off).start()
        stores.append(("postgres", pg))
    speedup = None
    try:
        with ThrowawayBroker() as broker, tempfile.TemporaryDirectory() as tmp:
            for name, server in stores:
                def env(tag, server=server, name=name):
                    if server is None:
                        return {"PERSISTENCE_MODULE": "eventsourcing.sqlite",
                                "SQLITE_DBNAME": str(Path(tmp) / f"{tag}.sqlite")}
                    return server.create_database(tag)

                rate, (app, topics, cpu) = inbound(broker, env(f"{name}_b"), args.messages,
                                                   args.batch, f"{name}b", server)
                print(f"{name}_inbound_batched: {rate:.0f} messages/s")
                print(f"{name}_inbound_worker_cpu: {1e6 * cpu[0] / args.messages:.0f} µs/message")
                if server is not None and cpu[1]:
                    print(f"{name}_inbound_server_cpu: {1e6 * cpu[1] / args.messages:.0f} µs/message")
                    print(f"{name}_inbound_cpu_bound_one_process: "
                          f"{args.messages / sum(cpu):.0f} messages/s (1 / CPU per message: "
                          "the rate with a core to itself, no waiting)")
                base, (app1, _, _) = inbound(broker, env(f"{name}_o"), args.baseline_messages, 1,
                                             f"{name}o")
                print(f"{name}_inbound_one_per_transaction: {base:.0f} messages/s")
                out = outbound(broker, app, topics["case_events"], 1000)
                print(f"{name}_outbound_batched: {out:.0f} events/s")
                out1 = outbound(broker, app, topics["case_events"] + "-1", 1,
                                limit=args.baseline_messages)
                print(f"{name}_outbound_flush_per_event: {out1:.0f} events/s")
                if server is not None:
                    multi = inbound_processes(broker, env(f"{name}_m"), args.messages, args.batch,
                                              f"{name}m", args.workers)
                    print(f"{name}_inbound_{args.workers}_processes: {multi:.0f} messages/s")
                    per_msg, state_bytes = row_shape(app, args.messages)
                    rows = ceiling(server.create_database(f"{name}_c"), state_bytes)
                    print(f"{name}_rows_per_message: {per_msg:.2f} rows (events + inbox row)")
                    print(f"{name}_ceiling_100_row_transactions: {rows:.0f} rows/s")
                    print(f"{name}_ceiling_as_messages: {rows / per_msg:.0f} messages/s")
                    print(f"{name}_inbound_of_ceiling: {100 * rate * per_msg / rows:.0f} %")
                    print(f"{name}_inbound_{args.workers}_processes_of_ceiling: "
                          f"{100 * multi * per_msg / rows:.0f} %")
                app.close()
                app1.close()
                speedup = (name, rate / base)
    finally:
        if pg is not None:
            pg.stop()
    print(f"speedup: {speedup[1]:.1f}x ({speedup[0]} inbound, batched vs one message per transaction)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
