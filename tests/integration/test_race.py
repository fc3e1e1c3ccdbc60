"""Two processes racing on one case lose no event (optimistic concurrency + bounded retries)."""

from __future__ import annotations

import multiprocessing as mp
from datetime import timedelta

from tests.support import T0, drive, grid
from workflows.commands import CaseAction

PER_PROCESS = 40


def _hammer(env: dict, case_id: str, who: int, start, out) -> None:
    cg = grid(env)
    start.wait()
    done = 0
    for i in range(PER_PROCESS):
        at = T0 + timedelta(minutes=10)  # one business minute: order comes from the store
        try:
            cg.service.act(CaseAction(case_id, "urge", "chief_zhao", at, reason=f"p{who}-{i}"))
            done += 1
        except Exception as e:  # a clear ConflictError would be reported, never a silent loss
            out.put(("error", repr(e)))
    out.put(("done", done))


def test_two_processes_racing_lose_nothing(store_env):
    cg = grid(store_env)
    case = drive(cg.service, "dispatched")
    ctx = mp.get_context("spawn")
    start, out = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=_hammer, args=(store_env, str(case.id), w, start, out))
             for w in (1, 2)]
    for p in procs:
        p.start()
    start.set()
    results = [out.get(timeout=120) for _ in range(2)]
    for p in procs:
        p.join(timeout=60)
    errors = [r for r in results if r[0] == "error"]
    assert not errors, errors
    reasons = [e.reason for e in cg.service.timeline(case.id) if type(e).__name__ == "Urged"]
    assert len(reasons) == 2 * PER_PROCESS == sum(n for _, n in results)
    assert len(set(reasons)) == len(reasons)
    versions = [e.originator_version for e in cg.service.timeline(case.id)]
    assert versions == list(range(1, len(versions) + 1))
