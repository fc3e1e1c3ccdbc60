"""A batch of reports by external id (execute) finds which are already cases with one
query for the batch — none for cases this process saved — and refuses exactly those,
naming the field, while the rest are saved."""

from __future__ import annotations

from datetime import timedelta

from tests.support import CATEGORY, GRID, T0, grid
from workflows.commands import ReportCase


def reports(ids):
    return [ReportCase(channel="hotline", category=CATEGORY, grid=GRID, actor="hotline_12345",
                       occurred_at=T0 + timedelta(minutes=i), external_id=f"12345-{i}")
            for i in ids]


def watched(store):
    """Count the batch look-ups; a read per report fails the test."""
    calls = []
    existing = store.existing

    def counted(ids):
        ids = list(ids)
        calls.append(ids)
        return existing(ids)

    def one_read(_cid):
        raise AssertionError("a read per report")

    store.existing, store.exists = counted, one_read
    return calls


def test_stored_reports_are_found_by_one_query_per_batch(store_env):
    first = grid(store_env)
    calls = watched(first.service.store)
    done = first.service.execute(reports(range(5)))
    assert [o.error for o in done] == [None] * 5 and len(calls) == 1
    again = first.service.execute(reports([1, 3, 7]))  # this process saved 1 and 3
    assert len(calls) == 2 and len(calls[-1]) == 1  # only 7 is looked up
    assert [type(o.error).__name__ for o in again] == ["ValidationError", "ValidationError",
                                                       "NoneType"]

    other = grid(store_env)  # another process: nothing cached
    calls = watched(other.service.store)
    out = other.service.execute(reports([0, 2, 7, 8, 9]))
    assert len(calls) == 1 and len(calls[0]) == 5
    errors = [o.error for o in out]
    assert [e is None for e in errors] == [False, False, False, True, True]
    assert all(e.field == "external_id" and "is already case" in str(e) for e in errors[:3])
    assert [other.service.get(o.case_id).external_id for o in out[3:]] == ["12345-8", "12345-9"]
