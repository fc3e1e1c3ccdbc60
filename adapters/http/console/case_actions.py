"""How the case page offers its steps (操作): the role's main step first and primary, the
destructive ones (作废、退回、驳回) last, each with whether it needs a reason; and the
banner after a step, naming the new state, who holds the case and the next due time."""

from __future__ import annotations

from adapters.http.i18n import word
from domain.glossary import ROLE, STATE, STEP, TRIGGER, label
from domain.lifecycle import TRANSITIONS
from domain.times import local_format

# the step that moves a case on, per trigger; the first one allowed is the primary action
MAIN = ("verify", "file", "dispatch", "accept", "resolve", "check", "close", "evaluate",
        "callback", "decide_extension", "decide_shelve")
DESTRUCTIVE = ("refuse", "return")  # always destructive: they undo the center's or unit's work
NEGATIVE = {"verify": "passed", "check": "passed",  # the choice that rejects (不通过 / 不同意)
            "decide_extension": "approve", "decide_shelve": "approve"}


def reason_rule(trigger: str) -> str:
    """'always' (every outcome needs a reason), 'negative' (only the rejecting one) or ''."""
    rules = [t.get("reason") for t in TRANSITIONS if t["trigger"] == trigger]
    if rules and all(r == "always" for r in rules):
        return "always"
    return "negative" if any(rules) else ""


def arrange(allowed: list[dict], lang: str) -> list[dict]:
    """The allowed steps in the order a person takes them, each with its look and rules."""
    out = []
    primary = next((m for m in MAIN if any(a["trigger"] == m for a in allowed)), None)
    for a in allowed:
        trig = a["trigger"]
        kind = ("primary" if trig == primary else "destructive" if trig in DESTRUCTIVE
                else "normal")
        out.append(a | {"label": label(TRIGGER, trig, lang), "kind": kind,
                        "reason": reason_rule(trig), "negative": NEGATIVE.get(trig)})
    rank = {"primary": 0, "normal": 1, "destructive": 2}
    return sorted(out, key=lambda a: rank[a["kind"]])


def holder_label(holder: str | None, units: dict, lang: str) -> str | None:
    """'unit:hw' → the unit's name, 'role:acceptor' → 受理员 / Acceptor."""
    if not holder:
        return None
    kind, _, who = holder.partition(":")
    if kind == "unit":
        return units[who].name if who in units else who
    return label(ROLE, who, lang)


def done_message(action_trigger: str, c: dict, units: dict, tz, lang: str) -> str:
    """The banner after a step: 已派遣至 环卫所，案件现为「处置中」，由 …办理，处置时限 12-03 17:00."""
    if action_trigger == "dispatch" and c.get("unit"):
        unit = units[c["unit"]].name if c["unit"] in units else c["unit"]
        what = word("done_dispatched", lang).format(unit=unit)
    else:
        what = word("done_step", lang).format(action=label(TRIGGER, action_trigger, lang))
    text = word("done_moved", lang).format(what=what, state=label(STATE, c["state"], lang))
    holder = holder_label(c.get("holder"), units, lang)
    if holder:
        text += word("done_holder", lang).format(holder=holder)
    if c.get("step") and c.get("due_at"):
        text += word("done_due", lang).format(step=label(STEP, c["step"], lang),
                                              due=local_format(c["due_at"], tz, "%m-%d %H:%M"))
    return text + word("done_end", lang)
