"""Patrol reports (巡查日报 / 零报告) read model: one row per squad and day."""

from __future__ import annotations

import json
from datetime import date, datetime

from domain.patrol import PatrolDay
from domain.times import as_zone
from projections.ports import Cur, Sql
from projections.times import from_ts, ts

COLS = ("squad", "day", "reported_at", "actor", "nil", "findings", "case_ids", "note", "late",
        "missed_cut_off", "position", "reported_recorded", "missed_recorded")


class PatrolLog:
    name = "patrol"
    tables = ("cg_patrol",)

    def create(self, cur: Cur) -> None:
        cur.execute(
            "CREATE TABLE IF NOT EXISTS cg_patrol (squad TEXT NOT NULL, day TEXT NOT NULL,"
            " reported_at TEXT, actor TEXT, nil INTEGER, findings INTEGER, case_ids TEXT,"
            " note TEXT, late INTEGER, missed_cut_off TEXT, position BIGINT NOT NULL,"
            " reported_recorded TEXT, missed_recorded TEXT, PRIMARY KEY (squad, day))"
        )

    def forget(self) -> None:
        """Nothing is held between batches."""

    def prepare(self, sql: Sql, items: list, start: int, end: int) -> list:
        return [(e, pos) for e, _t, pos, _cid in items if isinstance(e, PatrolDay.Event)]

    def write(self, cur: Cur, items: list) -> None:
        for e, pos in items:
            cur.execute(
                "INSERT INTO cg_patrol (squad, day, position) VALUES (?, ?, ?)"
                " ON CONFLICT (squad, day) DO NOTHING", (e.squad, e.day, pos))
            if isinstance(e, PatrolDay.PatrolReported):
                cur.execute(
                    "UPDATE cg_patrol SET reported_at = ?, actor = ?, nil = ?, findings = ?,"
                    " case_ids = ?, note = ?, late = ?, position = ?, reported_recorded = ?"
                    " WHERE squad = ? AND day = ?",
                    (ts(e.occurred_at), e.actor, int(e.nil), e.findings, json.dumps(e.case_ids),
                     e.note, int(e.late), pos, ts(e.timestamp), e.squad, e.day))
            elif isinstance(e, PatrolDay.PatrolReportMissed):
                cur.execute(
                    "UPDATE cg_patrol SET missed_cut_off = ?, position = ?, missed_recorded = ?"
                    " WHERE squad = ? AND day = ?", (ts(e.cut_off), pos, ts(e.timestamp), e.squad, e.day))


def patrol_days(sql: Sql, start: date, end: date, as_of: datetime | None = None) -> list[dict]:
    """Rows for days in [start, end] (as recorded by as_of, if given); status: reported |
    nil | late_reported | late_nil | missed | open."""
    out = []
    cutoff = ts(as_of)
    for r in sql.query(f"SELECT {', '.join(COLS)} FROM cg_patrol WHERE day >= ? AND day <= ?"
                       " ORDER BY day, squad", (start.isoformat(), end.isoformat())):
        d = dict(zip(COLS, r, strict=True))
        if cutoff and (d["reported_recorded"] or "") > cutoff:
            d.update(reported_at=None, actor=None, nil=None, findings=None, case_ids=None,
                     note=None, late=0)
        if cutoff and (d["missed_recorded"] or "") > cutoff:
            d["missed_cut_off"] = None
        d["case_ids"] = json.loads(d["case_ids"]) if d["case_ids"] else []
        d["nil"] = None if d["nil"] is None else bool(d["nil"])
        d["late"] = bool(d["late"])
        d["reported_at"] = from_ts(d["reported_at"])
        d["missed_cut_off"] = from_ts(d["missed_cut_off"])
        if d["reported_at"] is None:
            d["status"] = "missed" if d["missed_cut_off"] else "open"
        else:
            d["status"] = ("late_" if d["late"] else "") + ("nil" if d["nil"] else "reported")
        out.append(d)
    return out


def squad_misses(sql: Sql, city, *, squad: str, start: date, end: date) -> dict:
    """The accountability trail of a squad's daily reports (零报告): days missed or late."""
    from domain.errors import ValidationError

    if squad not in city.squads:
        raise ValidationError("squad", f"unknown squad '{squad}'")
    days = [d for d in patrol_days(sql, start, end) if d["squad"] == squad
            and d["status"] in ("missed", "late_reported", "late_nil")]
    misses = [{"day": d["day"], "status": d["status"],
               "cut_off": as_zone(d["missed_cut_off"], city.tz).isoformat(timespec="minutes")
               if d["missed_cut_off"] else None,
               "reported_at": as_zone(d["reported_at"], city.tz).isoformat(timespec="minutes")
               if d["reported_at"] else None,
               "reported_by": d["actor"]} for d in days]
    return {"squad": squad, "name": city.squads[squad], "from": start.isoformat(),
            "to": end.isoformat(), "count": len(misses), "patrol_misses": misses}
