"""Searching the case summaries (案件查询): by number, text, category, unit, grid cells,
channel, state, report dates and lateness; a page of rows and the total, newest first."""

from __future__ import annotations

from dataclasses import dataclass, field

from projections.ports import Sql

COLS = ("case_id", "number", "state", "step", "due_at", "missed_due", "unit", "category",
        "grid", "channel", "urgency", "reported_at", "last_at", "version", "description")
SORTS = {
    "reported_desc": "reported_at DESC, case_id",
    "reported_asc": "reported_at ASC, case_id",
    "due_asc": "CASE WHEN due_at IS NULL THEN 1 ELSE 0 END, due_at ASC, case_id",
    "number_asc": "CASE WHEN number IS NULL THEN 1 ELSE 0 END, number ASC, case_id",
}


@dataclass(frozen=True)
class CaseQuery:
    """A search, already checked at the edge; None (or empty) means any."""

    text: str | None = None  # in the number, description, external id or id
    category: str | None = None
    unit: str | None = None
    grids: tuple[str, ...] = field(default_factory=tuple)  # a cell, or a community's cells
    channel: str | None = None
    state: str | None = None
    reported_from: str | None = None  # ts() bounds: from inclusive, to exclusive
    reported_to: str | None = None
    late: bool | None = None  # True: overdue now or missed a step; False: neither
    overdue: bool = False  # only cases whose running step is past due now
    now: str | None = None  # ts() of now, for `late`
    sort: str = "reported_desc"


def like(text: str) -> str:
    """A LIKE pattern that finds `text` anywhere, its own % _ \\ taken literally."""
    esc = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{esc}%"


def where(q: CaseQuery) -> tuple[str, list]:
    conds, params = [], []
    if q.text:
        pat = like(q.text)
        conds.append("(LOWER(COALESCE(number, '')) LIKE ? ESCAPE '\\'"
                     " OR LOWER(COALESCE(description, '')) LIKE ? ESCAPE '\\'"
                     " OR LOWER(COALESCE(external_id, '')) LIKE ? ESCAPE '\\'"
                     " OR case_id LIKE ? ESCAPE '\\')")
        params += [pat, pat, pat, pat[1:]]  # an id only from its start
    for col, value in (("category", q.category), ("unit", q.unit), ("channel", q.channel),
                       ("state", q.state)):
        if value:
            conds.append(f"{col} = ?")
            params.append(value)
    if q.grids:
        conds.append(f"grid IN ({', '.join('?' * len(q.grids))})")
        params += list(q.grids)
    if q.reported_from:
        conds.append("reported_at >= ?")
        params.append(q.reported_from)
    if q.reported_to:
        conds.append("reported_at < ?")
        params.append(q.reported_to)
    if q.late is not None and q.now:
        late = ("(missed_due IS NOT NULL OR (step IS NOT NULL AND due_at IS NOT NULL"
                " AND due_at < ?))")
        conds.append(late if q.late else f"NOT {late}")
        params.append(q.now)
    if q.overdue and q.now:
        conds.append("(step IS NOT NULL AND due_at IS NOT NULL AND due_at < ?)")
        params.append(q.now)
    return (f" WHERE {' AND '.join(conds)}" if conds else ""), params


def search_cases(sql: Sql, q: CaseQuery, *, offset: int = 0,
                 limit: int = 50) -> tuple[list[dict], int]:
    """One page of the cases `q` finds, and how many it finds in all."""
    clause, params = where(q)
    total = int(sql.query(f"SELECT COUNT(*) FROM cg_cases{clause}", params)[0][0])
    order = SORTS.get(q.sort, SORTS["reported_desc"])
    rows = sql.query(f"SELECT {', '.join(COLS)} FROM cg_cases{clause} ORDER BY {order}"
                     f" LIMIT {int(limit)} OFFSET {int(offset)}", params)
    return [dict(zip(COLS, r, strict=True)) for r in rows], total
