"""Case summaries (案件台账): one row per case, for listing and for the deadline watch."""

from __future__ import annotations

import itertools
from typing import Any

from domain.case import Case
from domain.case_assist import OPEN as ASSIST_OPEN
from domain.case_base import CaseEvent  # every case event, in case.py or a step's module
from domain.case_number import is_number
from domain.errors import NotFoundError
from projections.ports import Cur
from projections.times import ts

TERMINAL = ("evaluated", "voided")
ASSIST_CLOCK = (Case.AssistRequested, Case.AssistAnswered, Case.AssistDeadlineMissed,
                Case.AssistWaived)
DESCRIPTION_KEPT = 500  # characters of the description kept for search and lists


class CaseSummaries:
    name = "cases"
    tables = ("cg_cases",)
    loose_keys = ("cg_cases_number",)  # no write relies on it: a rebuild in shards checks it
    version = 3  # 2: the readable number and the description (search); 3: assist_due (协办)

    def create(self, cur: Cur) -> None:
        cur.execute(
            "CREATE TABLE IF NOT EXISTS cg_cases ("
            " case_id TEXT PRIMARY KEY, state TEXT NOT NULL, step TEXT, due_at TEXT,"
            " missed_due TEXT, unit TEXT, category TEXT NOT NULL, grid TEXT NOT NULL,"
            " channel TEXT NOT NULL, urgency TEXT NOT NULL, external_id TEXT,"
            " reported_at TEXT NOT NULL, last_at TEXT NOT NULL, version INTEGER NOT NULL,"
            " position BIGINT NOT NULL, lat DOUBLE PRECISION, lon DOUBLE PRECISION,"
            " number TEXT, description TEXT, assist_due TEXT)" + cur.updated_often()
        )
        cur.execute("CREATE UNIQUE INDEX IF NOT EXISTS cg_cases_number ON cg_cases (number)")
        cur.execute("CREATE INDEX IF NOT EXISTS cg_cases_reported ON cg_cases (reported_at)")
        cur.execute("CREATE INDEX IF NOT EXISTS cg_cases_state ON cg_cases (state, unit)")
        cur.execute("CREATE INDEX IF NOT EXISTS cg_cases_due ON cg_cases (due_at)")
        cur.execute("CREATE INDEX IF NOT EXISTS cg_cases_assist_due ON cg_cases (assist_due)")

    COLS = ("case_id", "state", "step", "due_at", "missed_due", "unit", "category", "grid",
            "channel", "urgency", "external_id", "reported_at", "last_at", "version", "position",
            "lat", "lon", "number", "description", "assist_due")
    TYPES = (*["text"] * 13, "integer", "bigint", "float8", "float8", "text", "text", "text")
    MOVES = ("case_id", "state", "step", "due_at", "last_at", "version", "position",
             "unit_set", "unit", "missed_due", "assist_set", "assist_due")
    MOVE_TYPES = ("text", "text", "text", "text", "text", "integer", "bigint", "integer", "text",
                  "text", "integer", "text")

    def __init__(self, hold: int = 40_000):
        self.hold = hold  # a shard of a rebuild: cases whose moves wait in memory
        self.deferred = False
        # case -> [state, step, due_at, last_at, version, position, unit set, unit,
        # missed due, assist set, assist due]: its moves not yet written (a shard's)
        self._held: dict[str, list] = {}

    def begin_shard(self, of: int) -> None:
        """A shard of a rebuild: a case's moves are written once, when it leaves the held
        cases or at `end_shard`, not every batch (nobody reads until the rebuild ends)."""
        self._held.clear()
        self.deferred = True

    def end_shard(self) -> tuple[list, list]:
        moved = [(cid, *m) for cid, m in self._held.items()]
        self._held.clear()
        self.deferred = False
        return [], moved

    def forget(self) -> None:
        """Nothing is held between batches, but a shard's moves (lost with its process)."""

    def prepare(self, sql: Any, items: list, start: int, end: int) -> tuple[list, list]:
        """Fold the batch per case in memory: insert the new cases, update the others once
        (a shard of a rebuild: once, when the case leaves the held cases)."""
        reported: dict[str, tuple] = {}
        # case -> [event, times, position, unit set, unit, miss, assist set, assist due]
        last: dict[str, list] = {}
        for e, t, pos, cid in items:
            if not isinstance(e, CaseEvent):  # patrol days etc.
                continue
            kind = type(e)
            got = last.get(cid)
            if got is None:
                got = last[cid] = [e, t, pos, 0, None, None, 0, None]
            else:
                got[0], got[1], got[2] = e, t, pos
            if kind is Case.Reported:
                reported[cid] = (e, t)
            elif kind is Case.Dispatched:
                got[3], got[4], got[6], got[7] = 1, e.unit, 1, None
            elif kind is Case.Returned:
                got[3], got[4] = 1, None
            elif kind is Case.DeadlineMissed:
                got[5] = t["missed_due_at"]
            elif kind in ASSIST_CLOCK:  # 协办: the assisting units' due time still running
                got[6], got[7] = 1, t.get("assist_due_at")
            if got[7] is not None and e.state not in ASSIST_OPEN:  # the lead no longer holds it
                got[6], got[7] = 1, None
        new, moved = [], []
        held = self._held if self.deferred else None
        for cid, (e, t, pos, unit_set, unit, miss, assist_set, assist) in last.items():
            first = reported.get(cid)
            if first is not None:
                r, rt = first
                new.append((cid, e.state, e.step, t.get("due_at"), miss, unit, r.category, r.grid,
                            r.channel, r.urgency, r.external_id, rt["occurred_at"],
                            t["occurred_at"], e.originator_version, pos, r.lat, r.lon,
                            getattr(r, "number", None),
                            (r.description or "")[:DESCRIPTION_KEPT], assist))
                continue
            move = [e.state, e.step, t.get("due_at"), t["occurred_at"], e.originator_version,
                    pos, unit_set, unit, miss, assist_set, assist]
            if held is None:
                moved.append((cid, *move))
                continue
            was = held.pop(cid, None)  # re-inserted: the least recently touched first
            if was is not None:  # the batches before's moves, with this one's over them
                if not unit_set:
                    move[6], move[7] = was[6], was[7]
                if miss is None:
                    move[8] = was[8]
                if not assist_set:
                    move[9], move[10] = was[9], was[10]
            held[cid] = move
        if held is not None:
            gone = list(itertools.islice(held, max(0, len(held) - self.hold)))
            moved = [(cid, *held.pop(cid)) for cid in gone]
        return new, moved

    def write(self, cur: Cur, ops: tuple[list, list]) -> None:
        new, rows = ops
        cur.copy_rows("cg_cases", self.COLS, new)  # new: the runner's tracking sees to it
        cur.update_values(
            "cg_cases", "case_id",
            "state = v.state, step = v.step, due_at = v.due_at, last_at = v.last_at,"
            " version = v.version, position = v.position,"
            " unit = CASE WHEN v.unit_set = 1 THEN v.unit ELSE cg_cases.unit END,"
            " missed_due = COALESCE(v.missed_due, cg_cases.missed_due),"
            " assist_due = CASE WHEN v.assist_set = 1 THEN v.assist_due ELSE cg_cases.assist_due END",
            self.MOVES, rows, types=self.MOVE_TYPES)


def due_case_ids(sql, now) -> list[str]:
    """Open cases whose running step is past due and whose miss is not yet recorded, or
    whose assisting units (协办) passed their due time unanswered."""
    rows = sql.query(
        "SELECT case_id FROM cg_cases WHERE (step IS NOT NULL AND due_at IS NOT NULL"
        " AND due_at < ? AND (missed_due IS NULL OR missed_due <> due_at))"
        " OR assist_due < ? ORDER BY due_at",
        (ts(now), ts(now)),
    )
    return [r[0] for r in rows]


def list_cases(sql, *, state: str | None = None, unit: str | None = None, limit: int = 200):
    where, params = [], []
    if state:
        where.append("state = ?")
        params.append(state)
    if unit:
        where.append("unit = ?")
        params.append(unit)
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    cols = ("case_id", "state", "step", "due_at", "unit", "category", "grid", "channel",
            "urgency", "reported_at", "last_at", "version", "number")
    rows = sql.query(
        f"SELECT {', '.join(cols)} FROM cg_cases{clause} ORDER BY reported_at DESC, case_id"
        f" LIMIT {int(limit)}",
        params,
    )
    return [dict(zip(cols, r, strict=True)) for r in rows]


def case_id_by_number(sql, number: str) -> str | None:
    """The case id of a readable number (案件编号), None when no case has it."""
    rows = sql.query("SELECT case_id FROM cg_cases WHERE number = ?", (number,))
    return rows[0][0] if rows else None


def numbers_of(sql, case_ids) -> dict[str, str]:
    """case id -> readable number, for the cases that have one."""
    ids = sorted({str(c) for c in case_ids})
    out: dict[str, str] = {}
    for i in range(0, len(ids), 500):
        chunk = ids[i:i + 500]
        rows = sql.query(f"SELECT case_id, number FROM cg_cases WHERE number IS NOT NULL"
                         f" AND case_id IN ({', '.join('?' * len(chunk))})", chunk)
        out.update({str(r[0]): r[1] for r in rows})
    return out


def case_key(sql, text: str) -> str:
    """A case as a person names it: its readable number (2026-11-000123) or its id."""
    text = (text or "").strip() if isinstance(text, str) else text
    if is_number(text):
        found = case_id_by_number(sql, text)
        if found is None:
            raise NotFoundError(f"case_id: no case numbered '{text}'")
        return found
    return text
