"""The one validated edge (issue 10, defects 1 and 3): absurd input to any command gets a
ValidationError naming the field, and nothing is stored."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from adapters.bootstrap import bootstrap
from adapters.config.city_build import build_city
from domain.case import Case
from domain.errors import ConfigError, ValidationError
from tests.support import CATEGORY, GRID, MEMBER, NOW, POPO, city, drive, grid
from workflows.commands import CaseAction, ReportCase
from workflows.patrol import PatrolService


def _report(cg, **kw):
    fields = dict(channel="patrol", category=CATEGORY, grid=GRID, actor="sup_zhang",
                  occurred_at=datetime(2026, 10, 12, 9, tzinfo=UTC)) | kw
    return cg.service.report(ReportCase(**fields))


def refused(cg, field: str, **kw) -> ValidationError:
    head = cg.app.recorder.max_notification_id() or 0
    with pytest.raises(ValidationError) as e:
        _report(cg, **kw)
    assert e.value.field == field, str(e.value)
    assert (cg.app.recorder.max_notification_id() or 0) == head  # nothing stored
    return e.value


@pytest.fixture
def cg():
    return grid({"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": ":memory:"})


@pytest.mark.parametrize("at", [
    datetime(1, 1, 1), datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=14))),
    "0001-01-01T00:00:00+14:00", datetime(1900, 1, 1, tzinfo=UTC), "1999-12-31T23:59",
    datetime(9999, 12, 31, tzinfo=timezone(timedelta(hours=-12))), NOW + timedelta(minutes=6),
    "yesterday", ["2026-10-12"], 20261012,
])
def test_business_time_out_of_bounds_is_refused(cg, at):
    refused(cg, "occurred_at", occurred_at=at)


def test_history_from_is_the_city_s_and_an_import_may_go_earlier_but_not_below_1990(cg):
    refused(cg, "occurred_at", occurred_at=datetime(1995, 1, 1, tzinfo=UTC))
    old = datetime(1995, 1, 1, tzinfo=UTC)
    assert _report(cg, occurred_at=old, history_from=datetime(1994, 1, 1, tzinfo=UTC))
    refused(cg, "occurred_at", occurred_at=datetime(1989, 1, 1, tzinfo=UTC),
            history_from=datetime(1980, 1, 1, tzinfo=UTC))


def test_a_city_sets_its_own_intake_bounds():
    raw = dict(city().raw) | {"intake": {"history_from": "2026-01-01", "future_skew": "1m",
                                          "max_evidence": 2, "max_extension": "2d"}}
    c = build_city(raw)
    assert c.intake.max_evidence == 2 and c.intake.max_extension_minutes == 2 * 450
    cg = bootstrap(env=POPO, city=c, clock=lambda: NOW)
    refused(cg, "occurred_at", occurred_at=datetime(2025, 12, 31, tzinfo=UTC))
    refused(cg, "evidence", evidence=["https://a/1", "https://a/2", "https://a/3"])
    for bad, key in [({"history_from": "0001-01-01"}, "intake.history_from"),
                     ({"future_skew": "10y"}, "intake.future_skew"),
                     ({"max_evidence": "many"}, "intake.max_evidence"),
                     ({"nonsense": 1}, "intake.nonsense")]:
        with pytest.raises(ConfigError) as e:
            build_city(dict(city().raw) | {"intake": bad})
        assert e.value.field == key


@pytest.mark.parametrize("field,kw", [
    ("description", {"description": "路口\x00垃圾"}),
    ("description", {"description": "坏\ud800字"}),
    ("description", {"description": "x" * 2001}),
    ("description", {"description": ["a", "list"]}),
    ("evidence", {"evidence": ["https://img.example/1.jpg"] * 21}),
    ("evidence[0]", {"evidence": ["https://img.example/" + "a" * 5000]}),
    ("evidence[0]", {"evidence": ["javascript:alert(1)"]}),
    ("evidence", {"evidence": "https://img.example/1.jpg"}),
    ("lat", {"lat": float("nan"), "lon": 114.1}),
    ("lat", {"lat": [22], "lon": 114.1}),
    ("lon", {"lat": 22.5, "lon": {"x": 1}}),
    ("category", {"category": ["E0102"]}),
    ("grid", {"grid": {"cell": GRID}}),
    ("channel", {"channel": 7}),
    ("actor", {"actor": None}),
    ("external_id", {"external_id": "a\nb"}),
])
def test_bad_report_fields_are_refused_by_name(cg, field, kw):
    refused(cg, field, **kw)


def test_a_huge_extension_is_refused_and_one_stored_earlier_cannot_be_approved(cg):
    case = drive(cg.service, "dispatched")
    for extra in ("99999999999999d", "1e308m", "31d", "inf", "nan"):
        with pytest.raises(ValidationError) as e:
            cg.service.act(CaseAction(case.id, "request_extension", MEMBER, extra=extra,
                                      reason="需协调"))
        assert e.value.field == "extra"
    # as an older version stored it: the request is there, approving it is a clear error
    case = cg.service.get(case.id)
    case.trigger_event(Case.ExtensionRequested, occurred_at=NOW, actor=MEMBER, role="unit_member",
                       state="extension_requested", step=case.step, due_at=case.due_at,
                       held_by="unit:hw", reason="旧版本", minutes=1e14)
    cg.app.save(case)
    with pytest.raises(ValidationError) as e:
        cg.service.act(CaseAction(case.id, "decide_extension", "chief_zhao", approved=True,
                                  reason="同意"))
    assert e.value.field == "approved" and "reject it" in e.value.rule
    done = cg.service.act(CaseAction(case.id, "decide_extension", "chief_zhao", approved=False,
                                     reason="时间不合理"))
    assert done.state == "dispatched"


def test_a_patrol_report_dated_year_1_or_before_history_from_is_refused(cg):
    patrol = PatrolService(cg.app, cg.city, clock=lambda: NOW)
    for day in ("0001-01-01", "1999-12-31", "", ["2026-10-12"]):
        with pytest.raises(ValidationError) as e:
            patrol.report(squad="patrol-1", day=day, actor="sup_zhang", nil=True)
        assert e.value.field == "date"
    with pytest.raises(ValidationError) as e:
        patrol.report(squad="patrol-1", day="2026-10-12", actor="sup_zhang", nil=True,
                      at="0001-01-01T00:00")
    assert e.value.field == "at"


def test_error_messages_are_printable_whatever_the_input(cg):
    e = refused(cg, "actor", actor="\ud800\x00" + "x" * 5000)
    str(e).encode("utf-8")  # would raise on a lone surrogate
    assert len(str(e)) <= 600
