"""Group commit of reports (adapters/http/report_batch.py), on SQLite and PostgreSQL: reports
queued while a batch is saved go together in the next one, and every report's answer is
what CaseService.report alone gives: its own case and number, the same case for a resent
idempotency key, a refusal by field for a reused external id or a bad grid, nothing lost
when the batch itself fails."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import pytest

from adapters.http.report_batch import ReportBatcher
from domain.errors import CasegridError
from tests.support import grid
from workflows.commands import ReportCase

AT = datetime.fromisoformat("2026-11-02T09:00:00+08:00")


def cmd(**kw) -> ReportCase:
    base = dict(channel="patrol", category="E0102", grid="44030301000101", actor="sup_zhang",
                occurred_at=AT, description="成批：路口垃圾", lat=22.571, lon=114.121)
    return ReportCase(**(base | kw))


@pytest.fixture
def cg(store_env):
    g = grid(store_env)
    yield g
    g.close()


def run_held(cg, batcher: ReportBatcher, commands: list[ReportCase]) -> list:
    """Hold the first batch (one report) until every other report is queued, so that
    they all go in the second batch; each result is a Case or the error raised."""
    release, first = threading.Event(), threading.Event()
    real = cg.service.report_many

    def held(items, **kw):
        if not first.is_set():
            first.set()
            assert release.wait(30)
        return real(items, **kw)

    cg.service.report_many = held

    def one(c):
        try:
            return batcher.report(c)
        except CasegridError as e:
            return e

    with ThreadPoolExecutor(len(commands) + 1) as pool:
        opener = pool.submit(one, cmd(description="先到"))
        assert first.wait(30)
        futures = [pool.submit(one, c) for c in commands]
        deadline = threading.Event()
        while len(batcher._queue) < len(commands) and not deadline.wait(0.01):
            pass
        release.set()
        assert not isinstance(opener.result(30), Exception)
        return [f.result(60) for f in futures]


def test_queued_reports_share_one_batch_with_their_own_numbers(cg):
    batcher = ReportBatcher(cg.service)
    got = run_held(cg, batcher, [cmd(description=f"第{i}件") for i in range(20)])
    assert batcher.batches == 2 and batcher.reports == 21
    assert all(not isinstance(c, Exception) for c in got)
    assert len({c.id for c in got}) == 20 and len({c.number for c in got}) == 20
    for c in got:
        stored = cg.service.get(c.id)
        assert stored.number == c.number and stored.description == c.description


def test_resends_reused_external_ids_and_bad_input_answer_as_alone(cg):
    batcher = ReportBatcher(cg.service)
    before = batcher.report(cmd(external_id="EXT-1"))  # stored before the batch
    commands = ([cmd(idempotency_key="k-1")] * 4 + [cmd(external_id="EXT-2")] * 3
                + [cmd(external_id="EXT-1"), cmd(grid="99999999999999"), cmd(description="好的")])
    got = run_held(cg, batcher, commands)
    keyed = got[:4]
    assert all(not isinstance(c, Exception) for c in keyed) and len({c.id for c in keyed}) == 1
    ext2 = got[4:7]
    ok = [c for c in ext2 if not isinstance(c, Exception)]
    refused = [e for e in ext2 if isinstance(e, Exception)]
    assert len(ok) == 1 and len(refused) == 2
    assert all(getattr(e, "field", None) == "external_id" for e in refused), refused
    reused, bad, good = got[7:]
    assert getattr(reused, "field", None) == "external_id" and str(before.id) in str(reused)
    assert getattr(bad, "field", None) == "grid", bad
    assert not isinstance(good, Exception) and cg.service.get(good.id).description == "好的"


def test_a_failing_batch_answers_each_report_alone(cg, monkeypatch):
    batcher = ReportBatcher(cg.service)

    def broken(items, **kw):
        raise RuntimeError("the store went away for a moment")

    monkeypatch.setattr(cg.service, "report_many", broken)
    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(batcher.report, [cmd(description=f"单独{i}") for i in range(8)]))
    assert len({c.id for c in got}) == 8
    assert all(cg.service.get(c.id).number == c.number for c in got)
