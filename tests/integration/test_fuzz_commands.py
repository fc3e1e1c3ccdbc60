"""Property test: arbitrary commands, valid and not, through the real service.

Hypothesis draws reports and lifecycle steps with values from the plausible to the absurd
(year 1 and 9999 at any offset, 5,000-character text, NUL and other control characters,
lone surrogates, lists where text goes, NaN coordinates, huge durations, unknown codes).
For every command: either it is recorded, or it raises a CasegridError and the store's
head does not move. Afterwards every projection folds the whole log and the read paths
answer without a 5xx. Nothing here can be tuned to: the strategies, not examples, decide.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from uuid import uuid4

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.bootstrap import bootstrap
from adapters.http import create_app
from domain.errors import CasegridError
from domain.lifecycle import CHANNELS, CLOSURE_TYPES, RATINGS, TRIGGERS
from tests.support import CATEGORY, GRID, city
from workflows.commands import CaseAction, ReportCase

ZONES = st.sampled_from([None, UTC, timezone(timedelta(hours=14)),
                         timezone(timedelta(hours=-12)), timezone(timedelta(hours=8))])
WEIRD = st.one_of(st.none(), st.integers(-2**70, 2**70), st.floats(allow_nan=True),
                  st.booleans(), st.lists(st.text(max_size=3), max_size=3),
                  st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
                  st.binary(max_size=8))
ODD_CHARS = st.sampled_from(["a", "中", "\x00", "\x1b", "\ud800", "\n", " ", "\u202e"])
LONG_TEXT = st.builds(lambda n, c: c * n, st.integers(0, 5000), ODD_CHARS)
TEXT = st.one_of(st.text(max_size=40), LONG_TEXT)
TIMES = st.one_of(
    st.none(),
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=ZONES),
    st.datetimes(min_value=datetime(2026, 9, 1), max_value=datetime(2026, 12, 31), timezones=ZONES),
    st.sampled_from(["0001-01-01", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-12:00",
                     "1900-01-01T00:00", "", "nan", "2026-10-12T09:00Z", "2026-13-40"]),
    WEIRD,
)


def pick(real, extra=()):
    options = [*real, *extra] or ["x"]
    return st.one_of(st.sampled_from(options), TEXT, WEIRD)


SANE_TIMES = st.datetimes(min_value=datetime(2026, 10, 1), max_value=datetime(2026, 11, 30),
                          timezones=st.just(UTC))


def report_fields(c):
    """(sane value, any value) per field of a report."""
    return {
        "channel": (st.sampled_from(["patrol", "citizen", "hotline", "inspection"]),
                    pick(list(CHANNELS), ["bogus"])),
        "category": (st.sampled_from([CATEGORY, *list(c.categories)[:5]]), pick([CATEGORY])),
        "grid": (st.sampled_from([GRID, *list(c.cells)[:3]]), pick([GRID, "44030301000100"])),
        "actor": (st.sampled_from(["sup_zhang", "citizen_app", "acc_wang", "hotline_12345"]),
                  pick(["hw_luo", "system"])),
        "occurred_at": (SANE_TIMES, TIMES),
        "description": (st.text(max_size=60), st.one_of(TEXT, WEIRD)),
        "urgency": (st.sampled_from(["normal", "urgent"]), pick(["normal"])),
        "lat": (st.just(22.57), st.one_of(st.floats(allow_nan=True, allow_infinity=True), WEIRD)),
        "lon": (st.just(114.12), st.one_of(st.floats(allow_nan=True, allow_infinity=True), WEIRD)),
        "evidence": (st.lists(st.just("https://img.example/1.jpg"), max_size=3),
                     st.one_of(st.lists(st.one_of(
                         st.just("javascript:alert(1)"),
                         st.builds(lambda n: "https://x/" + "a" * n, st.integers(0, 5000)),
                         WEIRD), max_size=30), WEIRD)),
        "external_id": (st.none(), st.one_of(TEXT, WEIRD)),
    }


def action_fields(case_ids):
    return {
        "case_id": (st.sampled_from(case_ids), st.one_of(st.just(uuid4()), TEXT, WEIRD)),
        "trigger": (st.sampled_from(list(TRIGGERS)), pick(["return-to-center", "tick"])),
        "actor": (st.sampled_from(["acc_wang", "chief_zhao", "disp_chen", "hw_luo", "sup_zhang",
                                   "cg_liu"]), pick([])),
        "occurred_at": (st.none(), TIMES),
        "unit": (st.sampled_from([None, "hw", "cgj"]), pick(["nope"])),
        "passed": (st.sampled_from([None, True, False]), WEIRD),
        "approved": (st.sampled_from([None, True, False]), WEIRD),
        "reason": (st.sampled_from([None, "需协调", "重复上报"]), st.one_of(TEXT, WEIRD)),
        "evidence": (st.lists(st.just("https://img.example/2.jpg"), max_size=3), WEIRD),
        "extra": (st.sampled_from([None, "2h", "3d"]),
                  st.one_of(st.sampled_from(["99999999999999d", "1e308m", "0h", "-1d", "nan",
                                             "inf", "1e400h"]), WEIRD, TEXT)),
        "closure_type": (st.sampled_from([None, *CLOSURE_TYPES]), pick([])),
        "rating": (st.sampled_from([None, *RATINGS]), pick([])),
        "expected_version": (st.none(), st.one_of(st.integers(-5, 2**40), WEIRD)),
    }


def command(data, cls, fields):
    """A sane command with 0-3 of its fields replaced by anything at all."""
    names = list(fields)
    spoilt = set(data.draw(st.lists(st.sampled_from(names), max_size=3, unique=True)))
    return cls(**{n: data.draw(fields[n][1] if n in spoilt else fields[n][0], label=n)
                  for n in names})


@pytest.fixture(scope="module")
def cg(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fuzz")
    cg = bootstrap(env={"PERSISTENCE_MODULE": "eventsourcing.sqlite",
                        "SQLITE_DBNAME": str(folder / "fuzz.sqlite")}, city=city())
    # a few real cases for the actions to aim at
    ids = []
    for _ in range(4):
        ids.append(cg.service.report(ReportCase("patrol", CATEGORY, GRID, "sup_zhang",
                                                datetime(2026, 10, 12, 9, tzinfo=UTC))).id)
    cg.fuzz_ids = ids
    yield cg
    cg.close()


OUTCOMES = {"recorded": 0, "refused": 0}


def _run(cg, cmd) -> None:
    head = cg.projections.head()
    try:
        case = cg.service.report(cmd) if isinstance(cmd, ReportCase) else cg.service.act(cmd)
    except CasegridError:
        assert cg.projections.head() == head, f"a refused command stored something: {cmd!r}"[:500]
        OUTCOMES["refused"] += 1
        return
    assert cg.projections.head() > head
    OUTCOMES["recorded"] += 1
    if isinstance(cmd, ReportCase):
        cg.fuzz_ids.append(case.id)


SETTINGS = settings(max_examples=150, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow, HealthCheck.data_too_large])


@SETTINGS
@given(data=st.data())
def test_arbitrary_reports_are_recorded_or_refused_with_nothing_stored(cg, data):
    _run(cg, command(data, ReportCase, report_fields(city())))


@SETTINGS
@given(data=st.data())
def test_arbitrary_steps_are_recorded_or_refused_with_nothing_stored(cg, data):
    _run(cg, command(data, CaseAction, action_fields(cg.fuzz_ids)))


def test_after_the_fuzz_every_projection_folds_and_every_read_answers(cg):
    print("fuzz outcomes", OUTCOMES)
    assert OUTCOMES["recorded"] >= 10 and OUTCOMES["refused"] >= 50, OUTCOMES  # both sides
    cg.projections.catch_up()
    assert all(r["state"] == "ok" for r in cg.projections.status()), cg.projections.status()
    client = TestClient(create_app(cg, follow=False), raise_server_exceptions=False)
    token = client.post("/api/login", json={"user": "chief_zhao", "password": "demo"}).json()
    headers = {"Authorization": f"Bearer {token['token']}"}
    paths = ["/api/cases?limit=5000", "/api/queues", "/api/scoreboard?by=unit",
             "/api/scoreboard?by=grid", "/api/trail/misses", "/healthz"]
    paths += [f"/api/cases/{cid}" for cid in cg.fuzz_ids[:40]]
    paths += [f"/api/trail/cases/{cid}" for cid in cg.fuzz_ids[:40]]
    for p in paths:
        r = client.get(p, headers=headers)
        assert r.status_code < 500, (p, r.text[:300])
