"""What every `casegrid` command shares: the global options' state, output, errors and exit
codes, the --json option, opening the store, and reading times and periods."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated

import typer
from rich.console import Console

from adapters.bootstrap import Casegrid, bootstrap
from adapters.views import jsonable
from domain.calendar import month_range, week_range
from domain.errors import CasegridError, ValidationError
from domain.times import optional_day

out = Console()
err = Console(stderr=True)
EXIT = {"invalid": 2, "config": 2, "refused": 3, "not_found": 4, "conflict": 5,
        "too_large": 2, "unsupported_media_type": 2}  # a photo refused for its size or kind
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]


@dataclass
class CliState:
    """The global options (--data-dir, --config), kept in the click context's `obj`."""

    data_dir: str | None = None
    config: str | None = None


def state(ctx: typer.Context) -> CliState:
    """The global options of this invocation (set by the app's callback)."""
    obj = ctx.find_root().obj
    return obj if isinstance(obj, CliState) else CliState()


def casegrid(ctx: typer.Context, as_json: bool = False) -> Casegrid:
    """The store and city of the global options; a failure exits with its code."""
    st = state(ctx)
    try:
        return bootstrap(data_dir=st.data_dir, config=st.config)
    except CasegridError as e:
        fail(e, as_json)
    except Exception as e:  # the store cannot be opened: a folder where the file goes, a
        from adapters.storage.sql import is_store_error  # server that is away

        if not (isinstance(e, OSError) or is_store_error(e)):
            raise
        fail(ValidationError("store", f"cannot open the store: {type(e).__name__}: {e}"), as_json)


def fail(e: CasegridError, as_json: bool) -> None:
    """One error line on stderr (JSON with --json), then exit with the error kind's code."""
    if as_json:
        print(json.dumps(e.to_dict(), ensure_ascii=False), file=sys.stderr)
    else:
        print(f"error: {e}", file=sys.stderr)
    raise typer.Exit(EXIT.get(e.kind, 1))


def emit(obj: dict, as_json: bool, text=None) -> None:
    """Print the result: one JSON object with --json, else `text()` (or the object)."""
    if as_json:
        print(json.dumps(jsonable(obj), ensure_ascii=False))
    elif text is not None:
        text()
    else:
        out.print(obj)


def period(cg: Casegrid, start: str | None, end: str | None, month: str | None,
           week: str | None = None) -> tuple[date, date]:
    """--month YYYY-MM, --week YYYY-Www (ISO), or --from/--to (default: this month so far)."""
    if month:
        return month_range(month)
    if week:
        return week_range(week)
    today = datetime.now(cg.city.tz).date()
    a = optional_day(start, "from", blank_ok=False) or today.replace(day=1)
    b = optional_day(end, "to", blank_ok=False) or today
    return a, b
