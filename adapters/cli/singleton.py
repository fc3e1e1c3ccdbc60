"""The CLI loops that must run once at a time (单例): wait for a named lease, work while
holding it, stop on SIGINT/SIGTERM."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable

from adapters.bootstrap import Casegrid
from adapters.storage.lease import Lease, follow_as_singleton, run_as_singleton


def stop_on_signals() -> threading.Event:
    """An event set by SIGINT or SIGTERM (the loop ends and the lease is released)."""
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    return stop


def run_singleton_loop(cg: Casegrid, name: str, step: Callable[[], object], interval: float,
                       retry: float | None = None) -> None:
    """`step()` every `interval` s while this process holds lease `name`."""
    run_as_singleton(Lease(cg.sql, name), step, interval, stop_on_signals(), retry=retry)


def follow_singleton(cg: Casegrid, name: str, run: Callable[[threading.Event], object],
                     interval: float, stop: threading.Event) -> None:
    """`run(stop)` while this process holds lease `name`, waiting again if it is lost."""
    follow_as_singleton(Lease(cg.sql, name), run, interval, stop)
