"""`casegrid migrate-store`: a simulated month on SQLite moved to an empty PostgreSQL:
every event with its id, the facts (numbers, notifier, signed heads), projections and
audit leaves rebuilt; the scoreboard and `audit verify` agree with the source; a non-empty
target refused; a run stopped half-way resumes."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from adapters.bootstrap import bootstrap, open_application
from adapters.cli.app import app
from adapters.storage.move import Mover
from tests.support import city, report

pytestmark = [pytest.mark.postgres, pytest.mark.usefixtures("cli_env")]
RUN = CliRunner()
MONTH = ("scoreboard", "--month", "2026-10", "--json")


def cli(args, env=None, data=None):
    pre = ["--data-dir", str(data)] if data else []
    return RUN.invoke(app, [*pre, *args], env=env)


@pytest.fixture(scope="module")
def month(tmp_path_factory):
    """A simulated month on SQLite, with a signed audit head."""
    import structlog

    tmp = tmp_path_factory.mktemp("month")
    data, key = tmp / "data", tmp / "audit.pem"
    saved = structlog.get_config()  # the CLI points structlog at the runner's stream:
    try:  # a module fixture runs before tests/conftest.py's per-test restore saves it
        r = cli(["simulate", "--cases", "400", "--days", "30", "--start", "2026-10-01",
                 "--json"], data=data)
        assert r.exit_code == 0, r.output
        assert cli(["audit", "keygen", "--out", str(key)]).exit_code == 0
        assert cli(["audit", "head", "--key", str(key)], data=data).exit_code == 0
    finally:
        structlog.configure(**saved)
    return data, key


def sqlite_env(data):
    return {"PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(data / "casegrid.sqlite")}


def test_a_simulated_month_moves_to_postgres(month, pg_env):
    data, key = month
    r = cli(["migrate-store", "--from-data-dir", str(data), "--to", "postgres", "--json"],
            env=pg_env)
    assert r.exit_code == 0, r.output
    rep = json.loads(r.stdout)
    assert rep["ok"] and rep["events"] == rep["source_events"] == rep["target_events"] > 2000
    assert rep["source_hash"] == rep["target_hash"]
    assert rep["tables"]["cg_case_numbers"] == 1 and rep["tables"]["cg_audit_heads"] == 1

    src = cli(MONTH, data=data)
    dst = cli(MONTH, env=pg_env)
    assert dst.exit_code == 0, dst.output
    assert json.loads(dst.stdout) == json.loads(src.stdout)
    for by in ("grid", "dispatcher"):
        assert (json.loads(cli([*MONTH, "--by", by], env=pg_env).stdout)
                == json.loads(cli([*MONTH, "--by", by], data=data).stdout))
    verify = cli(["audit", "verify", "--key", f"{key}.pub", "--json"], env=pg_env)
    assert verify.exit_code == 0, verify.output  # the copied signed head verifies
    assert json.loads(verify.stdout)["heads"] == 1

    # ids kept: the target's log reads like the source's, and goes on after it
    source = open_application(sqlite_env(data))
    cg = bootstrap(env=pg_env, city=city())
    assert ([(n.id, n.originator_id) for n in cg.app.recorder.select_notifications(1, 50)]
            == [(n.id, n.originator_id) for n in source.recorder.select_notifications(1, 50)])
    head = source.recorder.max_notification_id()
    case = report(cg.service)
    assert cg.app.recorder.max_notification_id() == head + 1
    last = source_number(source)
    assert case.number > last  # the number sequence came along: no second 2026-10-000001
    source.close()
    cg.close()

    again = cli(["migrate-store", "--from-data-dir", str(data), "--json"], env=pg_env)
    assert again.exit_code == 2 and "already filled" in again.stderr + again.stdout


def source_number(source):
    from adapters.storage.sql import Sql

    return Sql(source.recorder).query("SELECT MAX(number) FROM cg_cases")[0][0]


def test_a_target_with_events_of_its_own_is_refused(month, pg_env):
    data, _ = month
    cg = bootstrap(env=pg_env, city=city())
    report(cg.service)
    cg.close()
    r = cli(["migrate-store", "--from-data-dir", str(data), "--json"], env=pg_env)
    assert r.exit_code == 2, r.output
    err = json.loads(r.stderr)
    assert err["field"] == "to" and "not empty (1 events)" in err["message"]


def test_a_move_stopped_half_way_resumes(month, pg_env):
    data, _ = month
    source = open_application(sqlite_env(data))
    target = bootstrap(env=pg_env, city=city())

    def stop_after_two(n, seen=[]):  # noqa: B006 - counts this run's batches
        seen.append(n)
        if len(seen) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        Mover(source, target, str((data / "casegrid.sqlite").resolve()), batch=500).run(
            progress=stop_after_two)
    source.close()
    target.close()
    r = cli(["migrate-store", "--from-data-dir", str(data), "--json"], env=pg_env)
    assert r.exit_code == 0, r.output
    rep = json.loads(r.stdout)
    assert rep["resumed_after"] > 0 and rep["ok"]
    assert rep["events"] + 1000 == rep["target_events"]


def test_bad_arguments_name_the_field(tmp_path, pg_env):
    r = cli(["migrate-store", "--from-data-dir", str(tmp_path / "nothing"), "--json"], env=pg_env)
    assert r.exit_code == 2 and json.loads(r.stderr)["field"] == "from_data_dir"
    r = cli(["migrate-store", "--from-data-dir", str(tmp_path), "--to", "mysql", "--json"],
            env=pg_env)
    assert r.exit_code == 2 and json.loads(r.stderr)["field"] == "to"
    r = cli(["migrate-store", "--from-data-dir", str(tmp_path), "--json"])
    assert r.exit_code == 2 and json.loads(r.stderr)["field"] == "to"
    for absurd in ("a\x00b", "x" * 10_000):
        r = cli(["migrate-store", "--from-data-dir", absurd, "--json"], env=pg_env)
        assert r.exit_code == 2 and json.loads(r.stderr)["field"] == "from_data_dir", r.output
    r = cli(["migrate-store", "--from-data-dir", str(tmp_path), "--batch", "99999999", "--json"],
            env=pg_env)
    assert r.exit_code == 2 and json.loads(r.stderr)["field"] == "batch"
