"""The cases behind a scoreboard figure (指标溯源), as rows a person reads: number, category,
place, when reported, due, resolved, and whether a step was missed (超时) or is running
past its due time now."""

from __future__ import annotations

from adapters.bootstrap import Casegrid
from adapters.http import reads
from projections.times import ts

MAX_ROWS = 500  # rows listed per part; the count above the table is always the full one
CASE_COLS = ("case_id", "state", "step", "category", "grid", "reported_at", "due_at", "unit")


def case_rows(cg: Casegrid, case_ids: list[str]) -> list[dict]:
    """One row per case id (in the order given, at most MAX_ROWS)."""
    ids = [str(c) for c in case_ids[:MAX_ROWS]]
    if not ids:
        return []
    found: dict[str, dict] = {}
    for i in range(0, len(ids), 500):
        chunk = ids[i:i + 500]
        marks = ",".join("?" * len(chunk))
        for r in cg.sql.query(f"SELECT {', '.join(CASE_COLS)} FROM cg_cases"
                              f" WHERE case_id IN ({marks})", chunk):
            found[str(r[0])] = dict(zip(CASE_COLS, r, strict=True))
    numbers = _numbers(cg, ids)
    now = ts(cg.service.clock())
    events = reads.projection_module("trail").case_events(cg.sql, ids)
    out = []
    for cid in ids:
        row = found.get(cid, {"case_id": cid})
        row["number"] = numbers.get(cid)
        row.update(_times(events.get(cid, [])))
        step, due = row.get("step"), row.get("due_at")
        if step and due and due < now and step not in row["missed"]:  # running late now
            row["missed"].append(step)
        cell = cg.city.cells.get(row.get("grid") or "")
        row["community"] = cg.city.areas.get(cell.community, "") if cell else ""
        out.append(row)
    return out


def _times(events: list[dict]) -> dict:
    """The resolution's due and done times and the steps missed, from the case's trail."""
    resolve_due = resolved = None
    missed: list[str] = []
    for e in events:
        if e["step"] == "resolve" and e["due_at"]:
            resolve_due = e["due_at"]
        if e["type"] == "Resolved":
            resolved = e["occurred_at"]
        if e["type"] == "DeadlineMissed":
            step = e["detail"].get("missed_step")
            if step and step not in missed:
                missed.append(step)
    return {"resolve_due": resolve_due, "resolved_at": resolved, "missed": missed}


def _numbers(cg: Casegrid, ids: list[str]) -> dict[str, str]:
    """case id → readable number (案件编号), where the cases' table has numbers."""
    out: dict[str, str] = {}
    try:
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            rows = cg.sql.query("SELECT case_id, number FROM cg_cases WHERE number IS NOT NULL"
                                f" AND case_id IN ({','.join('?' * len(chunk))})", chunk)
            out.update({str(r[0]): r[1] for r in rows})
    except Exception as e:  # a store before case numbers: no column 'number'
        if not cg.sql.is_store_error(e):
            raise
    return out
