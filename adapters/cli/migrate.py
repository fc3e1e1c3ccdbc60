"""`casegrid migrate-store --from-data-dir DIR --to postgres`: move a city's store from
SQLite to the PostgreSQL named by the environment (PERSISTENCE_MODULE=eventsourcing.postgres
and POSTGRES_*). Stop every casegrid process of the city first. Exit 0 when the target's
events, hash and copied tables match the source; 6 when they do not (run it again: it
resumes). See adapters/storage/move.py and docs/operations.md."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from adapters.bootstrap import bootstrap, open_application, store_env
from adapters.cli.common import JsonOpt, emit, err, fail, out, state
from adapters.storage.migrations import upgrade
from adapters.storage.move import Mover
from adapters.storage.sql import Sql
from adapters.storage.steps import STEPS
from domain.errors import CasegridError, ValidationError

MISMATCH_EXIT = 6
MOVE_LOCK = 0x6D6F7665  # 'move': one migrate-store per target at a time


def migrate_store(
    ctx: typer.Context,
    from_data_dir: Annotated[Path, typer.Option(
        "--from-data-dir", help="Folder of the SQLite store to copy (its casegrid.sqlite)")],
    to: Annotated[str, typer.Option(
        "--to", help="Target: 'postgres', the store PERSISTENCE_MODULE and POSTGRES_* name")
    ] = "postgres",
    batch: Annotated[int, typer.Option(min=100, max=100_000,
                                       help="Events per transaction")] = 5000,
    as_json: JsonOpt = False,
):
    """迁移存储: copy the event log (ids and order kept) and our tables from SQLite to an
    empty PostgreSQL, rebuild projections and audit leaves there, verify counts and hash."""
    if to != "postgres":
        fail(ValidationError("to", "only 'postgres' (named by POSTGRES_* in the environment)"),
             as_json)
    target_env = store_env(None, dict(os.environ))
    if not target_env.get("PERSISTENCE_MODULE", "").endswith("postgres"):
        fail(ValidationError("to", "set PERSISTENCE_MODULE=eventsourcing.postgres and POSTGRES_*"
                                   " for the target"), as_json)
    if "\x00" in str(from_data_dir) or len(str(from_data_dir)) > 4096:
        fail(ValidationError("from_data_dir", "not a usable folder path"), as_json)
    db = (from_data_dir / "casegrid.sqlite").resolve()
    if not db.is_file():
        fail(ValidationError("from_data_dir", f"no SQLite store '{str(db)[:300]}'"), as_json)
    source_env = store_env(None, {"PERSISTENCE_MODULE": "eventsourcing.sqlite",
                                  "SQLITE_DBNAME": str(db)}) | {"SQLITE_LOCK_TIMEOUT": "30"}
    import psycopg

    from adapters.storage.store_lock import pg_connect_args

    try:
        lock = psycopg.connect(**pg_connect_args(target_env))
    except psycopg.Error as e:
        fail(ValidationError("to", f"cannot reach the target PostgreSQL: {str(e)[:300]}"), as_json)
    if not lock.execute("SELECT pg_try_advisory_lock(%s)", (MOVE_LOCK,)).fetchone()[0]:
        lock.close()
        fail(ValidationError("to", "another migrate-store is filling this target now: wait for"
                                   " it (a run stopped midway resumes when run again)"), as_json)
    source = open_application(source_env)
    target = None
    try:
        upgrade(Sql(source.recorder), STEPS)  # the source's tables in this release's shape
        target = bootstrap(env=target_env | {"CASEGRID_AUTO_MIGRATE": "1"},  # as the source
                           config=state(ctx).config)
        mover = Mover(source, target, str(db), batch=batch)
        total = mover.src.sql.query(f"SELECT COUNT(*) FROM {mover.src.table}")[0][0]
        with Progress(TextColumn("events"), BarColumn(), MofNCompleteColumn(), console=err,
                      disable=as_json or not err.is_terminal) as bar:
            task = bar.add_task("events", total=total)
            report = mover.run(progress=lambda n: bar.advance(task, n))
    except CasegridError as e:
        fail(e, as_json)
    finally:
        source.close()
        if target is not None:
            target.close()
        lock.close()

    def text():
        out.print(f"{report.target_events} events in the target ({report.events} copied now,"
                  f" resumed after {report.resumed_after}); tables {report.tables};"
                  f" projections rebuilt over {report.rebuilt} events; {report.audit_leaves}"
                  f" audit leaves; sha256 {report.target_hash}; {report.seconds}s")
        for m in report.mismatches:
            out.print(f"[red]MISMATCH[/red] {m}")
        out.print("ok" if report.ok else "FAILED: run it again to resume")

    emit(report.as_dict(), as_json, text)
    if not report.ok:
        raise typer.Exit(MISMATCH_EXIT)
