"""Projections in processes of their own, one worker per projection at a time (投影进程).

Each projection has its own lease, 'projection.NAME' (adapters/storage/lease.py): any
number of `casegrid projections follow [--only NAME]` processes may run; a projection
is followed by the one process holding its lease, and a process follows together (one
read and decode per batch) every projection whose lease it holds. When a holder dies
its leases free at once and a waiting process takes them on its next retry.

On SQLite (one writer), `rebuild --processes N` splits the projections into N groups,
balanced by how much Python work each costs, and rebuilds each group in a child process
of its own (each child holds its group's leases). On PostgreSQL the work of every
projection is split by case instead (adapters/cli/projection_shards.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import structlog

from adapters.bootstrap import Casegrid
from adapters.storage.lease import Lease
from domain.errors import ConflictError

log = structlog.get_logger("casegrid.projections")

# Python seconds per event, relative (profile of a 1M-event rebuild): the scoreboard's
# fold and contributions are the heaviest; every process also reads and decodes each event
WEIGHT = {"scoreboard": 3.0, "trail": 1.2, "cases": 0.8, "patrol": 0.2}


def lease_name(projection: str) -> str:
    return f"projection.{projection}"


def plan(names: Sequence[str], processes: int) -> list[list[str]]:
    """Split projections into at most `processes` groups of about equal work (heaviest
    first, each to the lightest group); order inside a group follows `names`."""
    groups: list[list[str]] = [[] for _ in range(max(1, min(processes, len(names))))]
    load = [0.0] * len(groups)
    for name in sorted(names, key=lambda n: -WEIGHT.get(n, 1.0)):
        i = load.index(min(load))
        groups[i].append(name)
        load[i] += WEIGHT.get(name, 1.0)
    return [sorted(g, key=list(names).index) for g in groups if g]


# ------------------------------------------------------------------ following


def follow_leased(cg: Casegrid, names: Sequence[str], interval: float,
                  stop: threading.Event, retry: float | None = None) -> None:
    """Follow each projection of `names` while holding its lease; retry the others every
    `retry` (default `interval`) seconds. Returns when `stop` is set, leases released."""
    leases = {n: Lease(cg.sql, lease_name(n)) for n in names}
    worker: tuple[threading.Thread, threading.Event] | None = None
    following: list[str] = []
    waiting_logged = False
    try:
        while not stop.is_set():
            for name, lease in leases.items():
                was = lease.held
                try:
                    have = lease.alive() if was else lease.acquire()
                except Exception as e:  # noqa: BLE001 - store down: keep waiting
                    log.warning("lease_error", name=lease.name, error=repr(e))
                    have = False
                if was and not have:
                    log.warning("lease_lost", name=lease.name, projection=name)
                elif have and not was:
                    log.info("lease_acquired", name=lease.name, projection=name, pid=os.getpid())
            mine = [n for n in names if leases[n].held]
            if mine != following or (worker and not worker[0].is_alive() and mine):
                if worker:
                    worker[1].set()
                    worker[0].join()
                    worker = None
                following = mine
                if mine:
                    worker = _start(cg, mine, interval)
                    waiting_logged = False
            if not mine and not waiting_logged:
                log.info("lease_waiting", names=[lease.name for lease in leases.values()],
                         pid=os.getpid())
                waiting_logged = True
            stop.wait(interval if len(mine) == len(names) or retry is None else retry)
    finally:
        if worker:
            worker[1].set()
            worker[0].join()
        for lease in leases.values():
            lease.release()


def _start(cg: Casegrid, names: list[str], interval: float) -> tuple[threading.Thread, threading.Event]:
    inner = threading.Event()

    def run() -> None:
        log.info("following", projections=names, store=cg.sql.dialect, pid=os.getpid())
        cg.projections.follow(inner, interval=interval, names=names)

    t = threading.Thread(target=run, name="projections-follow", daemon=True)
    t.start()
    return t, inner


# ------------------------------------------------------------------ rebuilding


@contextmanager
def leases_held(cg: Casegrid, names: Sequence[str], wait: float) -> Iterator[None]:
    """Hold the leases of `names` (a follower of one of them elsewhere is waited for up to
    `wait` seconds, then ConflictError); released at the end."""
    leases = [Lease(cg.sql, lease_name(n)) for n in names]
    try:
        deadline = time.monotonic() + wait
        while not all(lease.acquire() for lease in leases):
            if time.monotonic() >= deadline:
                busy = [lease.name for lease in leases if not lease.held]
                raise ConflictError(f"projection leases {', '.join(busy)} are held by another"
                                    f" process (a follower?) for more than {wait:g} s")
            time.sleep(0.2)
        yield
    finally:
        for lease in leases:
            lease.release()


def rebuild_leased(cg: Casegrid, names: Sequence[str], wait: float,
                   progress: Callable[[int], None] | None = None) -> int:
    """Rebuild `names` in this process while holding their leases."""
    with leases_held(cg, names, wait):
        return cg.projections.rebuild(list(names), progress=progress)


def spawn_rebuilds(groups: Sequence[Sequence[str]], *, data_dir: str | None = None,
                   config: str | None = None, wait: float = 10.0,
                   env: dict | None = None) -> list[subprocess.Popen]:
    """One `casegrid projections rebuild GROUP… --processes 1 --json` child per group."""
    opts = [*(["--data-dir", data_dir] if data_dir else []),
            *(["--config", config] if config else [])]
    return [subprocess.Popen(
        [sys.executable, "-m", "adapters.cli", *opts, "projections", "rebuild", *group,
         "--processes", "1", "--wait", str(wait), "--json"],
        env={**os.environ, **(env or {})}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL, text=True) for group in groups]


def collect(procs: Sequence[subprocess.Popen]) -> tuple[dict[str, int], list[str]]:
    """Wait for every child; what each rebuilt, and the errors of those that failed."""
    rebuilt: dict[str, int] = {}
    errors: list[str] = []
    for p in procs:
        out, err = p.communicate()
        if p.returncode == 0:
            rebuilt.update(json.loads(out.strip().splitlines()[-1])["rebuilt"])
        else:
            errors.append(failure(p, out, err))
    return rebuilt, errors


def failure(proc: subprocess.Popen, out: str, err: str) -> str:
    """What a failed child said last (its exit code if nothing)."""
    text = (err or out).strip()
    return text.splitlines()[-1] if text else f"exit {proc.returncode}"
