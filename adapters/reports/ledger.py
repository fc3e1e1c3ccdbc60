"""The rewards-and-penalties ledger as report sections (totals, lines, pending cases), and
the what-if (report compare): grades and amounts under two policies. Writes nothing."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from adapters.reports.document import board, meta, section
from domain.city import City
from domain.glossary import WHO, zh_of
from domain.policy import Policy, month_bounds
from projections.ledger import ledger
from projections.ports import Sql

WHO_ZH = zh_of(WHO)


def article(source: str) -> str:
    """A rule's article without the seed file it was taken from:
    '000_3e99ebe454ed094e.txt 四(七)一 严格责任追究' -> '四(七)一 严格责任追究'."""
    first, _, rest = source.strip().partition(" ")
    return rest.strip() if rest.strip() and "." in first else source


def readable_cases(ids: list[str], case_no: dict, limit: int = 6) -> str:
    """Case numbers a person reads (2026-11-000123, else the id's first 8 hex), at most
    `limit` and the count of the rest; every id is in the ledger itself (JSON, XLSX)."""
    shown = "、".join(case_no.get(i) or i[:8] for i in ids[:limit])
    return shown + (f" 等 {len(ids)} 件" if len(ids) > limit else "")


def ledger_sections(city: City, led: dict, numbers: tuple = ("", "", ""), *,
                    titles: dict | None = None, case_no: dict | None = None) -> list[dict]:
    """The totals per party, every line with its rule and cases, and the cases still pending:
    rules by their titles and articles, cases by their readable numbers (`titles`: rule id ->
    title, `case_no`: case id -> number; without them the ids are shown)."""
    titles, case_no = titles or {}, case_no or {}
    name = lambda rid: titles.get(rid) or rid  # noqa: E731
    lines = [{**ln, "who_kind_zh": WHO_ZH.get(ln["who_kind"], ln["who_kind"]),
              "rule": name(ln["rule_id"]), "article": article(ln["source"]),
              "cases": readable_cases(ln["case_ids"], case_no),
              "case_ids": " ".join(ln["case_ids"]), "n_cases": len(ln["case_ids"])}
             for ln in led["lines"]]
    totals = [{**t, "who_kind_zh": WHO_ZH.get(t["who_kind"], t["who_kind"]),
               "rule_names": "；".join(name(r) for r in t["rules"]),
               "rules": " ".join(t["rules"]), "n_cases": len(t["case_ids"])} for t in led["totals"]]
    pending = [{**p, "rule": name(p["rule_id"]), "case": case_no.get(p["case_id"]) or
                str(p["case_id"])[:8]} for p in led["pending"]]
    pre = [f"{n}、" if n else "" for n in numbers]
    out = [
        section("ledger_totals", f"{pre[0]}奖惩汇总（{led['policy'].get('name') or led['policy']['id']}）", [
            ("who_kind_zh", "对象类别"), ("who_name", "对象"), ("reward", "奖励（元）", "yuan"),
            ("deduction", "扣减（元）", "yuan"), ("net", "合计（元）", "yuan"),
            ("rule_names", "依据规则"), ("n_cases", "涉及案件数", "int")], totals,
            note=f"奖励合计 {led['reward_total']:,} 元，扣减合计 {-led['deduction_total']:,} 元，"
                 f"净额 {led['reward_total'] + led['deduction_total']:,} 元。金额为正是奖励，为负是扣减；"
                 "每笔的规则、条款与案件见下表（案件编号为可读编号，完整案件标识见同期 JSON 的奖惩台账）。"),
        section("ledger", f"{pre[1]}奖惩明细（每笔金额的规则与案件）", [
            ("rule", "规则"), ("article", "条款"), ("who_kind_zh", "对象类别"), ("who_name", "对象"),
            ("amount", "金额（元）", "yuan"), ("explanation", "依据说明"), ("cases", "案件编号")],
            lines),
    ]
    if led["pending"]:
        out.append(section("ledger_pending", f"{pre[2]}尚在时限内、暂未计入的案件", [
            ("rule", "规则"), ("case", "案件编号"), ("explanation", "说明")], pending))
    return out


def compare(sql: Sql, city: City, month: str, now: datetime, base: Policy, other: Policy,
            app=None, as_of: datetime | None = None) -> dict:
    """The month's grades and ledger under two policies, and what changes. Writes nothing."""
    start, end = month_bounds(month)
    doc = meta(city, "compare", f"{start:%Y年%m月} 奖惩政策对比：{base.id} → {other.id}", start, end,
               now, base={"id": base.id, "name": base.name}, other={"id": other.id, "name": other.name})
    sections = []
    for by, title in (("unit", "成员单位"), ("community", "社区"), ("squad", "驻点中队")):
        a = board(sql, base.city_for_scoring(city), by, start, end, as_of)
        b = board(sql, other.city_for_scoring(city), by, start, end, as_of)
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
    sections.append(amounts_section(la, lb, base.id, other.id))
    sections.append(changed_lines_section(la, lb, base.id, other.id))
    doc["ledgers"] = {"base": la, "other": lb}
    doc["sections"] = sections
    return doc


def amounts_section(la: dict, lb: dict, a_id: str, b_id: str) -> dict:
    """The net amount per party under both policies, the difference, and the total."""
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
    return section("ledger_diff", "奖惩金额对比（元）", [
        ("who_kind_zh", "对象类别"), ("who_name", "对象"), ("net_a", a_id, "yuan"),
        ("net_b", b_id, "yuan"), ("diff", "差额", "yuan")], rows)


def changed_lines_section(la: dict, lb: dict, a_id: str, b_id: str) -> dict:
    """Every ledger line (rule, party, cases) whose amount differs between the policies."""
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
    return section("line_changes", "变化的奖惩明细", [
        ("rule_id", "规则"), ("who", "对象"), ("amount_a", a_id, "yuan"),
        ("amount_b", b_id, "yuan"), ("case_ids", "案件编号")], changes)
