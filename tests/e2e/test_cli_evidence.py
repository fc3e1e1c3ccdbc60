"""`casegrid evidence put` and `casegrid evidence verify` through typer's CliRunner, on a
store of their own: a photo stored from the command line goes on a report, and a swapped
file is found by verify (exit 6)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from adapters.cli import app

DATA = Path(__file__).resolve().parents[1] / "data" / "evidence"


@pytest.fixture
def run(tmp_path, monkeypatch):
    for name in ("PERSISTENCE_MODULE", "SQLITE_DBNAME", "CASEGRID_DATA_DIR", "CASEGRID_CONFIG"):
        monkeypatch.delenv(name, raising=False)

    def invoke(*args: str):
        return CliRunner().invoke(app, ["--data-dir", str(tmp_path), *args])

    invoke.data_dir = tmp_path
    return invoke


def test_put_then_report_then_verify(run):
    r = run("evidence", "put", str(DATA / "before.jpg"), "--json")
    assert r.exit_code == 0, r.output
    ref = json.loads(r.stdout)["ref"]
    assert json.loads(r.stdout)["thumb_url"] == f"/evidence/{ref[7:]}/thumb"
    r = run("case", "report", "--channel", "patrol", "--category", "E0102",
            "--grid", "44030301000101", "--actor", "sup_zhang", "--at", "2026-10-12T09:00:00+08:00",
            "--evidence", ref, "--json")
    assert r.exit_code == 0, r.output
    r = run("evidence", "verify", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout) == {"checked": 1, "missing": [], "changed": [], "ok": True}
    h = ref[7:]
    (run.data_dir / "evidence" / h[:2] / h[2:4] / h).write_bytes(b"swapped")
    r = run("evidence", "verify", "--json")
    assert r.exit_code == 6
    assert [x["ref"] for x in json.loads(r.stdout)["changed"]] == [ref]


def test_a_photo_not_stored_cannot_go_on_a_report(run):
    r = run("case", "report", "--channel", "patrol", "--category", "E0102",
            "--grid", "44030301000101", "--actor", "sup_zhang", "--evidence", "sha256:" + "a" * 64,
            "--at", "2026-10-12T09:00:00+08:00", "--json")
    assert r.exit_code == 2 and json.loads(r.stderr)["field"] == "evidence[0]"


@pytest.mark.parametrize("name,code,field", [("not_an_image.jpg", 2, "file"),
                                             ("missing.jpg", 2, "file")])
def test_put_refuses_what_is_not_a_photo(run, name, code, field):
    r = run("evidence", "put", str(DATA / name), "--json")
    assert r.exit_code == code and json.loads(r.stderr)["field"] == field
