"""Daily patrol reports (零报告) on SQLite and PostgreSQL, and the CLI end to end.

A report and a nil report, the cut-off (a late report records the miss first), the tick
(once per squad-day, idempotent), every refusal storing nothing, the patrol events in the
same notification log as the cases with the case projections unmoved by them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path

import pytest

from domain.errors import RefusedError, ValidationError
from domain.patrol import PatrolDay, patrol_day_id
from projections.patrol import patrol_days
from tests.support import SH, grid, report
from workflows.patrol import PatrolService

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 10, 20, 12, 0, tzinfo=SH)


def at(day, hour, minute=0):
    return datetime(2026, 10, day, hour, minute, tzinfo=SH)


@pytest.fixture
def env(store_env):
    cg = grid(store_env, clock=lambda: NOW)
    yield cg, PatrolService(cg.app, cg.city, clock=lambda: NOW)
    cg.close()


def head(cg) -> int:
    return cg.app.recorder.max_notification_id() or 0


def test_report_nil_late_and_tick(env):
    cg, ps = env
    case = report(cg.service, at=at(12, 9))
    ps.report(squad="patrol-1", day="2026-10-12", actor="sup_zhang", case_ids=[str(case.id)],
              note="坭岗巡查", at=at(12, 16, 59))
    ps.report(squad="patrol-2", day=date(2026, 10, 12), actor="sup_li", nil=True, at=at(12, 17))
    late = ps.report(squad="patrol-1", day="2026-10-13", actor="sup_huang", nil=True,
                     at=at(13, 17, 1))
    assert late.missed and late.reported_at == at(13, 17, 1)
    missed = ps.tick(at(14, 17, 1), since=date(2026, 10, 12))
    # 13 Oct patrol-2 and both squads on 14 Oct (17:01 > 17:00); never the reported days
    assert sorted((e.squad, e.day) for e in missed) == [
        ("patrol-1", "2026-10-14"), ("patrol-2", "2026-10-13"), ("patrol-2", "2026-10-14")]
    assert all(e.cut_off == datetime.combine(date.fromisoformat(e.day), datetime.min.time(), SH)
               .replace(hour=17) for e in missed)
    assert ps.tick(at(14, 17, 1), since=date(2026, 10, 12)) == []  # idempotent
    assert ps.tick(at(14, 16, 59), since=date(2026, 10, 14)) == []  # before the cut-off
    cg.projections.catch_up()
    rows = {(r["squad"], r["day"]): r for r in patrol_days(cg.sql, date(2026, 10, 12), date(2026, 10, 14))}
    assert {k: r["status"] for k, r in rows.items()} == {
        ("patrol-1", "2026-10-12"): "reported", ("patrol-2", "2026-10-12"): "nil",
        ("patrol-1", "2026-10-13"): "late_nil", ("patrol-2", "2026-10-13"): "missed",
        ("patrol-1", "2026-10-14"): "missed", ("patrol-2", "2026-10-14"): "missed"}
    first = rows[("patrol-1", "2026-10-12")]
    assert first["case_ids"] == [str(case.id)] and first["findings"] == 1 and first["note"] == "坭岗巡查"
    assert rows[("patrol-1", "2026-10-13")]["missed_cut_off"] == at(13, 17)
    # the case projections saw only the case
    assert cg.sql.query("SELECT COUNT(*) FROM cg_cases") == [(1,)]
    assert cg.sql.query("SELECT COUNT(DISTINCT case_id) FROM cg_trail") == [(1,)]
    assert cg.sql.query("SELECT COUNT(*) FROM cg_sb_case") == [(1,)]
    dump = "SELECT * FROM cg_patrol ORDER BY squad, day"
    incremental = cg.sql.query(dump)
    cg.projections.rebuild("patrol")
    assert cg.sql.query(dump) == incremental  # rebuild = incremental
    events = list(cg.app.events.get(patrol_day_id("patrol-1", date(2026, 10, 13))))
    assert [type(e).__name__ for e in events] == ["Opened", "PatrolReportMissed", "PatrolReported"]
    assert all(isinstance(e, PatrolDay.Event) for e in events)


@pytest.mark.parametrize("kwargs, error, field", [
    ({"squad": "patrol-9"}, ValidationError, "squad"),
    ({"day": "2026-10-21"}, ValidationError, "date"),  # tomorrow
    ({"day": "21/10/2026"}, ValidationError, "date"),
    ({"nil": True, "case_ids": ["x"]}, ValidationError, "nil"),
    ({"nil": False}, ValidationError, "findings"),
    ({"actor": "nobody"}, ValidationError, "actor"),
    ({"actor": "sup_li"}, RefusedError, None),  # another squad's supervisor
    ({"actor": "hw_luo"}, RefusedError, None),  # a unit member of no squad
    ({"actor": "insp_sun"}, RefusedError, None),  # inspectors only read
    ({"at": datetime(2026, 10, 20, 12, 30, tzinfo=SH)}, ValidationError, "at"),  # future
])
def test_refusals_store_nothing(env, kwargs, error, field):
    cg, ps = env
    before = head(cg)
    args = {"squad": "patrol-1", "day": "2026-10-19", "actor": "sup_zhang", "nil": True} | kwargs
    with pytest.raises(error) as e:
        ps.report(**args)
    if field:
        assert e.value.field == field
    assert head(cg) == before


def test_second_report_is_refused_with_a_clear_error(env):
    cg, ps = env
    ps.report(squad="patrol-1", day="2026-10-19", actor="sup_zhang", nil=True, at=at(19, 16))
    before = head(cg)
    with pytest.raises(ValidationError) as e:
        ps.report(squad="patrol-1", day="2026-10-19", actor="sup_huang", findings=2, at=at(19, 16, 30))
    assert "already reported for 2026-10-19" in str(e.value) and "sup_zhang" in str(e.value)
    assert head(cg) == before


def test_acceptor_may_record_for_a_squad_and_workdays_only_config(env):
    cg, ps = env
    ps.report(squad="patrol-2", day="2026-10-19", actor="acc_wang", findings=3, at=at(19, 16))
    from dataclasses import replace

    city = replace(cg.city, raw={**cg.city.raw, "patrol": {"days": "workdays", "cut_off": "18:00",
                                                            "start": "2026-10-17"}})
    wd = PatrolService(cg.app, city, clock=lambda: NOW)
    # 17, 18 Oct are a weekend: no report due; 19 Oct patrol-2 reported; patrol-1 missed
    got = wd.tick(at(19, 18, 1))
    assert [(e.squad, e.day, e.cut_off.hour) for e in got] == [("patrol-1", "2026-10-19", 18)]


def cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "CASEGRID_DATA_DIR": str(tmp_path / "data"), "CASEGRID_LOG_LEVEL": "warning"}
    env.pop("CASEGRID_CONFIG", None)
    return subprocess.run([sys.executable, "-m", "adapters.cli", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def test_cli_patrol_and_reports(tmp_path):
    r = cli(tmp_path, "patrol", "report", "--squad", "patrol-1", "--date", "2026-10-12", "--nil",
            "--at", "2026-10-12T16:00", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert (out["nil"], out["late"], out["actor"]) == (True, False, "sup_zhang")
    again = cli(tmp_path, "patrol", "report", "--squad", "patrol-1", "--date", "2026-10-12",
                "--nil", "--json")
    assert again.returncode == 2 and json.loads(again.stderr)["field"] == "date"
    bad = cli(tmp_path, "patrol", "report", "--squad", "nope", "--date", "2026-10-12", "--nil",
              "--actor", "sup_zhang", "--json")
    assert bad.returncode == 2 and json.loads(bad.stderr)["field"] == "squad"
    tick = cli(tmp_path, "patrol", "tick", "--now", "2026-10-13T17:30", "--since", "2026-10-12",
               "--json")
    assert tick.returncode == 0, tick.stderr
    assert sorted((m["squad"], m["date"]) for m in json.loads(tick.stdout)["missed"]) == [
        ("patrol-1", "2026-10-13"), ("patrol-2", "2026-10-12"), ("patrol-2", "2026-10-13")]
    listed = cli(tmp_path, "patrol", "list", "--from", "2026-10-12", "--to", "2026-10-13", "--json")
    assert [d["status"] for d in json.loads(listed.stdout)["days"]] == ["nil", "missed", "missed",
                                                                         "missed"]
    trail = cli(tmp_path, "trail", "--squad", "patrol-2", "--from", "2026-10-12", "--to",
                "2026-10-13", "--json")
    assert trail.returncode == 0, trail.stderr
    assert [(m["day"], m["status"]) for m in json.loads(trail.stdout)["patrol_misses"]] == [
        ("2026-10-12", "missed"), ("2026-10-13", "missed")]
    bad_trail = cli(tmp_path, "trail", "--squad", "nope", "--from", "2026-10-12", "--json")
    assert bad_trail.returncode == 2 and json.loads(bad_trail.stderr)["field"] == "squad"
    pdf = tmp_path / "m.pdf"
    r = cli(tmp_path, "report", "monthly", "--month", "2026-10", "--format", "pdf", "--out", str(pdf),
            "--now", "2026-11-05T08:00", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["path"] == str(pdf) and pdf.read_bytes()[:5] == b"%PDF-"
    r = cli(tmp_path, "report", "daily", "--date", "2026-10-12", "--format", "xlsx", "--out",
            str(tmp_path / "d.xlsx"))
    assert r.returncode == 0 and (tmp_path / "d.xlsx").exists()
    r = cli(tmp_path, "report", "weekly", "--week", "2026-W99", "--json")
    assert r.returncode == 2 and json.loads(r.stderr)["field"] == "week"
    r = cli(tmp_path, "report", "monthly", "--month", "2026-10", "--policy", str(tmp_path / "no.yaml"),
            "--json")
    assert r.returncode == 2 and json.loads(r.stderr)["field"] == "policy"
    r = cli(tmp_path, "report", "compare", "--month", "2026-10", "--policy",
            str(ROOT / "adapters/cities/sample-policy.yaml"), "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["ledger_diff"][-1]["diff"] == 0
    r = cli(tmp_path, "report", "ledger", "--month", "2026-10", "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["lines"] == []
    r = cli(tmp_path, "report", "ledger", "--month", "2026-10", "--as-of", "2026-11-05T09:00",
            "--json")
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    assert got["as_of"] == got["now"] == "2026-11-05T09:00:00+08:00"
