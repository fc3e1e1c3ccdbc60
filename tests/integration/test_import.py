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
from adapters.importing import Importer, Mapping, load_source
from adapters.kafka.messages import report_case_id
from domain.errors import ConfigError, ValidationError
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


# ---------------------------------------------------------------- files wrong as a whole (issue 10)

NYC_DUE = REPO / "tests" / "data" / "nyc311_due_dates.csv"
LA_HEADER, *LA_LINES = LA.read_text(encoding="utf-8").splitlines(keepends=True)
INVALID = 2  # the CLI's exit code for invalid input (tests/e2e/test_cli.py)
STORE_ENV = ("PERSISTENCE_MODULE", "SQLITE_DBNAME", "CASEGRID_DATA_DIR", "CASEGRID_CONFIG")


@pytest.fixture
def run_cli(tmp_path, monkeypatch):
    """`casegrid --data-dir <tmp>/d import …` in-process, as tests/e2e/test_cli.py runs it."""
    import structlog
    from typer.testing import CliRunner

    from adapters.cli import app

    for name in STORE_ENV:
        monkeypatch.delenv(name, raising=False)
    saved = structlog.get_config()
    runner = CliRunner()

    def run(*args: str):
        return runner.invoke(app, ["--data-dir", str(tmp_path / "d"), "import", *map(str, args)])

    yield run
    structlog.configure(**saved)


def _stored(data_dir: Path) -> int:
    """Events in the CLI's store under data_dir (0 if it was never created)."""
    if not data_dir.exists():
        return 0
    cg = bootstrap(data_dir=str(data_dir))
    try:
        return cg.app.recorder.max_notification_id() or 0
    finally:
        cg.close()


def _error(result) -> dict:
    return json.loads([line for line in result.stderr.splitlines() if line.strip()][-1])


def _la_without(tmp_path, *drop: str, rows: int = 20) -> Path:
    """The first `rows` LA rows with some columns removed."""
    import csv

    recs = list(csv.DictReader(LA.open(encoding="utf-8", newline="")))[:rows]
    cols = [c for c in recs[0] if c not in drop]
    path = tmp_path / "la_cut.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, cols, extrasaction="ignore")
        w.writeheader()
        w.writerows(recs)
    return path


def test_header_missing_mapped_columns_is_exit_2_naming_each_and_its_key(tmp_path, run_cli, sqlite_env):
    path = _la_without(tmp_path, "requesttype", "srnumber")
    res = run_cli(path, "--mapping", MAPS / "la311.yaml", "--json")
    assert res.exit_code == INVALID, res.output
    e = _error(res)
    assert e["error"] == "invalid" and e["field"] == "header"
    assert "2 columns the mapping names are missing" in e["rule"]
    assert "'srnumber' (mapping fields.external_id)" in e["rule"]
    assert "'requesttype' (mapping fields.category, fields.description)" in e["rule"]
    assert res.stdout == "" and _stored(tmp_path / "d") == 0
    # through the API as well: raised before any row, nothing stored
    cg = bootstrap(env=sqlite_env, city=city())
    try:
        with pytest.raises(ValidationError, match=r"header: 2 columns"):
            Importer(cg.service, Mapping.load(MAPS / "la311.yaml")).run(path)
        assert (cg.app.recorder.max_notification_id() or 0) == 0
    finally:
        cg.close()


def test_header_hints_a_near_name_and_rejects_a_mapped_column_named_twice(tmp_path, sqlite_env):
    src = tmp_path / "x.csv"
    src.write_text(LA_HEADER.replace('"status"', '"Status "') + LA_LINES[0], encoding="utf-8")
    m = Mapping.load(MAPS / "la311.yaml")
    with pytest.raises(ValidationError, match=r"'status' \(mapping fields.status\), the file has 'Status '"):
        load_source(src, m)
    src.write_text(LA_HEADER.replace('"_daystoclose"', '"requesttype"') + LA_LINES[0], encoding="utf-8")
    with pytest.raises(ValidationError, match=r"named twice.*'requesttype' \(mapping fields.category"):
        load_source(src, m)


def test_absent_field_is_told_from_an_empty_one(tmp_path, sqlite_env):
    lines = CHI.read_text(encoding="utf-8").splitlines()
    docs = [json.loads(line) for line in lines[:5]]
    del docs[0]["service_request_id"]
    docs[1]["service_request_id"] = ""
    del docs[2]["extended_attributes"]["ward"]
    docs[3]["extended_attributes"]["ward"] = ""
    src = tmp_path / "chi.jsonl"
    src.write_text("".join(json.dumps(d) + "\n" for d in docs), encoding="utf-8")
    cg = bootstrap(env=sqlite_env, city=city())
    try:
        rep = Importer(cg.service, Mapping.load(MAPS / "chicago311.yaml")).run(src)
    finally:
        cg.close()
    skipped = {r["row"]: (r["field"], r["reason"]) for r in rep.skipped}
    assert skipped[1] == ("service_request_id", "is absent: the record has no 'service_request_id' "
                                                "(mapping fields.external_id); no external id")
    assert skipped[2] == ("service_request_id", "is empty: no external id")
    assert skipped[3][0] == "extended_attributes.ward" and skipped[3][1].startswith(
        "is absent: the record has no 'extended_attributes.ward' (mapping fields.area)")
    assert skipped[4] == ("extended_attributes.ward",
                          "is empty: no source area to place the case on a grid cell")
    assert rep.imported == 1


def test_jsonl_required_field_in_no_record_is_exit_2(tmp_path, run_cli):
    docs = [json.loads(line) for line in CHI.read_text(encoding="utf-8").splitlines()[:3]]
    for d in docs:
        del d["service_name"]
    src = tmp_path / "chi.jsonl"
    src.write_text("".join(json.dumps(d) + "\n" for d in docs), encoding="utf-8")
    res = run_cli(src, "--mapping", MAPS / "chicago311.yaml", "--json")
    assert res.exit_code == INVALID
    e = _error(res)
    assert e["field"] == "file"
    assert "'service_name' (mapping fields.category, fields.description)" in e["rule"]
    assert "in all 3 records" in e["rule"]


def test_empty_and_header_only_files_are_exit_2(tmp_path, run_cli):
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    res = run_cli(empty, "--mapping", MAPS / "la311.yaml")
    assert res.exit_code == INVALID
    assert "error: file: is empty: no header line" in res.stderr
    header_only = tmp_path / "header.csv"
    header_only.write_text(LA_HEADER + "\n", encoding="utf-8")
    res = run_cli(header_only, "--mapping", MAPS / "la311.yaml", "--json")
    assert res.exit_code == INVALID
    assert _error(res) == {"error": "invalid", "field": "file",
                           "rule": "has a header line (35 columns) but 0 data rows: nothing to import",
                           "message": "file: has a header line (35 columns) but 0 data rows: "
                                      "nothing to import"}
    blank = tmp_path / "blank.jsonl"
    blank.write_text("\n\n", encoding="utf-8")
    res = run_cli(blank, "--mapping", MAPS / "chicago311.yaml")
    assert res.exit_code == INVALID and "0 data rows" in res.stderr
    assert _stored(tmp_path / "d") == 0


def test_ragged_rows_name_the_row_and_the_cell_counts(tmp_path, run_cli):
    short = LA_LINES[1].rsplit(",", 3)[0] + "\n"  # 3 cells fewer
    long = LA_LINES[2].rstrip("\n") + ',"extra"\n'
    src = tmp_path / "ragged.csv"
    src.write_text(LA_HEADER + LA_LINES[0] + short + long + LA_LINES[3], encoding="utf-8")
    res = run_cli(src, "--mapping", MAPS / "la311.yaml", "--json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert (out["imported"], out["skipped"]) == (2, 2)
    assert out["skipped_rows"] == [
        {"row": 3, "field": "(row)", "reason": "row 3 has 32 cells, header has 35 (a stray delimiter or quote?)"},
        {"row": 4, "field": "(row)", "reason": "row 4 has 36 cells, header has 35 (a stray delimiter or quote?)"}]
    text = run_cli(src, "--mapping", MAPS / "la311.yaml", "--dry-run")
    assert "  row 3 has 32 cells, header has 35" in text.stdout
    assert "status" not in text.stdout.split("outcomes:")[1]


def test_broken_json_line_keeps_line_column_and_the_error(tmp_path, sqlite_env):
    lines = CHI.read_text(encoding="utf-8").splitlines()[:3]
    broken = lines[1].replace('", "', '" "', 1)  # a comma missing between two members
    with pytest.raises(json.JSONDecodeError) as info:
        json.loads(broken)
    expected = info.value
    assert expected.msg == "Expecting ',' delimiter" and expected.colno > 1
    src = tmp_path / "chi.jsonl"
    src.write_text("\n".join([lines[0], broken, lines[2]]) + "\n", encoding="utf-8")
    cg = bootstrap(env=sqlite_env, city=city())
    try:
        rep = Importer(cg.service, Mapping.load(MAPS / "chicago311.yaml")).run(src)
    finally:
        cg.close()
    assert rep.imported == 2
    (row,) = rep.skipped
    assert row["row"] == 2 and row["field"] == "(line)"
    assert row["reason"].startswith(f"line 2, column {expected.colno} (character {expected.pos + 1}): "
                                    f"is not JSON: {expected.msg} (near ")


def test_invalid_utf8_names_line_and_byte_offset(tmp_path, run_cli):
    head = (LA_HEADER + LA_LINES[0]).encode()
    src = tmp_path / "latin1.csv"
    assert "SR Created" in LA_LINES[1]
    src.write_bytes(head + LA_LINES[1].replace("SR Created", "SR Cr\xfcated").encode("latin-1"))
    res = run_cli(src, "--mapping", MAPS / "la311.yaml", "--json")
    assert res.exit_code == INVALID
    e = _error(res)
    col = LA_LINES[1].index("SR Created") + 6  # the 1-based byte of the line
    assert e["field"] == "file"
    assert e["rule"] == (f"is not valid UTF-8: byte b'\\xfc' at line 3, byte {col} of the line "
                         f"(byte offset {len(head) + col - 1} in the file); re-export it as UTF-8")
    assert _stored(tmp_path / "d") == 0


def test_nul_byte_in_a_cell_rejects_that_row_naming_the_column(tmp_path, sqlite_env):
    bad = LA_LINES[1].replace('"Mobile App"', '"Mo\x00bile App"')
    assert bad != LA_LINES[1]
    src = tmp_path / "nul.csv"
    src.write_text(LA_HEADER + LA_LINES[0] + bad + LA_LINES[2], encoding="utf-8")
    docs = [json.loads(line) for line in CHI.read_text(encoding="utf-8").splitlines()[:2]]
    docs[1]["notes"][0]["summary"] = "Request\x00opened"
    jsrc = tmp_path / "nul.jsonl"
    jsrc.write_text("".join(json.dumps(d) + "\n" for d in docs), encoding="utf-8")
    cg = bootstrap(env=sqlite_env, city=city())
    try:
        rep = Importer(cg.service, Mapping.load(MAPS / "la311.yaml")).run(src)
        jrep = Importer(cg.service, Mapping.load(MAPS / "chicago311.yaml")).run(jsrc)
    finally:
        cg.close()
    assert rep.imported == 2 and rep.skipped == [
        {"row": 3, "field": "requestsource",
         "reason": "contains a NUL byte (character 3 of the cell): a damaged record, not imported"}]
    assert jrep.imported == 1 and jrep.skipped == [
        {"row": 2, "field": "notes[0].summary",
         "reason": "contains a NUL byte: a damaged record, not imported"}]


def test_nyc_due_date_goes_on_the_report(sqlite_env):
    cg = bootstrap(env=sqlite_env, city=city())
    try:
        rep = Importer(cg.service, Mapping.load(MAPS / "nyc311.yaml")).run(NYC_DUE)
        assert (rep.rows, rep.imported) == (12, 9)
        assert rep.outcomes == {"closed": 7, "dispatched": 1, "filed": 1}
        skipped = {r["row"]: (r["field"], r["reason"]) for r in rep.skipped}
        assert skipped[10] == ("Due Date", "'soon' is not a time (%m/%d/%Y %I:%M:%S %p)")
        assert skipped[11][0] == "Created Date" and "before 2000-01-01" in skipped[11][1]
        assert skipped[13] == ("Community Board",
                               "is empty: no source area to place the case on a grid cell")
        nyc = ZoneInfo("America/New_York")
        first = cg.service.timeline(report_case_id("nyc311", "90000001"))[0]
        assert first.source_due_at == datetime(2011, 3, 9, 9, 15, tzinfo=nyc)
        assert first.occurred_at == datetime(2011, 3, 2, 9, 15, tzinfo=nyc)
        pending = cg.service.timeline(report_case_id("nyc311", "90000005"))
        assert pending[0].source_due_at is None and pending[-1].state == "pending_dispatch"
    finally:
        cg.close()


def test_mapping_history_from_bounds_the_import(sqlite_env):
    raw = yaml.safe_load((MAPS / "nyc311.yaml").read_text(encoding="utf-8"))
    cg = bootstrap(env=sqlite_env, city=city())
    try:
        # the mapping's own earlier bound: the 1998 record is history this import accepts
        rep = Importer(cg.service, Mapping.build({**raw, "history_from": "1995-01-01"})).run(NYC_DUE)
        assert rep.imported == 10 and {r["row"] for r in rep.skipped} == {10, 13}
        tl = cg.service.timeline(report_case_id("nyc311", "90000010"))
        nyc = ZoneInfo("America/New_York")
        assert tl[0].occurred_at == datetime(1998, 12, 15, 10, 30, tzinfo=nyc)
        assert tl[-1].state == "closed"
    finally:
        cg.close()
    cg = bootstrap(env={**sqlite_env, "SQLITE_DBNAME": sqlite_env["SQLITE_DBNAME"] + "2"}, city=city())
    try:  # a later bound: older rows are skipped naming the column and the bound
        rep = Importer(cg.service, Mapping.build({**raw, "history_from": "2011-03-05"})).run(NYC_DUE)
        reasons = {r["row"]: (r["field"], r["reason"]) for r in rep.skipped}
        assert reasons[2] == ("Created Date", "2011-03-02T09:15:00-05:00 is before 2011-03-05, the "
                                              "earliest business time accepted (the mapping's history_from)")
        assert sorted(reasons) == [2, 3, 4, 5, 6, 7, 10, 11, 13]
    finally:
        cg.close()
    with pytest.raises(ConfigError, match=r"mapping.history_from: 1989-12-31 is outside the accepted range 1990-01-01"):
        Mapping.build({**raw, "history_from": "1989-12-31"})
    with pytest.raises(ConfigError, match=r"mapping.history_from: 'soon' is not a day"):
        Mapping.build({**raw, "history_from": "soon"})
