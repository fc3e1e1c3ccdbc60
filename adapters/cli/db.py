"""`casegrid db status | upgrade`: the schema versions of our own tables (数据库版本).

Every process applies the steps its store lacks when it starts (unless
CASEGRID_AUTO_MIGRATE=0); these commands show and apply them by hand, e.g. before
rolling out a release to many machines. See docs/operations.md, "Upgrades".
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from adapters.bootstrap import open_application, store_env
from adapters.cli.common import JsonOpt, emit, fail, out, state
from adapters.storage import migrations
from adapters.storage.sql import Sql
from adapters.storage.steps import STEPS
from domain.errors import ValidationError

db_app = typer.Typer(help="Schema versions of our own tables (数据库版本).", no_args_is_help=True)


def _open(ctx: typer.Context, as_json: bool):
    app = open_application(store_env(state(ctx).data_dir))
    sql = Sql(app.recorder)
    if sql.datastore is None:
        app.close()
        fail(ValidationError("store", "the in-memory store has no schema"), as_json)
    return app, sql


@db_app.command("status")
def status_cmd(ctx: typer.Context, as_json: JsonOpt = False):
    """The steps applied to this store, and those pending."""
    app, sql = _open(ctx, as_json)
    try:
        st = migrations.status(sql, STEPS)
    finally:
        app.close()

    def text():
        t = Table(title=f"schema ({sql.dialect}): version {st.current} of {len(STEPS)}")
        for col in ("version", "step", "applied_at"):
            t.add_column(col)
        for v, n, at in st.applied:
            t.add_row(str(v), n, at)
        for v, n in st.pending:
            t.add_row(str(v), n, "[yellow]pending[/yellow]")
        out.print(t)
        if st.unknown:
            out.print(f"[red]versions {st.unknown} were applied by a newer release[/red]")

    emit(st.as_dict(), as_json, text)


@db_app.command("upgrade")
def upgrade_cmd(ctx: typer.Context,
                to: Annotated[int | None, typer.Option(
                    "--to", help="Stop after this version (default: the latest)")] = None,
                as_json: JsonOpt = False):
    """Apply the pending steps in order, each once (safe to run twice, or from several
    processes at once)."""
    if to is not None and not 1 <= to <= len(STEPS):
        fail(ValidationError("to", f"must be a version from 1 to {len(STEPS)}"), as_json)
    app, sql = _open(ctx, as_json)
    try:
        done = migrations.upgrade(sql, STEPS, to=to)
        current = migrations.status(sql, STEPS).current
    finally:
        app.close()
    emit({"applied": done, "current": current}, as_json,
         lambda: out.print(f"applied {done or 'nothing'}; schema version {current}"))
