"""The monthly analysis bulletin (月通报), due by the 5th: overall figures, rankings and
indicators, trend, categories and hot spots, the overdue and shelved ledgers, missed nil
reports, and the rewards-and-penalties ledger."""

from __future__ import annotations

import re
from collections import Counter
from datetime import date, datetime, timedelta

from adapters.reports.daily_report import patrol_section
from adapters.reports.document import (
    area,
    board,
    case_rows,
    category,
    meta,
    reported_at,
    section,
)
from adapters.reports.ledger import ledger_sections
from adapters.reports.numbers import case_numbers
from domain.city import City
from domain.errors import ValidationError
from domain.indicators import COUNTS, RATES
from domain.lifecycle import STATES
from domain.policy import Policy, month_bounds
from domain.times import local_format
from projections.ledger import ledger
from projections.ports import Sql
from projections.scoreboard import scoreboard
from projections.times import ts

UNIT_RATES = ("resolution_rate", "on_time_resolution_rate", "rework_rate", "overdue_rate",
              "extension_rate", "closure_rate")
AREA_RATES = ("discovery_rate", "resolution_rate", "rectification_rate", "closure_rate",
              "on_time_closure_rate")
UNIT_TABLE_COUNTS = ("dispatched", "due", "resolved", "on_time", "overdue", "overdue_open", "reworked",
                     "extended", "shelved", "due_closure", "closed", "closed_on_time", "returned")
AREA_TABLE_COUNTS = ("reported", "filed", "patrol_filed", "others_filed", "due", "resolved",
                     "due_closure", "closed")


def previous_month(month: str) -> str:
    """'2026-10' → '2026-09'."""
    first = date.fromisoformat(f"{month}-01")
    prev = first - timedelta(days=1)
    return f"{prev:%Y-%m}"


def ranking(city: City, by: str, cur: dict, prev: dict, rates: tuple, title: str, sid: str) -> dict:
    """A board's ranking with grades and rates, last month's score and rank, and a chart."""
    rows = []
    for key, r in cur.items():
        p = prev.get(key) or {}
        row = {"rank": r["rank"], "name": r["name"], "key": key, "score": r["score"],
               "grade": r["grade"] or "—", "prev_score": p.get("score"), "prev_rank": p.get("rank"),
               "delta": (None if r["score"] is None or p.get("score") is None
                         else round(r["score"] - p["score"], 2))}
        for rate in rates:
            row[rate] = r["rates"].get(rate)
        rows.append(row)
    rows.sort(key=lambda x: (x["rank"] is None, x["rank"] or 0, x["key"]))
    cols = [("rank", "名次", "int"), ("name", "名称"), ("score", "综合得分", "score"),
            ("grade", "等次"), *[(r, RATES[r][0], "pct") for r in rates],
            ("prev_score", "上月得分", "score"), ("prev_rank", "上月名次", "int"),
            ("delta", "得分变化", "delta")]
    label = {k: (city.units[k].short if by == "unit" and k in city.units else cur[k]["name"])
             for k in cur}
    chart = {"type": "barh", "title": f"{re.sub(r'^[一二三四五六七八九十]+、', '', title)}综合得分",
             "labels": [label[x["key"]] for x in rows if x["score"] is not None],
             "series": [{"name": "本月", "values": [x["score"] for x in rows if x["score"] is not None]},
                        {"name": "上月", "values": [x["prev_score"] for x in rows
                                                   if x["score"] is not None]}]}
    return section(sid, f"{title}考评排名", cols, rows, chart=chart if rows else None)


def indicators(cur: dict, counts: tuple, title: str, sid: str) -> dict:
    """A board's indicator counts, in ranking order."""
    rows = []
    for key, r in sorted(cur.items(), key=lambda kv: (kv[1]["rank"] is None, kv[1]["rank"] or 0, kv[0])):
        row = {"key": key, "name": r["name"]}
        for c in counts:
            row[c] = r["counts"].get(c, 0)
        rows.append(row)
    return section(sid, title, [("key", "编码"), ("name", "名称"),
                                *[(c, COUNTS[c], "int") for c in counts]], rows)


def overall(sql: Sql, city: City, cur: tuple[date, date], prev: tuple[date, date],
            as_of: datetime | None) -> dict:
    """一: the district's counts and rates against the previous month."""
    totals = {k: scoreboard(sql, city, by="district", start=a, end=b, as_of=as_of)["rows"]
              for k, (a, b) in (("cur", cur), ("prev", prev))}

    def total(which, name):
        return sum(r["counts"].get(name, 0) for r in totals[which])

    def trate(which, rate):
        _, n, d = RATES[rate]
        den = total(which, d)
        return None if not den else total(which, n) / den

    summary = []
    for name in ("reported", "filed", "resolved", "overdue", "shelved", "due_closure", "closed",
                 "closed_on_time"):
        summary.append({"item": COUNTS[name], "cur": total("cur", name), "prev": total("prev", name),
                        "fmt": "int"})
    for rate in ("discovery_rate", "resolution_rate", "closure_rate", "on_time_closure_rate"):
        summary.append({"item": RATES[rate][0], "cur": trate("cur", rate), "prev": trate("prev", rate),
                        "fmt": "pct"})
    for s in summary:
        s["change"] = (None if s["cur"] is None or s["prev"] is None else s["cur"] - s["prev"])
    return section("summary", "一、总体情况（与上月对比）", [
        ("item", "指标"), ("cur", "本月", "auto"), ("prev", "上月", "auto"), ("change", "变化", "auto")],
        summary)


def trend(rows: list[dict], prows: list[dict], month: str, pm: str, start: date, end: date,
          pstart: date, pend: date) -> dict:
    """七: cases reported per day, this month against last, by week and as a line chart."""
    per_day, pper_day = Counter(r["day"] for r in rows), Counter(r["day"] for r in prows)
    ndays = max((end - start).days, (pend - pstart).days) + 1
    days = []
    for i in range(ndays):
        a, b = start + timedelta(days=i), pstart + timedelta(days=i)
        days.append({"day": i + 1, "cur": per_day.get(a.isoformat(), 0) if a <= end else None,
                     "prev": pper_day.get(b.isoformat(), 0) if b <= pend else None})
    buckets = []
    for k in range(0, ndays, 7):
        part = days[k:k + 7]
        buckets.append({"days": f"{k + 1}–{k + len(part)}日",
                        "cur": sum(t["cur"] or 0 for t in part),
                        "prev": sum(t["prev"] or 0 for t in part)})
    buckets.append({"days": "合计", "cur": len(rows), "prev": len(prows)})
    return section("trend", "七、上报趋势（本月与上月同期）", [
        ("days", "日期段"), ("cur", f"{month} 上报", "int"), ("prev", f"{pm} 上报", "int")], buckets,
        chart={"type": "line", "title": "每日上报案件数", "labels": [str(t["day"]) for t in days],
               "series": [{"name": f"{month}", "values": [t["cur"] for t in days]},
                          {"name": f"{pm}", "values": [t["prev"] for t in days]}]})


def hot_spots(city: City, rows: list[dict], prows: list[dict]) -> list[dict]:
    """八 and 九: the top 10 categories and the 10 hot-spot grid cells."""
    cats, pcats = Counter(r["category"] for r in rows), Counter(r["category"] for r in prows)
    top = [{"rank": i, "category": category(city, c), "n": n, "share": n / len(rows) if rows else None,
            "prev": pcats.get(c, 0)} for i, (c, n) in enumerate(cats.most_common(10), start=1)]
    cells, pcells = Counter(r["grid"] for r in rows), Counter(r["grid"] for r in prows)
    hot = []
    for i, (g, n) in enumerate(cells.most_common(10), start=1):
        cell = city.cells.get(g)
        mine = [r for r in rows if r["grid"] == g]
        hot.append({"rank": i, "grid": g, "community": area(city, cell.community if cell else None),
                    "n": n, "prev": pcells.get(g, 0),
                    "top_category": category(city, Counter(r["category"] for r in mine).most_common(1)[0][0])})
    return [
        section("top_categories", "八、高发问题类别（前10）", [
            ("rank", "序号", "int"), ("category", "类别"), ("n", "本月", "int"), ("share", "占比", "pct"),
            ("prev", "上月", "int")], top,
            chart={"type": "barh", "title": "高发问题类别", "labels": [t["category"] for t in top],
                   "series": [{"name": "本月", "values": [t["n"] for t in top]}]} if top else None),
        section("hot_cells", "九、热点网格（前10）", [
            ("rank", "序号", "int"), ("grid", "网格编码"), ("community", "社区"), ("n", "本月案件", "int"),
            ("prev", "上月", "int"), ("top_category", "主要类别")], hot),
    ]


def case_ledgers(sql: Sql, city: City, rows: list[dict], as_of: datetime | None) -> list[dict]:
    """十 and 十一: the month's overdue cases and every case shelved when the bulletin is made."""
    at = reported_at(sql, [r["case_id"] for r in rows])
    overdue = [r for r in rows if r["resolve_missed"] and not r["shelved"]]
    shelved = shelved_cases(sql, as_of)
    no = case_numbers(sql, [r["case_id"] for r in overdue] + [str(s[0]) for s in shelved])
    return [  # cases by their readable numbers (case_no); the rows keep the ids (case_id)
        section("overdue_ledger", "十、超期案件台账", [
            ("case_no", "案件编号"), ("reported_at", "上报时间"), ("category", "类别"),
            ("community", "社区"), ("unit", "责任单位"), ("state", "当前状态"), ("resolved", "是否已处置")],
            [{"case_id": r["case_id"], "case_no": no[r["case_id"]],
              "reported_at": local_format(at.get(r["case_id"]), city.tz),
              "category": category(city, r["category"]), "community": area(city, r["community"]),
              "unit": city.units[r["unit"]].short if r["unit"] in city.units else (r["unit"] or ""),
              "state": STATES.get(r["state"], {}).get("zh", r["state"]),
              "resolved": "已处置（超时）" if r["resolved"] else "未处置"} for r in overdue]),
        section("shelved_ledger", "十一、挂账案件台账（截至通报时）", [
            ("case_no", "案件编号"), ("reported_at", "上报时间"), ("category", "类别"),
            ("community", "社区"), ("unit", "责任单位"), ("since", "挂账时间")],
            [{"case_id": cid, "case_no": no[str(cid)], "reported_at": local_format(rep, city.tz),
              "category": category(city, cat),
              "community": area(city, city.cells[g].community if g in city.cells else None),
              "unit": city.units[u].short if u in city.units else (u or ""),
              "since": local_format(last, city.tz)} for cid, cat, g, u, rep, last in shelved]),
    ]


def patrol_misses(sql: Sql, city: City, start: date, end: date, now: datetime,
                  as_of: datetime | None) -> dict:
    """十二: missed and late nil reports, with the month's counts."""
    _, prow = patrol_section(sql, city, start, end, now, as_of)
    bad = [r for r in prow if r["status"] not in ("reported", "nil", "open") or r["flag"]]
    return section("patrol_misses", "十二、零报告未报、迟报情况", [
        ("day", "日期"), ("squad_name", "中队"), ("status_zh", "情况"), ("reported_at", "报告时间"),
        ("miss_recorded", "缺报事件"), ("flag", "核对")], bad,
        note=f"本月应报 {len(prow)} 次，按时 {sum(r['status'] in ('reported', 'nil') for r in prow)} 次，"
             f"迟报 {sum(r['status'].startswith('late') for r in prow)} 次，"
             f"未报 {sum(r['status'] == 'missed' for r in prow)} 次。")


def monthly(sql: Sql, city: City, month: str, now: datetime, policy: Policy, app=None,
            as_of: datetime | None = None) -> dict:
    """The bulletin; as_of: as it stood then (events recorded up to as_of; now defaults to it)."""
    try:
        start, end = month_bounds(month)
    except ValueError:
        raise ValidationError("month", f"'{month}' is not a month YYYY-MM") from None
    pm = previous_month(month)
    pstart, pend = month_bounds(pm)
    scored = policy.city_for_scoring(city)  # grades under the policy's scoring, if it has one
    doc = meta(city, "monthly", f"{start:%Y年%m月} 城市管理工作分析通报", start, end, now,
               publish_by=f"{end + timedelta(days=5)}", policy={"id": policy.id, "name": policy.name},
               previous_month=pm, as_of=local_format(as_of, city.tz) if as_of else None)
    sections = [overall(sql, scored, (start, end), (pstart, pend), as_of)]
    units = board(sql, scored, "unit", start, end, as_of)
    punits = board(sql, scored, "unit", pstart, pend, as_of)
    sections.append(ranking(city, "unit", units, punits, UNIT_RATES, "二、成员单位", "ranking"))
    sections.append(indicators(units, UNIT_TABLE_COUNTS, "三、成员单位指标明细", "unit_indicators"))
    comms = board(sql, scored, "community", start, end, as_of)
    pcomms = board(sql, scored, "community", pstart, pend, as_of)
    sections.append(ranking(city, "community", comms, pcomms, AREA_RATES, "四、社区（责任区）",
                            "area_ranking"))
    sections.append(indicators(comms, AREA_TABLE_COUNTS, "五、社区指标明细", "area_indicators"))
    squads = board(sql, scored, "squad", start, end, as_of)
    psquads = board(sql, scored, "squad", pstart, pend, as_of)
    sections.append(ranking(city, "squad", squads, psquads, AREA_RATES, "六、驻点中队",
                            "squad_ranking"))
    rows, prows = case_rows(sql, start, end, city, as_of), case_rows(sql, pstart, pend, city, as_of)
    sections.append(trend(rows, prows, month, pm, start, end, pstart, pend))
    sections += hot_spots(city, rows, prows)
    sections += case_ledgers(sql, city, rows, as_of)
    sections.append(patrol_misses(sql, city, start, end, now, as_of))
    led = ledger(sql, city, policy, start, end, now, app=app, as_of=as_of)
    ids = {i for ln in led["lines"] for i in ln["case_ids"]} | {p["case_id"] for p in led["pending"]}
    sections += ledger_sections(city, led, ("十三", "十四", "十五"),
                                titles={r.id: r.title for r in policy.rules},
                                case_no=case_numbers(sql, sorted(ids)))
    doc["ledger"] = led
    doc["sections"] = sections
    return doc


def shelved_cases(sql: Sql, as_of: datetime | None) -> list[tuple]:
    """Cases shelved now, or as recorded by as_of (their latest event then is in state shelved)."""
    if as_of is None:
        return sql.query("SELECT case_id, category, grid, unit, reported_at, last_at FROM cg_cases"
                         " WHERE state = 'shelved' ORDER BY reported_at, case_id")
    cutoff = ts(as_of)
    got = sql.query(
        "SELECT t.case_id, c.category, c.grid, t.held_by, c.reported_at, t.occurred_at"
        " FROM cg_trail t JOIN cg_cases c ON c.case_id = t.case_id WHERE t.state = 'shelved'"
        " AND t.recorded_at <= ? AND t.version = (SELECT MAX(v.version) FROM cg_trail v"
        " WHERE v.case_id = t.case_id AND v.recorded_at <= ?) ORDER BY c.reported_at, t.case_id",
        (cutoff, cutoff))
    return [(cid, cat, g, (held or "").partition(":")[2] or None, rep, at)
            for cid, cat, g, held, rep, at in got]
