"""HTTP API throughput and latency under 32 clients: reports and scoreboard reads, one API
process (the baseline, as `casegrid serve` ran until now) against several
(`casegrid serve --workers N`), on a throwaway PostgreSQL.

For each process count the script starts `casegrid serve --demo --workers N` in a
subprocess (the simulated month of the sample city, 600 cases, loaded once), logs in, and
runs each workload for a fixed time with 32 keep-alive connections (benchmarks/http_load.py:
`wrk` when installed — `apt-get install wrk` — else a Python asyncio client):

- trivial: GET /livez, no store access: the ceiling of the HTTP stack and the client for
  this shape, measured in the same run;
- scoreboard: GET /api/scoreboard?by=unit over the whole period (caught up first);
- report: POST /api/cases (a patrol report by a supervisor), each a new case.

    python benchmarks/api.py [--seconds 6] [--clients 32] [--workers 1,2] [--sqlite]

Prints `name: value unit` lines per (store, processes, workload): throughput, p50, p95,
errors, the CPU time per request of the server's processes and of PostgreSQL's (from
/proc: what a request costs whatever else the machine runs), and the rate those CPU times
allow on this machine's cores were nothing else running (`_cpu_bound`; the client's own
CPU not counted). The last line is the headline: scoreboard reads with the most
processes against one process.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.http_load import client_name, load  # noqa: E402
from deploy.postgres import ThrowawayPostgres  # noqa: E402
from tests.e2e.http_support import free_port  # noqa: E402

REPORT = {"channel": "patrol", "category": "E0102", "grid": "44030301000101",
          "description": "基准测试：路口垃圾", "lat": 22.571, "lon": 114.121}
TICK = os.sysconf("SC_CLK_TCK")


def descendants(root: int) -> list[int]:
    """`root` and every process below it (/proc)."""
    parent: dict[int, int] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                parent[int(d.name)] = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(c for c, pp in parent.items() if pp == p)
    return out


def cpu_seconds(root: int | None) -> dict[int, float]:
    if root is None:
        return {}
    out = {}
    for p in descendants(root):
        try:
            f = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            out[p] = (int(f[11]) + int(f[12])) / TICK
        except (OSError, IndexError, ValueError):
            continue
    return out


def used(before: dict[int, float], after: dict[int, float]) -> float:
    return sum(v - before.get(p, 0.0) for p, v in after.items())


def start_server(env: dict, data_dir: str, workers: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    cmd = [sys.executable, "-m", "adapters.cli", "--data-dir", data_dir, "serve", "--demo",
           "--port", str(port), "--tick-every", "0", "--workers", str(workers)]
    out = Path(data_dir) / "serve.out"
    proc = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, **env, "CASEGRID_DATA_DIR": data_dir,
                                                "CASEGRID_LOG_LEVEL": "warning"},
                            stdout=out.open("w"), stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {proc.stderr.read().decode()[-2000:]}")
        try:
            if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                store = out.read_text()
                want = "PostgreSQL" if env.get("PERSISTENCE_MODULE", "").endswith("postgres") \
                    else data_dir
                assert want in store, f"the server is not on the benchmark's store: {store}"
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    proc.kill()
    raise RuntimeError("server did not start within 300 s")


def token(url: str, user: str) -> str:
    r = httpx.post(url + "/api/login", json={"user": user, "password": "demo"}, timeout=60)
    r.raise_for_status()
    return r.json()["token"]


def postmaster(pg: ThrowawayPostgres | None) -> int | None:
    if pg is None:
        return None
    return int((pg.data_dir / "postmaster.pid").read_text().split()[0])


def bench(label: str, env: dict, workers: int, args, pg_root: int | None, data_dir: str) -> dict:
    proc, url = start_server(env, data_dir, workers)
    results = {}
    try:
        bearer = {"Authorization": f"Bearer {token(url, 'sup_zhang')}"}
        httpx.get(url + "/api/scoreboard", headers=bearer, timeout=120).raise_for_status()
        time.sleep(2)  # every process up (uvicorn starts them one after another)
        shapes = {
            "trivial": dict(url=url + "/livez"),
            "scoreboard": dict(url=url + "/api/scoreboard?by=unit", headers=bearer),
            "report": dict(url=url + "/api/cases", method="POST", body=json.dumps(REPORT).encode(),
                           headers={**bearer, "Content-Type": "application/json"}),
        }
        for name, shape in shapes.items():
            s0, d0 = cpu_seconds(proc.pid), cpu_seconds(pg_root)
            res = load(**shape, clients=args.clients, seconds=args.seconds)
            s1, d1 = cpu_seconds(proc.pid), cpu_seconds(pg_root)
            n = max(1, res["requests"])
            key = f"{label}_{workers}proc_{name}"
            lines = [f"{key}_throughput: {res['rps']:.1f} requests/s",
                     f"{key}_p50: {res['p50_ms']:.1f} ms", f"{key}_p95: {res['p95_ms']:.1f} ms",
                     f"{key}_errors: {res['errors']} requests",
                     f"{key}_server_cpu: {used(s0, s1) / n * 1000:.2f} ms/request"]
            cpu = used(s0, s1) / n
            if pg_root is not None:
                lines.append(f"{key}_db_cpu: {used(d0, d1) / n * 1000:.2f} ms/request")
                cpu += used(d0, d1) / n
            lines.append(f"{key}_cpu_bound: {(os.cpu_count() or 1) / cpu if cpu else 0:.0f}"
                         " requests/s (all cores / server+db CPU per request: an idle machine)")
            for line in lines:
                print(line, flush=True)
            results[name] = res
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    return results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=6.0)
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--workers", type=lambda s: [int(x) for x in s.split(",")], default=[1, 2])
    ap.add_argument("--sqlite", action="store_true", help="also one process on SQLite")
    args = ap.parse_args()
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start")
    print(f"load_client: {client_name()}")
    if args.sqlite:
        with tempfile.TemporaryDirectory() as d:
            bench("sqlite", {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": ""},
                  1, args, None, d)
    got = {}
    with ThrowawayPostgres() as pg, tempfile.TemporaryDirectory() as d:
        for w in args.workers:
            got[w] = bench("postgres", pg.env, w, args, postmaster(pg), d)
    lo, hi = min(got), max(got)
    rep = got[hi]["report"]["rps"] / got[lo]["report"]["rps"]
    print(f"report_speedup: {rep:.1f}x (postgres reports, {hi} processes vs {lo}, "
          f"{args.clients} clients)")
    sb = got[hi]["scoreboard"]["rps"] / got[lo]["scoreboard"]["rps"]
    print(f"speedup: {sb:.1f}x (postgres scoreboard reads, {hi} processes vs {lo}, "
          f"{args.clients} clients)")


if __name__ == "__main__":
    main()
