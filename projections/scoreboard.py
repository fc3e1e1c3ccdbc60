"""Scoreboards (考评排名): counts per dimension and day, rates, scores, grades, drill-down.

Three tables, written in the batch's transaction with the tracking position (by
projections/scoreboard_fold.py): `cg_sb_case`
(each case's current facts), `cg_sb_counts` (the sum of every case's contributions per
day, dimension, key and count; kept by adding each batch's net change) and `cg_sb_months`
(the same sums per month, so a board over whole months reads one row per key and count
instead of one per day: a month board's cost does not grow with the cases or the days).
A board as it stood at a past moment is folded again from the trail's copy of the events
recorded by then (`cg_trail`, see projections/trail.py).
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime
from functools import cache

from domain.city import City
from domain.errors import ValidationError
from domain.indicators import COUNTS, DERIVED, RATES, count, grade, rate, score
from projections.case_facts import AREA_DIMS, DIMENSIONS, fold, new_row, unpack
from projections.contributions import ATTRIBUTED, contributions
from projections.ports import Sql
from projections.trail import events_as_of

INDICATORS: dict[str, dict] = {
    **{k: {"zh": v, "kind": "count"} for k, v in COUNTS.items()},
    **{k: {"zh": zh, "kind": "rate", "numerator": n, "denominator": d}
       for k, (zh, n, d) in RATES.items()},
}


EVENT_COUNTS = ("rework_events", "returned", "callbacks", "callbacks_satisfied",
                "assist_due", "assist_on_time")  # per event (协办: per assisting request)


# ---------------------------------------------------------------- reading


def _check(by: str, start: date, end: date) -> None:
    if by not in DIMENSIONS:
        raise ValidationError("by", f"'{by}' is not one of {', '.join(DIMENSIONS)}")
    if end < start:
        raise ValidationError("to", f"{end} is before from {start}")


def _rows_as_of(sql: Sql, city: City, start: date, end: date, as_of: datetime | None) -> list[dict]:
    """Each cohort case's facts: now, or folded again from the events recorded up to as_of."""
    if as_of is None:
        got = sql.query("SELECT row FROM cg_sb_case WHERE day >= ? AND day <= ?",
                        (start.isoformat(), end.isoformat()))
        return [unpack(r[0]) for r in got]
    rows = []
    for case_events in events_as_of(sql, city, start, end, as_of):
        row = new_row(case_events[0], city)
        for e in case_events[1:]:
            fold(row, e)
        rows.append(row)
    return rows


def case_rows(sql: Sql, city: City | None, start: date, end: date,
              as_of: datetime | None = None) -> list[dict]:
    """Each case reported in [start, end] as the scoreboard knows it (by day, then id)."""
    return sorted(_rows_as_of(sql, city, start, end, as_of),
                  key=lambda r: (r["day"], r["case_id"]))


def whole_months(start: date, end: date) -> tuple[tuple[str, str] | None, list[tuple[date, date]]]:
    """[start, end] as its whole months (first and last 'YYYY-MM', or None) and the days
    left over before and after them."""
    first = start if start.day == 1 else _next_month(start)  # the first whole month's 1st
    after = None if end == date.max else date.fromordinal(end.toordinal() + 1)
    if after is None or after.day == 1:  # end is a month's last day
        last: date | None = end
    else:  # the whole months end the day before end's month begins
        begin = end.replace(day=1)
        last = None if begin == date.min else date.fromordinal(begin.toordinal() - 1)
    if first is None or last is None or first > last:
        return None, [(start, end)]
    days = []
    if start < first:
        days.append((start, date.fromordinal(first.toordinal() - 1)))
    if last < end:
        days.append((date.fromordinal(last.toordinal() + 1), end))
    return (first.isoformat()[:7], last.isoformat()[:7]), days


def _next_month(d: date) -> date | None:
    if d.month < 12:
        return d.replace(month=d.month + 1, day=1)
    return None if d.year == date.max.year else date(d.year + 1, 1, 1)


def _counts(sql: Sql, city: City, by: str, start: date, end: date, as_of) -> dict[str, Counter]:
    per_key: dict[str, Counter] = {}
    if as_of is None:
        dim = "grid" if by in AREA_DIMS else by  # areas roll up from their grid cells
        months, days = whole_months(start, end)
        parts, params = [], []
        if months and months[0] == months[1] and not days:  # one whole month: its own rows
            got = sql.query("SELECT key, name, n FROM cg_sb_months WHERE dim = ? AND month = ?",
                            (dim, months[0]))
            return _per_key(got, city, by)
        if months:
            parts.append("SELECT key, name, n FROM cg_sb_months"
                         " WHERE dim = ? AND month >= ? AND month <= ?")
            params += [dim, *months]
        for a, b in days:
            parts.append("SELECT key, name, n FROM cg_sb_counts"
                         " WHERE dim = ? AND day >= ? AND day <= ?")
            params += [dim, a.isoformat(), b.isoformat()]
        return _per_key(sql.query(
            f"SELECT key, name, SUM(n) FROM ({' UNION ALL '.join(parts)}) AS cells"
            " GROUP BY key, name", params), city, by)
    for row in _rows_as_of(sql, city, start, end, as_of):
        for (_dim, key, name), n in contributions(row, city, (by,)).items():
            per_key.setdefault(key, Counter())[name] += n
    return per_key


def _per_key(cells: list[tuple], city: City, by: str) -> dict[str, Counter]:
    """(key, count name, n) → each key's counts; a grid cell's rolled up to its area."""
    per_key: dict[str, Counter] = {}
    area = by in AREA_DIMS and by != "grid"
    for key, name, n in cells:
        if area:
            cell = city.cells.get(key)
            key = getattr(cell, by, None) if cell else None
            if key is None:
                continue
        if n:
            got = per_key.get(key)
            if got is None:
                got = per_key[key] = Counter()
            got[name] += int(n)
    return per_key


def _base(name: str) -> tuple[str, ...]:
    return DERIVED.get(name, (name,))


@cache
def applies(by: str, name: str) -> bool:
    """Whether a count or rate is a figure of the `by` board: every count it is made of is
    given to that dimension (a supervisor's board has no discovery rate, a duty chief's no
    miss rate: their cases' other counts belong to other boards)."""
    got = ATTRIBUTED.get(by, frozenset())
    parts = (RATES[name][1], RATES[name][2]) if name in RATES else (name,)
    return all(b in got for p in parts for b in _base(p))


@cache
def _figures(by: str) -> tuple[tuple[str, ...], frozenset[str]]:
    """The counts (in board order) and the rates that are figures of the `by` board."""
    return (tuple(k for k in (*COUNTS, *DERIVED) if applies(by, k)),
            frozenset(r for r in RATES if applies(by, r)))


def key_name(city: City, by: str, key: str) -> str:
    if by == "unit":
        u = city.units.get(key)
        return u.name if u else key
    if by in ("supervisor", "dispatcher", "duty-chief"):
        u = city.users.get(key)
        return u.name if u else key
    if by == "squad":
        return city.squads.get(key, key)
    if by == "grid":
        cell = city.cells.get(key)
        return f"{city.areas.get(cell.community, '')} {key[-2:]}号网格" if cell else key
    return city.areas.get(key, key)


def scoreboard(sql: Sql, city: City, *, by: str, start: date, end: date,
               as_of: datetime | None = None) -> dict:
    """The ranking for one dimension over [start, end] (cohort: the day a case was reported)."""
    _check(by, start, end)
    weights = city.weights.get("area" if by in AREA_DIMS else by, {})
    shown, rated = _figures(by)
    rows = []
    for key, counts in _counts(sql, city, by, start, end, as_of).items():
        rates = {r: rate(counts, r) if r in rated else None for r in RATES}
        value = score(rates, weights)
        figures = {k: count(counts, k) for k in shown}
        rows.append({
            "key": key, "name": key_name(city, by, key),
            "counts": {k: v for k, v in figures.items() if v},
            "rates": {k: (None if v is None else round(v, 4)) for k, v in rates.items()},
            "score": value, "grade": grade(value, city.bands), "rank": None,
        })
    rows.sort(key=lambda r: (r["score"] is None, -(r["score"] or 0), r["key"]))
    rank, last = 0, object()
    for i, r in enumerate(rows, start=1):
        if r["score"] is None:
            continue
        if r["score"] != last:
            rank, last = i, r["score"]
        r["rank"] = rank
    return {"by": by, "from": start.isoformat(), "to": end.isoformat(),
            "as_of": as_of.isoformat() if as_of else None, "weights": weights, "rows": rows}


def _ids(rows: list[dict], city: City, by: str, key: str, name: str) -> list[str]:
    if name in DERIVED:
        a, b = DERIVED[name]
        drop = set(_ids(rows, city, by, key, b))
        return [c for c in _ids(rows, city, by, key, a) if c not in drop]
    out = []
    for row in rows:
        if contributions(row, city, (by,)).get((by, key, name)):
            out.append(row["case_id"])
    return sorted(out)


def explain(sql: Sql, city: City, *, by: str, key: str, indicator: str, start: date, end: date,
            as_of: datetime | None = None) -> dict:
    """The case ids behind a figure: its numerator and denominator (or the count's cases)."""
    _check(by, start, end)
    if indicator not in INDICATORS and indicator not in DERIVED:
        raise ValidationError("indicator", f"'{indicator}' is not a count or rate name")
    rows = _rows_as_of(sql, city, start, end, as_of) if applies(by, indicator) else []
    sums = {}  # event counts (返工次数, 回访数 …): their number of events, besides the cases
    if indicator in RATES:
        zh, num, den = RATES[indicator]
        n_ids, d_ids = _ids(rows, city, by, key, num), _ids(rows, city, by, key, den)
        value = None if not d_ids else round(len(n_ids) / len(d_ids), 4)
        sums = {c: sum(contributions(r, city, (by,)).get((by, key, c), 0) for r in rows)
                for c in (num, den) if c in EVENT_COUNTS}
        if num in EVENT_COUNTS:  # event counts: sums, not cases
            per = sums.get(den, len(d_ids))
            value = None if not per else round(sums[num] / per, 4)
    else:
        zh, num, den = COUNTS.get(indicator, indicator), indicator, None
        n_ids, d_ids = _ids(rows, city, by, key, indicator), []
        value = len(n_ids)
        if indicator in EVENT_COUNTS:  # events, not cases: the board's figure is their number
            value = sum(contributions(r, city, (by,)).get((by, key, indicator), 0) for r in rows)
    return {
        "indicator": indicator, "zh": zh, "by": by, "key": key, "name": key_name(city, by, key),
        "from": start.isoformat(), "to": end.isoformat(),
        "as_of": as_of.isoformat() if as_of else None, "value": value,
        "applies": applies(by, indicator),
        "numerator": {"count": num, "n": len(n_ids), "case_ids": n_ids, "events": sums.get(num)},
        "denominator": ({"count": den, "n": len(d_ids), "case_ids": d_ids,
                         "events": sums.get(den)} if den else None),
    }
