"""Rewards and penalties (奖惩) as configurable policy rules, evaluated as a pure function.

A policy is data (YAML: `adapters/cities/sample-policy.yaml`, or `--policy FILE`, validated
by adapters/config/policy_file.py): rules with an id, the document they come from, a kind
implemented here and its parameters.
`evaluate(policy, inputs)` reads facts about cases (built from the read models by
projections/ledger.py) and returns ledger lines; it stores nothing, so a what-if under
another policy is the same call with another Policy. Amounts are whole yuan: positive
is a reward (奖励), negative a deduction (扣减). docs/reports.md defines every rule.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime

from domain.calendar import month_range
from domain.city import City
from domain.glossary import CHANNEL_SHORT, WHO, zh, zh_of

KINDS = ("illegal_construction_24h", "citizen_report_reward", "collector_entries",
         "no_major_incident_year", "grade_award", "joint")
KIND_ZH = {
    "illegal_construction_24h": "违法建设24小时发现处置",
    "citizen_report_reward": "群众举报查实奖励",
    "collector_entries": "信息采集奖惩",
    "no_major_incident_year": "全年无重大案件奖励",
    "grade_award": "考评等次奖惩",
    "joint": "同奖同罚",
}
WHO_ZH = zh_of(WHO)
HANDLED_EVENTS = ("Dispatched", "Resolved", "Checked", "Closed")
CHANNELS = ("patrol", "citizen", "hotline", "camera", "inspection", "unit")
GRADE_DIMS = ("unit", "community", "street", "squad")


# ---------------------------------------------------------------- the policy


@dataclass(frozen=True)
class Rule:
    id: str
    source: str  # the document and article it comes from
    kind: str
    title: str
    params: dict


@dataclass(frozen=True)
class Policy:
    id: str
    name: str
    rules: tuple[Rule, ...]
    officers: dict[str, str] = field(default_factory=dict)  # cell/community prefix -> user id
    scoring: tuple | None = None  # (bands, weights) overriding the city's, if the policy has them
    path: str | None = None

    def city_for_scoring(self, city: City) -> City:
        """The city with this policy's grade bands and weights (what-if on grades)."""
        if not self.scoring:
            return city
        key = (id(city), repr(self.scoring))
        got = _SCORED.get(key)
        if got is None or got[0] is not city:
            bands, weights = self.scoring
            got = _SCORED[key] = (city, replace(city, bands=bands, weights=weights))
        return got[1]


_SCORED: dict[tuple, tuple[City, City]] = {}  # one scoring variant per city and policy scoring


# ---------------------------------------------------------------- facts


@dataclass
class CaseFact:
    """What the ledger needs of one case, folded from its events."""

    case_id: str
    reported_at: datetime
    day: date  # city day of the report (the case's cohort)
    channel: str
    category: str
    grid: str
    community: str | None
    street: str | None
    squad: str | None
    reporter: str
    reporter_role: str
    urgency: str = "normal"
    external_id: str | None = None
    description: str = ""
    confirmed: bool | None = None  # 核实 outcome of a public report
    filed: bool = False
    voided: bool = False
    unit: str | None = None
    first: dict[str, datetime] = field(default_factory=dict)  # event type -> first occurred_at
    reasons: list[str] = field(default_factory=list)


@dataclass
class Inputs:
    city: City
    start: date
    end: date
    now: datetime  # evaluation time: windows not yet over are pending
    cases: list[CaseFact]  # the period's cohort (reported in [start, end])
    year_cases: list[CaseFact] | None = None  # the 12 months ending at `end` (annual rules)
    boards: dict[str, list[dict]] = field(default_factory=dict)  # by -> scoreboard rows


@dataclass
class Line:
    rule_id: str
    source: str
    kind: str
    who_kind: str  # community | street | squad | person | citizen | unit
    who: str
    who_name: str
    amount: int  # yuan; + reward, − deduction
    case_ids: list[str]
    explanation: str

    def as_dict(self) -> dict:
        return {"rule_id": self.rule_id, "source": self.source, "kind": self.kind,
                "who_kind": self.who_kind, "who": self.who, "who_name": self.who_name,
                "amount": self.amount, "case_ids": list(self.case_ids),
                "explanation": self.explanation}


# ---------------------------------------------------------------- evaluation


def _cat_match(cats: list[str], code: str) -> bool:
    return any(c == "*" or code.startswith(c) for c in cats)


def _short(cid: str) -> str:
    return cid[:8]


def officer_of(policy: Policy, city: City, grid: str) -> tuple[str, str, str]:
    """(who_kind, who, name) responsible for a cell: the policy's officers (longest code
    prefix), else the squad's only supervisor, else the squad itself."""
    best = max((k for k in policy.officers if grid.startswith(k)), key=len, default=None)
    if best is not None:
        uid = policy.officers[best]
        return "person", uid, city.users[uid].name
    cell = city.cells.get(grid)
    squad = cell.squad if cell else None
    sups = [u for u in city.users.values() if u.role == "supervisor" and u.squad and u.squad == squad]
    if len(sups) == 1:
        return "person", sups[0].id, sups[0].name
    if squad:
        return "squad", squad, city.squads.get(squad, squad) + "（未指定分片专管员）"
    return "squad", "-", "（网格无责任中队）"


def _name(city: City, kind: str, key: str) -> str:
    if kind in ("community", "street"):
        return city.areas.get(key, key)
    if kind == "squad":
        return city.squads.get(key, key)
    if kind == "unit":
        u = city.units.get(key)
        return u.name if u else key
    if kind == "person":
        u = city.users.get(key)
        return u.name if u else key
    return key


def _elapsed(city: City, a: datetime, b: datetime, clock: str) -> float:
    if clock == "working":
        return city.calendar.between(a, b)
    return (b - a).total_seconds() / 60


def _fmt_minutes(m: float, clock: str) -> str:
    h = m / 60
    return f"{h:.2f} {'工作小时' if clock == 'working' else '小时'}"


def _start_month(fact: CaseFact, marker: str) -> date | None:
    """The construction's start recorded as '<marker>:YYYY-MM-DD' (description or a reason)."""
    pat = re.compile(re.escape(marker) + r"\s*[:：]\s*(\d{4}-\d{2}-\d{2})")
    for text in [fact.description, *fact.reasons]:
        m = pat.search(text or "")
        if m:
            try:
                return date.fromisoformat(m.group(1))
            except ValueError:
                return None
    return None


def _illegal_construction(rule: Rule, policy: Policy, inp: Inputs, pending: list,
                          lines: list[Line]) -> list[Line]:
    p, city, out = rule.params, inp.city, []
    for f in inp.cases:
        if not _cat_match(p["categories"], f.category) or not f.filed or f.voided:
            continue
        why, factor = None, 1
        if f.channel in p["others_channels"]:
            why = f"由{_channel_zh(f.channel)}发现（{f.reported_at.astimezone(city.tz):%m-%d %H:%M}），未被责任区巡查及时发现"
            start = _start_month(f, p["start_marker"])
            if start and (start.year, start.month) < (f.day.year, f.day.month):
                factor = p["next_month_factor"]
                why += f"；{p['start_marker']} {start}，当月未发现、次月才被发现，{factor}倍扣减"
        elif f.channel in p["own_channels"]:
            handled = f.first.get(p["handled_by"])
            limit = p["window_minutes"]
            if handled is not None:
                took = _elapsed(city, f.reported_at, handled, p["clock"])
                if took <= limit:
                    continue
                why = (f"巡查上报后 {_fmt_minutes(took, p['clock'])} 才{_HANDLED_ZH[p['handled_by']]}，"
                       f"超过 {_fmt_minutes(limit, p['clock'])}")
            else:
                took = _elapsed(city, f.reported_at, inp.now, p["clock"])
                if took <= limit:
                    pending.append({"rule_id": rule.id, "case_id": f.case_id,
                                    "explanation": f"巡查上报 {_fmt_minutes(took, p['clock'])}，"
                                    f"尚在 {_fmt_minutes(limit, p['clock'])} 时限内，未处置"})
                    continue
                why = f"巡查上报后超过 {_fmt_minutes(limit, p['clock'])} 仍未{_HANDLED_ZH[p['handled_by']]}"
        else:
            continue
        where = f"{_name(city, 'community', f.community or '')} 网格 {f.grid}"
        if f.community and p["community_amount"]:
            amt = -int(round(p["community_amount"] * factor))
            out.append(Line(rule.id, rule.source, rule.kind, "community", f.community,
                            _name(city, "community", f.community), amt, [f.case_id],
                            f"违法建设 {f.category} {where}：{why}；扣减社区补助经费 {-amt} 元"))
        if p["person_amount"]:
            kind, who, name = officer_of(policy, city, f.grid)
            amt = -int(round(p["person_amount"] * factor))
            out.append(Line(rule.id, rule.source, rule.kind, kind, who, name, amt, [f.case_id],
                            f"违法建设 {f.category} {where}：{why}；扣减驻点中队直接责任人绩效 {-amt} 元"))
    return out


_HANDLED_ZH = {"Dispatched": "派遣处置", "Resolved": "处置", "Checked": "核查", "Closed": "结案"}
def _channel_zh(ch: str) -> str:
    return zh(CHANNEL_SHORT, ch)


def _citizen_reward(rule: Rule, policy: Policy, inp: Inputs, pending: list,
                    lines: list[Line]) -> list[Line]:
    p, city, out = rule.params, inp.city, []
    done = {c for ln in lines if ln.kind == "citizen_report_reward" for c in ln.case_ids}
    for f in inp.cases:
        if f.channel not in p["channels"] or not _cat_match(p["categories"], f.category):
            continue
        if not f.confirmed or not f.filed or f.voided or f.case_id in done:
            continue  # one reward per report: the first citizen_report_reward rule that matches
        amount, basis = p["default_amount"], "默认标准"
        for a in p["amounts"]:
            cat, area, urg = str(a.get("category", "*")), str(a.get("area", "*")), str(a.get("urgency", "*"))
            if (_cat_match([cat], f.category) and (area == "*" or f.grid.startswith(area))
                    and urg in ("*", f.urgency)):
                amount = a["amount"]
                basis = f"{cat} / {city.areas.get(area, area) if area != '*' else '全域'} / {urg}"
                break
        who = f.external_id or f.case_id
        out.append(Line(rule.id, rule.source, rule.kind, "citizen", who,
                        f"举报人（{_channel_zh(f.channel)} {f.external_id or _short(f.case_id)}）",
                        amount, [f.case_id],
                        f"举报 {f.category} {city.categories[f.category].name if f.category in city.categories else ''}"
                        f"，经核实属实并立案；按 {basis} 奖励 {amount} 元"))
    return out


def _collectors(rule: Rule, policy: Policy, inp: Inputs, pending: list,
                lines: list[Line]) -> list[Line]:
    p, city = rule.params, inp.city
    entries: dict[str, list[str]] = {}
    wrong: dict[str, list[str]] = {}
    missed: dict[tuple[str, str], list[str]] = {}
    for f in inp.cases:
        if not _cat_match(p["categories"], f.category):
            continue
        if f.channel in p["own_channels"] and f.reporter_role == "supervisor":
            entries.setdefault(f.reporter, []).append(f.case_id)
            if f.voided:
                wrong.setdefault(f.reporter, []).append(f.case_id)
        elif f.channel in p["others_channels"] and f.filed and not f.voided:
            kind, who, _ = officer_of(policy, city, f.grid)
            missed.setdefault((kind, who), []).append(f.case_id)
    out = []
    for uid, ids in sorted(entries.items()):
        n = len(ids)
        if p["per_entry"]:
            out.append(Line(rule.id, rule.source, rule.kind, "person", uid, _name(city, "person", uid),
                            n * p["per_entry"], sorted(ids),
                            f"采集录入 {n} 条 × {p['per_entry']} 元"))
        bad = wrong.get(uid, [])
        if bad and p["wrong_entry"]:
            out.append(Line(rule.id, rule.source, rule.kind, "person", uid, _name(city, "person", uid),
                            -len(bad) * p["wrong_entry"], sorted(bad),
                            f"有误信息（不予立案/作废）{len(bad)} 条 × {p['wrong_entry']} 元"))
    for (kind, who), ids in sorted(missed.items()):
        if p["missed_entry"]:
            out.append(Line(rule.id, rule.source, rule.kind, kind, who, _name(city, kind, who),
                            -len(ids) * p["missed_entry"], sorted(ids),
                            f"漏采（由他人先发现并立案）{len(ids)} 条 × {p['missed_entry']} 元"))
    return out


def _no_major_year(rule: Rule, policy: Policy, inp: Inputs, pending: list,
                   lines: list[Line]) -> list[Line]:
    p, city = rule.params, inp.city
    if p["month"] != "*" and inp.end.month != p["month"]:
        return []
    year = inp.year_cases if inp.year_cases is not None else inp.cases
    first_day = year_start(inp.end)
    out = []
    for squad, sname in city.squads.items():
        area = [f for f in year if f.squad == squad and f.filed and not f.voided]
        major = [f for f in area if _cat_match(p["major_categories"], f.category)
                 and p["major_urgency"] in ("*", f.urgency)]
        if major:
            continue
        what = (f"{first_day}—{inp.end} 责任区立案 {len(area)} 件，无重大案件"
                f"（{'/'.join(p['major_categories'])}{'' if p['major_urgency'] == '*' else ' ' + p['major_urgency']}）")
        if p["unit_amount"]:
            out.append(Line(rule.id, rule.source, rule.kind, "squad", squad, sname, p["unit_amount"],
                            [], f"{what}；奖励责任部门 {p['unit_amount']} 元"))
        if p["person_amount"]:
            people = sorted({officer_of(policy, city, f_grid)[1] for f_grid in city.cells
                             if city.cells[f_grid].squad == squad
                             and officer_of(policy, city, f_grid)[0] == "person"})
            for uid in people:
                out.append(Line(rule.id, rule.source, rule.kind, "person", uid,
                                _name(city, "person", uid), p["person_amount"], [],
                                f"{what}；奖励责任人 {p['person_amount']} 元"))
    return out


def year_start(end: date) -> date:
    y, m = (end.year, end.month + 1) if end.month < 12 else (end.year + 1, 1)
    return date(y - 1, m, 1)


def _grade_award(rule: Rule, policy: Policy, inp: Inputs, pending: list,
                 lines: list[Line]) -> list[Line]:
    p, city = rule.params, inp.city
    out = []
    for row in inp.boards.get(p["by"], []):
        g = row.get("grade")
        amount = p["amounts"].get(g) if g else None
        if not amount:
            continue
        key = row["key"]
        ids = sorted(f.case_id for f in inp.cases if (f.unit if p["by"] == "unit" else getattr(f, p["by"])) == key)
        out.append(Line(rule.id, rule.source, rule.kind, p["by"], key, _name(city, p["by"], key),
                        int(amount), ids,
                        f"月度考评 {row.get('score')} 分，等次 {g}（第 {row.get('rank')} 名）；"
                        f"{'奖励' if amount > 0 else '扣减'} {abs(amount)} 元"))
    return out


def _joint(rule: Rule, policy: Policy, inp: Inputs, lines: list[Line]) -> list[Line]:
    p, city = rule.params, inp.city
    out = []
    for base in lines:
        if base.rule_id not in p["applies_to"] or base.who_kind != "community":
            continue
        street = base.who[:9]
        squad = next((c.squad for c in city.cells.values() if c.community == base.who), None)
        for party, spec in p["parties"].items():
            who = street if party == "street" else squad
            if not who:
                continue
            sign = 1 if base.amount > 0 else -1
            amt = sign * int(spec["amount"]) if "amount" in spec else int(round(base.amount * spec["factor"]))
            if not amt:
                continue
            out.append(Line(rule.id, rule.source, rule.kind, party, who, _name(city, party, who), amt,
                            list(base.case_ids),
                            f"同奖同罚：随 {base.rule_id} 对{base.who_name} {base.amount:+d} 元，"
                            f"{WHO_ZH[party]}{'奖励' if amt > 0 else '扣减'} {abs(amt)} 元"))
    return out


EVALUATORS: dict[str, Callable] = {
    "illegal_construction_24h": _illegal_construction,
    "citizen_report_reward": _citizen_reward,
    "collector_entries": _collectors,
    "no_major_incident_year": _no_major_year,
    "grade_award": _grade_award,
}


def evaluate(policy: Policy, inp: Inputs) -> dict:
    """The period's ledger: lines (each with its rule, source and cases), pending windows,
    and totals per party. Pure: reads the inputs, writes nothing."""
    lines: list[Line] = []
    pending: list[dict] = []
    for rule in policy.rules:
        if rule.kind == "joint":
            lines += _joint(rule, policy, inp, lines)
        else:
            lines += EVALUATORS[rule.kind](rule, policy, inp, pending, lines)
    totals: dict[tuple[str, str], dict] = {}
    for ln in lines:
        key, name = (ln.who_kind, ln.who), ln.who_name
        if ln.who_kind == "citizen":  # reporters are many and anonymous: one total
            key, name = ("citizen", "*"), "举报人（合计）"
        t = totals.setdefault(key, {
            "who_kind": key[0], "who": key[1], "who_name": name, "reward": 0,
            "deduction": 0, "net": 0, "rules": set(), "case_ids": set()})
        t["reward" if ln.amount > 0 else "deduction"] += ln.amount
        t["net"] += ln.amount
        t["rules"].add(ln.rule_id)
        t["case_ids"].update(ln.case_ids)
    order = {"street": 0, "community": 1, "squad": 2, "unit": 3, "person": 4, "citizen": 5}
    tot = sorted(totals.values(), key=lambda t: (order.get(t["who_kind"], 9), t["who"]))
    for t in tot:
        t["rules"], t["case_ids"] = sorted(t["rules"]), sorted(t["case_ids"])
    return {
        "policy": {"id": policy.id, "name": policy.name, "path": policy.path},
        "from": inp.start.isoformat(), "to": inp.end.isoformat(), "now": inp.now.isoformat(),
        "lines": [ln.as_dict() for ln in lines], "pending": pending, "totals": tot,
        "reward_total": sum(ln.amount for ln in lines if ln.amount > 0),
        "deduction_total": sum(ln.amount for ln in lines if ln.amount < 0),
    }


month_bounds = month_range  # '2026-10' -> first and last day; ValidationError names 'month'
