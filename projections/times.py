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


# offset text -> {local hour text: UTC hour text}, for the hours that stay on the same day
_SHIFTED = {f"{sign}{o:02d}:00": {f"{h:02d}": f"{u:02d}" for h in range(24)
                                  if 0 <= (u := h - o if sign == "+" else h + o) < 24}
            for o in range(15) for sign in "+-"}


def iso_ts(s: str) -> str:
    """ts() of a time given as datetime.isoformat() text: by string arithmetic for a
    whole-hour offset that does not cross midnight, else through datetime."""
    n = len(s)
    if n == 32 and s[19] == ".":
        tail, body = s[26:], s[13:26]
    elif n == 25:
        tail, body = s[19:], s[13:19] + ".000000"
    else:
        return ts(datetime.fromisoformat(s))
    if tail == "+00:00":
        return s[:13] + body + "Z"
    hours = _SHIFTED.get(tail)
    if hours is not None and s[10] == "T":
        h = hours.get(s[11:13])
        if h is not None:
            return s[:11] + h + body + "Z"
    return ts(datetime.fromisoformat(s))


def from_ts(s: str | None) -> datetime | None:
    if s is None:
        return None
    return datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
