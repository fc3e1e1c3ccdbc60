"""Working-time calendar (工作时 / 工作日): deadlines count only working minutes."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(m|min|h|d)\s*$")
_MAX_DAYS = 3 * 366  # a limit that needs more than three years of working days is a config error
_DAYS_HELD = 20_000  # days of working intervals remembered per calendar (~55 years)


@dataclass(frozen=True)
class WorkCalendar:
    """Working hours per working day, in the city's time zone, with holidays and make-up days."""

    tz: ZoneInfo
    hours: tuple[tuple[time, time], ...]
    workdays: frozenset[int] = frozenset({1, 2, 3, 4, 5})  # ISO weekdays
    holidays: frozenset[date] = frozenset()
    extra_workdays: frozenset[date] = frozenset()  # 调休: weekend days that are worked
    # each day's working intervals once worked out (the calendar never changes)
    _days: dict = field(default_factory=dict, init=False, compare=False, hash=False, repr=False)

    @property
    def day_minutes(self) -> int:
        return sum(_minutes(a, b) for a, b in self.hours)

    def is_workday(self, d: date) -> bool:
        if d in self.extra_workdays:
            return True
        if d in self.holidays:
            return False
        return d.isoweekday() in self.workdays

    def local(self, t: datetime) -> datetime:
        if t.tzinfo is None:
            return t.replace(tzinfo=self.tz)
        return t.astimezone(self.tz)

    def _intervals(self, d: date):
        for a, b in self.hours:
            yield (
                datetime.combine(d, a, tzinfo=self.tz),
                datetime.combine(d, b, tzinfo=self.tz),
            )

    def _working(self, d: date) -> tuple[tuple[datetime, datetime], ...]:
        """The day's working intervals as zoned times; () on a day off."""
        got = self._days.get(d)
        if got is None:
            if len(self._days) >= _DAYS_HELD:
                self._days.clear()
            got = self._days[d] = tuple(self._intervals(d)) if self.is_workday(d) else ()
        return got

    def add(self, start: datetime, minutes: float) -> datetime:
        """The moment `minutes` working minutes after `start` (start itself may be off-hours)."""
        t = self.local(start)
        left = timedelta(minutes=minutes)
        d = t.date()
        for _ in range(_MAX_DAYS):
            for a, b in self._working(d):
                if t >= b:
                    continue
                begin = max(t, a)
                room = b - begin
                if left <= room:
                    return begin + left
                left -= room
            d += timedelta(days=1)
        raise ValueError(f"working-time limit of {minutes} minutes runs past {_MAX_DAYS} days")

    def between(self, start: datetime, end: datetime) -> float:
        """Working minutes from start to end (negative when end is before start)."""
        a, b = self.local(start), self.local(end)
        if b < a:
            return -self.between(b, a)
        total = timedelta()
        d = a.date()
        while d <= b.date():
            for x, y in self._working(d):
                lo, hi = max(a, x), min(b, y)
                if hi > lo:
                    total += hi - lo
            d += timedelta(days=1)
        return total.total_seconds() / 60

    def parse_duration(self, text: str | int | float) -> float:
        """'30m', '4h', '2d' (working days of day_minutes) or a number of minutes."""
        if isinstance(text, bool):
            raise ValueError("a duration is a number of minutes or text like '30m', '4h', '2d'")
        if isinstance(text, (int, float)):
            if text <= 0:
                raise ValueError("a duration must be positive")
            return float(text)
        m = _DURATION.match(str(text))
        if not m:
            raise ValueError(f"'{text}' is not a duration like '30m', '4h' or '2d'")
        n, unit = float(m.group(1)), m.group(2)
        if n <= 0:
            raise ValueError("a duration must be positive")
        return n * {"m": 1, "min": 1, "h": 60, "d": self.day_minutes}[unit]


def month_range(month: str, field: str = "month") -> tuple[date, date]:
    """'2026-10' -> (2026-10-01, 2026-10-31), bounded (domain.times)."""
    from domain.times import parse_month

    return parse_month(month, field)


def week_range(week: str, field: str = "week") -> tuple[date, date]:
    """ISO week '2026-W42' -> (its Monday, its Sunday), bounded (domain.times)."""
    from domain.times import parse_week

    return parse_week(week, field)


def _minutes(a: time, b: time) -> int:
    return (b.hour * 60 + b.minute) - (a.hour * 60 + a.minute)


def parse_hours(spec: list) -> tuple[tuple[time, time], ...]:
    """[["08:30", "12:00"], ["14:00", "18:00"]] -> ordered, non-overlapping intervals."""
    out: list[tuple[time, time]] = []
    for i, pair in enumerate(spec):
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise ValueError(f"[{i}] must be a pair [start, end] like ['08:30', '12:00']")
        a, b = (_parse_time(x, f"[{i}]") for x in pair)
        if b <= a:
            raise ValueError(f"[{i}] ends before it starts")
        if out and a < out[-1][1]:
            raise ValueError(f"[{i}] overlaps or precedes the interval before it")
        out.append((a, b))
    if not out:
        raise ValueError("needs at least one working interval")
    return tuple(out)


def _parse_time(x, where: str) -> time:
    try:
        h, m = str(x).split(":")
        return time(int(h), int(m))
    except (ValueError, TypeError):
        raise ValueError(f"{where}: '{x}' is not a clock time HH:MM") from None
