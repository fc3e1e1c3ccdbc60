"""The `casegrid` typer app: its global options, and every command group registered here."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer
from typer.core import TyperGroup

from adapters.cli.audit import audit_app
from adapters.cli.boards import queue_cmd, scoreboard_cmd, trail_cmd
from adapters.cli.cases import case_app
from adapters.cli.common import CliState
from adapters.cli.config import config_app
from adapters.cli.db import db_app
from adapters.cli.deadlines import deadlines_app
from adapters.cli.evidence import evidence_app
from adapters.cli.importing import import_cmd
from adapters.cli.kafka import kafka_app
from adapters.cli.migrate import migrate_store
from adapters.cli.notifications import notify_app
from adapters.cli.projections import proj_app
from adapters.cli.reports import patrol_app, report_app
from adapters.cli.serve import serve
from adapters.cli.sessions import sessions_app
from adapters.cli.simulate import simulate
from adapters.logs import setup_logging


class _JsonUsageErrors(TyperGroup):
    """With --json, a usage error (missing option, bad value) is one JSON line on stderr too."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        argv = list(sys.argv[1:] if args is None else args)
        if "--json" not in argv or not standalone_mode:
            return super().main(argv, prog_name, complete_var, standalone_mode, **extra)
        try:
            rv = super().main(argv, prog_name, complete_var, standalone_mode=False, **extra)
        except Exception as e:  # typer vendors click: match its UsageError by shape
            if not (hasattr(e, "format_message") and getattr(e, "exit_code", None) == 2):
                raise
            field = e.param.name if getattr(e, "param", None) is not None else None
            print(json.dumps({"error": "invalid", "field": field, "rule": e.format_message(),
                              "message": e.format_message()}, ensure_ascii=False), file=sys.stderr)
            sys.exit(2)
        sys.exit(rv if isinstance(rv, int) else 0)


app = typer.Typer(help="casegrid: event-sourced case engine for digital urban management (数字城管)",
                  no_args_is_help=True, pretty_exceptions_enable=False, cls=_JsonUsageErrors)


@app.callback()
def main_options(
    ctx: typer.Context,
    data_dir: Annotated[str | None, typer.Option(envvar="CASEGRID_DATA_DIR",
                        help="Folder of the SQLite store (default ./data).")] = None,
    config: Annotated[str | None, typer.Option(envvar="CASEGRID_CONFIG",
                      help="City configuration file (default: the sample city).")] = None,
    log_level: Annotated[str | None, typer.Option(envvar="CASEGRID_LOG_LEVEL")] = None,
):
    ctx.obj = CliState(data_dir=data_dir, config=config)
    setup_logging(log_level)


# the order here is the order of `casegrid --help`: commands first, then the groups
app.command("simulate")(simulate)
app.command("scoreboard")(scoreboard_cmd)
app.command("trail")(trail_cmd)
app.command("queue")(queue_cmd)
app.command("import")(import_cmd)
app.command("serve")(serve)
app.command("migrate-store")(migrate_store)
app.add_typer(case_app, name="case")
app.add_typer(deadlines_app, name="deadlines")
app.add_typer(config_app, name="config")
app.add_typer(proj_app, name="projections")
app.add_typer(kafka_app, name="kafka")
app.add_typer(patrol_app, name="patrol")
app.add_typer(report_app, name="report")
app.add_typer(sessions_app, name="sessions")
app.add_typer(evidence_app, name="evidence")
app.add_typer(audit_app, name="audit")
app.add_typer(notify_app, name="notifications")
app.add_typer(db_app, name="db")


def main() -> None:
    """The console script `casegrid` (and `python -m adapters.cli`)."""
    app()
