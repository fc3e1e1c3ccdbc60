"""The shape every report shares: a document of sections (tables with an optional chart),
and the look-ups the builders use to fill them from the read models."""

from __future__ import annotations

from datetime import date, datetime

from domain.city import City
from domain.glossary import ROLE, zh
from domain.times import local_format
from projections.ports import Sql
from projections.scoreboard import case_rows as scoreboard_case_rows
from projections.scoreboard import scoreboard

# the holders a case can wait with at the center (the rest are member units)
CENTER_HOLDERS = ("acceptor", "dispatcher", "supervisor", "duty_chief")


def section(sid: str, title: str, columns: list, rows: list[dict], *, note: str | None = None,
            chart: dict | None = None) -> dict:
    """One table: columns as (key, label[, fmt]) with fmt text|int|pct|score|delta|yuan|auto."""
    return {"id": sid, "title": title,
            "columns": [{"key": c[0], "label": c[1], "fmt": c[2] if len(c) > 2 else "text"}
                        for c in columns],
            "rows": rows, "note": note, "chart": chart}


def meta(city: City, kind: str, title: str, start: date, end: date, now: datetime, **extra) -> dict:
    """The document's head: kind, title, city, period and generation time."""
    return {"kind": kind, "title": title, "city": city.name, "from": start.isoformat(),
            "to": end.isoformat(), "generated_at": local_format(now, city.tz), **extra}


def category(city: City, code: str) -> str:
    """'E0102 暴露垃圾' (the code alone when the city does not know it)."""
    c = city.categories.get(code)
    return f"{code} {c.name}" if c else code


def area(city: City, code: str | None) -> str:
    """An area's name ('' for none)."""
    return city.areas.get(code, code or "") if code else ""


def holder(city: City, held: str | None) -> str:
    """Who a case waits with: a unit's short name or the center role."""
    if not held:
        return ""
    kind, _, who = held.partition(":")
    if kind == "unit":
        u = city.units.get(who)
        return u.short if u else who
    return zh(ROLE, who) if who in CENTER_HOLDERS else who


def case_rows(sql: Sql, start: date, end: date, city: City | None = None,
              as_of: datetime | None = None) -> list[dict]:
    """The scoreboard's facts of each case reported in [start, end]; as_of: folded again
    from the events recorded by then."""
    return scoreboard_case_rows(sql, city, start, end, as_of)


def reported_at(sql: Sql, ids: list[str]) -> dict[str, str]:
    """case id → its stored report time."""
    out = {}
    for i in range(0, len(ids), 500):
        chunk = ids[i:i + 500]
        for cid, at in sql.query(
            f"SELECT case_id, reported_at FROM cg_cases WHERE case_id IN ({','.join('?' * len(chunk))})",
            chunk):
            out[cid] = at
    return out


def board(sql: Sql, city: City, by: str, start: date, end: date,
          as_of: datetime | None = None) -> dict[str, dict]:
    """A scoreboard's rows by key."""
    return {r["key"]: r for r in scoreboard(sql, city, by=by, start=start, end=end,
                                            as_of=as_of)["rows"]}
