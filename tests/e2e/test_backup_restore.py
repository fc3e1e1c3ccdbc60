"""Backup and restore of PostgreSQL as docs/operations.md tells it: pg_dump of a filled
store (the derived tables' rows left out), pg_restore into a fresh database, `projections
rebuild` and `audit follow` there; the scoreboard equals the original's and `audit
verify` passes against the signed head taken before the backup."""

from __future__ import annotations

import json
import os
import subprocess

import pytest
from typer.testing import CliRunner

from adapters.cli.app import app
from tests.support import grid

pytestmark = [pytest.mark.postgres, pytest.mark.usefixtures("cli_env")]
RUN = CliRunner()
# the read models' tables (as the code declares them) and the audit leaves
DERIVED = (*(t for p in grid().projections.projections.values() for t in p.tables),
           "cg_audit_leaves")
DOCUMENTED = ("cg_cases", "cg_sb_case", "cg_sb_counts", "cg_sb_months", "cg_trail", "cg_patrol",
              "cg_audit_leaves")


def test_the_documented_dump_leaves_out_every_derived_table():
    from pathlib import Path

    assert sorted(DERIVED) == sorted(DOCUMENTED)
    doc = (Path(__file__).resolve().parents[2] / "docs" / "operations.md").read_text("utf-8")
    assert all(f"--exclude-table-data={t} " in doc or f"--exclude-table-data={t}\n" in doc
               for t in DOCUMENTED)


def cli(env, *args):
    r = RUN.invoke(app, list(args), env=env)
    assert r.exit_code == 0, r.output
    return r.stdout


def pg_tool(pg_server, env, tool, *args):
    url = (f"postgresql://{env['POSTGRES_USER']}:{env['POSTGRES_PASSWORD']}@"
           f"{env['POSTGRES_HOST']}:{env['POSTGRES_PORT']}/{env['POSTGRES_DBNAME']}")
    r = subprocess.run([str(pg_server.bin_dir / tool), *args, "--dbname", url],
                       capture_output=True, text=True, env={**os.environ, "PGCONNECT_TIMEOUT": "10"})
    assert r.returncode == 0, r.stderr


def test_dump_restore_rebuild_and_verify(pg_server, tmp_path):
    live = pg_server.create_database("backup_live")
    key = tmp_path / "audit.pem"
    cli(live, "simulate", "--cases", "300", "--days", "30", "--start", "2026-10-01", "--json")
    cli(live, "audit", "keygen", "--out", str(key))
    cli(live, "audit", "head", "--key", str(key))
    board = json.loads(cli(live, "scoreboard", "--month", "2026-10", "--by", "grid", "--json"))

    dump = tmp_path / "casegrid.dump"
    pg_tool(pg_server, live, "pg_dump", "--format=custom", "--file", str(dump),
            *(f"--exclude-table-data={t}" for t in DERIVED))
    fresh = pg_server.create_database("backup_restored")
    pg_tool(pg_server, fresh, "pg_restore", "--no-owner", "--exit-on-error", str(dump))

    assert json.loads(cli(fresh, "db", "status", "--json"))["pending"] == []
    cli(fresh, "projections", "rebuild", "--json")
    logged = json.loads(cli(fresh, "audit", "follow", "--json"))["logged"]
    restored = json.loads(cli(fresh, "scoreboard", "--month", "2026-10", "--by", "grid", "--json"))
    assert restored == board
    verify = json.loads(cli(fresh, "audit", "verify", "--key", f"{key}.pub", "--json"))
    assert verify["ok"] and verify["heads"] == 1 and verify["leaves"] == logged > 1000
