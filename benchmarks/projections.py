"""Projection catch-up speed and scoreboard query latency, on SQLite and PostgreSQL.

Fills a store with `casegrid simulate`'s workload (default 140,000 cases in one month,
about a million events), lets PostgreSQL finish the fill's vacuum and checkpoint, then
rebuilds every projection together from nothing and times it; then times month
scoreboards. Baseline, in the same run: the same projections applying one
event per transaction (the plain way), over the first --baseline-events events.

    python benchmarks/projections.py [--cases 140000] [--no-postgres] [--queries 60]

One `name: value unit` line per figure; the last line is the headline speedup
(PostgreSQL batched catch-up vs one event per transaction).
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import time
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import structlog  # noqa: E402

from adapters.bootstrap import bootstrap, load_city  # noqa: E402
from projections.cases import due_case_ids  # noqa: E402
from projections.scoreboard import scoreboard  # noqa: E402
from workflows.simulation import Simulation  # noqa: E402

SH = ZoneInfo("Asia/Shanghai")
MONTH = (date(2026, 10, 1), date(2026, 10, 31))


def fill(env: dict, cases: int, seed: int) -> int:
    cg = bootstrap(env=env, city=load_city())
    sim = Simulation(cg.city, seed=seed, start=datetime(2026, 10, 1, tzinfo=SH), days=31,
                     end=datetime(2026, 11, 1, tzinfo=SH))

    def tick(now):
        cg.projections.catch_up(["cases"])
        return len(cg.service.tick(now, due_case_ids(cg.sql, now)))

    t0 = time.perf_counter()
    stats = sim.run(cases, cg.service.execute, tick, batch=1000)
    head = cg.projections.head()
    print(f"fill_commands: {stats.commands} commands in {time.perf_counter() - t0:.0f} s")
    cg.close()
    return head


def settle(env: dict, label: str) -> None:
    """A store that recorded its events over a month is not in the middle of vacuuming
    and checkpointing a million rows written a second ago: let the fill's aftermath end
    before timing (VACUUM ANALYZE, CHECKPOINT) so that it is not counted as catch-up."""
    import psycopg

    t0 = time.perf_counter()
    with psycopg.connect(host=env["POSTGRES_HOST"], port=env["POSTGRES_PORT"],
                         user=env["POSTGRES_USER"], password=env["POSTGRES_PASSWORD"],
                         dbname=env["POSTGRES_DBNAME"], autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE)")
        conn.execute("CHECKPOINT")
    print(f"{label}_settle_after_fill: {time.perf_counter() - t0:.0f} s")


def reset(cg) -> None:
    with cg.sql.transaction() as cur:
        for proj in cg.projections.projections.values():
            for table in proj.tables:
                cur.execute(f"DROP TABLE IF EXISTS {table}")
        cur.execute("DELETE FROM cg_tracking")
    cg.projections._ready = False
    cg.projections.setup()


def measure(env: dict, label: str, queries: int, baseline_events: int) -> float:
    cg = bootstrap(env=env, city=load_city())
    head = cg.projections.head()
    print(f"{label}_events: {head} events")
    print(f"{label}_batch: {cg.projections.batch} events")
    t0 = time.perf_counter()
    cg.projections.rebuild()  # drop every projection, replay them all together, ANALYZE
    elapsed = time.perf_counter() - t0
    rate = head / elapsed
    print(f"{label}_catch_up_all_projections: {rate:.0f} events/s")
    cases = cg.sql.query("SELECT COUNT(*) FROM cg_sb_case WHERE day >= ? AND day <= ?",
                         (MONTH[0].isoformat(), MONTH[1].isoformat()))[0][0]
    print(f"{label}_month_cases: {cases} cases")
    for by in ("unit", "community", "supervisor"):
        lat = []
        for _ in range(queries):
            q0 = time.perf_counter()
            scoreboard(cg.sql, cg.city, by=by, start=MONTH[0], end=MONTH[1])
            lat.append((time.perf_counter() - q0) * 1000)
        lat.sort()
        print(f"{label}_scoreboard_{by}_p50: {statistics.median(lat):.1f} ms")
        print(f"{label}_scoreboard_{by}_p95: {lat[int(0.95 * (len(lat) - 1))]:.1f} ms")
    # baseline: the same projections, one event per transaction, over the first events
    reset(cg)
    cg.projections.batch, cg.projections.pipeline = 1, False
    t0 = time.perf_counter()
    done = cg.projections.catch_up(max_events=baseline_events)
    base = done / (time.perf_counter() - t0)
    print(f"{label}_one_event_per_transaction_baseline: {base:.0f} events/s")
    cg.close()
    return rate / base


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, default=140_000)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--queries", type=int, default=60)
    ap.add_argument("--baseline-events", type=int, default=5000)
    ap.add_argument("--no-postgres", action="store_true")
    args = ap.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    with tempfile.TemporaryDirectory() as tmp:
        env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite",
               "SQLITE_DBNAME": str(Path(tmp) / "bench.sqlite")}
        fill(env, args.cases, args.seed)
        speedup, label = measure(env, "sqlite", args.queries, args.baseline_events), "sqlite"
    if not args.no_postgres:
        from deploy.postgres import ThrowawayPostgres

        with ThrowawayPostgres(durable=True) as pg:
            env = pg.create_database("bench_projections")
            fill(env, args.cases, args.seed)
            settle(env, "postgres")
            speedup, label = measure(env, "postgres", args.queries, args.baseline_events), "postgres"
    print(f"speedup: {speedup:.1f}x ({label} batched catch-up vs one event per transaction)")


if __name__ == "__main__":
    main()
