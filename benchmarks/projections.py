"""Projection catch-up speed and memory, and scoreboard query latency, on SQLite and PostgreSQL.

Fills a store with `casegrid simulate`'s workload (default 140,000 cases in one month,
about a million events), lets PostgreSQL finish the fill's vacuum and checkpoint, then
rebuilds every projection from nothing with `casegrid projections rebuild` in a child
process (in one process, and on PostgreSQL also with --processes N: every projection's
work split by case over N processes, projections/shards.py) and times it, sampling the
resident memory of every process it runs. The ceiling for that
shape, measured in the same run: a keyset read of the event table in raw SQL (rows/s).
Then month scoreboards for every `--by` dimension, at the filled size and with the
scoreboard scaled to --query-cases cases (each case's row copied, its counts multiplied:
the tables a store of that many cases of the same shape holds). Baseline, in the same
run: the same projections applying one event per transaction (the plain way), over the
first --baseline-events events.

    python benchmarks/projections.py [--cases 140000] [--processes 2] [--no-postgres]

One `name: value unit` line per figure; the last line is the headline speedup
(PostgreSQL catch-up in --processes processes vs one event per transaction).
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import structlog  # noqa: E402

from adapters.bootstrap import bootstrap, load_city  # noqa: E402
from adapters.cli.projection_workers import plan  # noqa: E402
from projections.case_facts import DIMENSIONS  # noqa: E402
from projections.cases import due_case_ids  # noqa: E402
from projections.scoreboard import scoreboard  # noqa: E402
from workflows.simulation import Simulation  # noqa: E402

SH = ZoneInfo("Asia/Shanghai")
MONTH = (date(2026, 10, 1), date(2026, 10, 31))
ROOT = Path(__file__).resolve().parents[1]


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


def connect(env: dict):
    import psycopg

    return psycopg.connect(host=env["POSTGRES_HOST"], port=env["POSTGRES_PORT"],
                           user=env["POSTGRES_USER"], password=env["POSTGRES_PASSWORD"],
                           dbname=env["POSTGRES_DBNAME"], autocommit=True)


def settle(env: dict, label: str) -> None:
    """A store that recorded its events over a month is not in the middle of vacuuming
    and checkpointing a million rows written a second ago: let the fill's aftermath end
    before timing (VACUUM ANALYZE, CHECKPOINT) so that it is not counted as catch-up."""
    t0 = time.perf_counter()
    with connect(env) as conn:
        conn.execute("VACUUM (ANALYZE)")
        conn.execute("CHECKPOINT")
    print(f"{label}_settle_after_fill: {time.perf_counter() - t0:.0f} s")


def keyset_ceiling(env: dict, table: str, page: int = 10_000) -> float:
    """Raw SQL: every row of the event table in pages of `page` by notification id (the
    shape the runner reads), rows/s; the most any catch-up could reach here."""
    with connect(env) as conn, conn.cursor() as cur:
        t0, after, n = time.perf_counter(), 0, 0
        while True:
            cur.execute(f"SELECT notification_id, originator_id, originator_version, topic, state"
                        f" FROM {table} WHERE notification_id > %s ORDER BY notification_id"
                        f" LIMIT %s", (after, page), prepare=True)
            rows = cur.fetchall()
            if not rows:
                break
            after, n = rows[-1][0], n + len(rows)
        return n / (time.perf_counter() - t0)


class PeakRss:
    """The largest sum of the resident memory of `pids()`, sampled every 50 ms."""

    def __init__(self, pids):
        self.pids, self.peak, self._stop = pids, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            total = 0
            for pid in self.pids():
                try:
                    with open(f"/proc/{pid}/status") as f:
                        total += next(int(x.split()[1]) for x in f if x.startswith("VmRSS:"))
                except (OSError, StopIteration):
                    continue
            self.peak = max(self.peak, total * 1024)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def cli_rebuild(env: dict, processes: int) -> tuple[float, int, float]:
    """`casegrid projections rebuild --processes N` in a child; seconds, peak bytes (the
    child and its own children together), and their CPU seconds (Python's side only:
    on this shared machine the wall time depends on the load, the CPU time much less)."""
    c0 = os.times()
    cmd = [sys.executable, "-m", "adapters.cli", "projections", "rebuild",
           "--processes", str(processes), "--json"]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env={**os.environ, **env, "PYTHONPATH": str(ROOT)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def tree() -> list[int]:
        pids = [proc.pid]
        try:
            with open(f"/proc/{proc.pid}/task/{proc.pid}/children") as f:
                pids += [int(p) for p in f.read().split()]
        except OSError:
            pass
        return pids

    with PeakRss(tree) as rss:
        out, err = proc.communicate()
    if proc.returncode:
        raise RuntimeError(f"rebuild failed: {err[-2000:]}")
    c1 = os.times()
    cpu = c1.children_user + c1.children_system - c0.children_user - c0.children_system
    return time.perf_counter() - t0, rss.peak, cpu


def query_latency(cg, label: str, queries: int) -> list[float]:
    p95s = []
    for by in DIMENSIONS:
        lat = []
        for _ in range(queries):
            q0 = time.perf_counter()
            scoreboard(cg.sql, cg.city, by=by, start=MONTH[0], end=MONTH[1])
            lat.append((time.perf_counter() - q0) * 1000)
        lat.sort()
        p95 = lat[int(0.95 * (len(lat) - 1))]
        p95s.append(p95)
        print(f"{label}_{by}_p50: {statistics.median(lat):.1f} ms")
        print(f"{label}_{by}_p95: {p95:.1f} ms")
    return p95s


def scale_scoreboard(cg, factor: int) -> int:
    """The scoreboard of `factor` times the cases: each case's row copied under new ids,
    every count multiplied (what the fold gives for copies of the same cases)."""
    with cg.sql.transaction() as cur:
        for k in range(1, factor):
            cur.execute("INSERT INTO cg_sb_case (case_id, day, unit, position, row)"
                        " SELECT case_id || ?, day, unit, position, row FROM cg_sb_case"
                        " WHERE strpos(case_id, '~') = 0", (f"~{k}",))
        cur.execute("UPDATE cg_sb_counts SET n = n * ?", (factor,))
        cur.execute("UPDATE cg_sb_months SET n = n * ?", (factor,))
        for table in ("cg_sb_case", "cg_sb_counts", "cg_sb_months"):
            cur.execute(f"ANALYZE {table}")
    return cg.sql.query("SELECT COUNT(*) FROM cg_sb_case WHERE day >= ? AND day <= ?",
                        (MONTH[0].isoformat(), MONTH[1].isoformat()))[0][0]


def baseline(cg, events: int) -> float:
    """The same projections, one event per transaction, over the first `events` events."""
    with cg.sql.transaction() as cur:
        for proj in cg.projections.projections.values():
            for table in proj.tables:
                cur.execute(f"DROP TABLE IF EXISTS {table}")
        cur.execute("DELETE FROM cg_tracking")
    cg.projections._ready = False
    cg.projections.setup()
    cg.projections.batch, cg.projections.pipeline = 1, False
    t0 = time.perf_counter()
    done = cg.projections.catch_up(max_events=events)
    return done / (time.perf_counter() - t0)


def measure(env: dict, label: str, args) -> tuple[float, int]:
    cg = bootstrap(env=env, city=load_city())
    head = cg.projections.head()
    print(f"{label}_events: {head} events")
    print(f"{label}_batch: {cg.projections.batch} events")
    if label == "postgres":
        rate = keyset_ceiling(env, cg.app.recorder.events_table_name)
        print(f"{label}_ceiling_keyset_read: {rate:.0f} rows/s")
    runs = [1] if label == "sqlite" else sorted({1, args.processes})
    rate = 0.0
    for n in runs:
        elapsed, peak, cpu = cli_rebuild(env, n)
        rate = head / elapsed
        if n > 1:
            how = ("shards: every projection, each process a share of the cases"
                   if label == "postgres" else " | ".join(
                       ",".join(g) for g in plan(list(cg.projections.projections), n)))
            print(f"{label}_processes: {n} ({how})")
        print(f"{label}_catch_up_all_projections_{n}p: {rate:.0f} events/s")
        print(f"{label}_peak_rss_all_processes_{n}p: {peak / 2**20:.0f} MB")
        print(f"{label}_python_cpu_{n}p: {cpu:.1f} s ({head / cpu:.0f} events per CPU second)")
    cases = cg.sql.query("SELECT COUNT(*) FROM cg_sb_case WHERE day >= ? AND day <= ?",
                         (MONTH[0].isoformat(), MONTH[1].isoformat()))[0][0]
    print(f"{label}_month_cases: {cases} cases")
    query_latency(cg, f"{label}_scoreboard", args.queries)
    if args.query_cases > cases:
        factor = -(-args.query_cases // cases)
        print(f"{label}_scaled_month_cases: {scale_scoreboard(cg, factor)} cases ({factor}x)")
        worst = max(query_latency(cg, f"{label}_scaled_scoreboard", args.queries))
        print(f"{label}_scaled_scoreboard_worst_p95: {worst:.1f} ms")
    base = baseline(cg, args.baseline_events)
    print(f"{label}_one_event_per_transaction_baseline: {base:.0f} events/s")
    cg.close()
    return rate / base, runs[-1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, default=140_000)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--processes", type=int, default=2)
    ap.add_argument("--queries", type=int, default=60)
    ap.add_argument("--query-cases", type=int, default=1_000_000)
    ap.add_argument("--baseline-events", type=int, default=5000)
    ap.add_argument("--no-postgres", action="store_true")
    ap.add_argument("--no-sqlite", action="store_true")
    args = ap.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    os.environ.setdefault("CASEGRID_LOG_LEVEL", "warning")
    speedup, label, procs = 0.0, "none", 1
    if not args.no_sqlite:
        with tempfile.TemporaryDirectory() as tmp:
            env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite",
                   "SQLITE_DBNAME": str(Path(tmp) / "bench.sqlite")}
            fill(env, args.cases, args.seed)
            (speedup, procs), label = measure(env, "sqlite", args), "sqlite"
    if not args.no_postgres:
        from deploy.postgres import ThrowawayPostgres

        with ThrowawayPostgres(durable=True) as pg:
            env = pg.create_database("bench_projections")
            fill(env, args.cases, args.seed)
            settle(env, "postgres")
            (speedup, procs), label = measure(env, "postgres", args), "postgres"
    print(f"speedup: {speedup:.1f}x ({label} catch-up in {procs} process(es) vs one"
          f" event per transaction)")


if __name__ == "__main__":
    main()
