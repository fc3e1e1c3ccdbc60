"""`casegrid case report --reporter-phone` and `casegrid case callback` (回访) on the command
line (typer's CliRunner, a SQLite store per test): the contact is taken, never printed in
`case show`, and the callback is recorded; bad values exit 2 naming the field."""

from __future__ import annotations

import pytest

from tests.e2e.test_cli import CATEGORY, GRID, INVALID, REFUSED, Cli, at

PHONE = "0755-8888 1234"


pytestmark = pytest.mark.usefixtures("cli_env")


def test_report_with_contact_and_callback(tmp_path):
    cli = Cli(tmp_path)
    bad = cli.run("case", "report", "--channel", "hotline", "--category", CATEGORY, "--grid", GRID,
                  "--actor", "hotline_12345", "--at", at(0), "--reporter-phone", "12ab", "--json")
    assert bad.exit_code == INVALID and "reporter_phone" in bad.stdout + bad.stderr
    cid = cli.ok_json("case", "report", "--channel", "hotline", "--category", CATEGORY,
                      "--grid", GRID, "--actor", "hotline_12345", "--at", at(0),
                      "--reporter-name", "钱七", "--reporter-phone", PHONE)["case_id"]
    steps = [("verify", "sup_zhang", ["--passed"]), ("file", "acc_wang", []),
             ("dispatch", "disp_chen", []), ("resolve", "hw_luo", []),
             ("check", "sup_zhang", ["--passed"]), ("close", "acc_wang", [])]
    for i, (action, actor, extra) in enumerate(steps, start=1):
        cli.ok_json("case", action, cid, "--actor", actor, "--at", at(i), *extra)
    early = cli.run("case", "callback", cid, "--actor", "hw_luo", "--rating", "satisfied",
                    "--at", at(10), "--json")
    assert early.exit_code == REFUSED
    got = cli.ok_json("case", "callback", cid, "--actor", "acc_wang", "--rating", "basic",
                      "--comment", "还行", "--at", at(11))
    assert got["state"] == "closed" and got["callbacks"] == ["basic"]
    shown = cli.run("case", "show", cid, "--json")
    assert shown.exit_code == 0 and "CalledBack" in shown.stdout and "ContactGiven" in shown.stdout
    assert PHONE not in shown.stdout and "钱七" not in shown.stdout
