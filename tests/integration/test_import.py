"""Historical import of the public 311 extracts (trimmed copies in tests/data/public311)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

from adapters.bootstrap import bootstrap
from adapters.importer import Importer, Mapping
from adapters.kafka_in import report_case_id
from domain.errors import ConfigError
from tests.support import city

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data" / "public311"
MAPS = REPO / "docs" / "import"
LA = DATA / "la311_2020-01-01_1500.csv"
NYC = DATA / "nyc311_2011_1650.csv"
CHI = DATA / "chicago_open311_2014_50req_with_notes.jsonl"


def _import(env, path, mapping, **kw):
    cg = bootstrap(env=env, city=city())
    try:
        rep = Importer(cg.service, Mapping.load(MAPS / mapping), **kw).run(path)
        return rep, cg
    except BaseException:
        cg.close()
        raise


def test_la_counts_skips_timestamps_and_rerun(store_env):
    rep, cg = _import(store_env, LA, "la311.yaml")
    try:
        assert (rep.rows, rep.imported, rep.already, len(rep.skipped)) == (1500, 1374, 0, 126)
        assert rep.outcomes == {"closed": 1336, "refused": 36, "dispatched": 2}
        reasons = Counter(r["reason"].split(" has no")[0] for r in rep.skipped)
        assert reasons == {"source value 'Homeless Encampment'": 91, "source value 'Other'": 34,
                           "is empty: no source area to place the case on a grid cell": 1}
        empty = next(r for r in rep.skipped if r["field"] == "nc")
        assert empty["row"] == 1108  # the CSV line number (line 1 is the header)
        # the first record: created 2020-01-01 00:05, closed 2020-01-02 08:43, LA time
        la = ZoneInfo("America/Los_Angeles")
        tl = cg.service.timeline(report_case_id("la311", "1-1523590121"))
        kinds = [type(e).__name__ for e in tl]
        assert kinds == ["Reported", "Verified", "Filed", "Dispatched", "DeadlineMissed",
                         "Resolved", "Checked", "Closed"]
        assert tl[0].occurred_at == datetime(2020, 1, 1, 0, 5, tzinfo=la)
        assert tl[-1].occurred_at == datetime(2020, 1, 2, 8, 43, tzinfo=la)
        assert tl[3].unit == "hw" and tl[0].external_id == "1-1523590121"
        assert tl[-1].closure_type == "overdue"  # 32.6 h against a 1-day limit
        again = Importer(cg.service, Mapping.load(MAPS / "la311.yaml")).run(LA)
        assert (again.imported, again.already, len(again.skipped)) == (0, 1374, 126)
    finally:
        cg.close()


def test_nyc_counts_and_reasons(sqlite_env):
    rep, cg = _import(sqlite_env, NYC, "nyc311.yaml")
    try:
        assert (rep.rows, rep.imported, len(rep.skipped)) == (1650, 1097, 553)
        assert rep.outcomes == {"closed": 1077, "dispatched": 9, "filed": 11}
        assert all(r["field"] == "Complaint Type" for r in rep.skipped)
        top = Counter(r["reason"] for r in rep.skipped).most_common(1)[0]
        assert top == ("source value 'SCRIE' has no mapping in categories (map it, or import "
                       "with --create-unknown)", 69)
        nyc = ZoneInfo("America/New_York")
        tl = cg.service.timeline(report_case_id("nyc311", "19937901"))  # DOT street sign
        assert tl[0].occurred_at == datetime(2011, 3, 1, 10, 41, 13, tzinfo=nyc)
        assert tl[-1].occurred_at == datetime(2011, 3, 15, 16, 14, 19, tzinfo=nyc)
        assert next(e for e in tl if type(e).__name__ == "Dispatched").unit == "jtj"
    finally:
        cg.close()


def test_chicago_steps_come_from_the_notes(sqlite_env):
    rep, cg = _import(sqlite_env, CHI, "chicago311.yaml")
    try:
        assert (rep.rows, rep.imported, len(rep.skipped)) == (50, 50, 0)
        assert rep.outcomes == {"closed": 48, "refused": 1, "dispatched": 1}
        first = json.loads(CHI.read_text().splitlines()[0])
        tl = cg.service.timeline(report_case_id("chicago311", first["service_request_id"]))
        at = {type(e).__name__: e.occurred_at for e in tl}
        notes = {n["summary"]: datetime.fromisoformat(n["datetime"]) for n in first["notes"]}
        assert at["Reported"] == notes["Request opened"]
        assert at["Resolved"] == notes["Final Outcome"]  # 2014-07-29 14:11
        assert at["Closed"] == notes["Request closed"]  # 2015-10-10, after the follow-ons
        dup = next(json.loads(line) for line in CHI.read_text().splitlines()
                   if json.loads(line).get("status_notes") == "Duplicate")
        tl = cg.service.timeline(report_case_id("chicago311", dup["service_request_id"]))
        assert type(tl[-1]).__name__ == "Refused" and "Duplicate" in tl[-1].reason
        assert tl[-1].state == "voided"
    finally:
        cg.close()


def test_create_unknown_adds_categories_and_units(sqlite_env, tmp_path):
    rep, cg = _import(sqlite_env, LA, "la311.yaml", create_unknown=True)
    try:
        assert (rep.imported, len(rep.skipped)) == (1499, 1)
        assert rep.created["categories"] == [
            {"source": "Homeless Encampment", "code": "E9901"}, {"source": "Other", "code": "E9902"}]
        assert cg.service.city.category("E9901").name == "Homeless Encampment"
    finally:
        cg.close()


def test_create_unknown_units_get_a_member_who_resolves(sqlite_env):
    rep, cg = _import(sqlite_env, NYC, "nyc311.yaml", create_unknown=True)
    try:
        assert (rep.imported, len(rep.skipped)) == (1608, 42)
        assert {r["field"] for r in rep.skipped} == {"Community Board"}
        assert [u["unit"] for u in rep.created["units"]] == [
            "imp-dfta", "imp-dhs", "imp-doe", "imp-dof", "imp-nycem"]
        tl = cg.service.timeline(report_case_id("nyc311", "19937896"))  # DOF, closed
        resolved = next(e for e in tl if type(e).__name__ == "Resolved")
        assert (resolved.actor, tl[-1].state) == ("imp-dof-staff", "closed")
    finally:
        cg.close()


def test_dry_run_stores_nothing(sqlite_env):
    cg = bootstrap(env=sqlite_env, city=city())
    try:
        rep = Importer(cg.service, Mapping.load(MAPS / "chicago311.yaml")).run(CHI, dry_run=True)
        assert rep.imported == 50 and rep.dry_run
        assert (cg.app.recorder.max_notification_id() or 0) == 0
    finally:
        cg.close()


def test_partial_rows_go_as_far_as_the_record_supports(sqlite_env, tmp_path):
    src = tmp_path / "x.csv"
    src.write_text("id,created,closed,type,agency,status,area\n"
                   "A1,2024-05-06 10:00:00,,Bulky Items,BOS,Closed,7\n"
                   "A2,2024-05-06 10:00:00,2024-05-06 09:00:00,Bulky Items,BOS,Closed,7\n"
                   "A3,2024-05-06 10:00:00,2024-05-07 10:00:00,Bulky Items,BOS,Weird,7\n"
                   "A4,06.05.2024,2024-05-07 10:00:00,Bulky Items,BOS,Closed,7\n"
                   "A1,2024-05-06 10:00:00,,Bulky Items,BOS,Closed,7\n", encoding="utf-8")
    raw = yaml.safe_load((MAPS / "la311.yaml").read_text(encoding="utf-8"))
    raw["fields"] = {"external_id": "id", "reported_at": "created", "closed_at": "closed",
                     "category": "type", "unit": "agency", "status": "status", "area": "area"}
    raw["steps"] = {"resolve": ["closed_at"], "check": ["closed_at"], "close": ["closed_at"]}
    cg = bootstrap(env=sqlite_env, city=city())
    try:
        rep = Importer(cg.service, Mapping.build(raw)).run(src)
        assert rep.imported == 1
        assert rep.partial == [{"row": 2, "external_id": "A1", "outcome": "closed",
                                "stopped_at": "dispatched",
                                "reason": "resolve: no time in the record (closed_at empty)"}]
        skipped = {r["row"]: (r["field"], r["reason"]) for r in rep.skipped}
        assert skipped[3][0] == "resolve" and "earlier than the step before" in skipped[3][1]
        assert skipped[4] == ("status", "source status 'Weird' has no mapping in statuses")
        assert skipped[5][0] == "created" and "'06.05.2024' is not a time" in skipped[5][1]
        assert skipped[6] == ("id", "'A1' appears again (first on row 2)")
    finally:
        cg.close()


def test_bad_mappings_name_the_key():
    with pytest.raises(ConfigError, match=r"mapping.statuses.Closed: 'done' is not one of"):
        Mapping.build({"source": "x", "fields": {"external_id": "a", "reported_at": "b",
                                                 "category": "c"}, "statuses": {"Closed": "done"}})
    with pytest.raises(ConfigError, match=r"mapping.fields.category: is required"):
        Mapping.build({"source": "x", "fields": {"external_id": "a", "reported_at": "b"}})
    with pytest.raises(ConfigError, match=r"mapping.timezone: unknown time zone"):
        Mapping.build({"source": "x", "timezone": "Mars/Olympus", "fields": {}})


def test_cli_import_json_and_rerun(tmp_path):
    cmd = [sys.executable, "-m", "adapters.cli", "--data-dir", str(tmp_path / "d"), "import",
           str(CHI), "--mapping", str(MAPS / "chicago311.yaml"), "--json"]
    first = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stderr
    out = json.loads(first.stdout)
    assert (out["rows"], out["imported"], out["skipped"]) == (50, 50, 0)
    second = json.loads(subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True,
                                       timeout=120).stdout)
    assert (second["imported"], second["already_imported"]) == (0, 50)
    bad = subprocess.run([*cmd[:-3], "--mapping", str(tmp_path / "none.yaml"), "--json"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2
    assert json.loads(bad.stderr.strip().splitlines()[-1])["field"] == "mapping"
