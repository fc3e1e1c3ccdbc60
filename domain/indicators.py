"""Indicators (考评指标): counts, rates as numerator ÷ denominator, composite score and grade.

Pure arithmetic; docs/indicators.md defines each figure in terms of events. The counts
are per case (a case counts once) except the `*_events` counts.
"""

from __future__ import annotations

COUNTS: dict[str, str] = {
    "reported": "上报数",
    "patrol_reported": "自行巡查上报数",
    "valid": "有效上报数(立案)",
    "filed": "立案数",
    "patrol_filed": "自行发现立案数",
    "others_filed": "他人发现立案数(漏报)",
    "voided": "作废数",
    "filed_voided": "立案后作废数",
    "dispatched": "派遣数",
    "due": "应处置数",
    "resolved": "处置数",
    "on_time": "按期处置数",
    "overdue": "超期数",
    "overdue_open": "超期未处置数",
    "reworked": "返工案件数",
    "rework_events": "返工次数",
    "returned": "退回数",
    "extended": "延期数",
    "shelved": "挂账数",
    "fix_passed": "整改合格数",
    "due_closure": "应结案数",
    "closed": "结案数",
    "closed_on_time": "按期结案数",
    "verify_due": "应核实数",
    "verify_on_time": "按时核实数",
    "check_due": "应核查数",
    "check_on_time": "按时核查数",
    "file_due": "应立案数",
    "file_on_time": "按时立案数",
    "dispatch_due": "应派遣数",
    "dispatch_on_time": "按时派遣数",
    "dispatch_accurate": "准确派遣数",
    "urged": "督办数",
    "callbacks": "回访数",
    "callbacks_satisfied": "回访满意数",
    "assist_due": "应协办反馈数",
    "assist_on_time": "按时协办反馈数",
}

# rate -> (中文, numerator count, denominator count)
RATES: dict[str, tuple[str, str, str]] = {
    "discovery_rate": ("发现率", "patrol_filed", "filed"),
    "valid_report_rate": ("有效上报率", "valid", "reported"),
    "miss_rate": ("漏报率", "others_filed", "filed"),
    "resolution_rate": ("处置率", "resolved", "due"),
    "on_time_resolution_rate": ("按期处置率", "on_time", "due"),
    "rectification_rate": ("整改率", "fix_passed", "due"),
    "rework_rate": ("返工率", "rework_events", "due_closure"),
    "overdue_rate": ("超期未处置率", "overdue_open", "due"),
    "extension_rate": ("延期率", "extended", "due"),
    "closure_rate": ("结案率", "closed", "due_closure"),
    "on_time_closure_rate": ("按期结案率", "closed_on_time", "due_closure"),
    "on_time_verify_rate": ("按时核实率", "verify_on_time", "verify_due"),
    "on_time_check_rate": ("按时核查率", "check_on_time", "check_due"),
    "on_time_filing_rate": ("按时立案率", "file_on_time", "file_due"),
    "accurate_filing_rate": ("准确立案率", "filed_accurate", "filed"),
    "on_time_dispatch_rate": ("按时派遣率", "dispatch_on_time", "dispatch_due"),
    "accurate_dispatch_rate": ("准确派遣率", "dispatch_accurate", "dispatch_due"),
    "satisfaction_rate": ("群众满意率", "callbacks_satisfied", "callbacks"),
    "assist_on_time_rate": ("协办按时反馈率", "assist_on_time", "assist_due"),
}
DERIVED = {"filed_accurate": ("filed", "filed_voided")}  # count = a − b

DEFAULT_BANDS = (("A", 90.0), ("B", 75.0), ("C", 60.0), ("D", 40.0), ("E", 0.0))
DEFAULT_WEIGHTS: dict[str, dict[str, float]] = {
    "unit": {"resolution_rate": 30, "on_time_resolution_rate": 20, "1-rework_rate": 20,
             "1-overdue_rate": 20, "1-extension_rate": 10},
    "supervisor": {"valid_report_rate": 40, "1-miss_rate": 20, "on_time_verify_rate": 20,
                   "on_time_check_rate": 20},
    "dispatcher": {"on_time_dispatch_rate": 50, "accurate_dispatch_rate": 50},
    "duty-chief": {"on_time_filing_rate": 50, "accurate_filing_rate": 50},
    "area": {"discovery_rate": 40, "resolution_rate": 30, "rectification_rate": 30},
}


def count(counts: dict[str, int], name: str) -> int:
    if name in DERIVED:
        a, b = DERIVED[name]
        return counts.get(a, 0) - counts.get(b, 0)
    return counts.get(name, 0)


def rate(counts: dict[str, int], name: str) -> float | None:
    """numerator ÷ denominator, None when nothing was due."""
    _, num, den = RATES[name]
    d = count(counts, den)
    return None if d <= 0 else count(counts, num) / d


def term_value(rates: dict[str, float | None], term: str) -> float | None:
    """A weight's term: a rate name, or '1-<rate>' for rates where lower is better."""
    if term.startswith("1-"):
        v = rates.get(term[2:])
        return None if v is None else 1 - v
    return rates.get(term)


def score(rates: dict[str, float | None], weights: dict[str, float]) -> float | None:
    """Weighted score on 100 points; terms with nothing due drop out and the rest rescale."""
    got = [(w, term_value(rates, t)) for t, w in weights.items()]
    got = [(w, v) for w, v in got if v is not None]
    total = sum(w for w, _ in got)
    if total <= 0:
        return None
    return round(100 * sum(w * v for w, v in got) / total, 2)


def grade(value: float | None, bands=DEFAULT_BANDS) -> str | None:
    if value is None:
        return None
    for name, floor in bands:
        if value >= floor:
            return name
    return bands[-1][0]


def valid_term(term: str) -> bool:
    return (term[2:] if term.startswith("1-") else term) in RATES
