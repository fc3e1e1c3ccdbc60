"""The one shared `transitions` machine built from the lifecycle data, and the guard.

The guard asks the machine: which transitions `trigger` has from a state, and which of
them passes its conditions — evaluated by `transitions` itself against the command's
flags (needs_verification, passed, approved) — then checks the role the data gives it.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

from transitions import EventData, Machine

from domain.errors import RefusedError, ValidationError
from domain.lifecycle import CONDITIONS, STATES, TRANSITIONS, TRIGGERS, sources


def _spec(t: dict) -> dict:
    spec = {"trigger": t["trigger"], "source": sources(t), "dest": t["dest"]}
    for key in ("conditions", "unless"):
        if key in t:
            spec[key] = t[key]
    return spec


def build_machine(cls=Machine, **kwargs) -> Machine:
    """A machine with no model: the definition only, shared by every case."""
    m = cls(
        model=None,
        states=list(STATES),
        transitions=[_spec(t) for t in TRANSITIONS],
        initial="new",
        auto_transitions=False,
        **kwargs,
    )
    # attach each data entry to the Transition objects it produced (same order per source)
    for t in TRANSITIONS:
        for src in sources(t):
            for tr in m.events[t["trigger"]].transitions[src]:
                if getattr(tr, "meta", None) is None and _same(tr, t):
                    tr.meta = t
                    break
    return m


def _same(tr, t: dict) -> bool:
    conds = {(c.func, c.target) for c in tr.conditions}
    want = set()
    if "conditions" in t:
        want.add((t["conditions"], True))
    if "unless" in t:
        want.add((t["unless"], False))
    return tr.dest == t["dest"] and conds == want


MACHINE = build_machine()
# (trigger, source) -> the machine's transitions, looked up once
_CANDIDATES = {(trig, st): MACHINE.get_transitions(trigger=trig, source=st)
               for trig in TRIGGERS for st in STATES}


_DECIDED: dict[tuple, Move] = {}  # (state, trigger, role, *conditions) → its move


@dataclass(frozen=True)
class Move:
    """The guard's answer: the transition that applies and the state it leads to."""

    trigger: str
    source: str
    dest: str  # equals source for an internal transition (督办)
    meta: dict

    @property
    def requires_reason(self) -> str | None:
        return self.meta.get("reason")


def decide(state: str, trigger: str, role: str, flags: dict[str, bool]) -> Move:
    """Which move `trigger` makes from `state` for `role`, or RefusedError. The machine
    never changes, so a move once found is remembered (refusals are worked out again)."""
    key = (state, trigger, role, *[bool(flags.get(c)) for c in CONDITIONS])
    move = _DECIDED.get(key)
    if move is None:
        move = _DECIDED[key] = _decide(state, trigger, role, flags)
    return move


def _decide(state: str, trigger: str, role: str, flags: dict[str, bool]) -> Move:
    if trigger not in TRIGGERS:
        raise ValidationError("trigger", f"'{trigger}' is not one of {', '.join(TRIGGERS)}")
    label = f"{state} ({STATES[state]['zh']})" if state in STATES else state
    candidates = _CANDIDATES.get((trigger, state))
    if not candidates:
        raise RefusedError(
            f"refused: case is {label}; trigger '{trigger}' is not allowed in that state "
            f"(actor role '{role}')",
            state=state, trigger=trigger, role=role,
        )
    model = SimpleNamespace(**{c: bool(flags.get(c)) for c in CONDITIONS})
    data = EventData(MACHINE.get_state(state), MACHINE.events[trigger], MACHINE, model, (), {})
    for tr in candidates:
        if all(cond.check(data) for cond in tr.conditions):  # transitions evaluates them
            if role not in tr.meta["roles"]:
                raise RefusedError(
                    f"refused: case is {label}; trigger '{trigger}' is not allowed for role "
                    f"'{role}' (allowed: {', '.join(tr.meta['roles'])})",
                    state=state, trigger=trigger, role=role,
                )
            return Move(trigger, state, tr.dest if tr.dest is not None else state, tr.meta)
    raise RefusedError(  # unreachable with the shipped definition: each condition has its unless
        f"refused: case is {label}; no '{trigger}' transition matches {flags}",
        state=state, trigger=trigger, role=role,
    )


def allowed_triggers(state: str, role: str) -> list[str]:
    """Triggers `role` may fire from `state` under some outcome (for UIs and `case show`)."""
    out = []
    for trig in TRIGGERS:
        for tr in _CANDIDATES.get((trig, state), ()):
            if role in tr.meta["roles"] and trig not in out:
                out.append(trig)
    return out


def reason_for(move: Move, reason: str | None, passed: bool | None = None,
               approved: bool | None = None) -> str | None:
    """The reason, required where the lifecycle says (always, or unless passed/approved)."""
    rule = move.requires_reason
    needed = (rule == "always" or (rule == "unless_passed" and not passed)
              or (rule == "unless_approved" and not approved))
    if needed and not reason:
        raise ValidationError("reason", f"{move.trigger} ({move.meta['zh']}) needs a reason")
    return reason
