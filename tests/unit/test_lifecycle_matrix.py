"""Every (state, trigger, role) combination, allowed or refused exactly as the definition says."""

from __future__ import annotations

from datetime import timedelta

import pytest

from domain.city import ROLES as ROLES_ALL
from domain.errors import RefusedError
from domain.lifecycle import CHANNELS, OPEN_UNIT, STATES, TRANSITIONS, TRIGGERS, sources
from tests.support import PATHS, T0, USER_OF_ROLE, drive, grid, report
from workflows.commands import CaseAction

FIELDS = {  # every field a trigger could need, so only the guard decides
    "extra": "2h", "reason": "测试原因", "rating": "satisfied", "comment": "已配合处理",
    "assignee": "hw_luo",
}
ASSISTED = ("assist_feedback", "assist_override")  # need a dispatch with an assisting unit
ASSIST_UNIT, ASSIST_MEMBER = "cgj", "cg_liu"  # unit_member acts as the assisting unit's member
VARIANTS = {  # triggers whose outcome picks the transition
    "verify": [{"passed": True}, {"passed": False}],
    "check": [{"passed": True}, {"passed": False}],
    "decide_extension": [{"approved": True}, {"approved": False}],
    "decide_shelve": [{"approved": True}, {"approved": False}],
}


def expected(state: str, trigger: str, role: str, flags: dict) -> bool:
    for t in TRANSITIONS:
        if t["trigger"] != trigger or state not in sources(t) or role not in t["roles"]:
            continue
        if "conditions" in t and not flags.get(t["conditions"]):
            continue
        if "unless" in t and flags.get(t["unless"]):
            continue
        return True
    return False


@pytest.mark.parametrize("state", [s for s in STATES if s != "new"])
def test_every_trigger_and_role_from_state(state):
    cg = grid()
    svc = cg.service
    into = str(drive(svc, "pending_filing").id)  # an open case a merge may go into
    wrong = []
    for trigger in TRIGGERS:
        if trigger == "report":
            continue
        for flags in VARIANTS.get(trigger, [{}]):
            for role, user in USER_OF_ROLE.items():
                assisted = trigger in ASSISTED and state in OPEN_UNIT
                case = drive_assisted(svc, state) if assisted else drive(svc, state)
                if trigger == "assist_feedback" and role == "unit_member":
                    user = ASSIST_MEMBER
                before = len(svc.timeline(case.id))
                at = case.last_at + timedelta(minutes=1)
                cmd = CaseAction(case.id, trigger, user, at, **FIELDS, **flags, into=into)
                try:
                    svc.act(cmd)
                    allowed = True
                except RefusedError as e:
                    allowed = False
                    assert e.state == state and e.trigger == trigger and e.role == role
                    assert len(svc.timeline(case.id)) == before, "a refused command stored events"
                if allowed != expected(state, trigger, role, flags):
                    wrong.append((trigger, role, flags, allowed))
    assert not wrong, f"from {state}: (trigger, role, flags, allowed) disagree with the definition: {wrong}"


def drive_assisted(svc, state: str):
    """Like drive(), with the dispatch naming an assisting unit (协办)."""
    channel, steps = PATHS[state]
    case = report(svc, channel, T0)
    for i, (trigger, actor, fields) in enumerate(steps, start=1):
        if trigger == "dispatch":
            fields = {**fields, "assist": [ASSIST_UNIT]}
        case = svc.act(CaseAction(case.id, trigger, actor, T0 + timedelta(minutes=i), **fields))
    return case


@pytest.mark.parametrize("channel", list(CHANNELS))
def test_report_channel_roles(channel):
    cg = grid()
    for role, user in USER_OF_ROLE.items():
        ok = role in CHANNELS[channel]["roles"]
        try:
            case = report(cg.service, channel, actor=user)
        except RefusedError as e:
            assert not ok, f"{role} refused on {channel}: {e}"
            continue
        assert ok, f"{role} may not report through {channel}"
        want = "pending_verification" if CHANNELS[channel]["verify"] else "pending_filing"
        assert case.state == want


def test_inspector_can_fire_nothing():
    assert all("inspector" not in t["roles"] for t in TRANSITIONS)
    assert "inspector" in ROLES_ALL


def test_unit_member_of_another_unit_is_refused():
    cg = grid()
    case = drive(cg.service, "dispatched")
    with pytest.raises(RefusedError, match="unit 'hw'.*unit 'cgj'"):
        cg.service.act(CaseAction(case.id, "resolve", "cg_liu", T0 + timedelta(hours=1)))
    assert len(cg.service.timeline(case.id)) == case.version
