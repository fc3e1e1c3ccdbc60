"""Schema versions of our tables (adapters/storage/migrations.py, steps.py): an older
store brought forward in place with its rows, idempotent, and safe from several
processes at once on PostgreSQL — as is opening an empty PostgreSQL store."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from eventsourcing.application import Application

from adapters.storage import migrations
from adapters.storage.sql import Sql
from adapters.storage.steps import STEPS

ROOT = Path(__file__).resolve().parents[2]
ALL = list(range(1, len(STEPS) + 1))
# cg_kafka_dead_letters and cg_sessions as the release before schema versions made them
OLD_SHAPE = (
    "CREATE TABLE cg_kafka_dead_letters (group_id TEXT NOT NULL, topic TEXT NOT NULL,"
    " partition_id INTEGER NOT NULL, kafka_offset BIGINT NOT NULL, msg_key TEXT,"
    " payload TEXT NOT NULL, error_kind TEXT NOT NULL, error_field TEXT, error TEXT NOT NULL,"
    " recorded_at TEXT NOT NULL, published_at TEXT,"
    " PRIMARY KEY (group_id, topic, partition_id, kafka_offset))",
    "CREATE TABLE cg_sessions (session_id TEXT PRIMARY KEY, user_id TEXT NOT NULL,"
    " issued_at BIGINT NOT NULL, expires_at BIGINT NOT NULL, revoked_at BIGINT, revoked_by TEXT)",
    "CREATE TABLE cg_audit_heads (size BIGINT NOT NULL, root_hash TEXT NOT NULL,"
    " at TEXT NOT NULL, signature TEXT NOT NULL, key_id TEXT NOT NULL, PRIMARY KEY (size, at))",
)
OLD_ROWS = (
    ("INSERT INTO cg_kafka_dead_letters (group_id, topic, partition_id, kafka_offset, msg_key,"
     " payload, error_kind, error_field, error, recorded_at) VALUES"
     " ('g', 'casegrid.reports.v1', 0, 7, 'k', '{\"x\":1}', 'invalid', 'grid', 'bad grid',"
     " '2026-10-01T00:00:00Z')"),
    ("INSERT INTO cg_sessions (session_id, user_id, issued_at, expires_at)"
     " VALUES ('s1', 'acc_wang', 1, 2)"),
    ("INSERT INTO cg_audit_heads (size, root_hash, at, signature, key_id)"
     " VALUES (3, 'ab', '2026-10-01T00:00:00Z', 'sig', 'k1')"),
)


def open_sql(env: dict) -> tuple[Application, Sql]:
    app = Application(env=env)
    return app, Sql(app.recorder)


def schema(sql: Sql) -> list:
    """Our tables' columns and indexes, as the database describes them."""
    if sql.dialect == "postgres":
        return sql.query(
            "SELECT table_name, column_name, data_type, is_nullable, column_default"
            " FROM information_schema.columns WHERE table_schema = current_schema()"
            " AND substr(table_name, 1, 3) = 'cg_' ORDER BY table_name, column_name"
        ) + sql.query("SELECT indexname, indexdef FROM pg_indexes WHERE"
                      " schemaname = current_schema() ORDER BY indexname")
    return sql.query("SELECT type, name, sql FROM sqlite_master ORDER BY type, name")


def indexes(sql: Sql) -> set[str]:
    if sql.dialect == "postgres":
        return {r[0] for r in sql.query("SELECT indexname FROM pg_indexes")}
    return {r[0] for r in sql.query("SELECT name FROM sqlite_master WHERE type = 'index'")}


def test_steps_are_numbered_in_order():
    migrations.check_steps(STEPS)
    with pytest.raises(ValueError, match="numbered"):
        migrations.check_steps([STEPS[0], STEPS[2]])


def test_steps_import_nothing_inside_their_transaction():
    """A slow import inside a step's transaction got the session ended by PostgreSQL's
    idle-in-transaction timeout (4 processes at once on a busy machine): every module a
    step imports is loaded by its `before`, outside the transaction."""
    import ast
    import inspect
    import textwrap

    from adapters.storage.steps import MODULES, load_modules

    for step in STEPS:
        tree = ast.parse(textwrap.dedent(inspect.getsource(step.apply)))
        wanted = {f"{n.module}.{a.name}" if f"{n.module}.{a.name}" in MODULES else n.module
                  for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) for a in n.names}
        assert wanted <= set(MODULES), (step.name, wanted - set(MODULES))
        assert not wanted or step.before is load_modules, step.name


def test_an_older_store_is_brought_forward_with_its_rows(store_env):
    app, sql = open_sql(store_env)
    with sql.transaction() as cur:
        for statement in (*OLD_SHAPE, *OLD_ROWS):
            cur.execute(statement)
    st = migrations.status(sql, STEPS)
    assert st.current == 0 and [v for v, _ in st.pending] == ALL

    assert migrations.upgrade(sql, STEPS) == ALL
    rows = sql.query("SELECT kafka_offset, error, publish_attempts, publish_error, parked_at"
                     " FROM cg_kafka_dead_letters")
    assert rows == [(7, "bad grid", 0, None, None)]
    assert sql.query("SELECT session_id, user_id FROM cg_sessions") == [("s1", "acc_wang")]
    assert sql.query("SELECT size, key_id, published_at FROM cg_audit_heads") == [(3, "k1", None)]
    assert {"cg_sessions_expires", "cg_login_failures_last"} <= indexes(sql)
    assert "cg_audit_leaves" in migrations.tables(sql)  # the baseline made the missing ones
    st = migrations.status(sql, STEPS)
    assert st.current == len(STEPS) and not st.pending and not st.unknown

    before = schema(sql)
    assert migrations.upgrade(sql, STEPS) == []  # twice: nothing changes
    assert schema(sql) == before
    assert len(sql.query("SELECT version FROM cg_schema_versions")) == len(STEPS)
    app.close()


def test_upgrade_to_a_version_stops_there(sqlite_env):
    app, sql = open_sql(sqlite_env)
    assert migrations.upgrade(sql, STEPS, to=2) == [1, 2]
    assert "cg_sessions_expires" not in indexes(sql)
    assert migrations.upgrade(sql, STEPS) == ALL[2:]
    app.close()


def test_a_failing_step_leaves_the_store_at_the_version_before(store_env):
    app, sql = open_sql(store_env)

    def broken(cur):
        cur.execute("CREATE TABLE cg_half_done (x INTEGER)")
        raise RuntimeError("step failed")

    steps = (*STEPS, migrations.Step(len(STEPS) + 1, "broken", broken))
    with pytest.raises(RuntimeError, match="step failed"):
        migrations.upgrade(sql, steps)
    assert migrations.status(sql, steps).current == len(STEPS)
    assert "cg_half_done" not in migrations.tables(sql)  # rolled back with its version row
    app.close()


def test_a_store_upgraded_by_a_newer_release_is_reported(sqlite_env):
    app, sql = open_sql(sqlite_env)
    newer = len(STEPS) + 1
    migrations.upgrade(sql, (*STEPS, migrations.Step(newer, "newer", lambda cur: None)))
    st = migrations.status(sql, STEPS)
    assert st.unknown == [newer] and not st.pending
    assert migrations.upgrade(sql, STEPS) == []
    app.close()


UPGRADE = """
import json, sys, time
from eventsourcing.application import Application
from adapters.storage import migrations
from adapters.storage.sql import Sql
from adapters.storage.steps import STEPS
from adapters.storage.store_lock import creating_tables
env, start = json.loads(sys.argv[1]), float(sys.argv[2])
with creating_tables(env):  # the event store's own tables: one process at a time
    app = Application(env=env)
while time.time() < start:
    time.sleep(0.005)
print(json.dumps(migrations.upgrade(Sql(app.recorder), STEPS)))
"""

BOOTSTRAP = """
import json, sys, time
from adapters.bootstrap import bootstrap
env, start = json.loads(sys.argv[1]), float(sys.argv[2])
while time.time() < start:
    time.sleep(0.005)
cg = bootstrap(env=env, kafka=True)
cg.projections.catch_up()
print(json.dumps(cg.sql.query("SELECT MAX(version) FROM cg_schema_versions")[0][0]))
"""


def run_at_once(script: str, env: dict, n: int = 4) -> list[str]:
    start = time.time() + 4.0  # every process imported and waiting before it
    procs = [subprocess.Popen([sys.executable, "-c", script, json.dumps(env), str(start)],
                              cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(n)]
    outs = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err[-3000:]
        outs.append(out.strip().splitlines()[-1])
    return outs


@pytest.mark.postgres
def test_four_processes_upgrading_at_once_do_not_collide(pg_env):
    applied = [json.loads(o) for o in run_at_once(UPGRADE, pg_env)]
    assert sorted(v for a in applied for v in a) == ALL  # each step once, in all
    app, sql = open_sql(pg_env)
    assert sql.query("SELECT version FROM cg_schema_versions ORDER BY version") == [(v,) for v in ALL]
    app.close()


@pytest.mark.postgres
def test_four_processes_opening_an_empty_postgres_store_at_once(pg_env):
    """The event store's tables, ours and the projections', created once, no collision."""
    assert run_at_once(BOOTSTRAP, pg_env) == [str(len(STEPS))] * 4
