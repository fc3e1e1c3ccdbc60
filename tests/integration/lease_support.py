"""Helpers for the tests that run `casegrid` processes contending for a lease (租约): start
one with JSON logs, read its log, wait until every contender holds or waits, stop them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CONTENDING = {"lease_acquired", "lease_waiting"}


def process_env(store: dict | None = None, extra: dict | None = None) -> dict:
    """This environment without its CASEGRID_* settings, the store's, JSON logs at info."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASEGRID_")}
    env.update({**(store or {}), "PYTHONPATH": str(REPO), "CASEGRID_LOG_LEVEL": "info",
                "CASEGRID_LOG_FORMAT": "json", **(extra or {})})
    return env


def start_cli(data_dir: Path, env: dict, *args: str, log: Path) -> subprocess.Popen:
    """`casegrid --data-dir DATA ARGS…` in a process of its own, its output added to `log`."""
    cmd = [sys.executable, "-m", "adapters.cli", "--data-dir", str(data_dir), *args]
    with open(log, "ab") as fh:  # the child keeps its own copy of the file
        return subprocess.Popen(cmd, cwd=data_dir.parent, env=env, stdout=fh,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)


def cli_loop(args: list[str], data_dir: Path, store: dict, log: Path) -> subprocess.Popen:
    """A CLI loop on `store` (e.g. `deadlines tick --loop`) logging JSON lines to `log`."""
    return start_cli(data_dir, process_env(store), *args, log=log)


def log_events(log: Path) -> list[dict]:
    """The JSON objects of a log, in order (other lines passed over); none if no file yet."""
    if not log.exists():
        return []
    out = []
    for line in log.read_text(errors="replace").splitlines():
        try:
            got = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(got, dict):
            out.append(got)
    return out


def events(log: Path) -> list[str]:
    """The event names of a log, in order."""
    return [e.get("event") for e in log_events(log)]


def acquired_at(log: Path) -> float | None:
    """When this process logged lease_acquired (epoch seconds), None if it has not."""
    for e in log_events(log):
        if e.get("event") == "lease_acquired":
            return datetime.fromisoformat(e["timestamp"].replace("Z", "+00:00")).timestamp()
    return None


def wait_for(cond, timeout: float, what: str):
    """`cond()`'s first true value within `timeout` seconds, else AssertionError(what)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        got = cond()
        if got:
            return got
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def wait_contending(logs: Iterable[Path], timeout: float = 20, what: str = "both started"):
    """Wait until every log says its process holds the lease or waits for it."""
    logs = list(logs)
    wait_for(lambda: all(CONTENDING & set(events(log)) for log in logs), timeout, what)


def stop_all(procs: Iterable[subprocess.Popen], timeout: float = 5) -> None:
    """SIGTERM to each process still running, then SIGKILL to one that outlives `timeout`."""
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(5)


def ended_well(procs: Iterable[subprocess.Popen]) -> bool:
    """Every process stopped by SIGTERM with exit 0, or was SIGKILLed by the test."""
    return all(p.returncode in (0, -signal.SIGKILL) for p in procs)
