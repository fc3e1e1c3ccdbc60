"""The weekly summary (周小结): per street, community and member unit beside last week,
and each squad's nil-report record for the week."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta

from adapters.reports.daily_report import patrol_section
from adapters.reports.document import board, meta, section
from domain.city import City
from domain.times import parse_week
from projections.ports import Sql

WEEK_COUNTS = (("reported", "发现"), ("filed", "立案"), ("resolved", "处置"), ("overdue", "超期"))


def week_bounds(week: str) -> tuple[date, date]:
    """'2026-W43' (ISO week) → Monday..Sunday, bounded (domain.times)."""
    return parse_week(week, "week")


def compare_rows(now_b: dict, prev_b: dict) -> list[dict]:
    """One row per key of either board: this week's counts and last week's."""
    rows = []
    for key in sorted(set(now_b) | set(prev_b)):
        r = {"key": key, "name": (now_b.get(key) or prev_b.get(key))["name"]}
        for c, _ in WEEK_COUNTS:
            r[c] = (now_b.get(key) or {}).get("counts", {}).get(c, 0)
            r[f"{c}_prev"] = (prev_b.get(key) or {}).get("counts", {}).get(c, 0)
        rows.append(r)
    return rows


def weekly(sql: Sql, city: City, week: str, now: datetime) -> dict:
    """The week's summary, due on the Monday after."""
    start, end = week_bounds(week)
    pstart, pend = start - timedelta(days=7), end - timedelta(days=7)
    doc = meta(city, "weekly", f"{week} 周小结（{start} 至 {end}）", start, end, now,
               previous={"from": pstart.isoformat(), "to": pend.isoformat()},
               publish_by=f"{end + timedelta(days=1)}（周一）")
    cols = [("name", "名称")]
    for c, name in WEEK_COUNTS:
        cols += [(c, f"{name}", "int"), (f"{c}_prev", f"上周{name}", "int")]
    sections = []
    for by, title in (("street", "各镇/街道"), ("community", "各社区"), ("unit", "各成员单位")):
        rows = compare_rows(board(sql, city, by, start, end), board(sql, city, by, pstart, pend))
        chart = {"type": "bar", "title": f"{title}发现与处置（本周 vs 上周）",
                 "labels": [city.units[r["key"]].short if by == "unit" and r["key"] in city.units
                            else r["name"] for r in rows],
                 "series": [{"name": "本周发现", "values": [r["reported"] for r in rows]},
                            {"name": "上周发现", "values": [r["reported_prev"] for r in rows]},
                            {"name": "本周处置", "values": [r["resolved"] for r in rows]}]}
        sections.append(section(f"by_{by}", f"{title}案件情况（与上周对比）", cols, rows,
                                chart=chart if by != "street" and rows else None))
    _, prow = patrol_section(sql, city, start, end, now)
    summary = []
    for squad, name in city.squads.items():
        c = Counter(r["status"] for r in prow if r["squad"] == squad)
        summary.append({"squad_name": name, "days": sum(c.values()),
                        "on_time": c["reported"] + c["nil"], "nil": c["nil"] + c["late_nil"],
                        "late": c["late_reported"] + c["late_nil"], "missed": c["missed"]})
    sections.append(section("patrol_week", "各中队零报告执行情况", [
        ("squad_name", "中队"), ("days", "应报天数", "int"), ("on_time", "按时报告", "int"),
        ("nil", "其中零报告", "int"), ("late", "迟报", "int"), ("missed", "未报告", "int")], summary))
    doc["sections"] = sections
    return doc
