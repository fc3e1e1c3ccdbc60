"""`casegrid serve --demo`, the README's first command, as a user runs it: a subprocess
that loads the demo month into an empty store, prints the URL and the logins, and serves
the console, the API and Open311 until stopped."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.e2e.http_support import free_port

ROOT = Path(__file__).resolve().parents[2]
STORE_ENV = ("PERSISTENCE_MODULE", "SQLITE_DBNAME", "CASEGRID_DATA_DIR", "CASEGRID_CONFIG",
             "CASEGRID_CREDENTIALS")


def test_serve_demo_prints_the_url_and_logins_and_serves(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in STORE_ENV}
    out = tmp_path / "stdout.txt"
    with out.open("w") as f:
        proc = subprocess.Popen(
            [sys.executable, "-m", "adapters.cli", "--data-dir", str(tmp_path / "data"), "serve",
             "--demo", "--port", str(port)], cwd=ROOT, env=env, stdout=f,
            stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            assert proc.poll() is None, out.read_text()
            try:
                if httpx.get(url + "/login", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the server did not come up"
            time.sleep(0.3)
        printed = out.read_text()
        assert f"{url}/" in printed and "demo logins" in printed
        for user in ("sup_zhang", "acc_wang", "chief_zhao", "disp_chen", "hw_luo", "insp_sun"):
            assert re.search(rf"^\s+{user}\s", printed, re.M), user
        login_page = httpx.get(url + "/login").text
        assert "演示账号" in login_page and "chief_zhao" in login_page
        token = httpx.post(url + "/api/login", json={"user": "chief_zhao", "password": "demo"}
                           ).json()["token"]
        h = {"Authorization": f"Bearer {token}"}
        cases = httpx.get(url + "/api/cases?limit=1000", headers=h).json()
        assert cases["count"] >= 500  # the simulated month is there
        board = httpx.get(url + "/api/scoreboard", headers=h).json()
        assert len(board["rows"]) >= 10 and any(r["grade"] for r in board["rows"])
        assert httpx.get(url + "/open311/v2/services.json").status_code == 200
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_serve_workers_refused_on_sqlite(tmp_path):
    """More than one API process needs PostgreSQL: a clear refusal, nothing started."""
    env = {k: v for k, v in os.environ.items() if k not in STORE_ENV}
    r = subprocess.run([sys.executable, "-m", "adapters.cli", "--data-dir", str(tmp_path / "data"),
                        "serve", "--workers", "2", "--port", str(free_port())],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "--workers" in r.stderr and "PostgreSQL" in r.stderr
    for bad in ("0", "65", "x"):
        r = subprocess.run([sys.executable, "-m", "adapters.cli", "--data-dir",
                            str(tmp_path / "data"), "serve", "--workers", bad],
                           cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
        assert r.returncode == 2 and "workers" in r.stderr, (bad, r.stderr)
