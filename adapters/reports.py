"""Report documents (零报告、周小结、月通报): daily summary, weekly summary, monthly bulletin.

Each builder returns one plain document: a title, the period, and sections that are tables
(columns with a format, rows of plain values) with an optional chart spec. The renderers
(adapters/report_render.py) turn the same document into JSON, HTML, XLSX and PDF, so the
formats never disagree. Everything is read from the read models (cg_sb_case, cg_cases,
cg_trail, cg_patrol) and the scoreboards; the ledger is `domain.policy.evaluate`.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import date, datetime, time, timedelta

from domain.city import City
from domain.errors import ValidationError
from domain.glossary import CHANNEL_SHORT, PATROL_STATUS, STEP, WHO, zh, zh_of
from domain.indicators import COUNTS, RATES
from domain.lifecycle import STATES
from domain.policy import Policy, month_bounds
from domain.times import local_format, parse_week
from projections.ledger import ledger
from projections.patrol import patrol_days
from projections.ports import Sql
from projections.scoreboard import case_rows, scoreboard
from projections.times import from_ts, ts
from projections.trail import day_bounds
from workflows.patrol import patrol_rules

STATUS_ZH = zh_of(PATROL_STATUS) | {None: zh(PATROL_STATUS, "missed")}
CHANNEL_ZH = zh_of(CHANNEL_SHORT)
STEP_ZH = zh_of(STEP)
WHO_ZH = zh_of(WHO)


def section(sid: str, title: str, columns: list, rows: list[dict], *, note: str | None = None,
            chart: dict | None = None) -> dict:
    return {"id": sid, "title": title,
            "columns": [{"key": c[0], "label": c[1], "fmt": c[2] if len(c) > 2 else "text"}
                        for c in columns],
            "rows": rows, "note": note, "chart": chart}


def _local(t: datetime | None, city: City, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return local_format(t, city.tz, fmt)


def _cat(city: City, code: str) -> str:
    c = city.categories.get(code)
    return f"{code} {c.name}" if c else code


def _area(city: City, code: str | None) -> str:
    return city.areas.get(code, code or "") if code else ""


def _case_rows(sql: Sql, start: date, end: date, city: City | None = None,
               as_of: datetime | None = None) -> list[dict]:
    """The scoreboard's facts of each case reported in [start, end]; as_of: folded again
    from the events recorded by then."""
    return case_rows(sql, city, start, end, as_of)


def _reported_at(sql: Sql, ids: list[str]) -> dict[str, str]:
    out = {}
    for i in range(0, len(ids), 500):
        chunk = ids[i:i + 500]
        for cid, at in sql.query(
            f"SELECT case_id, reported_at FROM cg_cases WHERE case_id IN ({','.join('?' * len(chunk))})",
            chunk):
            out[cid] = at
    return out


def _board(sql: Sql, city: City, by: str, start: date, end: date,
           as_of: datetime | None = None) -> dict[str, dict]:
    return {r["key"]: r for r in scoreboard(sql, city, by=by, start=start, end=end,
                                            as_of=as_of)["rows"]}


def _meta(city: City, kind: str, title: str, start: date, end: date, now: datetime, **extra) -> dict:
    return {"kind": kind, "title": title, "city": city.name, "from": start.isoformat(),
            "to": end.isoformat(), "generated_at": _local(now, city, "%Y-%m-%d %H:%M"), **extra}


# ---------------------------------------------------------------- daily (零报告 / 日汇总)


def patrol_section(sql: Sql, city: City, start: date, end: date,
                   now: datetime | None = None, as_of: datetime | None = None) -> tuple[dict, list[dict]]:
    """Every squad and day with its report, nil report or missing report, and the patrol
    cases actually recorded in its area that day (a nil report beside them is flagged)."""
    rules = patrol_rules(city)
    got = {(r["squad"], r["day"]): r for r in patrol_days(sql, start, end, as_of)}
    found: dict[tuple[str, str], list[str]] = {}
    for row in _case_rows(sql, start, end, city, as_of):
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
                    "reported_at": _local(r["reported_at"], city) if r else "",
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
    doc = _meta(city, "daily", f"{day:%Y年%m月%d日} 控违巡查日汇总（零报告）", day, day, now,
                publish_by=f"{day + timedelta(days=1)} {patrol_rules(city).summary_by:%H:%M}")
    sections = []
    pat, _ = patrol_section(sql, city, day, day, now)
    sections.append(pat)
    rows = _case_rows(sql, day, day)
    at = _reported_at(sql, [r["case_id"] for r in rows])
    sections.append(section("new", "当日新增案件", [
        ("case_id", "案件编号"), ("reported_at", "上报时间"), ("category", "类别"),
        ("community", "社区"), ("grid", "网格"), ("channel", "来源"), ("state", "当前状态")],
        [{"case_id": r["case_id"], "reported_at": _local(from_ts(at.get(r["case_id"])), city),
          "category": _cat(city, r["category"]), "community": _area(city, r["community"]),
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
          "due_at": _local(from_ts(due), city), "holder": _holder(city, holder),
          "category": _cat(city, cat), "state": STATES.get(st, {}).get("zh", st)}
         for cid, due, holder, det, cat, _grid, st in miss]))
    urged = sql.query(
        "SELECT t.case_id, t.occurred_at, t.actor, t.reason, t.held_by, c.category FROM cg_trail t"
        " JOIN cg_cases c ON c.case_id = t.case_id WHERE t.type = 'Urged' AND t.occurred_at >= ?"
        " AND t.occurred_at < ? ORDER BY t.occurred_at", (lo, hi))
    sections.append(section("urged", "当日督办案件", [
        ("case_id", "案件编号"), ("at", "督办时间"), ("actor", "督办人"), ("holder", "被督办"),
        ("category", "类别"), ("reason", "督办意见")],
        [{"case_id": cid, "at": _local(from_ts(t), city),
          "actor": city.users[a].name if a in city.users else a, "holder": _holder(city, h),
          "category": _cat(city, cat), "reason": reason or ""}
         for cid, t, a, reason, h, cat in urged]))
    doc["sections"] = sections
    return doc


def _holder(city: City, held: str | None) -> str:
    if not held:
        return ""
    kind, _, who = held.partition(":")
    if kind == "unit":
        u = city.units.get(who)
        return u.short if u else who
    return {"acceptor": "受理员", "dispatcher": "派遣员", "supervisor": "监督员",
            "duty_chief": "值班长"}.get(who, who)


# ---------------------------------------------------------------- weekly (周小结)


def week_bounds(week: str) -> tuple[date, date]:
    """'2026-W43' (ISO week) → Monday..Sunday, bounded (domain.times)."""
    return parse_week(week, "week")


WEEK_COUNTS = (("reported", "发现"), ("filed", "立案"), ("resolved", "处置"), ("overdue", "超期"))


def _compare_rows(city: City, by: str, now_b: dict, prev_b: dict, names: dict) -> list[dict]:
    rows = []
    for key in sorted(set(now_b) | set(prev_b)):
        r = {"key": key, "name": names.get(key) or (now_b.get(key) or prev_b.get(key))["name"]}
        for c, _ in WEEK_COUNTS:
            r[c] = (now_b.get(key) or {}).get("counts", {}).get(c, 0)
            r[f"{c}_prev"] = (prev_b.get(key) or {}).get("counts", {}).get(c, 0)
        rows.append(r)
    return rows


def weekly(sql: Sql, city: City, week: str, now: datetime) -> dict:
    start, end = week_bounds(week)
    pstart, pend = start - timedelta(days=7), end - timedelta(days=7)
    doc = _meta(city, "weekly", f"{week} 周小结（{start} 至 {end}）", start, end, now,
                previous={"from": pstart.isoformat(), "to": pend.isoformat()},
                publish_by=f"{end + timedelta(days=1)}（周一）")
    cols = [("name", "名称")]
    for c, name in WEEK_COUNTS:
        cols += [(c, f"{name}", "int"), (f"{c}_prev", f"上周{name}", "int")]
    sections = []
    for by, title in (("street", "各镇/街道"), ("community", "各社区"), ("unit", "各成员单位")):
        b, p = _board(sql, city, by, start, end), _board(sql, city, by, pstart, pend)
        rows = _compare_rows(city, by, b, p, {})
        chart = {"type": "bar", "title": f"{title}发现与处置（本周 vs 上周）",
                 "labels": [city.units[r["key"]].short if by == "unit" and r["key"] in city.units
                            else r["name"] for r in rows],
                 "series": [{"name": "本周发现", "values": [r["reported"] for r in rows]},
                            {"name": "上周发现", "values": [r["reported_prev"] for r in rows]},
                            {"name": "本周处置", "values": [r["resolved"] for r in rows]}]}
        sections.append(section(f"by_{by}", f"{title}案件情况（与上周对比）", cols, rows,
                                chart=chart if by != "street" and rows else None))
    pat, prow = patrol_section(sql, city, start, end, now)
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


# ---------------------------------------------------------------- monthly (月通报)


UNIT_RATES = ("resolution_rate", "on_time_resolution_rate", "rework_rate", "overdue_rate",
              "extension_rate", "closure_rate")
AREA_RATES = ("discovery_rate", "resolution_rate", "rectification_rate", "closure_rate",
              "on_time_closure_rate")
UNIT_TABLE_COUNTS = ("dispatched", "due", "resolved", "on_time", "overdue", "overdue_open", "reworked",
               "extended", "shelved", "due_closure", "closed", "closed_on_time", "returned")
AREA_TABLE_COUNTS = ("reported", "filed", "patrol_filed", "others_filed", "due", "resolved",
               "due_closure", "closed")


def previous_month(month: str) -> str:
    first = date.fromisoformat(f"{month}-01")
    prev = first - timedelta(days=1)
    return f"{prev:%Y-%m}"


def _ranking(city: City, by: str, cur: dict, prev: dict, rates: tuple, title: str, sid: str) -> dict:
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


def _indicators(cur: dict, counts: tuple, title: str, sid: str) -> dict:
    rows = []
    for key, r in sorted(cur.items(), key=lambda kv: (kv[1]["rank"] is None, kv[1]["rank"] or 0, kv[0])):
        row = {"key": key, "name": r["name"]}
        for c in counts:
            row[c] = r["counts"].get(c, 0)
        rows.append(row)
    return section(sid, title, [("key", "编码"), ("name", "名称"),
                                *[(c, COUNTS[c], "int") for c in counts]], rows)


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
    doc = _meta(city, "monthly", f"{start:%Y年%m月} 城市管理工作分析通报", start, end, now,
                publish_by=f"{end + timedelta(days=5)}", policy={"id": policy.id, "name": policy.name},
                previous_month=pm, as_of=_local(as_of, city) if as_of else None)
    sections = []
    totals = {k: scoreboard(sql, scored, by="district", start=a, end=b, as_of=as_of)["rows"]
              for k, (a, b) in (("cur", (start, end)), ("prev", (pstart, pend)))}

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
    sections.append(section("summary", "一、总体情况（与上月对比）", [
        ("item", "指标"), ("cur", "本月", "auto"), ("prev", "上月", "auto"), ("change", "变化", "auto")],
        summary))
    units = _board(sql, scored, "unit", start, end, as_of)
    punits = _board(sql, scored, "unit", pstart, pend, as_of)
    sections.append(_ranking(city, "unit", units, punits, UNIT_RATES, "二、成员单位", "ranking"))
    sections.append(_indicators(units, UNIT_TABLE_COUNTS, "三、成员单位指标明细", "unit_indicators"))
    comms = _board(sql, scored, "community", start, end, as_of)
    pcomms = _board(sql, scored, "community", pstart, pend, as_of)
    sections.append(_ranking(city, "community", comms, pcomms, AREA_RATES, "四、社区（责任区）",
                             "area_ranking"))
    sections.append(_indicators(comms, AREA_TABLE_COUNTS, "五、社区指标明细", "area_indicators"))
    squads = _board(sql, scored, "squad", start, end, as_of)
    psquads = _board(sql, scored, "squad", pstart, pend, as_of)
    sections.append(_ranking(city, "squad", squads, psquads, AREA_RATES, "六、驻点中队",
                             "squad_ranking"))
    rows, prows = _case_rows(sql, start, end, city, as_of), _case_rows(sql, pstart, pend, city, as_of)
    # trend: cases reported per day, this month against last
    per_day, pper_day = Counter(r["day"] for r in rows), Counter(r["day"] for r in prows)
    ndays = max((end - start).days, (pend - pstart).days) + 1
    trend = []
    for i in range(ndays):
        a, b = start + timedelta(days=i), pstart + timedelta(days=i)
        trend.append({"day": i + 1, "cur": per_day.get(a.isoformat(), 0) if a <= end else None,
                      "prev": pper_day.get(b.isoformat(), 0) if b <= pend else None})
    buckets = []
    for k in range(0, ndays, 7):
        part = trend[k:k + 7]
        buckets.append({"days": f"{k + 1}–{k + len(part)}日",
                        "cur": sum(t["cur"] or 0 for t in part),
                        "prev": sum(t["prev"] or 0 for t in part)})
    buckets.append({"days": "合计", "cur": len(rows), "prev": len(prows)})
    sections.append(section("trend", "七、上报趋势（本月与上月同期）", [
        ("days", "日期段"), ("cur", f"{month} 上报", "int"), ("prev", f"{pm} 上报", "int")], buckets,
        chart={"type": "line", "title": "每日上报案件数", "labels": [str(t["day"]) for t in trend],
               "series": [{"name": f"{month}", "values": [t["cur"] for t in trend]},
                          {"name": f"{pm}", "values": [t["prev"] for t in trend]}]}))
    cats, pcats = Counter(r["category"] for r in rows), Counter(r["category"] for r in prows)
    top = [{"rank": i, "category": _cat(city, c), "n": n, "share": n / len(rows) if rows else None,
            "prev": pcats.get(c, 0)} for i, (c, n) in enumerate(cats.most_common(10), start=1)]
    sections.append(section("top_categories", "八、高发问题类别（前10）", [
        ("rank", "序号", "int"), ("category", "类别"), ("n", "本月", "int"), ("share", "占比", "pct"),
        ("prev", "上月", "int")], top,
        chart={"type": "barh", "title": "高发问题类别", "labels": [t["category"] for t in top],
               "series": [{"name": "本月", "values": [t["n"] for t in top]}]} if top else None))
    cells, pcells = Counter(r["grid"] for r in rows), Counter(r["grid"] for r in prows)
    hot = []
    for i, (g, n) in enumerate(cells.most_common(10), start=1):
        cell = city.cells.get(g)
        mine = [r for r in rows if r["grid"] == g]
        hot.append({"rank": i, "grid": g, "community": _area(city, cell.community if cell else None),
                    "n": n, "prev": pcells.get(g, 0),
                    "top_category": _cat(city, Counter(r["category"] for r in mine).most_common(1)[0][0])})
    sections.append(section("hot_cells", "九、热点网格（前10）", [
        ("rank", "序号", "int"), ("grid", "网格编码"), ("community", "社区"), ("n", "本月案件", "int"),
        ("prev", "上月", "int"), ("top_category", "主要类别")], hot))
    at = _reported_at(sql, [r["case_id"] for r in rows])
    overdue = [r for r in rows if r["resolve_missed"] and not r["shelved"]]
    sections.append(section("overdue_ledger", "十、超期案件台账", [
        ("case_id", "案件编号"), ("reported_at", "上报时间"), ("category", "类别"),
        ("community", "社区"), ("unit", "责任单位"), ("state", "当前状态"), ("resolved", "是否已处置")],
        [{"case_id": r["case_id"], "reported_at": _local(from_ts(at.get(r["case_id"])), city),
          "category": _cat(city, r["category"]), "community": _area(city, r["community"]),
          "unit": city.units[r["unit"]].short if r["unit"] in city.units else (r["unit"] or ""),
          "state": STATES.get(r["state"], {}).get("zh", r["state"]),
          "resolved": "已处置（超时）" if r["resolved"] else "未处置"} for r in overdue]))
    shelved = _shelved(sql, as_of)
    sections.append(section("shelved_ledger", "十一、挂账案件台账（截至通报时）", [
        ("case_id", "案件编号"), ("reported_at", "上报时间"), ("category", "类别"),
        ("community", "社区"), ("unit", "责任单位"), ("since", "挂账时间")],
        [{"case_id": cid, "reported_at": _local(from_ts(rep), city), "category": _cat(city, cat),
          "community": _area(city, city.cells[g].community if g in city.cells else None),
          "unit": city.units[u].short if u in city.units else (u or ""),
          "since": _local(from_ts(last), city)} for cid, cat, g, u, rep, last in shelved]))
    _, prow = patrol_section(sql, city, start, end, now, as_of)
    bad = [r for r in prow if r["status"] not in ("reported", "nil", "open") or r["flag"]]
    sections.append(section("patrol_misses", "十二、零报告未报、迟报情况", [
        ("day", "日期"), ("squad_name", "中队"), ("status_zh", "情况"), ("reported_at", "报告时间"),
        ("miss_recorded", "缺报事件"), ("flag", "核对")], bad,
        note=f"本月应报 {len(prow)} 次，按时 {sum(r['status'] in ('reported', 'nil') for r in prow)} 次，"
             f"迟报 {sum(r['status'].startswith('late') for r in prow)} 次，"
             f"未报 {sum(r['status'] == 'missed' for r in prow)} 次。"))
    led = ledger(sql, city, policy, start, end, now, app=app, as_of=as_of)
    sections += ledger_sections(city, led, ("十三", "十四", "十五"))
    doc["ledger"] = led
    doc["sections"] = sections
    return doc


def _shelved(sql: Sql, as_of: datetime | None) -> list[tuple]:
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


def ledger_sections(city: City, led: dict, numbers: tuple = ("", "", "")) -> list[dict]:
    lines = [{**ln, "who_kind_zh": WHO_ZH.get(ln["who_kind"], ln["who_kind"]),
              "case_ids": " ".join(ln["case_ids"]), "n_cases": len(ln["case_ids"])}
             for ln in led["lines"]]
    totals = [{**t, "who_kind_zh": WHO_ZH.get(t["who_kind"], t["who_kind"]),
               "rules": " ".join(t["rules"]), "n_cases": len(t["case_ids"])} for t in led["totals"]]
    pre = [f"{n}、" if n else "" for n in numbers]
    out = [
        section("ledger_totals", f"{pre[0]}奖惩汇总（政策 {led['policy']['id']}）", [
            ("who_kind_zh", "对象类别"), ("who_name", "对象"), ("reward", "奖励（元）", "yuan"),
            ("deduction", "扣减（元）", "yuan"), ("net", "合计（元）", "yuan"), ("rules", "规则"),
            ("n_cases", "涉及案件数", "int")], totals,
            note=f"奖励合计 {led['reward_total']:,} 元，扣减合计 {-led['deduction_total']:,} 元，"
                 f"净额 {led['reward_total'] + led['deduction_total']:,} 元。金额为正是奖励，为负是扣减；"
                 "每笔的规则、出处与案件见下表。"),
        section("ledger", f"{pre[1]}奖惩明细（每笔金额的规则与案件）", [
            ("rule_id", "规则"), ("source", "出处"), ("who_kind_zh", "对象类别"), ("who_name", "对象"),
            ("amount", "金额（元）", "yuan"), ("explanation", "依据说明"), ("case_ids", "案件编号")],
            lines),
    ]
    if led["pending"]:
        out.append(section("ledger_pending", f"{pre[2]}尚在时限内、暂未计入的案件", [
            ("rule_id", "规则"), ("case_id", "案件编号"), ("explanation", "说明")], led["pending"]))
    return out


# ---------------------------------------------------------------- what-if (compare)


def compare(sql: Sql, city: City, month: str, now: datetime, base: Policy, other: Policy,
            app=None, as_of: datetime | None = None) -> dict:
    """The month's grades and ledger under two policies, and what changes. Writes nothing."""
    start, end = month_bounds(month)
    doc = _meta(city, "compare", f"{start:%Y年%m月} 奖惩政策对比：{base.id} → {other.id}", start, end,
                now, base={"id": base.id, "name": base.name}, other={"id": other.id, "name": other.name})
    sections = []
    for by, title in (("unit", "成员单位"), ("community", "社区"), ("squad", "驻点中队")):
        a = _board(sql, base.city_for_scoring(city), by, start, end, as_of)
        b = _board(sql, other.city_for_scoring(city), by, start, end, as_of)
        rows = []
        for key in sorted(set(a) | set(b)):
            ra, rb = a.get(key) or {}, b.get(key) or {}
            rows.append({"name": (ra or rb)["name"], "score_a": ra.get("score"), "grade_a": ra.get("grade"),
                         "rank_a": ra.get("rank"), "score_b": rb.get("score"), "grade_b": rb.get("grade"),
                         "rank_b": rb.get("rank"),
                         "changed": "是" if (ra.get("grade"), ra.get("rank")) != (rb.get("grade"), rb.get("rank"))
                         or ra.get("score") != rb.get("score") else ""})
        sections.append(section(f"grades_{by}", f"{title}得分与等次", [
            ("name", "名称"), ("score_a", f"得分（{base.id}）", "score"), ("grade_a", "等次"),
            ("rank_a", "名次", "int"), ("score_b", f"得分（{other.id}）", "score"), ("grade_b", "等次"),
            ("rank_b", "名次", "int"), ("changed", "有变化")], rows))
    la = ledger(sql, city, base, start, end, now, app=app, as_of=as_of)
    lb = ledger(sql, city, other, start, end, now, app=app, as_of=as_of)
    ta = {(t["who_kind"], t["who"]): t for t in la["totals"]}
    tb = {(t["who_kind"], t["who"]): t for t in lb["totals"]}
    rows = []
    for k in sorted(set(ta) | set(tb)):
        a, b = ta.get(k, {}).get("net", 0), tb.get(k, {}).get("net", 0)
        rows.append({"who_kind_zh": WHO_ZH.get(k[0], k[0]),
                     "who_name": (ta.get(k) or tb.get(k))["who_name"], "net_a": a, "net_b": b,
                     "diff": b - a})
    rows.append({"who_kind_zh": "合计", "who_name": "", "net_a": sum(r["net_a"] for r in rows),
                 "net_b": sum(r["net_b"] for r in rows), "diff": sum(r["diff"] for r in rows)})
    sections.append(section("ledger_diff", "奖惩金额对比（元）", [
        ("who_kind_zh", "对象类别"), ("who_name", "对象"), ("net_a", base.id, "yuan"),
        ("net_b", other.id, "yuan"), ("diff", "差额", "yuan")], rows))
    key = lambda ln: (ln["rule_id"], ln["who_kind"], ln["who"], tuple(ln["case_ids"]))  # noqa: E731
    ka, kb = Counter(key(ln) for ln in la["lines"]), Counter(key(ln) for ln in lb["lines"])
    amt_a = {key(ln): ln["amount"] for ln in la["lines"]}
    amt_b = {key(ln): ln["amount"] for ln in lb["lines"]}
    changes = []
    for k in sorted(set(ka) | set(kb)):
        if amt_a.get(k) == amt_b.get(k):
            continue
        changes.append({"rule_id": k[0], "who": k[2], "case_ids": " ".join(k[3]),
                        "amount_a": amt_a.get(k), "amount_b": amt_b.get(k)})
    sections.append(section("line_changes", "变化的奖惩明细", [
        ("rule_id", "规则"), ("who", "对象"), ("amount_a", base.id, "yuan"),
        ("amount_b", other.id, "yuan"), ("case_ids", "案件编号")], changes))
    doc["ledgers"] = {"base": la, "other": lb}
    doc["sections"] = sections
    return doc


def day_end(d: date, city: City) -> datetime:
    return datetime.combine(d + timedelta(days=1), time(0), city.tz)


__all__ = ["compare", "daily", "monthly", "weekly", "week_bounds", "ts"]
