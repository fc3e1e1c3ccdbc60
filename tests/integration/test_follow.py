"""Projections follow live: LISTEN/NOTIFY subscription on PostgreSQL, polling on SQLite."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

from tests.support import T0, drive, grid
from workflows.commands import CaseAction


def test_projections_follow_new_events(store_env):
    cg = grid(store_env)
    writer = grid(store_env)  # another process writing
    case = drive(writer.service, "dispatched")
    follower = grid(store_env)
    stop = threading.Event()
    t = threading.Thread(target=follower.projections.follow, args=(stop,), kwargs={"interval": 0.05})
    t.start()
    try:
        for i in range(5):
            writer.service.act(CaseAction(case.id, "urge", "chief_zhao",
                                          T0 + timedelta(minutes=10 + i), reason=f"第{i}次"))
            head = writer.projections.head()
            deadline = time.time() + 10
            while min(s["position"] for s in follower.projections.status()) < head:
                assert time.time() < deadline, "the projections did not follow"
                time.sleep(0.02)
    finally:
        stop.set()
        t.join(timeout=10)
    assert not t.is_alive()
    rows = cg.sql.query("SELECT version FROM cg_cases WHERE case_id = ?", (str(case.id),))
    assert rows == [(8,)]
