"""HTTP API throughput and latency: reporting and reading a scoreboard, 1 / 8 / 32 clients.

For each store (SQLite, then a throwaway PostgreSQL) the script starts `casegrid serve
--demo` in a subprocess (the simulated month of the sample city, 600 cases), logs in,
and runs each workload for a fixed time with N concurrent clients (threads, one
keep-alive httpx connection each):

- report: POST /api/cases (a patrol report by a supervisor), each a new case;
- scoreboard: GET /api/scoreboard?by=unit over the whole period (caught up first).

    python benchmarks/api.py [--seconds 8] [--clients 1,8,32] [--no-postgres]

Prints `name: value unit` lines per (store, workload, clients): throughput, p50 and p95
latency, errors; the last line is the headline: the report throughput with the most
clients against one client, on the last store measured (the baseline of the same run).
Client and server share the machine (2 cores on the development box), so the figures
are for the whole loop, not the server alone.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from deploy.postgres import ThrowawayPostgres  # noqa: E402
from tests.e2e.http_support import free_port  # noqa: E402

REPORT = {"channel": "patrol", "category": "E0102", "grid": "44030301000101",
          "description": "基准测试：路口垃圾", "lat": 22.571, "lon": 114.121}


def start_server(env: dict, data_dir: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    cmd = [sys.executable, "-m", "adapters.cli", "--data-dir", data_dir, "serve", "--demo",
           "--port", str(port), "--tick-every", "0"]
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
            if httpx.get(url + "/openapi.json", timeout=1).status_code == 200:
                store = out.read_text()
                if "SQLITE_DBNAME" not in env and "PERSISTENCE_MODULE" in env and \
                        env["PERSISTENCE_MODULE"].endswith("postgres"):
                    assert "PostgreSQL" in store, store
                else:
                    assert data_dir in store, f"the server is not on the benchmark's store: {store}"
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    proc.kill()
    raise RuntimeError("server did not start within 300 s")


def token(url: str, user: str) -> str:
    r = httpx.post(url + "/api/login", json={"user": user, "password": "demo"})
    r.raise_for_status()
    return r.json()["token"]


def run(url: str, tok: str, workload: str, clients: int, seconds: float) -> dict:
    lat: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop = time.monotonic() + seconds
    headers = {"Authorization": f"Bearer {tok}"}

    def worker():
        mine, bad = [], 0
        with httpx.Client(base_url=url, headers=headers, timeout=60) as c:
            while time.monotonic() < stop:
                t0 = time.perf_counter()
                if workload == "report":
                    r = c.post("/api/cases", json=REPORT)
                    ok = r.status_code == 201
                else:
                    r = c.get("/api/scoreboard", params={"by": "unit"})
                    ok = r.status_code == 200
                mine.append(time.perf_counter() - t0)
                bad += not ok
        with lock:
            lat.extend(mine)
            errors[0] += bad

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    lat.sort()
    p95 = lat[min(len(lat) - 1, int(len(lat) * 0.95))] if lat else float("nan")
    return {"requests": len(lat), "errors": errors[0], "rps": len(lat) / wall,
            "p50_ms": statistics.median(lat) * 1000 if lat else float("nan"),
            "p95_ms": p95 * 1000}


def bench_store(name: str, env: dict, args) -> list[str]:
    lines = []
    with tempfile.TemporaryDirectory() as data_dir:
        proc, url = start_server(env, data_dir)
        try:
            tok = token(url, "sup_zhang")
            httpx.get(url + "/api/scoreboard", headers={"Authorization": f"Bearer {tok}"},
                      timeout=120)  # warm: projections caught up after the demo load
            for workload in ("report", "scoreboard"):
                for n in args.clients:
                    res = run(url, tok, workload, n, args.seconds)
                    key = f"{name}_{workload}_{n}_clients"
                    for line in (f"{key}_throughput: {res['rps']:.1f} requests/s",
                                 f"{key}_p50: {res['p50_ms']:.1f} ms",
                                 f"{key}_p95: {res['p95_ms']:.1f} ms",
                                 f"{key}_errors: {res['errors']} requests"):
                        print(line, flush=True)
                    lines.append((workload, n, res["rps"]))
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--clients", type=lambda s: [int(x) for x in s.split(",")], default=[1, 8, 32])
    ap.add_argument("--no-postgres", action="store_true")
    args = ap.parse_args()
    label = "sqlite"
    got = bench_store(label, {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": ""},
                      args)
    if not args.no_postgres:
        with ThrowawayPostgres() as pg:
            label, got = "postgres", bench_store("postgres", pg.env, args)
    reports = {n: rps for workload, n, rps in got if workload == "report"}
    lo, hi = min(reports), max(reports)
    print(f"speedup: {reports[hi] / reports[lo]:.1f}x ({label} report throughput, {hi} clients"
          f" vs {lo} client)")


if __name__ == "__main__":
    main()
