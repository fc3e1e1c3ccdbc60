"""`casegrid case dispatch --assist`, `case assist-feedback`, `case assist-override` and
`case assign` on the command line (typer's CliRunner, a SQLite store per test): bad
assisting units exit 2 naming the field; the lead's resolve waits for the answers."""

from __future__ import annotations

import pytest

from tests.e2e.test_cli import CATEGORY, GRID, INVALID, Cli, at

pytestmark = pytest.mark.usefixtures("cli_env")


def test_dispatch_with_assisting_units_feedback_override_and_assign(tmp_path):
    cli = Cli(tmp_path)
    cid = cli.ok_json("case", "report", "--channel", "patrol", "--category", CATEGORY,
                      "--grid", GRID, "--actor", "sup_zhang", "--at", at(0))["case_id"]
    cli.ok_json("case", "file", cid, "--actor", "acc_wang", "--at", at(1))
    bad = cli.run("case", "dispatch", cid, "--actor", "disp_chen", "--assist", "hw",
                  "--at", at(2), "--json")
    assert bad.exit_code == INVALID and "assist[0]" in bad.stdout + bad.stderr
    cli.ok_json("case", "dispatch", cid, "--actor", "disp_chen", "--assist", "cgj",
                "--assist", "gs", "--at", at(2))
    early = cli.run("case", "resolve", cid, "--actor", "hw_luo", "--at", at(3), "--json")
    assert early.exit_code == INVALID and "assist" in early.stdout + early.stderr
    cli.ok_json("case", "assist-feedback", cid, "--actor", "cg_liu", "--comment", "已配合",
                "--at", at(4))
    cli.ok_json("case", "assist-override", cid, "--actor", "chief_zhao", "--reason", "园林无需参与",
                "--at", at(5))
    cli.ok_json("case", "assign", cid, "--actor", "hw_luo", "--assignee", "hw_luo", "--at", at(6))
    got = cli.ok_json("case", "resolve", cid, "--actor", "hw_luo", "--at", at(7))
    assert got["state"] == "pending_check"
    shown = cli.run("case", "show", cid, "--json")
    for name in ("AssistRequested", "AssistAnswered", "AssistWaived", "Assigned"):
        assert name in shown.stdout, name
