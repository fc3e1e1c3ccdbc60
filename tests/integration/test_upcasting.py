"""Events as older releases stored them (Case.Reported class_version 1 and 2, before
source_due_at and the case number) read by this release: the aggregate loads through
eventsourcing's upcasters (upcast_v1_v2, upcast_v2_v3), the projections fold them through
their own decoder, on a real SQLite and PostgreSQL store.

The fixtures in tests/data/upcasting/ were written by the old code itself: `casegrid
simulate` run at the commits named in each file, its stored_events rows dumped verbatim
with the states its own projection gave each case."""

from __future__ import annotations

import json
from pathlib import Path
from uuid import UUID

import pytest
from eventsourcing.persistence import StoredEvent

from adapters.bootstrap import bootstrap
from domain.case import Case
from tests.support import city

DATA = Path(__file__).resolve().parents[1] / "data" / "upcasting"


def fixture(version: int) -> dict:
    return json.loads((DATA / f"events_reported_v{version}.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("version", [1, 2])
def test_fixtures_are_as_the_old_code_wrote_them(version):
    doc = fixture(version)
    reported = [json.loads(e["state"]) for e in doc["events"]
                if e["topic"] == "domain.case:Case.Reported"]
    assert reported and all("number" not in s for s in reported)
    if version == 1:
        assert all("class_version" not in s and "source_due_at" not in s for s in reported)
    else:
        assert all(s["class_version"] == 2 and "source_due_at" in s for s in reported)
    assert Case.Reported.class_version == 3  # this release upcasts both


@pytest.mark.parametrize("version", [1, 2])
def test_old_events_load_and_project(store_env, version):
    doc = fixture(version)
    cg = bootstrap(env=store_env, city=city())
    cg.app.recorder.insert_events([
        StoredEvent(originator_id=UUID(e["originator_id"]),
                    originator_version=e["originator_version"], topic=e["topic"],
                    state=e["state"].encode("utf-8"))
        for e in doc["events"]])

    expected = doc["expected_states"]
    for case_id, state in expected.items():
        case = cg.app.repository.get(UUID(case_id))
        assert case.state == state
        assert case.number is None and case.source_due_at is None  # the upcast defaults
        assert case.reported_at is not None and case.category

    cg.projections.catch_up()
    assert not cg.projections.errors()
    rows = cg.sql.query("SELECT case_id, state, number FROM cg_cases ORDER BY case_id")
    assert {r[0]: r[1] for r in rows} == expected
    assert all(r[2] is None for r in rows)
    reported = cg.sql.query("SELECT SUM(n) FROM cg_sb_counts WHERE dim = 'grid'"
                            " AND name = 'reported'")
    assert reported[0][0] == len(expected)
    assert cg.sql.query("SELECT COUNT(DISTINCT case_id) FROM cg_trail")[0][0] == len(expected)
    cg.close()
