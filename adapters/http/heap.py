"""The server's heap kept out of the cyclic garbage collector's passes (堆冻结).

By the time an API process serves, it holds about a million long-lived objects (modules,
the city, the app). Requests promote their in-flight objects to the oldest generation, so
under load a full collection ran about once a second, walking all of them for 50-70 ms
with the GIL held while every request of the process waited: the scoreboard's latency
tail (benchmarks/api.py). `freeze_heap()` moves what exists now into the permanent
generation (gc.freeze); a full pass then walks only what was allocated since. Called once,
by `casegrid serve`, just before the process serves (not by embedded apps or tests: a
cycle among frozen objects is never collected).
"""

from __future__ import annotations

import gc

import structlog

log = structlog.get_logger("casegrid.http")


def freeze_heap() -> int:
    """Collect once, then freeze everything still alive; how many objects are frozen."""
    gc.collect()
    gc.freeze()
    frozen = gc.get_freeze_count()
    log.debug("heap_frozen", objects=frozen)
    return frozen
