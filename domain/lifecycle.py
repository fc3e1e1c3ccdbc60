"""The case lifecycle, declared once as data (生命周期定义).

One definition serves the guard (which trigger, from which state, by which role),
the deadline clock (which step runs in which state, who holds the case), the
`transitions` machine and the diagram in docs/lifecycle.md.
"""

from __future__ import annotations

# state -> what it means, which step's clock runs there, who holds the case
STATES: dict[str, dict] = {
    "new": {"zh": "未上报", "step": None, "holder": None},
    "pending_verification": {"zh": "待核实", "step": "verify", "holder": "supervisor"},
    "pending_filing": {"zh": "待立案", "step": "file", "holder": "acceptor"},
    "pending_dispatch": {"zh": "待派遣", "step": "dispatch", "holder": "dispatcher"},
    "dispatched": {"zh": "处置中", "step": "resolve", "holder": "unit"},
    "extension_requested": {"zh": "延期待批", "step": "resolve", "holder": "unit"},
    "shelve_requested": {"zh": "挂账待批", "step": "resolve", "holder": "unit"},
    "pending_check": {"zh": "待核查", "step": "check", "holder": "supervisor"},
    "pending_closure": {"zh": "待结案", "step": "close", "holder": "acceptor"},
    "shelved": {"zh": "已挂账", "step": None, "holder": "unit"},
    "closed": {"zh": "已结案", "step": None, "holder": "duty_chief"},
    "evaluated": {"zh": "已评价", "step": None, "holder": None},
    "voided": {"zh": "已作废", "step": None, "holder": None},
}
TERMINAL = ("evaluated", "voided")
UNIT_STATES = tuple(s for s, v in STATES.items() if v["holder"] == "unit")

# channel -> roles that may report through it, and whether the report needs 核实
CHANNELS: dict[str, dict] = {
    "patrol": {"zh": "监督员巡查", "roles": ["supervisor"], "verify": False},
    "citizen": {"zh": "公众举报", "roles": ["channel", "acceptor"], "verify": True},
    "hotline": {"zh": "12345热线", "roles": ["channel", "acceptor"], "verify": True},
    "camera": {"zh": "视频监控", "roles": ["system", "acceptor"], "verify": False},
    "inspection": {"zh": "督查暗访", "roles": ["acceptor", "duty_chief"], "verify": False},
    "unit": {"zh": "成员单位自查", "roles": ["unit_member"], "verify": False},
}

CENTER = ["acceptor", "duty_chief"]
OPEN_UNIT = ["dispatched", "extension_requested", "shelve_requested"]

# The transitions. `conditions` / `unless` name a boolean of the command
# (needs_verification, passed, approved); `reason` says when a reason is required.
TRANSITIONS: list[dict] = [
    {"trigger": "report", "zh": "上报", "source": "new", "dest": "pending_verification",
     "conditions": "needs_verification",
     "roles": sorted({r for c in CHANNELS.values() if c["verify"] for r in c["roles"]})},
    {"trigger": "report", "zh": "上报", "source": "new", "dest": "pending_filing",
     "unless": "needs_verification",
     "roles": sorted({r for c in CHANNELS.values() if not c["verify"] for r in c["roles"]})},
    {"trigger": "verify", "zh": "核实", "source": "pending_verification",
     "dest": "pending_filing", "roles": ["supervisor"], "reason": "unless_passed"},
    {"trigger": "file", "zh": "立案", "source": "pending_filing", "dest": "pending_dispatch",
     "roles": CENTER},
    {"trigger": "refuse", "zh": "不予立案/作废",
     "source": ["pending_verification", "pending_filing", "pending_dispatch"],
     "dest": "voided", "roles": CENTER, "reason": "always"},
    {"trigger": "dispatch", "zh": "派遣", "source": ["pending_dispatch", "shelved"],
     "dest": "dispatched", "roles": ["dispatcher"]},
    {"trigger": "return", "zh": "退回", "source": "dispatched", "dest": "pending_dispatch",
     "roles": ["unit_member"], "reason": "always"},
    {"trigger": "request_extension", "zh": "申请延期", "source": "dispatched",
     "dest": "extension_requested", "roles": ["unit_member"], "reason": "always"},
    {"trigger": "decide_extension", "zh": "审批延期", "source": "extension_requested",
     "dest": "dispatched", "roles": ["duty_chief", "dispatcher"], "reason": "unless_approved"},
    {"trigger": "request_shelve", "zh": "申请挂账", "source": "dispatched",
     "dest": "shelve_requested", "roles": ["unit_member"], "reason": "always"},
    {"trigger": "decide_shelve", "zh": "审批挂账", "source": "shelve_requested",
     "dest": "shelved", "conditions": "approved", "roles": ["duty_chief"], "reason": "always"},
    {"trigger": "decide_shelve", "zh": "审批挂账", "source": "shelve_requested",
     "dest": "dispatched", "unless": "approved", "roles": ["duty_chief"], "reason": "always"},
    {"trigger": "resolve", "zh": "处置反馈", "source": ["dispatched", "extension_requested"],
     "dest": "pending_check", "roles": ["unit_member"]},
    {"trigger": "check", "zh": "核查通过", "source": "pending_check", "dest": "pending_closure",
     "conditions": "passed", "roles": ["supervisor"]},
    {"trigger": "check", "zh": "核查不通过(返工)", "source": "pending_check", "dest": "dispatched",
     "unless": "passed", "roles": ["supervisor"], "reason": "always"},
    {"trigger": "close", "zh": "结案", "source": ["pending_closure", "shelved"], "dest": "closed",
     "roles": CENTER},
    {"trigger": "evaluate", "zh": "评价", "source": "closed", "dest": "evaluated",
     "roles": ["duty_chief", "system"]},
    {"trigger": "urge", "zh": "督办", "source": ["pending_dispatch", *OPEN_UNIT, "pending_check"],
     "dest": None, "roles": ["duty_chief", "dispatcher", "system"], "reason": "always"},
]

# closure types (结案类型); error and special closures need a reason
CLOSURE_TYPES = {"normal": "正常结案", "overdue": "超时结案", "error": "差错结案", "special": "特殊结案"}
RATINGS = {"satisfied": "满意", "basic": "基本满意", "unsatisfied": "不满意"}

TRIGGERS: tuple[str, ...] = tuple(dict.fromkeys(t["trigger"] for t in TRANSITIONS))
CONDITIONS = ("needs_verification", "passed", "approved")


def sources(t: dict) -> list[str]:
    s = t["source"]
    return [s] if isinstance(s, str) else list(s)


def roles_for(trigger: str) -> set[str]:
    return {r for t in TRANSITIONS if t["trigger"] == trigger for r in t["roles"]}


def holder_of(state: str, unit: str | None) -> tuple[str, str] | None:
    """Who holds a case in `state` (责任主体): ('unit', id), ('role', center role) or None."""
    h = STATES[state]["holder"]
    if h is None:
        return None
    if h == "unit":
        return ("unit", unit) if unit else None
    return ("role", h)


def held_by(state: str, unit: str | None) -> str | None:
    """The holder as events store it: 'unit:hw', 'role:acceptor'."""
    h = holder_of(state, unit)
    return f"{h[0]}:{h[1]}" if h else None
