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


@pytest.mark.parametrize("command", [["queue", "--json"], ["kafka", "status", "--json"],
                                     ["audit", "follow", "--json"]])
def test_a_store_without_its_steps_is_refused_by_name_until_db_upgrade(tmp_path, command):
    """CASEGRID_AUTO_MIGRATE=0 and `db upgrade` never run: every module opening the store
    stops with one line naming the command, not a SQL error about a missing column."""
    r = RUN.invoke(app, ["--data-dir", str(tmp_path), *command], env=OFF)
    assert r.exit_code == 1, (r.stdout, r.stderr)
    body = json.loads(r.stderr)
    assert body["error"] == "schema_behind" and "`casegrid db upgrade`" in body["message"]
    assert isinstance(r.exception, SystemExit)  # an exit, not an exception out of the command
    assert json.loads(db(tmp_path, "status").stdout)["current"] == 0  # nothing applied
    assert db(tmp_path, "upgrade").exit_code == 0
    after = RUN.invoke(app, ["--data-dir", str(tmp_path), *command], env=OFF)
    assert after.exit_code == 0 and json.loads(after.stdout), after.stderr


def test_the_kafka_worker_and_bootstrap_refuse_then_open_after_db_upgrade(tmp_path):
    from adapters.bootstrap import bootstrap
    from adapters.kafka.settings import open_store
    from adapters.storage.migrations import SchemaBehind

    for opener in (lambda: bootstrap(data_dir=tmp_path, env=OFF),
                   lambda: open_store(data_dir=tmp_path, env=OFF)):
        with pytest.raises(SchemaBehind, match=r"casegrid db upgrade"):
            opener()
    assert db(tmp_path, "upgrade").exit_code == 0
    app_, _service, sql = open_store(data_dir=tmp_path, env=OFF)
    try:  # the columns the schema steps add, there for the modules that use them
        sql.query("SELECT publish_attempts, publish_error, parked_at FROM cg_kafka_dead_letters")
        sql.query("SELECT published_at FROM cg_audit_heads")
    finally:
        app_.close()
