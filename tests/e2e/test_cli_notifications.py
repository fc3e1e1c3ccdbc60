"""`casegrid notifications run|list` through typer's CliRunner: a round makes each notice
once, the list reads a unit's or a desk's, bad options are refused by name."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from adapters.bootstrap import bootstrap
from adapters.cli import app
from tests.support import city, drive

pytestmark = pytest.mark.usefixtures("cli_env")


def run(tmp_path, *args: str):
    return CliRunner().invoke(app, ["--data-dir", str(tmp_path), "notifications", *args])


def test_run_once_then_list(tmp_path):
    cg = bootstrap(data_dir=tmp_path, city=city())
    drive(cg.service, "dispatched")
    cg.close()
    first = run(tmp_path, "run", "--now", "2026-10-12T10:00:00+08:00", "--json")
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout.splitlines()[-1]) == {"events": 3, "due_soon": 0, "sms": 0,
                                                         "kafka": 0}
    again = run(tmp_path, "run", "--now", "2026-10-12T10:00:00+08:00", "--json")
    assert json.loads(again.stdout.splitlines()[-1])["events"] == 0
    got = run(tmp_path, "list", "--unit", "hw", "--json")
    doc = json.loads(got.stdout.splitlines()[-1])
    assert doc["total"] == 1 and doc["items"][0]["rule"] == "dispatched-unit"
    text = run(tmp_path, "list", "--unit", "hw")
    assert "已派遣" in text.stdout and "1 notifications, 1 unread" in text.stdout
    soon = run(tmp_path, "run", "--now", "2026-10-12T14:30:00+08:00", "--json")
    assert json.loads(soon.stdout.splitlines()[-1])["due_soon"] == 1
    assert json.loads(run(tmp_path, "list", "--role", "duty_chief", "--json")
                      .stdout.splitlines()[-1])["total"] == 0
    st = json.loads(run(tmp_path, "status", "--json").stdout.splitlines()[-1])
    assert st["state"] == "ok" and st["lag_events"] == 0 and st["total"] == 2
    assert st["kafka"] == {"pending": 2, "parked": 0}  # no broker named: they wait
    assert "notifier ok" in run(tmp_path, "status").stdout


@pytest.mark.parametrize(("args", "field"), [
    (["list"], "unit"), (["list", "--unit", "hw", "--role", "acceptor"], "unit"),
    (["list", "--unit", "nope"], "unit"), (["list", "--role", "mayor"], "role"),
    (["list", "--unit", "hw", "--limit", "0"], "limit"),
    (["run", "--now", "0001-01-01T00:00:00+08:00"], "now"),
    (["run", "--now", "yesterday"], "now"), (["run", "--interval", "0"], "interval"),
])
def test_bad_options_are_refused_by_name(tmp_path, args, field):
    r = run(tmp_path, *args, "--json")
    assert r.exit_code == 2, r.output
    assert json.loads(r.stderr.splitlines()[-1])["field"] == field
