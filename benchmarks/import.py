"""History import into PostgreSQL (fsync on): events per second on the Los Angeles 311
extract (10,000 rows) and on a generated file of the same shape (1M rows by default,
benchmarks/la311_generate.py), with docs/import/la311.yaml.

Ours: the importer in `--workers` processes (default 2), each saving `--batch` rows'
new cases per transaction by binary COPY. Baseline, measured in the same run on the
same server: one process saving one row's case per transaction. The physical ceiling,
in the same run: plain 100-row INSERT transactions of rows of the event table's shape
(uuid, version, topic, state of the imported events' mean size), from 1 and from
`--workers` clients. A re-run of the LA file (which must import nothing) is timed too.
The big file streams: peak resident memory of the importer processes is printed at
100k rows and at the end, and the 1M run is extrapolated to a 10M-case history.

    python benchmarks/import.py [--big-rows 1000000] [--workers 2] [--no-big]

Prints one `name: value unit` line per figure; the last line is the headline speedup
(LA file, ours vs one row per transaction).
"""

from __future__ import annotations

import argparse
import logging
import os
import resource
import signal
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import structlog  # noqa: E402

from adapters.bootstrap import bootstrap, load_city  # noqa: E402
from adapters.importing import Importer, Mapping  # noqa: E402

LA_FILE = ROOT / "benchmarks" / "data" / "la311_2020-01-01_to_03_10k.csv"
MAPPING = ROOT / "docs" / "import" / "la311.yaml"
CEILING_ROWS = 30_000


def peak_rss_mb() -> float:
    """The largest peak resident set (VmHWM) of this process and its children, in MB."""
    me = os.getpid()
    pids = [me]
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == me:
                pids.append(int(entry))
    peak = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]))
        except OSError:
            continue
    return peak / 1024


def own_cpu() -> float:
    """CPU seconds of this process and its finished children (the import workers)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def server_cpu(pg) -> float:
    """CPU seconds of the PostgreSQL server: the postmaster, its ended and live backends."""
    tick = os.sysconf("SC_CLK_TCK")
    try:
        master = int((pg.data_dir / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0.0
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(entry) == master:
            total += sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
        elif int(fields[1]) == master:
            total += int(fields[11]) + int(fields[12])
    return total / tick


def run_import(env: dict, path: Path, *, batch: int, workers: int, marks: tuple[int, ...] = (),
               pg=None):
    """(report, {mark: peak RSS MB when that many rows were done}, (import CPU s, server CPU s))."""
    cpu0, srv0 = own_cpu(), server_cpu(pg) if pg else 0.0
    cg = bootstrap(env=env, city=load_city())
    seen: dict[int, float] = {}
    done = 0

    t0 = time.perf_counter()

    def progress(n: int) -> None:
        nonlocal done
        before, done = done, done + n
        for m in marks:
            if m not in seen and done >= m:
                seen[m] = peak_rss_mb()
        if marks and before // 100_000 != done // 100_000:  # a long run says how it goes
            print(f"  {done} rows, {time.perf_counter() - t0:.0f} s, peak RSS {peak_rss_mb():.0f} MB",
                  file=sys.stderr, flush=True)

    try:
        rep = Importer(cg.service, Mapping.load(MAPPING), batch=batch, workers=workers).run(
            path, progress=progress)
    finally:
        cg.close()
    return rep, seen, (own_cpu() - cpu0, (server_cpu(pg) - srv0) if pg else 0.0)


def cpu_lines(name: str, rep, cpu: tuple[float, float], cores: int) -> None:
    """What the run cost in CPU, and the rate that cost allows on idle cores."""
    mine, server = cpu
    print(f"{name}_cpu: {mine:.1f} s importer + {server:.1f} s PostgreSQL "
          f"({rep.events / (mine + server):.0f} events per CPU-second)", flush=True)
    print(f"{name}_cpu_bound_on_{cores}_idle_cores: {cores * rep.events / (mine + server):.0f} events/s",
          flush=True)


def mean_state_size(env: dict) -> int:
    cg = bootstrap(env=env, city=load_city())
    try:
        table = cg.app.recorder.events_table_name
        return int(float(cg.sql.query(f"SELECT avg(length(state)) FROM {table}")[0][0]))
    finally:
        cg.close()


def _conninfo(env: dict) -> dict:
    return {"host": env["POSTGRES_HOST"], "port": env["POSTGRES_PORT"], "user": env["POSTGRES_USER"],
            "password": env["POSTGRES_PASSWORD"], "dbname": env["POSTGRES_DBNAME"]}


def ceiling(env: dict, clients: int, state_size: int, rows: int = CEILING_ROWS) -> float:
    """Rows/s of plain 100-row INSERT transactions into a table of the events' shape."""
    import psycopg

    with psycopg.connect(**_conninfo(env), autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS ceiling_events")
        conn.execute("CREATE TABLE ceiling_events (originator_id uuid NOT NULL,"
                     " originator_version bigint NOT NULL, topic text, state bytea,"
                     " notification_id bigserial, PRIMARY KEY (originator_id, originator_version))")
        conn.execute("CREATE UNIQUE INDEX ON ceiling_events (notification_id)")
    topic = "domain.case:Case.Resolved"
    state = os.urandom(state_size)
    marks = ", ".join(["(%s, %s, %s, %s)"] * 100)
    per = rows // clients // 100

    def client() -> None:
        with psycopg.connect(**_conninfo(env), autocommit=True) as conn:
            for _ in range(per):
                cid = uuid.uuid4()
                params = [x for v in range(1, 101) for x in (cid, v, topic, state)]
                with conn.transaction():
                    conn.execute(f"INSERT INTO ceiling_events VALUES {marks}", params)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return per * clients * 100 / (time.perf_counter() - t0)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--file", type=Path, default=LA_FILE)
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--big-rows", type=int, default=1_000_000)
    ap.add_argument("--big-file", type=Path, help="an already generated big file (else one is written)")
    ap.add_argument("--no-big", action="store_true")
    ap.add_argument("--baseline-rows", type=int, default=2000,
                    help="LA rows for the one-row-per-transaction baseline (its rate is a rate)")
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the server on the way out
    logging.disable(logging.WARNING)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR))
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from la311_generate import generate  # the sibling script

    from adapters.importing import count_rows
    from deploy.postgres import ThrowawayPostgres

    cores = os.cpu_count() or 1
    print(f"machine: {cores} cores, load average {os.getloadavg()[0]:.1f} at start; "
          "PostgreSQL 15 with fsync on; date 2026-12-03", flush=True)
    with ThrowawayPostgres(durable=True) as pg, tempfile.TemporaryDirectory() as tmp:
        env = pg.create_database("la_ours")
        rep, _, cpu = run_import(env, args.file, batch=args.batch, workers=args.workers, pg=pg)
        ours = rep.events / rep.seconds
        print(f"file: {args.file.name} {rep.rows} rows -> {rep.imported} cases, {rep.events} events, "
              f"{rep.skipped_count} skipped")
        print(f"la_import_ours: {ours:.0f} events/s ({rep.rows / rep.seconds:.0f} rows/s, "
              f"{args.workers} processes, {args.batch} rows per transaction, COPY)", flush=True)
        cpu_lines("la_import_ours", rep, cpu, cores)
        again, _, _ = run_import(env, args.file, batch=args.batch, workers=args.workers)
        assert again.imported == 0 and again.already == rep.imported, "a re-run imported something"
        print(f"la_rerun_imports_nothing: {again.rows / again.seconds:.0f} rows/s", flush=True)
        size = mean_state_size(env)
        base_env = pg.create_database("la_baseline")
        head = Path(tmp) / "la_head.csv"
        with args.file.open(encoding="utf-8", newline="") as src, head.open("w", encoding="utf-8") as dst:
            dst.write("".join(line for _, line in zip(range(args.baseline_rows + 1), src, strict=False)))
        base, _, bcpu = run_import(base_env, head, batch=1, workers=1, pg=pg)
        baseline = base.events / base.seconds
        print(f"la_import_one_row_per_transaction: {baseline:.0f} events/s "
              f"({base.rows / base.seconds:.0f} rows/s, 1 process, first {base.rows} rows)", flush=True)
        cpu_lines("la_import_one_row_per_transaction", base, bcpu, cores)
        ceil_env = pg.create_database("ceiling")
        ceil1 = ceiling(ceil_env, 1, size)
        ceiln = ceiling(ceil_env, args.workers, size)
        print(f"ceiling_raw_sql_100_row_inserts_1_client: {ceil1:.0f} rows/s ({size}-byte states)")
        print(f"ceiling_raw_sql_100_row_inserts_{args.workers}_clients: {ceiln:.0f} rows/s")
        print(f"la_import_of_ceiling: {100 * ours / max(ceil1, ceiln):.0f} %", flush=True)
        if not args.no_big:
            big = args.big_file
            rows = count_rows(big, "csv") if big else args.big_rows
            if big is None:
                big = Path(tmp) / "la311_big.csv"
                t0 = time.perf_counter()
                generate(big, args.big_rows)
                print(f"big_file_generated: {args.big_rows} rows in {time.perf_counter() - t0:.0f} s",
                      flush=True)
            big_env = pg.create_database("la_big")
            brep, rss, bigcpu = run_import(big_env, big, batch=args.batch, workers=args.workers,
                                           marks=(100_000, rows), pg=pg)
            rate = brep.events / brep.seconds
            print(f"big_file: {brep.rows} rows -> {brep.imported} cases, {brep.events} events, "
                  f"{brep.skipped_count} skipped, {brep.seconds:.0f} s")
            print(f"big_import_ours: {rate:.0f} events/s ({brep.imported / brep.seconds:.0f} cases/s)")
            cpu_lines("big_import_ours", brep, bigcpu, cores)
            for mark, mb in sorted(rss.items()):
                print(f"peak_rss_at_{mark}_rows: {mb:.0f} MB")
            hours = 10_000_000 / (brep.imported / brep.seconds) / 3600
            print(f"extrapolated_10m_cases: {hours * 60:.0f} min ({'under' if hours < 1 else 'OVER'} "
                  "an hour, at this run's rate)")
            idle = 10_000_000 / (cores * brep.imported / sum(bigcpu)) / 3600
            print(f"extrapolated_10m_cases_cpu_bound_on_{cores}_idle_cores: {idle * 60:.0f} min",
                  flush=True)
    print(f"speedup: {ours / baseline:.1f}x (LA import on PostgreSQL, {args.workers} processes "
          f"x {args.batch} rows per COPY transaction vs one row per transaction)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
