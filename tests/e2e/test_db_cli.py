"""`casegrid db status | upgrade` on a SQLite store started with CASEGRID_AUTO_MIGRATE=0."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from adapters.cli.app import app
from adapters.storage.steps import STEPS

pytestmark = pytest.mark.usefixtures("cli_env")
RUN = CliRunner()
OFF = {"CASEGRID_AUTO_MIGRATE": "0"}


def db(data, *args):
    return RUN.invoke(app, ["--data-dir", str(data), "db", *args, "--json"], env=OFF)


def test_status_then_upgrade_in_two_goes(tmp_path):
    st = json.loads(db(tmp_path, "status").stdout)
    assert st["current"] == 0 and len(st["pending"]) == len(STEPS) == st["latest"]
    r = db(tmp_path, "upgrade", "--to", "2")
    assert r.exit_code == 0 and json.loads(r.stdout) == {"applied": [1, 2], "current": 2}
    r = db(tmp_path, "upgrade")
    assert json.loads(r.stdout)["applied"] == list(range(3, len(STEPS) + 1))
    st = json.loads(db(tmp_path, "status").stdout)
    assert st["current"] == len(STEPS) and st["pending"] == []
    assert [a["version"] for a in st["applied"]] == list(range(1, len(STEPS) + 1))
    assert json.loads(db(tmp_path, "upgrade").stdout)["applied"] == []


@pytest.mark.parametrize("to", ["0", "-1", "99999"])
def test_a_version_out_of_range_is_refused(tmp_path, to):
    r = db(tmp_path, "upgrade", "--to", to)
    assert r.exit_code == 2 and json.loads(r.stderr)["field"] == "to"
    assert json.loads(db(tmp_path, "status").stdout)["current"] == 0  # nothing applied
