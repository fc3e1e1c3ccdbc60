"""What the scoreboards know of one case (案件考评事实), folded from its events.

A case belongs to the day it was reported (its cohort, in the city's time zone); its
row says which steps were due, met or missed, who did them, and where it stands. What a
row adds to the boards is in projections/contributions.py.
"""

from __future__ import annotations

from operator import itemgetter
from typing import Any

import orjson

from domain.case import Case
from domain.city import City
from domain.times import as_zone

STEPS = ("verify", "file", "dispatch", "resolve", "check", "close")
# the event that completes each step (a refusal is the filing decision too)
DONE_BY = {Case.Verified: "verify", Case.Filed: "file", Case.Dispatched: "dispatch",
           Case.Resolved: "resolve", Case.Checked: "check", Case.Closed: "close"}
STARTED = {s: f"{s}_started" for s in STEPS}  # the row's keys, made once
DONE = {s: f"{s}_done" for s in STEPS}
MISSED = {s: f"{s}_missed" for s in STEPS}
SATISFIED = ("satisfied", "basic")  # 满意, 基本满意: what 群众满意率 counts as satisfied
OTHERS = ("citizen", "hotline", "inspection")  # found by others: the patrol missed it (漏报)
AREA_DIMS = ("grid", "community", "street", "district", "squad")
DIMENSIONS = ("unit", *AREA_DIMS, "supervisor", "dispatcher", "duty-chief")


def new_row(e: Any, city: City) -> dict:
    cell = city.cells.get(e.grid)
    day = as_zone(e.occurred_at, city.tz).date().isoformat()
    row = {
        "case_id": str(e.originator_id), "day": day, "grid": e.grid,
        "community": cell.community if cell else None, "street": cell.street if cell else None,
        "district": cell.district if cell else None, "squad": cell.squad if cell else None,
        "channel": e.channel, "category": e.category, "reporter": e.actor,
        "reporter_role": e.role, "state": e.state, "step": e.step,
        "filed": False, "voided": False, "filed_voided": False, "dispatched": False,
        "unit": None, "returned_by": [], "resolved": False, "fix_passed": False,
        "reworks": 0, "extensions": 0, "shelved": False, "closed": False, "closure_type": None,
        "urgings": 0, "verifier": None, "filer": None, "dispatcher": None, "checker": None,
        "callbacks": 0, "callbacks_satisfied": 0,  # 回访, and those 满意 or 基本满意
        # 协办: assisting units that answered by their due time, that missed it (one entry
        # per assisting request), and those missed and not yet answered on this dispatch
        "assist_on_time": [], "assist_missed": [], "assist_late": [],
    }
    row.update(_STEP_FLAGS)
    if e.step:
        row[f"{e.step}_started"] = True
    return row


_STEP_FLAGS = {f"{s}_{k}": False for s in STEPS for k in ("started", "done", "missed")}
ROW_KEYS = (  # every key of a row, in the order cg_sb_case stores their values
    "case_id", "day", "grid", "community", "street", "district", "squad", "channel",
    "category", "reporter", "reporter_role", "state", "step", "filed", "voided",
    "filed_voided", "dispatched", "unit", "returned_by", "resolved", "fix_passed", "reworks",
    "extensions", "shelved", "closed", "closure_type", "urgings", "verifier", "filer",
    "dispatcher", "checker", *(f"{s}_{k}" for s in STEPS for k in ("started", "done", "missed")),
    "callbacks", "callbacks_satisfied", "assist_on_time", "assist_missed", "assist_late",
)


_ROW_VALUES = itemgetter(*ROW_KEYS)


def pack(row: dict) -> str:
    """A row as stored in cg_sb_case: its values as a JSON array, in ROW_KEYS order."""
    return orjson.dumps(_ROW_VALUES(row)).decode()


def unpack(text: str) -> dict:
    return dict(zip(ROW_KEYS, orjson.loads(text), strict=True))


def fold(row: dict, e: Any) -> dict:
    """Apply one event (not the Reported that made the row) to the row, in place."""
    kind = e.__dict__.get("kind") or type(e)  # a light event (as-of) names its class
    if kind is Case.DeadlineMissed:
        row[MISSED[e.missed_step]] = True
        return row
    if kind in ASSIST_KINDS:  # the assisting unit's own clock: the case's steps unchanged
        return fold_assist(row, kind, e)
    done = DONE_BY.get(kind)
    if kind is Case.Refused and row["step"] == "file":
        done = "file"  # refusing to file is the filing decision
    if done and row[STARTED[done]]:
        row[DONE[done]] = True
    if e.step and e.step != row["step"]:
        row[STARTED[e.step]] = True
    row["state"], row["step"] = e.state, e.step
    if kind is Case.Verified:
        row["verifier"] = row["verifier"] or e.actor
    elif kind is Case.Filed:
        row["filed"], row["filer"] = True, e.actor
    elif kind is Case.Refused:
        row["voided"] = True
        row["filed_voided"] = row["filed"]
        if not row["filed"]:
            row["filer"] = row["filer"] or e.actor
    elif kind is Case.Dispatched:
        row["dispatched"], row["unit"], row["shelved"] = True, e.unit, False
        row["assist_late"] = []  # a new dispatch: earlier assisting clocks are over
        row["dispatcher"] = row["dispatcher"] or e.actor
    elif kind is Case.Returned:
        row["returned_by"] = [*row["returned_by"], e.unit]
    elif kind is Case.ExtensionDecided and e.approved:
        row["extensions"] += 1
    elif kind is Case.ShelveDecided and e.approved:
        row["shelved"] = True
    elif kind is Case.Resolved:
        row["resolved"] = True
    elif kind is Case.Checked:
        row["checker"] = row["checker"] or e.actor
        if e.passed:
            row["fix_passed"] = True
        else:
            row["reworks"] += 1
    elif kind is Case.Closed:
        row["closed"], row["closure_type"] = True, e.closure_type
    elif kind is Case.Urged:
        row["urgings"] += 1
    elif kind is Case.CalledBack:
        row["callbacks"] += 1
        row["callbacks_satisfied"] += e.rating in SATISFIED
        if e.reopened:  # 回访不满意 sent back to the unit: a rework, no longer closed
            row["reworks"] += 1
            row["closed"], row["closure_type"] = False, None
    return row


ASSIST_KINDS = (Case.AssistAnswered, Case.AssistDeadlineMissed)
ASSIST_COUNTS = ("assist_due", "assist_on_time")  # per assisting request, the unit's own


def fold_assist(row: dict, kind: type, e: Any) -> dict:
    """协办: an answer by the due time is on time; a miss counts once, a late answer after it
    adds nothing (never the lead's figures)."""
    unit = e.assist_unit
    if kind is Case.AssistDeadlineMissed:
        row["assist_missed"] = [*row["assist_missed"], unit]
        row["assist_late"] = [*row["assist_late"], unit]
    elif unit in row["assist_late"]:
        late = list(row["assist_late"])
        late.remove(unit)
        row["assist_late"] = late
    else:
        row["assist_on_time"] = [*row["assist_on_time"], unit]
    return row
