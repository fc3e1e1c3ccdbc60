"""Time at the edge: one parser for instants, days, months and weeks, with bounds, and
one total formatter that never raises on a stored time.

Every channel (CLI, HTTP, console, Open311, Kafka, import, patrol) parses business time
and query dates here, so an absurd value (year 1, 9999, a list, NUL) gets a
ValidationError naming the field, and nothing further in the engine meets it. The
formatters are total: a time an older version stored (year 1 at +14:00) still prints.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, tzinfo

from domain.errors import ValidationError

# Absolute bounds of any time or date casegrid accepts, whatever a city or mapping says.
FLOOR_DAY = date(1990, 1, 1)
CEILING_DAY = date(2100, 12, 31)
FLOOR = datetime(1990, 1, 1, tzinfo=UTC)
CEILING = datetime(2101, 1, 1, tzinfo=UTC)
MAX_TEXT = 40  # the longest ISO 8601 text worth parsing
MAX_PERIOD_DAYS = 3700  # about ten years: the longest from..to a read accepts


def _text(value, field: str) -> str:
    if not isinstance(value, str):
        raise ValidationError(field, f"must be text (ISO 8601), not {type(value).__name__}")
    value = value.strip()
    if not value:
        raise ValidationError(field, "must not be empty")
    if len(value) > MAX_TEXT or not value.isprintable() or not value.isascii():
        raise ValidationError(field, f"'{value[:MAX_TEXT]}' is not an ISO 8601 time")
    return value


def parse_time(value, field: str, tz: tzinfo | None, *, floor: datetime = FLOOR,
               ceiling: datetime = CEILING) -> datetime:
    """An instant from ISO 8601 text (or a datetime); without a zone it is in `tz` (with
    tz None it stays naive, checked as if UTC, for a caller that knows the zone later).
    Outside [floor, ceiling) is a ValidationError naming `field`."""
    if isinstance(value, datetime):
        t = value
    elif isinstance(value, date):
        raise ValidationError(field, "needs a time of day as well as a date")
    else:
        text = _text(value, field)
        try:
            t = datetime.fromisoformat(text.replace("z", "Z").replace("Z", "+00:00"))
        except ValueError:
            raise ValidationError(field, f"'{text}' is not an ISO 8601 time "
                                         "(e.g. 2026-10-12T09:30 or 2026-10-12T01:30Z)") from None
    naive = t.tzinfo is None or t.utcoffset() is None
    given = t
    if naive:
        t = t.replace(tzinfo=tz or UTC)
    try:
        inside = floor <= t < ceiling
    except OverflowError:
        inside = False
    if not inside:
        raise ValidationError(field, f"{given.isoformat()} is outside the accepted range "
                                     f"{floor.date().isoformat()} .. {ceiling.date().isoformat()}")
    return t.replace(tzinfo=None) if naive and tz is None else t


def parse_day(value, field: str, *, floor: date = FLOOR_DAY,
              ceiling: date = CEILING_DAY) -> date:
    """A calendar day 'YYYY-MM-DD', bounded."""
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        d = value
    else:
        text = _text(value, field)
        try:
            d = date.fromisoformat(text)
        except ValueError:
            raise ValidationError(field, f"'{text}' is not a day YYYY-MM-DD") from None
    if not floor <= d <= ceiling:
        raise ValidationError(field, f"{d.isoformat()} is outside the accepted range "
                                     f"{floor.isoformat()} .. {ceiling.isoformat()}")
    return d


def optional_time(value, field: str, tz: tzinfo | None, *,
                  blank_ok: bool = True) -> datetime | None:
    """parse_time, where None means no time, and so does '' unless `blank_ok` is False
    (a CLI option given empty is an error, an empty query parameter is not)."""
    if value is None or (blank_ok and value == ""):
        return None
    return parse_time(value, field, tz)


def optional_day(value, field: str, *, blank_ok: bool = True) -> date | None:
    """parse_day, where None means no day, and so does '' unless `blank_ok` is False."""
    if value is None or (blank_ok and value == ""):
        return None
    return parse_day(value, field)


def parse_month(value, field: str = "month") -> tuple[date, date]:
    """'2026-10' -> its first and last day."""
    text = _text(value, field)
    if len(text) != 7 or text[4] != "-":
        raise ValidationError(field, f"'{text}' is not a month YYYY-MM")
    first = parse_day(f"{text}-01", field)
    nxt = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return first, nxt - timedelta(days=1)


def parse_week(value, field: str = "week") -> tuple[date, date]:
    """ISO week '2026-W42' -> its Monday and Sunday."""
    text = _text(value, field)
    try:
        year, _, wk = text.upper().partition("-W")
        monday = date.fromisocalendar(int(year), int(wk), 1)
    except ValueError:
        raise ValidationError(field, f"'{text}' is not an ISO week like 2026-W42") from None
    parse_day(monday, field)
    return monday, monday + timedelta(days=6)


def parse_period(start, end, fields: tuple[str, str] = ("from", "to"), *,
                 max_days: int = MAX_PERIOD_DAYS) -> tuple[date | None, date | None]:
    """Optional from/to days: each bounded, from ≤ to, at most `max_days` apart."""
    a, b = optional_day(start, fields[0]), optional_day(end, fields[1])
    if a and b:
        if a > b:
            raise ValidationError(fields[0], f"{a} is after {fields[1]} {b}")
        if (b - a).days > max_days:
            raise ValidationError(fields[1], f"{a} .. {b} spans more than {max_days} days")
    return a, b


# ---------------------------------------------------------------- business-time rules


def check_business_time(at: datetime, field: str, *, now: datetime, earliest: datetime,
                        future_skew: timedelta) -> datetime:
    """A step's business time: not before `earliest` (the city's history_from, or an
    import mapping's own), not after now + the allowed clock skew."""
    if at.tzinfo is None:
        raise ValidationError(field, "needs a time zone")
    if at < earliest:
        raise ValidationError(field, f"{at.isoformat()} is before {earliest.date().isoformat()}, "
                                     "the earliest business time accepted (history_from)")
    if at - now > future_skew:
        raise ValidationError(field, f"{at.isoformat()} lies in the future (more than "
                                     f"{int(future_skew.total_seconds() // 60)} min ahead)")
    return at


# ---------------------------------------------------------------- formatting (total)


def as_zone(t: datetime, tz: tzinfo) -> datetime:
    """`t` in zone `tz`; a time at the edge of datetime's range is clamped, never raised."""
    try:
        return t.astimezone(tz)
    except (OverflowError, ValueError):
        edge = datetime.min if t.year < 5000 else datetime.max
        return edge.replace(tzinfo=tz)


def utc_text(t: datetime | None) -> str | None:
    """Sortable UTC text '2026-11-21T08:30:00.000000Z' (what our tables store)."""
    if t is None:
        return None
    return as_zone(t, UTC).isoformat(timespec="microseconds")[:-6] + "Z"


def _instant(t: datetime | str | None) -> datetime | None:
    """A datetime as given; text is ISO 8601 with a zone, such as our tables' UTC text."""
    if isinstance(t, str):
        return datetime.fromisoformat(t.replace("Z", "+00:00")) if t else None
    return t


def local_text(t: datetime | str | None, tz: tzinfo, timespec: str = "seconds") -> str | None:
    """ISO text in the city's zone (None for no time); `t` may be stored UTC text."""
    t = _instant(t)
    return None if t is None else as_zone(t, tz).isoformat(timespec=timespec)


def local_format(t: datetime | str | None, tz: tzinfo, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """strftime in the city's zone ('' for no time); `t` may be stored UTC text."""
    t = _instant(t)
    return "" if t is None else as_zone(t, tz).strftime(fmt)


def local_day(t: datetime, tz: tzinfo) -> date:
    return as_zone(t, tz).date()
