"""`casegrid serve --workers 3` on PostgreSQL: three API processes on one port, each
answering with its pid (X-Casegrid-Pid, only with CASEGRID_PID_HEADER=1). Sessions,
CSRF and the login throttle work across processes; a report taken by one process is
in the read model read by another; exactly one process ticks deadlines; a SIGKILLed
worker is replaced while requests keep succeeding; SIGTERM stops them all."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.http_support import form_token, free_port

ROOT = Path(__file__).resolve().parents[2]
STORE_ENV = ("PERSISTENCE_MODULE", "SQLITE_DBNAME", "CASEGRID_DATA_DIR", "CASEGRID_CONFIG",
             "CASEGRID_CREDENTIALS", "CASEGRID_SECRET", "CASEGRID_WORKERS")
REPORT = {"channel": "patrol", "category": "E0102", "grid": "44030301000101",
          "description": "多进程：路口垃圾", "lat": 22.571, "lon": 114.121}
pytestmark = pytest.mark.postgres


class Workers:
    """The server under test; every request on a new connection (so any process may take it)."""

    def __init__(self, url: str, proc: subprocess.Popen, log: Path):
        self.url, self.proc, self.log = url, proc, log

    def request(self, method: str, path: str, **kw) -> tuple[int, httpx.Response]:
        r = httpx.request(method, self.url + path, timeout=30, **kw)
        return int(r.headers["x-casegrid-pid"]), r

    def on_other(self, pid: int, method: str, path: str, **kw) -> tuple[int, httpx.Response]:
        """The first answer from a process other than `pid` (idempotent requests only)."""
        for _ in range(200):
            got, r = self.request(method, path, **kw)
            if got != pid:
                return got, r
        raise AssertionError(f"every request went to {pid}")

    def events(self, name: str) -> list[dict]:
        out = []
        for line in self.log.read_text(errors="replace").splitlines():
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if isinstance(rec, dict) and rec.get("event") == name:
                out.append(rec)
        return out


@pytest.fixture
def workers(pg_env, tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in STORE_ENV}
    env.update(pg_env, CASEGRID_PID_HEADER="1", CASEGRID_LOG_LEVEL="info",
               CASEGRID_LOG_FORMAT="json")
    log = tmp_path / "stderr.log"
    with log.open("w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "adapters.cli", "--data-dir", str(tmp_path / "data"), "serve",
             "--workers", "3", "--port", str(port), "--tick-every", "1"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=err)
    w = Workers(f"http://127.0.0.1:{port}", proc, log)
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, log.read_text()[-3000:]
            try:
                if httpx.get(w.url + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the server did not come up"
            time.sleep(0.3)
        yield w
    finally:
        if proc.poll() is None:  # SIGKILL the supervisor: its processes stop by themselves
            pids = {int(p) for p in Path(f"/proc/{proc.pid}/task/{proc.pid}/children")
                    .read_text().split()}
            proc.kill()
            proc.wait(timeout=10)
            deadline = time.monotonic() + 20
            while any(alive(p) for p in pids) and time.monotonic() < deadline:
                time.sleep(0.2)
            left = [p for p in pids if alive(p)]
            for p in left:
                os.kill(p, signal.SIGKILL)
            assert not left, f"processes outlived their supervisor: {left}"


def pids_seen(w: Workers, want: int, tries: int = 300) -> set[int]:
    seen: set[int] = set()
    for _ in range(tries):
        pid, r = w.request("GET", "/healthz")
        assert r.status_code == 200
        seen.add(pid)
        if len(seen) >= want:
            break
    return seen


def alive(pid: int) -> bool:
    """Running (not gone, not a zombie waiting for its parent)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_three_processes_share_sessions_writes_and_one_tick(workers):
    w = workers
    pids = pids_seen(w, 3)
    assert len(pids) == 3, pids

    # a session issued by one process is good in another; a logout there ends it everywhere
    a, r = w.request("POST", "/api/login", json={"user": "sup_zhang", "password": "demo"})
    assert r.status_code == 200
    bearer = {"Authorization": f"Bearer {r.json()['token']}"}
    b, r = w.on_other(a, "GET", "/api/me", headers=bearer)
    assert r.status_code == 200 and r.json()["id"] == "sup_zhang", r.text

    # a report, then its read model on another process, every time
    for _ in range(5):
        a, r = w.request("POST", "/api/cases", json=REPORT, headers=bearer)
        assert r.status_code == 201, r.text
        number = r.json()["number"]
        b, r = w.on_other(a, "GET", "/api/cases", params={"q": number}, headers=bearer)
        assert r.status_code == 200 and r.json()["total"] == 1, (a, b, r.text)

    # a scoreboard (cached per log head in each process) counts a report taken by another
    board = {"by": "supervisor", "from": "2026-01-01", "to": "2027-12-31"}

    def reported(r) -> int:
        return sum(row["counts"].get("reported", 0) for row in r.json()["rows"])

    for _ in range(3):
        _, r = w.request("GET", "/api/scoreboard", params=board, headers=bearer)
        before = reported(r)
        a, r = w.request("POST", "/api/cases", json=REPORT, headers=bearer)
        assert r.status_code == 201
        b, r = w.on_other(a, "GET", "/api/scoreboard", params=board, headers=bearer)
        assert r.status_code == 200 and reported(r) == before + 1, (a, b, before, r.text)

    a, r = w.request("POST", "/api/logout", headers=bearer)
    assert r.status_code == 200
    b, r = w.on_other(a, "GET", "/api/me", headers=bearer)
    assert r.status_code == 401, r.text

    # the console's login form: token and cookie from one process, the post to another
    for _ in range(50):
        with httpx.Client(base_url=w.url, limits=httpx.Limits(max_keepalive_connections=0)) as c:
            page = c.get("/login")
            a = int(page.headers["x-casegrid-pid"])
            r = c.post("/login", data={"user": "acc_wang", "password": "demo",
                                       "csrf_token": form_token(page.text)},
                       headers={"Origin": w.url})
            if int(r.headers["x-casegrid-pid"]) != a:
                assert r.status_code == 303 and r.cookies.get("cg_session"), r.text
                break
    else:
        raise AssertionError("the form post never went to another process")

    # the throttle counts failures from every process
    failed_on = set()
    for _ in range(5):
        pid, r = w.request("POST", "/api/login", json={"user": "disp_chen", "password": "x"})
        assert r.status_code == 401
        failed_on.add(pid)
    # a process that did not take every failure (or took none) still refuses: the count
    # is the store's, not a process's (the kernel may give all five to one process)
    _, r = w.on_other(min(failed_on), "POST", "/api/login",
                      json={"user": "disp_chen", "password": "demo"})
    assert r.status_code == 429, r.text

    # exactly one process ticks the deadlines (lease 'deadline-tick'), the others wait
    time.sleep(2)
    got = [e for e in w.events("lease_acquired") if e.get("name") == "deadline-tick"]
    waiting = {e["pid"] for e in w.events("lease_waiting") if e.get("name") == "deadline-tick"}
    assert len(got) == 1, got
    assert len(waiting) == 2 and got[0]["pid"] not in waiting, (got, waiting)
    follow = [e for e in w.events("lease_acquired") if e.get("name") == "projections-follow"]
    assert len(follow) == 1, follow


def test_a_killed_worker_is_replaced_and_sigterm_stops_all(workers):
    w = workers
    pids = pids_seen(w, 3)
    assert len(pids) == 3
    ticker = next(e["pid"] for e in w.events("lease_acquired") if e.get("name") == "deadline-tick")
    assert ticker in pids
    _, r = w.request("POST", "/api/login", json={"user": "sup_zhang", "password": "demo"})
    bearer = {"Authorization": f"Bearer {r.json()['token']}"}

    os.kill(ticker, signal.SIGKILL)
    t0 = time.monotonic()
    while alive(ticker) and time.monotonic() - t0 < 10:  # the signal is delivered, not sent
        time.sleep(0.02)
    served = set()
    for _ in range(60):  # right after the kill: every request succeeds
        pid, r = w.request("POST", "/api/cases", json=REPORT, headers=bearer)
        assert r.status_code == 201, r.text
        served.add(pid)
    assert ticker not in served

    deadline = time.monotonic() + 60
    while True:  # the supervisor starts a replacement; another process takes the tick over
        now = pids_seen(w, 3, tries=30)
        taken = [e for e in w.events("lease_acquired")
                 if e.get("name") == "deadline-tick" and e["pid"] != ticker]
        if len(now - pids) >= 1 and taken:
            break
        assert time.monotonic() < deadline, (now, pids, taken)
        time.sleep(0.5)
    assert time.monotonic() - t0 < 60
    everyone = pids_seen(w, 3)

    w.proc.send_signal(signal.SIGTERM)
    assert w.proc.wait(timeout=30) == 0
    deadline = time.monotonic() + 10
    while any(alive(p) for p in everyone) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(alive(p) for p in everyone)
