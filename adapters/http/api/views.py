"""Answers shared by the JSON API and the console: a case with its timeline and the steps
the viewer may take, the routing suggestion, a period of days, a weekly series."""

from __future__ import annotations

from datetime import date, datetime

from adapters.bootstrap import Casegrid
from adapters.http import reads
from adapters.http.access import check_read_case
from adapters.views import case_view, event_view
from domain.calendar import month_range
from domain.case_callback import CONTACT_ROLES, visible_contact
from domain.city import User
from domain.errors import ValidationError
from domain.glossary import ROLE, TRIGGER, zh, zh_of
from domain.lifecycle import UNIT_STATES
from domain.machine import allowed_triggers
from domain.times import MAX_PERIOD_DAYS, local_text, optional_day

# CLI action name -> lifecycle trigger (the same names as `casegrid case <action>`)
ACTIONS = {
    "verify": "verify", "file": "file", "refuse": "refuse", "dispatch": "dispatch",
    "return": "return", "request-extension": "request_extension",
    "decide-extension": "decide_extension", "shelve": "request_shelve",
    "decide-shelve": "decide_shelve", "resolve": "resolve", "check": "check", "close": "close",
    "evaluate": "evaluate", "urge": "urge", "accept": "accept", "callback": "callback",
}
ACTIONS["merge"] = "merge"  # 合并: body {into: the original's id or number, reason}
ACTIONS.update({"assist-feedback": "assist_feedback",  # 协办反馈: body {comment, evidence}
                "assist-override": "assist_override",  # 免除协办反馈: body {reason}
                "assign": "assign"})  # 指派到人: body {assignee}
ACTION_OF = {t: a for a, t in ACTIONS.items()}
TRIGGER_ZH = zh_of(TRIGGER)
SERIES_MAX_DAYS = 2 * 366  # weekly points: about two years at most


def case_detail(cg: Casegrid, user: User, case_id: str, as_of: datetime | None = None) -> dict:
    """The case (as it stood at `as_of`), its timeline, the steps `user` may take now and
    the routing suggestion; 404 for a case the user may not read."""
    case_id = reads.case_key(cg, case_id)
    latest = cg.service.get(case_id)
    check_read_case(user, latest)
    events = cg.service.timeline(case_id, as_of=as_of)
    if not events:
        raise ValidationError("as_of", f"the case had no events recorded by {as_of.isoformat()}")
    case = latest if len(events) == latest.version else cg.app.repository.get(
        latest.id, version=events[-1].originator_version)
    now = cg.service.clock()
    view = case_view(case, cg.city, case.holder, now)
    view["holder_name"] = holder_name(cg, view["holder"])
    view["unit_name"] = cg.city.units[case.unit].name if case.unit in cg.city.units else None
    view["contact"] = visible_contact(case, user.role)  # protected: the center's desk only
    view["merged_contacts"] = merged_contacts(cg, case, user) if user.role in CONTACT_ROLES else []
    view["assists"] = assist_view(cg, case)  # 协办: each assisting unit's due time and answer
    view["assignee"] = getattr(case, "assignee", None)  # 指派到人
    return {"case": view, "timeline": timeline(cg, events),
            "allowed": [] if as_of else allowed_actions(user, case),
            "dispatch_suggestion": dispatch_suggestion(cg, case)}


def assist_view(cg: Casegrid, case) -> list[dict]:
    """The assisting units of the current dispatch (协办): due time, answer, miss, waiver."""
    tz = cg.city.tz
    return [{"unit": a["unit"], "unit_name": cg.city.units[a["unit"]].name
             if a["unit"] in cg.city.units else a["unit"],
             "due_at": local_text(a["due_at"], tz), "answered_at": local_text(a["answered_at"], tz),
             "answered_by": a["answered_by"], "text": a["text"], "evidence": list(a["evidence"]),
             "missed": a["missed"], "waived": a["waived"],
             "owed": a["answered_at"] is None and not a["waived"]}
            for a in getattr(case, "current_assists", ())]


def merged_contacts(cg: Casegrid, case, user: User) -> list[dict]:
    """The contacts of the reports merged into this case (合并), for 回访 of every reporter:
    the center's desk only, like the case's own contact."""
    out = []
    for d in getattr(case, "duplicates", ()):
        got = visible_contact(cg.service.get(d["case_id"]), user.role)
        if got:
            out.append({"case_id": str(d["case_id"]), "number": d.get("number"), **got})
    return out


def holder_name(cg: Casegrid, holder: str | None) -> str | None:
    """'unit:hw' → the unit's name, 'role:acceptor' → 受理员."""
    if not holder:
        return None
    kind, who = holder.split(":", 1)
    if kind == "unit":
        return cg.city.units[who].name if who in cg.city.units else who
    return zh(ROLE, who)


def timeline(cg: Casegrid, events: list) -> list[dict]:
    """Every event with actor, role, the due time of the step it ended and the actual time;
    `late` when that step missed a due time at any point (an extension approved after a
    miss does not make it on time)."""
    out = []
    prev = None
    missed: set[str] = set()
    for e in events:
        v = event_view(e, cg.city)
        user = cg.city.users.get(e.actor)
        v["actor_name"] = user.name if user else e.actor
        v["recorded_at_exact"] = e.timestamp.isoformat()  # for ?as_of= links (full precision)
        if prev is not None and prev.step is not None and (e.step != prev.step or
                                                           type(e).__name__ == "DeadlineMissed"):
            v["step_ended"] = prev.step
            v["step_due_at"] = local_text(prev.due_at, cg.city.tz)
            v["late"] = bool(prev.due_at and e.occurred_at > prev.due_at) or prev.step in missed
            if type(e).__name__ == "DeadlineMissed":
                missed.add(prev.step)
            elif e.step != prev.step:
                missed.discard(prev.step)  # the step is over; a later round starts clean
        else:
            v["step_ended"] = None
            v["step_due_at"] = None
            v["late"] = False
        out.append(v)
        prev = e
    return out


def allowed_actions(user: User, case) -> list[dict]:
    """The steps this user may take on this case now (from the lifecycle definition)."""
    if user.role == "inspector":
        return []
    if user.role == "unit_member" and case.state in UNIT_STATES and case.unit != user.unit:
        owes = user.unit in [a["unit"] for a in getattr(case, "owed_assists", ())]
        return [{"action": "assist-feedback", "trigger": "assist_feedback",
                 "zh": TRIGGER_ZH["assist_feedback"]}] if owes else []  # 协办: its answer only
    out = []
    for trig in allowed_triggers(case.state, user.role):
        if trig == "report" or (trig == "accept" and getattr(case, "accepted_at", None)):
            continue  # not a step on a case; a dispatch the unit has already signed for
        if trig == "assist_feedback" or (trig == "assist_override"
                                         and not getattr(case, "owed_assists", None)):
            continue  # the lead gives no assisting feedback; nothing owed, nothing to waive
        out.append({"action": ACTION_OF[trig], "trigger": trig, "zh": TRIGGER_ZH.get(trig, trig)})
    return out


def dispatch_suggestion(cg: Casegrid, case) -> dict | None:
    """The routing rule (确责) that would decide the unit, and the unit it suggests."""
    cell = cg.city.cells.get(case.grid)
    rule = cg.city.route(case.category, cell) if cell else None
    if rule is None:
        return None
    unit = cg.city.units[rule.unit]
    return {"unit": rule.unit, "unit_name": unit.name, "rule": rule.id, "kind": rule.kind,
            "basis": rule.basis}


def period(cg: Casegrid, start: str | None, end: str | None,
           month: str | None = None) -> tuple[date, date]:
    """The days asked for (`month`, else from..to, default reads.default_range), bounded."""
    if month:
        return month_range(month)
    d0, d1 = reads.default_range(cg)
    s, e = optional_day(start, "from") or d0, optional_day(end, "to") or d1
    if e < s:
        raise ValidationError("to", f"{e} is before from {s}")
    if (e - s).days > MAX_PERIOD_DAYS:
        raise ValidationError("to", f"{s} .. {e} spans more than {MAX_PERIOD_DAYS} days")
    return s, e


def series(cg: Casegrid, *, by: str, indicator: str, start: date, end: date) -> dict:
    """One indicator's rate per key, week by week."""
    inds = reads.indicators()
    if inds and indicator not in inds:
        raise ValidationError("indicator", f"'{indicator}' is not one of {', '.join(inds)}")
    if (end - start).days > SERIES_MAX_DAYS:
        raise ValidationError("to", f"a weekly series spans at most {SERIES_MAX_DAYS} days "
                                    f"({start} .. {end} is longer)")
    periods = reads.weeks(start, end)
    keys: dict[str, dict] = {}
    for i, (p0, p1) in enumerate(periods):
        board = reads.scoreboard(cg, by=by, start=p0, end=p1)
        for row in board["rows"]:
            name = cg.city.units[row["key"]].short if by == "unit" and row["key"] in cg.city.units \
                else row["name"]
            k = keys.setdefault(row["key"], {"key": row["key"], "name": name,
                                             "values": [None] * len(periods)})
            k["values"][i] = row["rates"].get(indicator)
    return {"by": by, "indicator": indicator, "zh": (inds.get(indicator) or {}).get("zh"),
            "periods": [{"from": p0.isoformat(), "to": p1.isoformat()} for p0, p1 in periods],
            "series": list(keys.values())}
