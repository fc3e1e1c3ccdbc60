"""`casegrid import FILE --mapping MAPPING [--dry-run] [--create-unknown]`: historical cases."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
import yaml
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from adapters.cli.common import JsonOpt, err, fail, out, state
from domain.errors import CasegridError, ValidationError


def import_cmd(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="CSV or JSON-lines export of the other system.")],
    mapping: Annotated[Path, typer.Option("--mapping", "-m", help="Mapping YAML (docs/import/*.yaml).")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Check every row; store nothing.")] = False,
    create_unknown: Annotated[bool, typer.Option(
        "--create-unknown",
        help="Create unmapped source categories and units in a city overlay instead of "
             "rejecting their rows.")] = False,
    city_out: Annotated[Path | None, typer.Option(
        help="Where --create-unknown writes the extended city file "
             "(default DATA_DIR/city-with-imports.yaml).")] = None,
    workers: Annotated[int, typer.Option(
        help="Importer processes (each a core; PostgreSQL or SQLite). Rows are shared out "
             "by external id.")] = 1,
    batch: Annotated[int, typer.Option(
        help="Rows whose new cases are saved per transaction.", min=1, max=10_000)] = 500,
    show: Annotated[int, typer.Option(help="Skipped rows to list (text output).")] = 20,
    as_json: JsonOpt = False,
):
    """Import past cases with their own timestamps; a re-run imports nothing twice."""
    from adapters.bootstrap import bootstrap
    from adapters.importing import Importer, Mapping, load_source

    st = state(ctx)
    try:
        m = Mapping.load(mapping)
        if not file.exists():
            raise ValidationError("file", f"no such file '{file}'")
        # the file as a whole (encoding, header against the mapping, any data rows) is
        # checked before the store is even opened: exit 2, nothing stored
        src = load_source(file, m)
        cg = bootstrap(data_dir=st.data_dir, config=st.config)
    except CasegridError as e:
        fail(e, as_json)
    try:
        imp = Importer(cg.service, m, create_unknown=create_unknown, batch=batch, workers=workers)
        total = src.count
        with Progress(TextColumn("[bold]import[/] {task.description}"), BarColumn(),
                      MofNCompleteColumn(), TimeRemainingColumn(), console=err,
                      disable=as_json or not err.is_terminal) as bar:
            task = bar.add_task(file.name, total=total)
            rep = imp.run(src, dry_run=dry_run, progress=lambda n: bar.advance(task, n))
        if create_unknown and (imp.created["categories"] or imp.created["units"]) and not dry_run:
            target = city_out or Path(st.data_dir or "data") / "city-with-imports.yaml"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(yaml.safe_dump(imp.city.raw, allow_unicode=True, sort_keys=False),
                              encoding="utf-8")
            rep.created["city_file"] = str(target)
    except CasegridError as e:
        fail(e, as_json)
    finally:
        cg.close()
    result = rep.as_dict()
    if as_json:
        print(json.dumps(result, ensure_ascii=False))
        return
    verb = "would import" if dry_run else "imported"
    out.print(f"{file.name}: {result['rows']} rows, {verb} {result['imported']} cases "
              f"({result['events']} events), already imported {result['already_imported']}, "
              f"skipped {result['skipped']}, partial {result['partial']}; "
              f"{result['rows_per_second']} rows/s")
    out.print("outcomes: " + ", ".join(f"{k} {v}" for k, v in sorted(result["outcomes"].items())))
    for r in rep.skipped[:show]:  # the first of them (a report lists at most LISTED)
        reason, fld = str(r["reason"]), r["field"]
        if reason.startswith((f"row {r['row']} ", f"line {r['row']}")):
            out.print(f"  {reason}", markup=False)  # ragged row, broken JSON line: says where
        elif fld and not str(fld).startswith("(") and not reason.startswith(f"{fld}:"):
            out.print(f"  row {r['row']}: {fld}: {reason}", markup=False)
        else:
            out.print(f"  row {r['row']}: {reason}", markup=False)
    if rep.skipped_count > show:
        out.print(f"  … {rep.skipped_count - show} more (--json lists up to "
                  f"{result['rows_listed_at_most']})")
    for r in rep.partial[:show]:
        out.print(f"  row {r['row']} stopped at {r['stopped_at']}: {r['reason']}", markup=False)
    if rep.created.get("city_file"):
        out.print(f"created {len(rep.created['categories'])} categories and "
                  f"{len(rep.created['units'])} units in {rep.created['city_file']}; pass "
                  f"--config {rep.created['city_file']} to work with these cases")
    sys.stdout.flush()

