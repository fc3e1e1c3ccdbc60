"""Where a projection catch-up's Python time goes: read, decode, and each projection's
`prepare`, per event, on a throwaway PostgreSQL filled by `casegrid simulate`'s workload.

The runner's own calls, timed one by one over the whole log in its batches, without the
writes (those run on the runner's writer thread; benchmarks/projections.py times the whole
rebuild). Each projection prepares every batch as a catch-up of all of them would.

    python benchmarks/projection_phases.py [--cases 30000]

One `name: value unit` line per phase and their total; the last line is the headline:
the decode against its baseline, the mapper's own decoding of the same events (the first
--baseline-events), measured in the same run.
"""

from __future__ import annotations

import argparse
import gc
import logging
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import structlog  # noqa: E402

from adapters.bootstrap import bootstrap, load_city  # noqa: E402


def phases(env: dict) -> tuple[dict[str, float], int]:
    cg = bootstrap(env=env, city=load_city())
    r = cg.projections
    r.setup()
    gc.disable()
    spent: dict[str, float] = {"read": 0.0, "decode": 0.0, **dict.fromkeys(r.projections, 0.0)}
    pos = done = 0
    for p in r.projections.values():
        p.forget()
    try:
        while True:
            t0 = time.process_time()
            notes = r.events.read(pos, r.batch, None)
            spent["read"] += time.process_time() - t0
            if not notes:
                break
            end = notes[-1][0]
            t0 = time.process_time()
            items = [(*r.decode.with_times(n), n[0], n[5]) for n in notes]
            spent["decode"] += time.process_time() - t0
            for name, p in r.projections.items():
                t0 = time.process_time()
                p.prepare(r.sql, items, pos, end)
                spent[name] += time.process_time() - t0
            pos, done = end, done + len(notes)
    finally:
        gc.enable()
        cg.close()
    return spent, done


def mapper_decode(env: dict, events: int) -> tuple[float, float]:
    """µs/event of the runner's decode and of the mapper's own, over the same events."""
    cg = bootstrap(env=env, city=load_city())
    try:
        notes = cg.projections.events.read(0, events, None)
        dec = cg.projections.decode
        t0 = time.process_time()
        for n in notes:
            dec.with_times(n)
        fast = time.process_time() - t0
        t0 = time.process_time()
        for n in notes:
            dec.slow(n)
        slow = time.process_time() - t0
    finally:
        cg.close()
    return fast / len(notes) * 1e6, slow / len(notes) * 1e6


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, default=30_000)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--baseline-events", type=int, default=100_000)
    args = ap.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    from benchmarks.projections import fill, settle
    from deploy.postgres import ThrowawayPostgres

    with ThrowawayPostgres(durable=True) as pg:
        env = pg.create_database("bench_phases")
        fill(env, args.cases, args.seed)
        settle(env, "postgres")
        cg = bootstrap(env=env, city=load_city())
        cg.projections.catch_up()  # the tables as a follower has them (rows to look up)
        cg.close()
        spent, done = phases(env)
        fast, slow = mapper_decode(env, args.baseline_events)
    print(f"events: {done} events")
    for name, s in spent.items():
        print(f"{name}: {s / done * 1e6:.1f} us/event")
    total = sum(spent.values())
    print(f"phases: {total / done * 1e6:.1f} us/event ({done / total:.0f} events per CPU"
          f" second of read, decode and prepare)")
    print(f"decode_baseline_mapper: {slow:.1f} us/event")
    print(f"speedup: {slow / fast:.1f}x (decode vs the mapper's own, same events)")


if __name__ == "__main__":
    main()
