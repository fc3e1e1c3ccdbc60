"""End-to-end tests of the `casegrid` command line, through typer's CliRunner.

Every test gets its own SQLite store (`--data-dir <tmp_path>`) and passes explicit
business times (`--at`, `--now`) in October 2026, so nothing depends on the real clock
beyond "October 2026 lies in the past". Users, categories and grid cells come from the
sample city (tests/support.py).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from adapters.cli import app

T0 = datetime.fromisoformat("2026-10-12T09:00:00+08:00")  # a Monday, in working hours
GRID = "44030301000101"
CATEGORY = "E0102"  # 暴露垃圾 -> unit hw
UNIT = "hw"
MISSING_CASE = "00000000-0000-4000-8000-000000000000"

# exit codes of the CLI
INVALID, REFUSED, NOT_FOUND = 2, 3, 4

# variables that would send the store elsewhere than --data-dir, or change the city
STORE_ENV = ("PERSISTENCE_MODULE", "SQLITE_DBNAME", "CASEGRID_DATA_DIR", "CASEGRID_CONFIG")


pytestmark = pytest.mark.usefixtures("cli_env")


@pytest.fixture
def cli(tmp_path):
    return Cli(tmp_path)


# ---------------------------------------------------------------- helpers


def at(minutes: int) -> str:
    """An ISO time `minutes` after T0."""
    return (T0 + timedelta(minutes=minutes)).isoformat()


def stderr_lines(result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.strip()]


def one_json(text: str) -> dict:
    """The one JSON object a --json command prints (one line, nothing else)."""
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line, got {len(lines)}: {text!r}"
    obj = json.loads(lines[0])
    assert isinstance(obj, dict)
    return obj


class Cli:
    """Runs `casegrid --data-dir <dir> ...` in-process and checks its output."""

    def __init__(self, data_dir: Path):
        self.data_dir = data_dir
        self.runner = CliRunner()

    def run(self, *args: str):
        return self.runner.invoke(app, ["--data-dir", str(self.data_dir), *args])

    def ok_json(self, *args: str) -> dict:
        """Run with --json; expect exit 0, one JSON object on stdout and no error."""
        result = self.run(*args, "--json")
        assert result.exit_code == 0, (result.exit_code, result.stdout, result.stderr, result.exception)
        assert result.exception is None
        return one_json(result.stdout)

    def fails(self, code: int, *args: str, as_json: bool = True):
        """Run; expect exit `code`, nothing on stdout, and exactly one line on stderr."""
        result = self.run(*args, *(["--json"] if as_json else []))
        assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr, result.exception)
        assert result.stdout.strip() == ""
        assert len(stderr_lines(result)) == 1, result.stderr
        return result

    def error(self, code: int, *args: str) -> dict:
        """The JSON error object of a command that fails with exit `code`."""
        err = one_json(self.fails(code, *args).stderr)
        assert {"error", "message"} <= err.keys()
        return err

    def invalid(self, field: str, *args: str) -> dict:
        err = self.error(INVALID, *args)
        assert err["error"] == "invalid"
        assert err["field"] == field, err
        assert err["rule"]
        return err

    # -- commands

    def report(self, minutes: int = 0, *, channel="patrol", actor="sup_zhang", **opts) -> str:
        args = {"channel": channel, "category": CATEGORY, "grid": GRID, "actor": actor,
                "at": at(minutes)} | opts
        out = self.ok_json("case", "report", *flags(args))
        assert out["case_id"]
        return out["case_id"]

    def act(self, command: str, case_id: str, actor: str, minutes: int, *extra: str) -> dict:
        return self.ok_json("case", command, case_id, "--actor", actor, "--at", at(minutes), *extra)

    def show(self, case_id: str) -> dict:
        return self.ok_json("case", "show", case_id)

    def version(self, case_id: str) -> int:
        return self.show(case_id)["case"]["version"]

    def list_ids(self, *extra: str) -> list[str]:
        out = self.ok_json("case", "list", "--limit", "1000", *extra)
        assert out["count"] == len(out["cases"])
        return [row["case_id"] for row in out["cases"]]

    def events(self) -> int:
        """How many events the store holds: the sum of every case's version."""
        return sum(row["version"] for row in self.ok_json("case", "list", "--limit", "1000")["cases"])


def flags(options: dict) -> list[str]:
    out = []
    for key, value in options.items():
        out += [f"--{key.replace('_', '-')}", str(value)]
    return out


# state -> the (command, actor) steps that reach it from a patrol report
PATHS = {
    "pending_filing": [],
    "pending_dispatch": [("file", "acc_wang")],
    "dispatched": [("file", "acc_wang"), ("dispatch", "disp_chen")],
}


def case_in(cli: Cli, state: str) -> str:
    """A patrol case reported at T0 and moved to `state`, one step every 5 minutes."""
    cid = cli.report(0)
    for i, (command, actor) in enumerate(PATHS[state], start=1):
        cli.act(command, cid, actor, 5 * i)
    assert cli.show(cid)["case"]["state"] == state
    return cid


# ---------------------------------------------------------------- 1. the full lifecycle


def test_full_lifecycle_with_rework(cli):
    cid = cli.report(0, channel="citizen", actor="citizen_app", description="垃圾堆放")
    assert cli.show(cid)["case"]["state"] == "pending_verification"

    c = cli.act("verify", cid, "sup_zhang", 5, "--passed")
    assert c["state"] == "pending_filing"
    assert cli.act("file", cid, "acc_wang", 10)["state"] == "pending_dispatch"

    c = cli.act("dispatch", cid, "disp_chen", 15)  # no --unit: the routing suggestion
    assert (c["state"], c["unit"], c["holder"]) == ("dispatched", UNIT, f"unit:{UNIT}")
    assert c["routing_rule"] and c["routing_rule"] != "manual"

    c = cli.act("resolve", cid, "hw_luo", 20, "--evidence", "https://evidence.example/after.jpg")
    assert c["state"] == "pending_check"
    assert "https://evidence.example/after.jpg" in c["evidence"]

    c = cli.act("check", cid, "sup_zhang", 25, "--failed", "--reason", "现场未整改到位")
    assert (c["state"], c["unit"], c["reworks"]) == ("dispatched", UNIT, 1)

    assert cli.act("resolve", cid, "hw_luo", 30,
                   "--evidence", "https://evidence.example/after2.jpg")["state"] == "pending_check"
    assert cli.act("check", cid, "sup_zhang", 35, "--passed")["state"] == "pending_closure"
    c = cli.act("close", cid, "acc_wang", 40)
    assert (c["state"], c["closure_type"]) == ("closed", "normal")
    c = cli.act("evaluate", cid, "chief_zhao", 45, "--rating", "satisfied")
    assert (c["state"], c["rating"], c["version"]) == ("evaluated", "satisfied", 10)

    shown = cli.show(cid)
    assert shown["case"]["state"] == "evaluated"
    timeline = shown["timeline"]
    assert [e["type"] for e in timeline] == [
        "Reported", "Verified", "Filed", "Dispatched", "Resolved", "Checked",
        "Resolved", "Checked", "Closed", "Evaluated",
    ]
    assert [e["version"] for e in timeline] == list(range(1, 11))
    assert [e["occurred_at"] for e in timeline] == [at(5 * i) for i in range(10)]
    assert [(e["actor"], e["role"]) for e in timeline] == [
        ("citizen_app", "channel"), ("sup_zhang", "supervisor"), ("acc_wang", "acceptor"),
        ("disp_chen", "dispatcher"), ("hw_luo", "unit_member"), ("sup_zhang", "supervisor"),
        ("hw_luo", "unit_member"), ("sup_zhang", "supervisor"), ("acc_wang", "acceptor"),
        ("chief_zhao", "duty_chief"),
    ]
    assert [e["passed"] for e in timeline if e["type"] == "Checked"] == [False, True]
    assert timeline[3]["unit"] == UNIT and timeline[3]["suggested_unit"] == UNIT

    assert cid in cli.list_ids()
    assert cli.list_ids("--state", "evaluated") == [cid]
    assert cli.list_ids("--state", "dispatched") == []


def test_case_show_text_mode_prints_the_timeline(cli):
    cid = cli.report(0)
    result = cli.run("case", "show", cid)
    assert result.exit_code == 0, result.stderr
    assert cid in result.stdout and "Reported" in result.stdout and "pending_filing" in result.stdout


# ---------------------------------------------------------------- 2. refusals


@pytest.mark.parametrize("as_json", [True, False], ids=["json", "text"])
def test_unit_member_cannot_file(cli, as_json):
    cid = case_in(cli, "pending_filing")
    before, events = cli.version(cid), cli.events()

    result = cli.fails(REFUSED, "case", "file", cid, "--actor", "hw_luo", "--at", at(5),
                       as_json=as_json)
    (line,) = stderr_lines(result)
    for word in ("pending_filing", "file", "unit_member"):
        assert word in line
    if as_json:
        err = json.loads(line)
        assert (err["error"], err["state"], err["trigger"], err["role"]) == (
            "refused", "pending_filing", "file", "unit_member")

    assert cli.version(cid) == before
    assert cli.events() == events


def test_inspector_cannot_urge(cli):
    cid = case_in(cli, "dispatched")
    before = cli.version(cid)
    err = cli.error(REFUSED, "case", "urge", cid, "--actor", "insp_sun", "--reason", "请加快",
                    "--at", at(20))
    assert (err["state"], err["trigger"], err["role"]) == ("dispatched", "urge", "inspector")
    assert cli.version(cid) == before


def test_member_of_another_unit_cannot_resolve(cli):
    cid = case_in(cli, "dispatched")
    before = cli.version(cid)
    err = cli.error(REFUSED, "case", "resolve", cid, "--actor", "cg_liu", "--at", at(20))
    assert (err["state"], err["trigger"], err["role"]) == ("dispatched", "resolve", "unit_member")
    assert "hw" in err["message"] and "cgj" in err["message"]
    assert cli.version(cid) == before
    # the right unit still can
    assert cli.act("resolve", cid, "hw_luo", 25)["state"] == "pending_check"


# ---------------------------------------------------------------- 3. bad input


REPORT = ["case", "report", "--channel", "patrol", "--category", CATEGORY, "--grid", GRID,
          "--actor", "sup_zhang", "--at", at(0)]


def report_with(**changes: str) -> list[str]:
    args = list(REPORT)
    for key, value in changes.items():
        args[args.index(f"--{key}") + 1] = value
    return args


@pytest.mark.parametrize(("field", "changes"), [
    ("category", {"category": "E9999"}),
    ("grid", {"grid": "123"}),
    ("actor", {"actor": "nobody"}),
    ("at", {"at": "notatime"}),
], ids=["unknown-category", "malformed-grid", "unknown-user", "bad-at"])
def test_bad_report_is_invalid_and_stores_nothing(cli, field, changes):
    cli.invalid(field, *report_with(**changes))
    assert cli.events() == 0
    assert cli.list_ids() == []


def test_bad_report_in_text_mode_is_one_line_naming_the_field(cli):
    result = cli.fails(INVALID, *report_with(category="E9999"), as_json=False)
    (line,) = stderr_lines(result)
    assert "category" in line and "E9999" in line


@pytest.mark.parametrize(("field", "command", "extra"), [
    ("unit", "dispatch", ["--actor", "disp_chen", "--unit", "nosuch", "--reason", "x"]),
    ("occurred_at", "dispatch", ["--actor", "disp_chen", "--at", at(0)]),  # before Filed
    ("reason", "refuse", ["--actor", "acc_wang", "--reason", ""]),
    ("actor", "dispatch", ["--actor", "nobody"]),
    ("at", "dispatch", ["--actor", "disp_chen", "--at", "notatime"]),
], ids=["unknown-unit", "at-before-last-event", "empty-reason", "unknown-user", "bad-at"])
def test_bad_action_is_invalid_and_stores_nothing(cli, field, command, extra):
    cid = case_in(cli, "pending_dispatch")  # last event at T0 + 5 min
    before, events = cli.version(cid), cli.events()
    if "--at" not in extra:
        extra = [*extra, "--at", at(10)]
    cli.invalid(field, "case", command, cid, *extra)
    assert cli.version(cid) == before
    assert cli.events() == events
    assert cli.show(cid)["case"]["state"] == "pending_dispatch"


# ---------------------------------------------------------------- 4. not found


def test_unknown_case_is_not_found(cli):
    err = cli.error(NOT_FOUND, "case", "show", MISSING_CASE)
    assert err["error"] == "not_found"
    assert MISSING_CASE in err["message"]


def test_action_on_unknown_case_is_not_found(cli):
    cli.error(NOT_FOUND, "case", "file", MISSING_CASE, "--actor", "acc_wang", "--at", at(0))


def test_malformed_case_id_is_invalid(cli):
    cli.invalid("case_id", "case", "show", "not-a-uuid")


# ---------------------------------------------------------------- 5. deadlines


def test_deadline_tick_records_one_miss_once(cli):
    cid = case_in(cli, "pending_filing")
    now = "2026-10-20T12:00:00+08:00"

    first = cli.ok_json("deadlines", "tick", "--now", now)
    assert first["now"] == now
    (missed,) = first["missed"]
    assert missed["case_id"] == cid
    assert missed["type"] == "DeadlineMissed"
    assert (missed["missed_step"], missed["holder_kind"], missed["holder"]) == (
        "file", "role", "acceptor")
    assert missed["missed_due_at"] == at(30)  # file limit 30m of working time

    assert cli.ok_json("deadlines", "tick", "--now", now)["missed"] == []

    timeline = cli.show(cid)["timeline"]
    assert [e["type"] for e in timeline].count("DeadlineMissed") == 1
    assert cli.show(cid)["case"]["missed_steps"] == ["file"]


def test_deadline_tick_bad_now_is_invalid(cli):
    cli.invalid("now", "deadlines", "tick", "--now", "notatime")


# ---------------------------------------------------------------- 6. simulate and projections


SIMULATE = ["simulate", "--cases", "40", "--days", "5", "--seed", "7"]


def test_simulate_is_deterministic_and_projections_keep_up(tmp_path):
    a, b = Cli(tmp_path / "a"), Cli(tmp_path / "b")
    run_a, run_b = a.ok_json(*SIMULATE), b.ok_json(*SIMULATE)
    for run in (run_a, run_b):
        assert (run["cases"], run["refused"]) == (40, 0)
        assert run["errors"] == {}
        assert sum(run["by_state"].values()) == 40
    assert run_a["by_state"] == run_b["by_state"]

    ids_a = a.list_ids()
    assert len(ids_a) == 40
    assert set(ids_a) == set(b.list_ids())

    for row in a.ok_json("projections", "status")["projections"]:
        assert row["lag_events"] == 0, row

    listed = a.ok_json("case", "list", "--limit", "1000")
    rebuilt = a.ok_json("projections", "rebuild", "cases")
    assert rebuilt["rebuilt"]["cases"] == a.events()
    assert a.ok_json("case", "list", "--limit", "1000") == listed


def test_simulate_over_working_days_moves_cases_without_refusals(tmp_path):
    """From a Monday after the National Day holiday, cases go further than being reported."""
    args = [*SIMULATE, "--start", "2026-10-12"]
    a, b = Cli(tmp_path / "a"), Cli(tmp_path / "b")
    run_a, run_b = a.ok_json(*args), b.ok_json(*args)
    assert (run_a["cases"], run_a["refused"], run_a["errors"]) == (40, 0, {})
    assert run_a["commands"] > run_a["cases"]
    assert run_a["by_state"] == run_b["by_state"]
    assert "evaluated" in run_a["by_state"]
    assert set(a.list_ids()) == set(b.list_ids())


def test_projections_status_before_any_catch_up(cli):
    cli.report(0)
    rows = cli.ok_json("projections", "status")["projections"]
    assert {r["projection"] for r in rows} == {"cases", "scoreboard", "trail", "patrol"}
    assert all((r["head"], r["lag_events"]) == (1, 1) for r in rows)


def test_projections_rebuild_unknown_name_is_invalid(cli):
    cli.invalid("name", "projections", "rebuild", "nosuch")


# ---------------------------------------------------------------- 7. config


def test_config_show(cli):
    out = cli.ok_json("config", "show")
    assert out["summary"]["cells"] == 35
    assert out["summary"]["units"] == 12
    assert out["summary"]["timezone"] == "Asia/Shanghai"
    assert isinstance(out["config"], dict)


def test_config_show_missing_file_is_a_config_error(cli):
    # --config is a global option, like --data-dir: it goes before the command
    err = cli.error(INVALID, "--config", "/nonexistent/city.yaml", "config", "show")
    assert (err["error"], err["field"]) == ("config", "config")


def test_missing_config_file_on_case_list_is_a_config_error(cli):
    err = cli.error(INVALID, "--config", "/nonexistent/city.yaml", "case", "list")
    assert (err["error"], err["field"]) == ("config", "config")


def test_usage_error_with_json_is_one_json_line(cli):
    args = [a for a in REPORT if a not in ("--category", CATEGORY)]
    err = cli.error(INVALID, *args)
    assert err["field"] == "category"


# ---------------------------------------------------------------- 8. the real console script


def test_console_script_reports_a_case(tmp_path):
    bindir = str(Path(sys.executable).parent)
    exe = shutil.which("casegrid", path=os.pathsep.join([bindir, os.environ.get("PATH", "")]))
    command = [exe] if exe else [sys.executable, "-m", "adapters.cli"]
    env = {k: v for k, v in os.environ.items() if k not in STORE_ENV}
    env["CASEGRID_DATA_DIR"] = str(tmp_path)
    proc = subprocess.run(
        [*command, "case", "report", "--channel", "patrol", "--category", CATEGORY,
         "--grid", GRID, "--actor", "sup_zhang", "--at", at(0), "--json"],
        capture_output=True, text=True, env=env, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    out = one_json(proc.stdout)
    assert out["state"] == "pending_filing"
    assert Cli(tmp_path).list_ids() == [out["case_id"]]
    assert (tmp_path / "casegrid.sqlite").exists()


# ---------------------------------------------------------------- reading boards


def test_scoreboard_explain_trail_and_queue(cli):
    assert cli.ok_json("simulate", "--cases", "60", "--days", "10", "--start", "2026-10-12",
                       "--seed", "4")["refused"] == 0
    board = cli.ok_json("scoreboard", "--by", "unit", "--month", "2026-10")
    assert board["rows"] and board["rows"][0]["rank"] == 1 and board["rows"][0]["grade"]
    top = board["rows"][0]
    ex = cli.ok_json("scoreboard", "--by", "unit", "--month", "2026-10", "--explain",
                     "resolution_rate", "--key", top["key"])
    assert ex["numerator"]["n"] == top["counts"].get("resolved", 0)
    assert ex["denominator"]["n"] == top["counts"].get("due", 0)
    cli.invalid("by", "scoreboard", "--by", "planet")
    cli.invalid("indicator", "scoreboard", "--explain", "happiness", "--key", "hw")
    cli.invalid("key", "scoreboard", "--explain", "resolution_rate")
    cli.invalid("month", "scoreboard", "--month", "2026-13")
    week = cli.ok_json("scoreboard", "--by", "squad", "--week", "2026-W43")
    assert (week["from"], week["to"]) == ("2026-10-19", "2026-10-25")
    cli.invalid("week", "scoreboard", "--week", "2026-43")
    misses = cli.ok_json("trail", "--unit", top["key"], "--from", "2026-10-01", "--to", "2026-11-30")
    assert misses["count"] == len(misses["misses"])
    some = cli.ok_json("case", "list", "--limit", "1")["cases"][0]["case_id"]
    trail = cli.ok_json("trail", some)
    assert trail["custody"] and trail["custody"][0]["holder_kind"] == "role"
    cli.invalid("case_id", "trail")
    cli.invalid("unit", "trail", "--unit", "nosuch", "--from", "2026-10-01", "--to", "2026-10-31")
    q = cli.ok_json("queue", "--now", "2026-10-22T12:00:00+08:00")
    assert set(q["queues"]) >= {"verification", "filing", "dispatch", "check", "closure"}
    inbox = cli.ok_json("queue", "--unit", top["key"], "--now", "2026-10-22T12:00:00+08:00")
    assert all(c["unit"] == top["key"] for c in inbox["unit_inbox"])
