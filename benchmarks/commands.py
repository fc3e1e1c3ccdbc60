"""Commands per second for a `simulate`-shaped workload, against a naive baseline.

Ours: the CaseService executing the simulation's commands in batches (each batch one
transaction). Baseline, measured in the same run on the same store: a plain
eventsourcing Application doing get + one-event save per command. Ceiling, on
PostgreSQL in the same run: the event rows our run stored (same count, same sizes),
inserted by plain INSERTs (psycopg 3 executemany, pipelined) into a table of the same
shape, in transactions of as many rows as one of our batches wrote.

    python benchmarks/commands.py [--cases 1500] [--batch 200] [--rounds 1] [--no-postgres]

With --rounds N, ours and the baseline alternate N times on PostgreSQL (fresh databases)
and the headline is the median of the rounds' ratios. Prints one `name: value unit` line
per figure; the last line is the headline speedup on PostgreSQL (batched service vs
naive baseline).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from uuid import UUID
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from eventsourcing.application import Application  # noqa: E402
from eventsourcing.domain import Aggregate, event  # noqa: E402

from adapters.bootstrap import bootstrap, load_city  # noqa: E402
from workflows.commands import ReportCase  # noqa: E402
from workflows.simulation import Simulation  # noqa: E402

SH = ZoneInfo("Asia/Shanghai")


class PlainCase(Aggregate):
    """The baseline's aggregate: one event per command, no lifecycle."""

    def __init__(self, channel: str):
        self.channel = channel
        self.steps = 0

    @event("Stepped")
    def step(self, trigger: str, actor: str, occurred_at: datetime):
        self.steps += 1


class PlainApp(Application):
    name = "plainbench"


def workload(city, cases: int, seed: int) -> list:
    sim = Simulation(city, seed=seed, start=datetime(2026, 10, 1, tzinfo=SH), days=30,
                     end=datetime(2026, 11, 1, tzinfo=SH))
    return [cmd for t, _, cmd in sorted(sim.script(cases), key=lambda x: x[:2]) if t < sim.end]


def run_ours(env: dict, commands: list, batch: int) -> tuple[float, int]:
    cg = bootstrap(env=env, city=load_city())
    refused = 0
    t0 = time.perf_counter()
    for i in range(0, len(commands), batch):
        refused += sum(o.error is not None for o in cg.service.execute(commands[i:i + batch]))
    elapsed = time.perf_counter() - t0
    cg.close()
    return len(commands) / elapsed, refused


def connect(env: dict):
    import psycopg

    return psycopg.connect(host=env["POSTGRES_HOST"], port=int(env["POSTGRES_PORT"]),
                           user=env["POSTGRES_USER"], password=env["POSTGRES_PASSWORD"],
                           dbname=env["POSTGRES_DBNAME"], autocommit=True)


def stored_rows(env: dict) -> list[tuple]:
    """The event rows a run stored, in log order (what the ceiling inserts again)."""
    with connect(env) as conn:
        return conn.execute("SELECT originator_id, originator_version, topic, state"
                            " FROM casegrid_events ORDER BY notification_id").fetchall()


def run_raw_inserts(env: dict, rows: list[tuple], per_transaction: int) -> float:
    """Rows per second by plain INSERTs into a table shaped like eventsourcing's."""
    with connect(env) as conn:
        conn.execute("CREATE TABLE raw_events (originator_id uuid NOT NULL,"
                     " originator_version bigint NOT NULL, topic text, state bytea,"
                     " notification_id bigserial, PRIMARY KEY (originator_id, originator_version))")
        conn.execute("CREATE UNIQUE INDEX raw_events_notification ON raw_events (notification_id)")
        t0 = time.perf_counter()
        for i in range(0, len(rows), per_transaction):
            with conn.transaction(), conn.cursor() as cur:
                cur.executemany("INSERT INTO raw_events (originator_id, originator_version,"
                                " topic, state) VALUES (%s, %s, %s, %s)",
                                rows[i:i + per_transaction])
        return len(rows) / (time.perf_counter() - t0)


def run_naive(env: dict, commands: list) -> float:
    app = PlainApp(env=env)
    t0 = time.perf_counter()
    for cmd in commands:
        if isinstance(cmd, ReportCase):
            agg = PlainCase._create(PlainCase.Created, id=cmd.case_id, channel=cmd.channel)
        else:
            agg = app.repository.get(UUID(str(cmd.case_id)))
            agg.step(cmd.trigger, cmd.actor, cmd.occurred_at)
        app.save(agg)
    elapsed = time.perf_counter() - t0
    app.close()
    return len(commands) / elapsed


def sqlite_env(folder: Path, name: str) -> dict:
    return {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(folder / name)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, default=1500)
    ap.add_argument("--batch", type=int, default=200)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--no-postgres", action="store_true")
    args = ap.parse_args()

    import logging

    import structlog  # noqa: E401
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))

    city = load_city()
    commands = workload(city, args.cases, args.seed)
    print(f"workload_commands: {len(commands)} commands")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        ours, refused = run_ours(sqlite_env(folder, "ours.sqlite"), commands, args.batch)
        print(f"sqlite_batched: {ours:.0f} commands/s")
        print(f"sqlite_batched_refused: {refused} commands")
        one, _ = run_ours(sqlite_env(folder, "one.sqlite"), commands, 1)
        print(f"sqlite_one_per_transaction: {one:.0f} commands/s")
        naive = run_naive(sqlite_env(folder, "naive.sqlite"), commands)
        print(f"sqlite_naive_baseline: {naive:.0f} commands/s")
        speedup = ours / naive
        label = "sqlite"
    if not args.no_postgres:
        from deploy.postgres import ThrowawayPostgres

        ratios = []
        with ThrowawayPostgres(durable=True) as pg:
            for r in range(args.rounds):
                ours, refused = run_ours(pg.create_database(f"bench_ours_{r}"), commands,
                                         args.batch)
                print(f"postgres_batched: {ours:.0f} commands/s")
                print(f"postgres_batched_refused: {refused} commands")
                naive = run_naive(pg.create_database(f"bench_naive_{r}"), commands)
                print(f"postgres_naive_baseline: {naive:.0f} commands/s")
                ratios.append(ours / naive)
            one, _ = run_ours(pg.create_database("bench_one"), commands, 1)
            print(f"postgres_one_per_transaction: {one:.0f} commands/s")
            rows = stored_rows(pg.env_for("bench_ours_0"))
            per_batch = round(len(rows) / -(-len(commands) // args.batch))
            raw = run_raw_inserts(pg.create_database("bench_raw"), rows, per_batch)
            print(f"postgres_raw_insert_ceiling: {raw:.0f} events/s"
                  f" ({len(rows)} rows of {sum(len(r[3]) for r in rows) // len(rows)} bytes,"
                  f" {per_batch} per transaction)")
            print(f"postgres_raw_insert_ceiling_as_commands: {raw * len(commands) / len(rows):.0f}"
                  " commands/s")
            print(f"postgres_batched_of_ceiling: {100 * ours / (raw * len(commands) / len(rows)):.0f} %"
                  " (last round)")
        if len(ratios) > 1:
            print(f"postgres_speedup_rounds: {' '.join(f'{x:.1f}' for x in ratios)} x")
        speedup = statistics.median(ratios)
        label = "postgres"
    print(f"speedup: {speedup:.1f}x ({label} batched vs naive get+save per command)")


if __name__ == "__main__":
    main()
