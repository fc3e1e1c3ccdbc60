"""The case lifecycle, declared once as data (生命周期定义).

One definition serves the guard (which trigger, from which state, by which role),
the deadline clock (which step runs in which state, who holds the case), the
`transitions` machine and the diagram in docs/lifecycle.md.
"""

from __future__ import annotations

from domain.glossary import (
    CHANNEL,
    CLOSURE_TYPE,
    OUTCOME,
    RATING,
    STATE,
    TRIGGER,
    zh,
    zh_of,
)

# state -> what it means, which step's clock runs there, who holds the case
STATES: dict[str, dict] = {
    "new": {"step": None, "holder": None},
    "pending_verification": {"step": "verify", "holder": "supervisor"},
    "pending_filing": {"step": "file", "holder": "acceptor"},
    "pending_dispatch": {"step": "dispatch", "holder": "dispatcher"},
    "dispatched": {"step": "resolve", "holder": "unit"},
    "extension_requested": {"step": "resolve", "holder": "unit"},
    "shelve_requested": {"step": "resolve", "holder": "unit"},
    "pending_check": {"step": "check", "holder": "supervisor"},
    "pending_closure": {"step": "close", "holder": "acceptor"},
    "shelved": {"step": None, "holder": "unit"},
    "closed": {"step": None, "holder": "duty_chief"},
    "evaluated": {"step": None, "holder": None},
    "voided": {"step": None, "holder": None},
    "merged": {"step": None, "holder": None},  # closed as a duplicate of another case
}
TERMINAL = ("evaluated", "voided", "merged")
UNIT_STATES = tuple(s for s, v in STATES.items() if v["holder"] == "unit")

# channel -> roles that may report through it, and whether the report needs 核实
CHANNELS: dict[str, dict] = {
    "patrol": {"roles": ["supervisor"], "verify": False},
    "citizen": {"roles": ["channel", "acceptor"], "verify": True},
    "hotline": {"roles": ["channel", "acceptor"], "verify": True},
    "camera": {"roles": ["system", "acceptor"], "verify": False},
    "inspection": {"roles": ["acceptor", "duty_chief"], "verify": False},
    "unit": {"roles": ["unit_member"], "verify": False},
}

CENTER = ["acceptor", "duty_chief"]
OPEN_UNIT = ["dispatched", "extension_requested", "shelve_requested"]

# The transitions. `conditions` / `unless` name a boolean of the command
# (needs_verification, passed, approved); `reason` says when a reason is required.
TRANSITIONS: list[dict] = [
    {"trigger": "report", "source": "new", "dest": "pending_verification",
     "conditions": "needs_verification",
     "roles": sorted({r for c in CHANNELS.values() if c["verify"] for r in c["roles"]})},
    {"trigger": "report", "source": "new", "dest": "pending_filing",
     "unless": "needs_verification",
     "roles": sorted({r for c in CHANNELS.values() if not c["verify"] for r in c["roles"]})},
    {"trigger": "verify", "source": "pending_verification",
     "dest": "pending_filing", "roles": ["supervisor"], "reason": "unless_passed"},
    {"trigger": "file", "source": "pending_filing", "dest": "pending_dispatch",
     "roles": CENTER},
    {"trigger": "refuse",
     "source": ["pending_verification", "pending_filing", "pending_dispatch"],
     "dest": "voided", "roles": CENTER, "reason": "always"},
    {"trigger": "dispatch", "source": ["pending_dispatch", "shelved"],
     "dest": "dispatched", "roles": ["dispatcher"]},
    {"trigger": "return", "source": "dispatched", "dest": "pending_dispatch",
     "roles": ["unit_member"], "reason": "always"},
    {"trigger": "request_extension", "source": "dispatched",
     "dest": "extension_requested", "roles": ["unit_member"], "reason": "always"},
    {"trigger": "decide_extension", "source": "extension_requested",
     "dest": "dispatched", "roles": ["duty_chief", "dispatcher"], "reason": "unless_approved"},
    {"trigger": "request_shelve", "source": "dispatched",
     "dest": "shelve_requested", "roles": ["unit_member"], "reason": "always"},
    {"trigger": "decide_shelve", "source": "shelve_requested",
     "dest": "shelved", "conditions": "approved", "roles": ["duty_chief"], "reason": "always"},
    {"trigger": "decide_shelve", "source": "shelve_requested",
     "dest": "dispatched", "unless": "approved", "roles": ["duty_chief"], "reason": "always"},
    {"trigger": "resolve", "source": ["dispatched", "extension_requested"],
     "dest": "pending_check", "roles": ["unit_member"]},
    {"trigger": "check", "source": "pending_check", "dest": "pending_closure",
     "conditions": "passed", "roles": ["supervisor"]},
    {"trigger": "check", "source": "pending_check", "dest": "dispatched",
     "unless": "passed", "roles": ["supervisor"], "reason": "always"},
    {"trigger": "close", "source": ["pending_closure", "shelved"], "dest": "closed",
     "roles": CENTER},
    {"trigger": "evaluate", "source": "closed", "dest": "evaluated",
     "roles": ["duty_chief", "system"]},
    # 回访 (domain/case_callback.py): after closure, before evaluation; an unsatisfied
    # answer reopens the case to its unit (返工) where the city says so (`rework`)
    {"trigger": "callback", "source": "closed", "dest": None, "unless": "rework",
     "roles": ["acceptor", "channel"]},
    {"trigger": "callback", "source": "closed", "dest": "dispatched", "conditions": "rework",
     "roles": ["acceptor", "channel"]},
    {"trigger": "accept", "source": "dispatched", "dest": None, "roles": ["unit_member"]},
    {"trigger": "urge", "source": ["pending_dispatch", *OPEN_UNIT, "pending_check"],
     "dest": None, "roles": ["duty_chief", "dispatcher", "system"], "reason": "always"},
    {"trigger": "merge", "source": ["pending_verification", "pending_filing", "pending_dispatch"],
     "dest": "merged", "roles": CENTER, "reason": "always"},  # 合并: domain/case_merge.py
    # 主办/协办 and 指派到人 (domain/case_assist.py): an assisting unit's member answers
    # while the lead holds the case; the center waives answers still owed, with a reason
    {"trigger": "assist_feedback", "source": OPEN_UNIT, "dest": None, "roles": ["unit_member"]},
    {"trigger": "assist_override", "source": OPEN_UNIT, "dest": None,
     "roles": ["duty_chief", "dispatcher"], "reason": "always"},
    {"trigger": "assign", "source": OPEN_UNIT, "dest": None, "roles": ["unit_member"]},
]

# closure types (结案类型); error and special closures need a reason
CLOSURE_TYPES = zh_of(CLOSURE_TYPE)
RATINGS = zh_of(RATING)

# the center's work queues (待办) → the state a case waits in there
QUEUES = {
    "verification": "pending_verification", "filing": "pending_filing",
    "dispatch": "pending_dispatch", "check": "pending_check", "closure": "pending_closure",
    "extension_decision": "extension_requested", "shelve_decision": "shelve_requested",
}

# the Chinese names, from the glossary (a transition with two outcomes names each)
for _name, _state in STATES.items():
    _state["zh"] = zh(STATE, _name)
for _name, _channel in CHANNELS.items():
    _channel["zh"] = zh(CHANNEL, _name)
for _t in TRANSITIONS:
    _outcome = OUTCOME.get((_t["trigger"], "unless" not in _t))
    _t["zh"] = _outcome[0] if _outcome else zh(TRIGGER, _t["trigger"])

TRIGGERS: tuple[str, ...] = tuple(dict.fromkeys(t["trigger"] for t in TRANSITIONS))
CONDITIONS = ("needs_verification", "passed", "approved", "rework")


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
