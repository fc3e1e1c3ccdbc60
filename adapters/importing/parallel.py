"""Several importer processes over one export (`--workers N`): each reads the whole file
(streaming) and imports the rows of its shard — the rows whose external id hashes to it,
so a repeated id always meets its first row in the same process — through its own
store connection, the ordinary checks and the bulk save. One core parses, decides and
encodes for one process; N processes use N cores. The shards' reports are merged.

Correctness is the single process's: a row's case id is its external id's, every save
is one transaction, a case stored first by anyone counts as already imported; case
numbers come from the store's sequence, a block per batch (not in file order).
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from adapters.importing.mapping import Mapping
from adapters.importing.readers import Source

POLL = 0.2  # seconds between progress updates from the workers


@dataclass
class Job:
    env: dict[str, str]
    city: dict
    mapping: Mapping
    source: Source
    batch: int
    shard: int
    workers: int
    dry_run: bool


_done: Any = None  # the rows done by all workers (a shared counter, set per process)


def _init(done: Any) -> None:
    global _done
    _done = done


def _work(job: Job) -> Any:
    """One worker process: its own store and service, its shard of the rows."""
    import logging

    import structlog

    from adapters.bootstrap import bootstrap
    from adapters.config.city_build import build_city
    from adapters.importing.runner import Importer

    if not structlog.is_configured():  # a spawned process: quiet unless told otherwise
        structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    done = _done
    cg = bootstrap(env=job.env, city=build_city(job.city))
    try:
        imp = Importer(cg.service, job.mapping, batch=job.batch)
        pending = 0

        def tick(n: int) -> None:
            nonlocal pending
            pending += n
            if pending >= job.batch:
                with done.get_lock():
                    done.value += pending
                pending = 0

        rep = imp.run(job.source, dry_run=job.dry_run, progress=tick,
                      shard=(job.shard, job.workers))
        with done.get_lock():
            done.value += pending
        return rep
    finally:
        cg.close()


def run_shards(jobs: list[Job], progress: Callable[[int], None] | None) -> list[Any]:
    """Run the jobs in as many spawned processes; their reports, in shard order. A worker
    that fails fails the run (what it saved stays saved: a rerun imports the rest)."""
    ctx = multiprocessing.get_context("spawn")
    done = ctx.Value("q", 0)
    with ctx.Pool(len(jobs), initializer=_init, initargs=(done,)) as pool:
        pending = [pool.apply_async(_work, (job,)) for job in jobs]
        reported = 0
        while not all(p.ready() for p in pending):
            time.sleep(POLL)
            if progress:
                now = done.value
                if now > reported:
                    progress(now - reported)
                    reported = now
        reports = [p.get() for p in pending]
        if progress and done.value > reported:
            progress(done.value - reported)
    return reports
