"""Times as the read models store them: sortable ISO-8601 UTC text, the same on every
database ('2026-11-21T08:30:00.000000Z')."""

from __future__ import annotations

from datetime import UTC, datetime

from domain.times import utc_text


def ts(t: datetime | None) -> str | None:
    """A time as sortable UTC text: '2026-11-21T08:30:00.000000Z'."""
    if t is None:
        return None
    try:
        return t.astimezone(UTC).isoformat(timespec="microseconds")[:-6] + "Z"
    except (OverflowError, ValueError):  # year 1 at +14:00, stored by an older version
        return utc_text(t)


_HH = [f"{h:02d}" for h in range(24)]
_SHIFT = {f"{sign}{h:02d}:00": (-h if sign == "+" else h) for h in range(15) for sign in "+-"}


def iso_ts(s: str) -> str:
    """ts() of a time given as datetime.isoformat() text: by string arithmetic for a
    whole-hour offset that does not cross midnight, else through datetime."""
    n = len(s)
    if n == 32 and s[19] == ".":
        frac = s[19:26]
    elif n == 25:
        frac = ".000000"
    else:
        return ts(datetime.fromisoformat(s))
    tail = s[-6:]
    if tail == "+00:00":
        return s[:19] + frac + "Z"
    shift = _SHIFT.get(tail)
    if shift is not None and s[10] == "T":
        h = int(s[11:13]) + shift
        if 0 <= h < 24:
            return s[:11] + _HH[h] + s[13:19] + frac + "Z"
    return ts(datetime.fromisoformat(s))


def from_ts(s: str | None) -> datetime | None:
    if s is None:
        return None
    return datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
