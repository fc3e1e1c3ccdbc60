"""Shared test helpers: the sample city, a fixed clock, and paths that drive a case to any state."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo

from adapters.bootstrap import Casegrid, bootstrap, load_city
from workflows.commands import CaseAction, ReportCase

SH = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 10, 12, 9, 0, tzinfo=SH)  # a Monday, in working hours
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=SH)
GRID = "44030301000101"
CATEGORY = "E0102"  # 暴露垃圾 -> hw (环卫所), resolve limit 4h
UNIT, MEMBER = "hw", "hw_luo"
OTHER_MEMBER = "cg_liu"  # unit cgj

USER_OF_ROLE = {
    "supervisor": "sup_zhang", "channel": "citizen_app", "acceptor": "acc_wang",
    "duty_chief": "chief_zhao", "dispatcher": "disp_chen", "unit_member": MEMBER,
    "inspector": "insp_sun", "system": "system",
}
POPO = {"PERSISTENCE_MODULE": "eventsourcing.popo"}


@cache
def city():
    return load_city()


def grid(env: dict | None = None, clock=lambda: NOW) -> Casegrid:
    return bootstrap(env=env or POPO, city=city(), clock=clock)


# state -> (channel, [(trigger, actor, fields)]) reaching it from a fresh report
PATHS: dict[str, tuple[str, list]] = {
    "pending_verification": ("citizen", []),
    "pending_filing": ("patrol", []),
    "pending_dispatch": ("patrol", [("file", "acc_wang", {})]),
    "dispatched": ("patrol", [("file", "acc_wang", {}), ("dispatch", "disp_chen", {})]),
}
PATHS["extension_requested"] = ("patrol", PATHS["dispatched"][1] + [
    ("request_extension", MEMBER, {"extra": "2h", "reason": "需协调"})])
PATHS["shelve_requested"] = ("patrol", PATHS["dispatched"][1] + [
    ("request_shelve", MEMBER, {"reason": "需预算"})])
PATHS["shelved"] = ("patrol", PATHS["shelve_requested"][1] + [
    ("decide_shelve", "chief_zhao", {"approved": True, "reason": "同意"})])
PATHS["pending_check"] = ("patrol", PATHS["dispatched"][1] + [("resolve", MEMBER, {})])
PATHS["pending_closure"] = ("patrol", PATHS["pending_check"][1] + [
    ("check", "sup_zhang", {"passed": True})])
PATHS["closed"] = ("patrol", PATHS["pending_closure"][1] + [("close", "acc_wang", {})])
PATHS["evaluated"] = ("patrol", PATHS["closed"][1] + [
    ("evaluate", "chief_zhao", {"rating": "satisfied"})])
PATHS["voided"] = ("patrol", [("refuse", "acc_wang", {"reason": "重复上报"})])
ORIGINAL = "<original>"  # drive() reports a fresh case for a merge to go into
PATHS["merged"] = ("patrol", [("merge", "acc_wang", {"reason": "重复上报", "into": ORIGINAL})])


def report(svc, channel="patrol", at=T0, **kw):
    actor = {"patrol": "sup_zhang", "citizen": "citizen_app", "hotline": "hotline_12345",
             "camera": "system", "inspection": "acc_wang", "unit": MEMBER}[channel]
    fields = {"category": CATEGORY, "grid": GRID, "actor": actor, "occurred_at": at} | kw
    return svc.report(ReportCase(channel=channel, **fields))


def drive(svc, state: str, at=T0):
    """A case in `state`, every step done one minute after the one before."""
    channel, steps = PATHS[state]
    case = report(svc, channel, at)
    for i, (trigger, actor, fields) in enumerate(steps, start=1):
        if fields.get("into") == ORIGINAL:
            fields = {**fields, "into": str(report(svc, channel, at).id)}
        case = svc.act(CaseAction(case.id, trigger, actor, at + timedelta(minutes=i), **fields))
    return case


def act(svc, case, trigger, actor, at, **fields):
    return svc.act(CaseAction(case.id if hasattr(case, "id") else case, trigger, actor, at, **fields))
