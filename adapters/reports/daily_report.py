"""The daily summary (日汇总 / 零报告): every squad's report beside its patrol cases, the
day's new cases, the deadlines missed and the cases urged."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta

from adapters.reports.document import (
    area,
    case_rows,
    category,
    holder,
    meta,
    reported_at,
    section,
)
from domain.city import City
from domain.glossary import CHANNEL_SHORT, PATROL_STATUS, STEP, zh, zh_of
from domain.lifecycle import STATES
from domain.times import local_format
from projections.patrol import patrol_days
from projections.ports import Sql
from projections.trail import day_bounds
from workflows.patrol import patrol_rules

STATUS_ZH = zh_of(PATROL_STATUS) | {None: zh(PATROL_STATUS, "missed")}
CHANNEL_ZH = zh_of(CHANNEL_SHORT)
STEP_ZH = zh_of(STEP)


def patrol_section(sql: Sql, city: City, start: date, end: date,
                   now: datetime | None = None, as_of: datetime | None = None) -> tuple[dict, list[dict]]:
    """Every squad and day with its report, nil report or missing report, and the patrol
    cases actually recorded in its area that day (a nil report beside them is flagged)."""
    rules = patrol_rules(city)
    got = {(r["squad"], r["day"]): r for r in patrol_days(sql, start, end, as_of)}
    found: dict[tuple[str, str], list[str]] = {}
    for row in case_rows(sql, start, end, city, as_of):
        if row["channel"] == "patrol" and row["squad"]:
            found.setdefault((row["squad"], row["day"]), []).append(row["case_id"])
    rows = []
    d = start
    while d <= end:
        if rules.applies(city, d):
            for squad, name in city.squads.items():
                r = got.get((squad, d.isoformat()))
                status = r["status"] if r else None
                if status in (None, "open"):
                    past = now is None or now > rules.cut_off_at(city, d)
                    status = "missed" if past else "open"
                own = found.get((squad, d.isoformat()), [])
                flag = ""
                if r and r["nil"] and own:
                    flag = f"零报告，但当日巡查上报 {len(own)} 件"
                rows.append({
                    "day": d.isoformat(), "squad": squad, "squad_name": name,
                    "status": status, "status_zh": STATUS_ZH.get(status),
                    "miss_recorded": "已记录" if r and r["missed_cut_off"] else "",
                    "reported_at": local_format(r["reported_at"], city.tz) if r else "",
                    "actor": (city.users[r["actor"]].name if r and r["actor"] in city.users
                              else (r or {}).get("actor") or ""),
                    "findings": r["findings"] if r and r["findings"] is not None else "",
                    "patrol_cases": len(own), "note": (r or {}).get("note") or "", "flag": flag,
                    "case_ids": " ".join((r or {}).get("case_ids") or []),
                })
        d += timedelta(days=1)
    sec = section("patrol", "巡查日报（零报告）情况", [
        ("day", "日期"), ("squad_name", "中队"), ("status_zh", "报告情况"),
        ("reported_at", "报告时间"), ("actor", "报告人"), ("miss_recorded", "缺报事件"),
        ("findings", "报告发现数", "int"),
        ("patrol_cases", "当日巡查上报案件", "int"), ("flag", "核对"), ("note", "备注")],
        rows, note=f"截止时间每日 {rules.cut_off:%H:%M}；次日 {rules.summary_by:%H:%M} 前汇总公示。")
    return sec, rows


def daily(sql: Sql, city: City, day: date, now: datetime) -> dict:
    """The day's summary, due by summary_by (09:00) the next day."""
    doc = meta(city, "daily", f"{day:%Y年%m月%d日} 控违巡查日汇总（零报告）", day, day, now,
               publish_by=f"{day + timedelta(days=1)} {patrol_rules(city).summary_by:%H:%M}")
    sections = []
    pat, _ = patrol_section(sql, city, day, day, now)
    sections.append(pat)
    rows = case_rows(sql, day, day)
    at = reported_at(sql, [r["case_id"] for r in rows])
    sections.append(section("new", "当日新增案件", [
        ("case_id", "案件编号"), ("reported_at", "上报时间"), ("category", "类别"),
        ("community", "社区"), ("grid", "网格"), ("channel", "来源"), ("state", "当前状态")],
        [{"case_id": r["case_id"], "reported_at": local_format(at.get(r["case_id"]), city.tz),
          "category": category(city, r["category"]), "community": area(city, r["community"]),
          "grid": r["grid"], "channel": CHANNEL_ZH.get(r["channel"], r["channel"]),
          "state": STATES.get(r["state"], {}).get("zh", r["state"])} for r in rows]))
    lo, hi = day_bounds(day, day, city)
    miss = sql.query(
        "SELECT t.case_id, t.missed_due_at, t.miss_holder, t.detail, c.category, c.grid, c.state"
        " FROM cg_trail t JOIN cg_cases c ON c.case_id = t.case_id WHERE t.type = 'DeadlineMissed'"
        " AND t.missed_due_at >= ? AND t.missed_due_at < ? ORDER BY t.missed_due_at", (lo, hi))
    sections.append(section("overdue", "当日超期案件", [
        ("case_id", "案件编号"), ("step", "超期环节"), ("due_at", "应完成时间"),
        ("holder", "责任主体"), ("category", "类别"), ("state", "当前状态")],
        [{"case_id": cid, "step": STEP_ZH.get(json.loads(det).get("missed_step"), ""),
          "due_at": local_format(due, city.tz), "holder": holder(city, held),
          "category": category(city, cat), "state": STATES.get(st, {}).get("zh", st)}
         for cid, due, held, det, cat, _grid, st in miss]))
    urged = sql.query(
        "SELECT t.case_id, t.occurred_at, t.actor, t.reason, t.held_by, c.category FROM cg_trail t"
        " JOIN cg_cases c ON c.case_id = t.case_id WHERE t.type = 'Urged' AND t.occurred_at >= ?"
        " AND t.occurred_at < ? ORDER BY t.occurred_at", (lo, hi))
    sections.append(section("urged", "当日督办案件", [
        ("case_id", "案件编号"), ("at", "督办时间"), ("actor", "督办人"), ("holder", "被督办"),
        ("category", "类别"), ("reason", "督办意见")],
        [{"case_id": cid, "at": local_format(t, city.tz),
          "actor": city.users[a].name if a in city.users else a, "holder": holder(city, h),
          "category": category(city, cat), "reason": reason or ""}
         for cid, t, a, reason, h, cat in urged]))
    doc["sections"] = sections
    return doc
