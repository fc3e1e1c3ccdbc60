"""What every `casegrid` command shares: output, errors and exit codes, options, the wiring."""

from __future__ import annotations

import json
import sys
from datetime import date, datetime
from typing import Annotated

import typer
from rich.console import Console

from adapters.bootstrap import Casegrid, bootstrap
from adapters.cli_state import STATE
from adapters.views import jsonable
from domain.calendar import month_range, week_range
from domain.errors import CasegridError
from domain.times import parse_day, parse_time

out = Console()
err = Console(stderr=True)
EXIT = {"invalid": 2, "config": 2, "refused": 3, "not_found": 4, "conflict": 5}
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]


def _grid(as_json: bool = False) -> Casegrid:
    try:
        return bootstrap(data_dir=STATE.data_dir, config=STATE.config)
    except CasegridError as e:
        _fail(e, as_json)


def _fail(e: CasegridError, as_json: bool) -> None:
    if as_json:
        print(json.dumps(e.to_dict(), ensure_ascii=False), file=sys.stderr)
    else:
        print(f"error: {e}", file=sys.stderr)
    raise typer.Exit(EXIT.get(e.kind, 1))


def _emit(obj: dict, as_json: bool, text=None) -> None:
    if as_json:
        print(json.dumps(jsonable(obj), ensure_ascii=False))
    elif text is not None:
        text()
    else:
        out.print(obj)


def _at(value: str | None, field: str = "at") -> datetime | None:
    """A business or query time, bounded (domain.times); naive means the city's zone."""
    if value is None:
        return None
    return parse_time(value, field, None)


def _date(value: str | None, field: str) -> date | None:
    if value is None:
        return None
    return parse_day(value, field)


def _period(cg: Casegrid, start: str | None, end: str | None, month: str | None,
            week: str | None = None) -> tuple[date, date]:
    """--month YYYY-MM, --week YYYY-Www (ISO), or --from/--to (default: this month so far)."""
    if month:
        return month_range(month)
    if week:
        return week_range(week)
    today = datetime.now(cg.city.tz).date()
    a = _date(start, "from") or today.replace(day=1)
    b = _date(end, "to") or today
    return a, b


def _as_of(cg: Casegrid, value: str | None) -> datetime | None:
    t = _at(value, "as_of")
    if t is not None and t.tzinfo is None:
        t = t.replace(tzinfo=cg.city.tz)
    return t
