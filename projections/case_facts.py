"""What the scoreboards know of one case (案件考评事实), folded from its events.

A case belongs to the day it was reported (its cohort, in the city's time zone); its
row says which steps were due, met or missed, who did them, and where it stands. The
`contributions` of a row are the (dimension, key, count) cells it adds 1 (or n) to.
"""

from __future__ import annotations

from collections import Counter
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
_STEP_KEYS = {s: (STARTED[s], DONE[s], MISSED[s], (f"{s}_due",), (f"{s}_due", f"{s}_on_time"))
              for s in STEPS}
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
    for s in STEPS:
        row[f"{s}_started"] = False
        row[f"{s}_done"] = False
        row[f"{s}_missed"] = False
    if e.step:
        row[f"{e.step}_started"] = True
    return row


ROW_KEYS = (  # every key of a row, in the order cg_sb_case stores their values
    "case_id", "day", "grid", "community", "street", "district", "squad", "channel",
    "category", "reporter", "reporter_role", "state", "step", "filed", "voided",
    "filed_voided", "dispatched", "unit", "returned_by", "resolved", "fix_passed", "reworks",
    "extensions", "shelved", "closed", "closure_type", "urgings", "verifier", "filer",
    "dispatcher", "checker", *(f"{s}_{k}" for s in STEPS for k in ("started", "done", "missed")),
    "callbacks", "callbacks_satisfied", "assist_on_time", "assist_missed", "assist_late",
)


def pack(row: dict) -> str:
    """A row as stored in cg_sb_case: its values as a JSON array, in ROW_KEYS order."""
    return orjson.dumps([row[k] for k in ROW_KEYS]).decode()


def unpack(text: str) -> dict:
    return dict(zip(ROW_KEYS, orjson.loads(text), strict=True))


def fold(row: dict, e: Any) -> dict:
    """Apply one event (not the Reported that made the row) to the row, in place."""
    kind = getattr(e, "kind", None) or type(e)  # a light event (as-of) names its class
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


def _step_names(row: dict, step: str) -> tuple[str, ...]:
    started, done, missed, due, on_time = _STEP_KEYS[step]
    if not row[started] or not (row[done] or row[missed]):
        return ()
    if row[done] and not row[missed]:
        return on_time
    return due


def case_counts(row: dict) -> dict[str, int]:
    """The case's own counts (the area and unit figures), before attribution."""
    if row["state"] == "merged":  # 合并: a duplicate counts in discovery only
        return merged_counts(row)
    sh = row["shelved"]
    due = row["dispatched"] and not sh and (row["resolved"] or row["resolve_missed"])
    closed = row["closed"] and not sh
    c = {
        "reported": 1,
        "patrol_reported": row["channel"] == "patrol",
        "valid": row["filed"],
        "filed": row["filed"],
        "patrol_filed": row["filed"] and row["channel"] == "patrol",
        "others_filed": row["filed"] and row["channel"] in OTHERS,
        "voided": row["voided"],
        "filed_voided": row["filed_voided"],
        "dispatched": row["dispatched"],
        # 准确派遣: the dispatch step is due and done, and no unit ever sent the case back
        "dispatch_accurate": (row["dispatch_started"] and row["dispatch_done"]
                              and not row["returned_by"]),
        "due": due,
        "resolved": due and row["resolved"],
        "on_time": due and row["resolved"] and not row["resolve_missed"],
        "overdue": due and row["resolve_missed"],
        "overdue_open": due and row["resolve_missed"] and not row["resolved"],
        "reworked": row["reworks"] > 0 and not sh,
        "rework_events": 0 if sh else row["reworks"],
        "extended": row["extensions"] > 0 and not sh,
        "shelved": sh,
        "fix_passed": due and row["fix_passed"],
        "due_closure": row["filed"] and not row["voided"] and not sh,
        "closed": closed,
        "closed_on_time": closed and row["closure_type"] == "normal" and not row["close_missed"],
        "urged": row["urgings"] > 0,
        "callbacks": row.get("callbacks", 0),  # events: every 回访 recorded
        "callbacks_satisfied": row.get("callbacks_satisfied", 0),
    }
    return {k: int(v) for k, v in c.items() if v}


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


UNIT_COUNTS = ("dispatched", "due", "resolved", "on_time", "overdue", "overdue_open", "reworked",
               "rework_events", "extended", "shelved", "fix_passed", "due_closure", "closed",
               "closed_on_time", "urged", "callbacks", "callbacks_satisfied")
COUNTED_DIMS = ("grid", "unit", "supervisor", "dispatcher", "duty-chief")  # areas roll up from grid
_STEP_COUNTS = tuple(f"{s}_{k}" for s in STEPS for k in ("due", "on_time"))
_AREA_COUNTS = frozenset((
    "reported", "patrol_reported", "valid", "filed", "patrol_filed", "others_filed", "voided",
    "filed_voided", "dispatched", "dispatch_accurate", "due", "resolved", "on_time", "overdue",
    "overdue_open", "reworked", "rework_events", "returned", "extended", "shelved",
    "fix_passed", "due_closure", "closed", "closed_on_time", "urged", *_STEP_COUNTS,
    "callbacks", "callbacks_satisfied"))
# the counts each dimension is given by `contributions`: a rate whose numerator or
# denominator is not among them is no figure of that dimension's board (shown as none)
ATTRIBUTED: dict[str, frozenset[str]] = {
    **{dim: _AREA_COUNTS for dim in AREA_DIMS},
    "unit": frozenset((*UNIT_COUNTS, "returned", *ASSIST_COUNTS)),
    "supervisor": frozenset(("reported", "patrol_reported", "valid", "filed", "others_filed",
                             "verify_due", "verify_on_time", "check_due", "check_on_time")),
    "dispatcher": frozenset(("dispatched", "dispatch_due", "dispatch_on_time",
                             "dispatch_accurate", "returned")),
    "duty-chief": frozenset(("file_due", "file_on_time", "filed", "filed_voided")),
}
_SQUAD_SUPERVISORS: dict[int, tuple[City, dict[str, list[str]]]] = {}


def squad_supervisors(city: City) -> dict[str, list[str]]:
    got = _SQUAD_SUPERVISORS.get(id(city))
    if got is None or got[0] is not city:  # an id is reused once its city is gone
        sups: dict[str, list[str]] = {}
        for u in city.users.values():
            if u.role == "supervisor" and u.squad:
                sups.setdefault(u.squad, []).append(u.id)
        got = _SQUAD_SUPERVISORS[id(city)] = (city, sups)
    return got[1]


def contributions(row: dict, city: City, dims: tuple[str, ...] = DIMENSIONS) -> Counter:
    """Every (dimension, key, count) cell this case adds to (areas: every level of its grid)."""
    out: Counter = Counter()
    own = case_counts(row)
    if row["state"] == "merged":
        return merged_contributions(row, own, dims, out)
    if row["returned_by"]:
        own["returned"] = len(row["returned_by"])
    steps = [n for s in STEPS for n in _step_names(row, s)]
    for dim in AREA_DIMS:
        key = row[dim]
        if key is None or dim not in dims:
            continue
        for name, n in own.items():
            out[(dim, key, name)] += n
        for name in steps:
            out[(dim, key, name)] += 1
    if "unit" in dims:
        if row["unit"]:
            for name in UNIT_COUNTS:
                if own.get(name):
                    out[("unit", row["unit"], name)] += own[name]
        for unit in row["returned_by"]:
            out[("unit", unit, "returned")] += 1
        for unit in row.get("assist_on_time", ()):  # 协办按时反馈率: the assisting unit's own
            out[("unit", unit, "assist_due")] += 1
            out[("unit", unit, "assist_on_time")] += 1
        for unit in row.get("assist_missed", ()):
            out[("unit", unit, "assist_due")] += 1
    if "supervisor" in dims:
        # their own reports; the misses in their squad's area; their verifications and checks
        if row["reporter_role"] == "supervisor":
            for name in ("reported", "patrol_reported", "valid"):
                if own.get(name):
                    out[("supervisor", row["reporter"], name)] += 1
        if row["squad"] and row["filed"]:
            for sup in squad_supervisors(city).get(row["squad"], ()):
                out[("supervisor", sup, "filed")] += 1
                if own.get("others_filed"):
                    out[("supervisor", sup, "others_filed")] += 1
        if row["verifier"]:
            for name in _step_names(row, "verify"):
                out[("supervisor", row["verifier"], name)] += 1
        if row["checker"]:
            for name in _step_names(row, "check"):
                out[("supervisor", row["checker"], name)] += 1
    if "duty-chief" in dims and row["filer"]:  # filing decisions: acceptor / duty chief
        f = row["filer"]
        for name in _step_names(row, "file"):
            out[("duty-chief", f, name)] += 1
        if row["filed"]:
            out[("duty-chief", f, "filed")] += 1
            if row["filed_voided"]:
                out[("duty-chief", f, "filed_voided")] += 1
    if "dispatcher" in dims and row["dispatcher"]:
        d = row["dispatcher"]
        for name in _step_names(row, "dispatch"):
            out[("dispatcher", d, name)] += 1
        out[("dispatcher", d, "dispatched")] += 1
        if own.get("dispatch_accurate"):
            out[("dispatcher", d, "dispatch_accurate")] += 1
        if row["returned_by"]:
            out[("dispatcher", d, "returned")] += len(row["returned_by"])
    return out


def merged_counts(row: dict) -> dict[str, int]:
    """A report merged into another case (合并): it was reported (per channel) and it was a
    valid report of a real problem, and nothing else: the original holds the filing,
    dispatch, resolution, closure and deadlines of the one problem (docs/indicators.md)."""
    c = {"reported": 1, "patrol_reported": row["channel"] == "patrol", "valid": 1}
    return {k: int(v) for k, v in c.items() if v}


def merged_contributions(row: dict, own: dict, dims: tuple[str, ...], out: Counter) -> Counter:
    """A merged report's cells: its areas' discovery counts, and its reporter's own
    reported / patrol_reported / valid when a supervisor reported it."""
    for dim in AREA_DIMS:
        if row[dim] is not None and dim in dims:
            for name, n in own.items():
                out[(dim, row[dim], name)] += n
    if "supervisor" in dims and row["reporter_role"] == "supervisor":
        for name, n in own.items():
            out[("supervisor", row["reporter"], name)] += n
    return out
