"""The case list's filters as a person sets them (the query string), checked field by field
into a projections.case_search.CaseQuery, and back into a query string for links."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from urllib.parse import urlencode

from domain import validate
from domain.city import City
from domain.errors import ValidationError
from domain.lifecycle import CHANNELS, STATES
from domain.times import optional_day
from projections.case_search import SORTS, CaseQuery
from projections.times import ts

FIELDS = ("q", "category", "unit", "community", "grid", "channel", "state", "from", "to",
          "late", "sort")
SIZES = (20, 50, 100)
MAX_PAGE = 100_000


@dataclass
class Filters:
    values: dict[str, str]  # the filters set, as typed (checked)
    query: CaseQuery
    page: int
    size: int

    def link(self, **change) -> str:
        """This list's query string with `change` applied (a page, a size)."""
        params = {**self.values, "size": str(self.size), "page": str(self.page), **change}
        return "?" + urlencode({k: v for k, v in params.items() if v not in (None, "")})

    @property
    def saved_query(self) -> str:
        """The filters alone (no page), as a saved filter keeps them."""
        return urlencode(self.values)


def choice(params, name: str, options) -> str | None:
    value = validate.identifier(params.get(name), name)
    if value is not None and value not in options:
        shown = value if len(value) <= 40 else f"{value[:40]}…"
        raise ValidationError(name, f"'{shown}' is not one of the {name} values")
    return value


def number(params, name: str, default: int, low: int, high: int) -> int:
    raw = params.get(name)
    if raw in (None, ""):
        return default
    if not str(raw).isdigit() or not low <= int(raw) <= high:
        raise ValidationError(name, f"must be a whole number from {low} to {high}")
    return int(raw)


def parse(params, city: City, *, pinned_unit: str | None, now: datetime) -> Filters:
    """The filters of a query string; a bad one is a ValidationError naming it."""
    values: dict[str, str] = {}
    text = validate.text(params.get("q"), "q", limit=100, multiline=False)
    category = choice(params, "category", city.categories)
    unit = pinned_unit or choice(params, "unit", city.units)
    community = choice(params, "community", {c.community for c in city.cells.values()})
    grid = choice(params, "grid", city.cells)
    channel = choice(params, "channel", CHANNELS)
    state = choice(params, "state", STATES)
    sort = choice(params, "sort", SORTS) or "reported_desc"
    start = optional_day(params.get("from"), "from")
    end = optional_day(params.get("to"), "to")
    if start and end and end < start:
        raise ValidationError("to", f"{end} is before from {start}")
    late = choice(params, "late", ("1", "0", "now"))
    grids: tuple[str, ...] = ()
    if grid:
        grids = (grid,)
    elif community:
        grids = tuple(sorted(c for c, cell in city.cells.items() if cell.community == community))
    for k, v in (("q", text), ("category", category), ("unit", None if pinned_unit else unit),
                 ("community", community), ("grid", grid), ("channel", channel),
                 ("state", state), ("from", start and start.isoformat()),
                 ("to", end and end.isoformat()), ("late", late),
                 ("sort", None if sort == "reported_desc" else sort)):
        if v:
            values[k] = v
    tz = city.tz
    query = CaseQuery(
        text=text, category=category, unit=unit, grids=grids, channel=channel, state=state,
        reported_from=ts(datetime.combine(start, time(0), tz)) if start else None,
        reported_to=ts(datetime.combine(end + timedelta(days=1), time(0), tz)) if end else None,
        late=None if late in (None, "now") else late == "1", overdue=late == "now",
        now=ts(now), sort=sort)
    size = number(params, "size", 50, 1, max(SIZES))
    page = number(params, "page", 1, 1, MAX_PAGE)
    return Filters(values, query, page, size)
