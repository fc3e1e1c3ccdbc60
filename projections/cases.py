"""Case summaries (案件台账): one row per case, for listing and for the deadline watch."""

from __future__ import annotations

from typing import Any

from domain.case import Case
from projections.sql import Cur, ts

TERMINAL = ("evaluated", "voided")


class CaseSummaries:
    name = "cases"
    tables = ("cg_cases",)

    def create(self, cur: Cur) -> None:
        cur.execute(
            "CREATE TABLE IF NOT EXISTS cg_cases ("
            " case_id TEXT PRIMARY KEY, state TEXT NOT NULL, step TEXT, due_at TEXT,"
            " missed_due TEXT, unit TEXT, category TEXT NOT NULL, grid TEXT NOT NULL,"
            " channel TEXT NOT NULL, urgency TEXT NOT NULL, external_id TEXT,"
            " reported_at TEXT NOT NULL, last_at TEXT NOT NULL, version INTEGER NOT NULL,"
            " position BIGINT NOT NULL, lat DOUBLE PRECISION, lon DOUBLE PRECISION)"
        )
        cur.execute("CREATE INDEX IF NOT EXISTS cg_cases_state ON cg_cases (state, unit)")
        cur.execute("CREATE INDEX IF NOT EXISTS cg_cases_due ON cg_cases (due_at)")

    COLS = ("case_id", "state", "step", "due_at", "missed_due", "unit", "category", "grid",
            "channel", "urgency", "external_id", "reported_at", "last_at", "version", "position",
            "lat", "lon")

    def apply_batch(self, cur: Cur, items: list[tuple[Any, int]]) -> None:
        """Fold the batch into each touched case's row in memory; write each row once."""
        items = [(e, p) for e, p in items if isinstance(e, Case.Event)]  # patrol days etc.
        ids = sorted({str(e.originator_id) for e, _ in items})
        rows: dict[str, dict] = {}
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            cur.execute(f"SELECT {', '.join(self.COLS)} FROM cg_cases WHERE case_id IN"
                        f" ({','.join('?' * len(chunk))})", chunk)
            rows.update((r[0], dict(zip(self.COLS, r, strict=True))) for r in cur.fetchall())
        for e, pos in items:
            cid = str(e.originator_id)
            name = type(e).__name__
            if name == "Reported":
                rows[cid] = {
                    "case_id": cid, "missed_due": None, "unit": None, "category": e.category,
                    "grid": e.grid, "channel": e.channel, "urgency": e.urgency,
                    "external_id": e.external_id, "reported_at": ts(e.occurred_at),
                    "lat": e.lat, "lon": e.lon,
                }
            row = rows.get(cid)
            if row is None:
                continue
            row.update(state=e.state, step=e.step, due_at=ts(e.due_at), last_at=ts(e.occurred_at),
                       version=e.originator_version, position=pos)
            if name == "Dispatched":
                row["unit"] = e.unit
            elif name == "Returned":
                row["unit"] = None
            elif name == "DeadlineMissed":
                row["missed_due"] = ts(e.missed_due_at)
        cols = self.COLS
        cur.insert_values(
            f"INSERT INTO cg_cases ({', '.join(cols)})",
            [tuple(rows[cid][c] for c in cols) for cid in ids if cid in rows],
            "ON CONFLICT (case_id) DO UPDATE SET "
            + ", ".join(f"{c} = excluded.{c}" for c in cols[1:]),
            types=(*["text"] * 13, "integer", "bigint", "float8", "float8"),
        )

    def apply(self, cur: Cur, event: Any, position: int) -> None:
        if not isinstance(event, Case.Event):
            return
        name = type(event).__name__
        cid = str(event.originator_id)
        if name == "Reported":
            cur.execute(
                "INSERT INTO cg_cases (case_id, state, step, due_at, missed_due, unit, category,"
                " grid, channel, urgency, external_id, reported_at, last_at, version, position,"
                " lat, lon) VALUES (?, ?, ?, ?, NULL, NULL, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    cid, event.state, event.step, ts(event.due_at), event.category, event.grid,
                    event.channel, event.urgency, event.external_id, ts(event.occurred_at),
                    ts(event.occurred_at), event.originator_version, position, event.lat,
                    event.lon,
                ),
            )
            return
        sets = "state = ?, step = ?, due_at = ?, last_at = ?, version = ?, position = ?"
        params: list = [
            event.state, event.step, ts(event.due_at), ts(event.occurred_at),
            event.originator_version, position,
        ]
        if name == "Dispatched":
            sets += ", unit = ?"
            params.append(event.unit)
        elif name == "Returned":
            sets += ", unit = NULL"
        elif name == "DeadlineMissed":
            sets += ", missed_due = ?"
            params.append(ts(event.missed_due_at))
        cur.execute(f"UPDATE cg_cases SET {sets} WHERE case_id = ?", (*params, cid))


def due_case_ids(sql, now) -> list[str]:
    """Open cases whose running step is past due and whose miss is not yet recorded."""
    rows = sql.query(
        "SELECT case_id FROM cg_cases WHERE step IS NOT NULL AND due_at IS NOT NULL"
        " AND due_at < ? AND (missed_due IS NULL OR missed_due <> due_at) ORDER BY due_at",
        (ts(now),),
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
            "urgency", "reported_at", "last_at", "version")
    rows = sql.query(
        f"SELECT {', '.join(cols)} FROM cg_cases{clause} ORDER BY reported_at DESC, case_id"
        f" LIMIT {int(limit)}",
        params,
    )
    return [dict(zip(cols, r, strict=True)) for r in rows]
