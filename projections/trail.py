"""Accountability trail (责任倒查): who held a case, from when to when, and what they missed."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from types import SimpleNamespace

import orjson

from domain.case import Case
from domain.case_base import CaseEvent  # every case event, in case.py or a step's module
from domain.city import City
from domain.errors import NotFoundError, ValidationError
from domain.times import local_text
from projections.ports import Cur, Sql
from projections.times import from_ts, ts

DETAIL = ("unit", "approved", "minutes", "passed", "closure_type", "rating", "confirmed",
          "routing_rule", "missed_step", "holder_kind", "holder", "channel", "category", "grid",
          "urgency", "external_id", "reopened")  # never the protected contact (case_callback.py)

MERGE_DETAIL = ("original_id", "original_number", "duplicate_id", "duplicate_number", "reporter")
DETAIL = (*DETAIL, *MERGE_DETAIL)  # 合并: the links both ways, the duplicate's reporter
ASSIST_DETAIL = ("units", "assist_unit", "assignee")  # 协办 and 指派到人 (domain/case_assist.py)
ASSIST_TIMES = ("assist_due_at", "missed_assist_due_at")  # stored as ts() text
DETAIL = (*DETAIL, *ASSIST_DETAIL, *ASSIST_TIMES)
ASSIST_EVENTS = ("AssistRequested", "AssistAnswered", "AssistDeadlineMissed", "AssistWaived")

_DETAIL_KEYS: dict[type, tuple[str, ...]] = {}  # per event class: which DETAIL fields it has
COLUMNS = ("case_id", "version", "position", "type", "occurred_at", "recorded_at", "actor", "role",
           "state", "step", "due_at", "held_by", "reason", "missed_due_at", "miss_holder",
           "detail")


class Trail:
    name = "trail"
    tables = ("cg_trail",)
    loose_keys = ("cg_trail_pkey",)  # only inserted: a rebuild in shards checks it at the end

    def create(self, cur: Cur) -> None:
        cur.execute(
            "CREATE TABLE IF NOT EXISTS cg_trail (case_id TEXT NOT NULL, version INTEGER NOT NULL,"
            " position BIGINT NOT NULL, type TEXT NOT NULL, occurred_at TEXT NOT NULL,"
            " recorded_at TEXT NOT NULL, actor TEXT NOT NULL, role TEXT NOT NULL,"
            " state TEXT NOT NULL, step TEXT, due_at TEXT, held_by TEXT, reason TEXT,"
            " missed_due_at TEXT, miss_holder TEXT, detail TEXT NOT NULL,"
            " PRIMARY KEY (case_id, version))"
        )
        # partial indexes: only the rows the period queries look for pay for an index entry
        cur.execute("CREATE INDEX IF NOT EXISTS cg_trail_miss ON cg_trail (missed_due_at)"
                    " WHERE type = 'DeadlineMissed'")
        cur.execute("CREATE INDEX IF NOT EXISTS cg_trail_reported ON cg_trail (occurred_at)"
                    " WHERE type = 'Reported'")

    def forget(self) -> None:
        """Nothing is held between batches."""

    def prepare(self, sql: Sql, items: list, start: int, end: int) -> list[tuple]:
        rows = []
        for e, t, pos, cid in items:
            if not isinstance(e, CaseEvent):  # patrol days etc.
                continue
            name = type(e).__name__
            keys = _DETAIL_KEYS.get(type(e))
            if keys is None:
                keys = _DETAIL_KEYS[type(e)] = tuple(k for k in DETAIL if hasattr(e, k))
            d = e.__dict__
            detail = {k: t.get(k) if k in ASSIST_TIMES else d[k] for k in keys}
            missed_due = miss_holder = None
            if name == "DeadlineMissed":
                missed_due = t["missed_due_at"]
                miss_holder = f"{e.holder_kind}:{e.holder}"
            elif name == "AssistDeadlineMissed":  # 协办超时: the assisting unit's own miss
                missed_due = t["missed_assist_due_at"]
                miss_holder = f"unit:{e.assist_unit}"
            rows.append((
                cid, d["originator_version"], pos, name, t["occurred_at"], t["timestamp"],
                d["actor"], d["role"], d["state"], d["step"], t.get("due_at"), d.get("held_by"),
                d["reason"], missed_due, miss_holder, orjson.dumps(detail).decode(),
            ))
        return rows

    def write(self, cur: Cur, rows: list[tuple]) -> None:
        cur.copy_rows("cg_trail", COLUMNS, rows)  # the runner's tracking makes each row new


COLS = ("case_id", "version", "type", "occurred_at", "recorded_at", "actor", "role", "state",
        "step", "due_at", "held_by", "reason", "missed_due_at", "miss_holder", "detail")


def case_events(sql: Sql, case_ids: list[str]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for i in range(0, len(case_ids), 500):
        chunk = case_ids[i:i + 500]
        for r in sql.query(
            f"SELECT {', '.join(COLS)} FROM cg_trail WHERE case_id IN ({','.join('?' * len(chunk))})"
            " ORDER BY case_id, version",
            chunk,
        ):
            d = dict(zip(COLS, r, strict=True))
            d["detail"] = orjson.loads(d["detail"])
            out.setdefault(d["case_id"], []).append(d)
    return out


def events_as_of(sql: Sql, city: City, start: date, end: date, as_of: datetime) -> list[list]:
    """Per case reported in [start, end] (city days), its events recorded up to as_of, as
    light event objects that the scoreboard's fold understands."""
    lo, hi = day_bounds(start, end, city)
    cutoff = ts(as_of)
    ids = [r[0] for r in sql.query(
        "SELECT case_id FROM cg_trail WHERE type = 'Reported' AND occurred_at >= ?"
        " AND occurred_at < ? AND recorded_at <= ?", (lo, hi, cutoff))]
    out = []
    for _cid, evs in sorted(case_events(sql, ids).items()):
        kept = [_light(e) for e in evs if e["recorded_at"] <= cutoff]
        if kept:
            out.append(kept)
    return out


def _light(e: dict) -> SimpleNamespace:
    d = e["detail"]
    return SimpleNamespace(
        kind=getattr(Case, e["type"]), originator_id=e["case_id"], occurred_at=from_ts(e["occurred_at"]),
        actor=e["actor"], role=e["role"], state=e["state"], step=e["step"],
        **{k: d.get(k) for k in ("unit", "approved", "passed", "closure_type", "missed_step",
                                 "channel", "category", "grid", "rating", "reopened",
                                 "units", "assist_unit")},
    )


def _overrun(city: City, due: str | None, end: str | None) -> dict:
    if not due or not end or end <= due:
        return {"met": True if due and end else None, "overrun_minutes": 0,
                "overrun_working_minutes": 0}
    a, b = from_ts(due), from_ts(end)
    return {"met": False, "overrun_minutes": round((b - a).total_seconds() / 60, 1),
            "overrun_working_minutes": round(city.calendar.between(a, b), 1)}


def custody(events: list[dict], city: City) -> list[dict]:
    """Consecutive spans of one holder: who, the people who acted, the step's due and overrun."""
    spans: list[dict] = []
    for e in events:
        if e["type"] == "DeadlineMissed":
            continue
        if spans and spans[-1]["holder"] == e["held_by"]:
            if e["step"] == spans[-1]["step"]:
                spans[-1]["due_at"] = e["due_at"]  # an approved extension moved the due time
            if e["type"] == "Assigned":  # 指派到人: the person in the unit who has the case
                spans[-1]["person"] = spans[-1]["assignee"] = e["detail"].get("assignee")
            continue
        if spans:  # the event that moved the case on ends the span; its actor is the person
            last = spans[-1]
            last["to"] = e["occurred_at"]
            last["ended_by"] = {"actor": e["actor"], "role": e["role"], "event": e["type"]}
            if e["role"] in ("unit_member", "acceptor", "duty_chief", "dispatcher", "supervisor"):
                last["person"] = last["person"] or e["actor"]
        spans.append({"holder": e["held_by"], "from": e["occurred_at"], "to": None,
                      "step": e["step"], "due_at": e["due_at"], "person": None, "ended_by": None,
                      "missed": False, "assignee": None})
    for e in events:
        if e["type"] == "DeadlineMissed":
            for s in spans:
                if s["from"] <= e["occurred_at"] and (s["to"] is None or e["occurred_at"] <= s["to"]):
                    s["missed"] = True
                    break
    out = []
    for s in spans:
        if s["holder"] is None:
            continue
        kind, _, who = s["holder"].partition(":")
        end = s["to"]
        o = _overrun(city, s["due_at"], end) if end else {"met": None, "overrun_minutes": None,
                                                          "overrun_working_minutes": None}
        if s["missed"]:
            o["met"] = False
        out.append({"holder_kind": kind, "holder": who, "person": s["person"],
                    "from": local_text(s["from"], city.tz), "to": local_text(end, city.tz),
                    "step": s["step"],
                    "due_at": local_text(s["due_at"], city.tz), **o, "ended_by": s["ended_by"],
                    "assignee": s["assignee"]})
    return out


def _person_for_miss(miss: dict, events: list[dict]) -> str | None:
    """Who held the case when the step was missed: the next person to act for that holder."""
    holder = miss["miss_holder"]
    if miss["type"] == "AssistDeadlineMissed":  # the assisting unit's member who answered
        unit = miss["detail"].get("assist_unit")
        return next((e["actor"] for e in events if e["version"] > miss["version"]
                     and e["type"] == "AssistAnswered"
                     and e["detail"].get("assist_unit") == unit), None)
    events = [e for e in events if e["type"] not in ASSIST_EVENTS]  # another unit's acts
    after = [e for e in events if e["version"] > miss["version"] and e["type"] != "DeadlineMissed"]
    for e in after:
        if holder.startswith("unit:") and e["role"] == "unit_member":
            return e["actor"]
        if holder.startswith("role:") and e["role"] == holder[5:]:
            return e["actor"]
        if e["held_by"] != holder:
            break
    before = [e for e in events if e["version"] < miss["version"] and e["held_by"] == holder]
    for e in reversed(before):
        if e["role"] == "unit_member" or (holder.startswith("role:") and e["role"] == holder[5:]):
            return e["actor"]
    return None


def case_trail(sql: Sql, city: City, case_id: str) -> dict:
    events = case_events(sql, [str(case_id)]).get(str(case_id))
    if not events:
        raise NotFoundError(f"case_id: no case '{case_id}'")

    def pick(types, keys=("reason",)):
        return [{"at": local_text(e["occurred_at"], city.tz), "actor": e["actor"], "role": e["role"],
                 "type": e["type"], **{k: e.get(k) for k in keys},
                 **{k: v for k, v in e["detail"].items() if k not in ("holder_kind", "holder")}}
                for e in events if e["type"] in types]

    misses = []
    for e in events:
        if e["type"] in MISS_TYPES:
            misses.append({"step": e["detail"].get("missed_step", "assist"),
                           "due_at": local_text(e["missed_due_at"], city.tz),
                           "recorded_as_of": local_text(e["occurred_at"], city.tz),
                           "holder": e["miss_holder"], "person": _person_for_miss(e, events)})
    return {
        "case_id": str(case_id),
        "custody": custody(events, city),
        "misses": misses,
        "extensions": pick(("ExtensionRequested", "ExtensionDecided")),
        "returns": pick(("Returned",)),
        "reworks": [r for r in pick(("Checked",)) if not r.get("passed")],
        "shelving": pick(("ShelveRequested", "ShelveDecided")),
        "urgings": pick(("Urged",)),
        "merges": pick(("MergedInto", "DuplicateMerged")),  # 合并: both ways
        "assists": assists(events, city),  # 协办: each assisting unit's own deadline
        "assignments": pick(("Assigned",)),  # 指派到人
    }


def assists(events: list[dict], city: City) -> list[dict]:
    """Each assisting unit of each dispatch (协办): asked when, due when, answered when and
    by whom, met or missed (its own miss, never the lead's), or waived by the center."""
    out: list[dict] = []
    dispatch = 0
    rows: dict[tuple[int, str], dict] = {}
    for e in events:
        d = e["detail"]
        if e["type"] == "Dispatched":
            dispatch += 1
        elif e["type"] == "AssistRequested":
            for u in d.get("units") or ():
                rows[(dispatch, u)] = r = {
                    "dispatch": dispatch, "unit": u, "lead": _lead(e), "asked_at": e["occurred_at"],
                    "due_at": d.get("assist_due_at"), "answered_at": None, "answered_by": None,
                    "missed": False, "waived": False, "waived_by": None, "reason": None}
                out.append(r)
        elif e["type"] in ASSIST_EVENTS and (dispatch, d.get("assist_unit")) in rows:
            r = rows[(dispatch, d["assist_unit"])]
            if e["type"] == "AssistAnswered":
                r["answered_at"], r["answered_by"] = e["occurred_at"], e["actor"]
            else:
                r["missed"] = True
        elif e["type"] == "AssistWaived":
            for u in d.get("units") or ():
                if (dispatch, u) in rows:
                    rows[(dispatch, u)].update(waived=True, waived_by=e["actor"],
                                               reason=e["reason"])
    for r in out:
        o = _overrun(city, r["due_at"], r["answered_at"]) if r["answered_at"] else {
            "met": False if r["missed"] else None, "overrun_minutes": None,
            "overrun_working_minutes": None}
        if r["missed"]:
            o["met"] = False
        r.update(o, asked_at=local_text(r["asked_at"], city.tz),
                 due_at=local_text(r["due_at"], city.tz),
                 answered_at=local_text(r["answered_at"], city.tz))
    return out


def _lead(e: dict) -> str | None:
    held = e["held_by"] or ""
    return held[5:] if held.startswith("unit:") else None


MISS_TYPES = ("DeadlineMissed", "AssistDeadlineMissed")


def _done(miss: dict, evs: list[dict]) -> dict | None:
    """The event that ended the missed step: the next step, or the assisting unit's answer."""
    if miss["type"] == "AssistDeadlineMissed":
        unit = miss["detail"].get("assist_unit")
        return next((x for x in evs if x["version"] > miss["version"]
                     and x["type"] in ("AssistAnswered", "AssistWaived", "Returned", "Dispatched")
                     and (x["type"] != "AssistAnswered" or x["detail"].get("assist_unit") == unit)
                     and (x["type"] != "AssistWaived" or unit in (x["detail"].get("units") or ()))),
                    None)
    return next((x for x in evs if x["version"] > miss["version"]
                 and x["step"] != miss["detail"].get("missed_step")
                 and x["type"] not in MISS_TYPES), None)


def day_bounds(start: date, end: date, city: City) -> tuple[str, str]:
    if end < start:
        raise ValidationError("to", f"{end} is before from {start}")
    a = datetime.combine(start, time(0), city.tz)
    b = datetime.combine(end + timedelta(days=1), time(0), city.tz)
    return ts(a), ts(b)


def missed_deadlines(sql: Sql, city: City, *, unit: str | None = None, actor: str | None = None,
                     start: date, end: date) -> dict:
    """The missed deadlines of a unit or a person over a period (by due time), with their cases."""
    if (unit is None) == (actor is None):
        raise ValidationError("unit", "give exactly one of unit or actor")
    if unit is not None:
        city.unit(unit)
    if actor is not None:
        city.user(actor)
    lo, hi = day_bounds(start, end, city)
    cond, params = ("type IN ('DeadlineMissed', 'AssistDeadlineMissed') AND missed_due_at >= ?"
                    " AND missed_due_at < ?", [lo, hi])
    if unit is not None:
        cond += " AND miss_holder = ?"
        params.append(f"unit:{unit}")
    ids = [r[0] for r in sql.query(f"SELECT DISTINCT case_id FROM cg_trail WHERE {cond}", params)]
    by_case = case_events(sql, ids)
    misses = []
    for cid in sorted(by_case):
        evs = by_case[cid]
        if evs[-1]["state"] == "merged":  # a duplicate's misses are no extra overdue steps
            continue
        for e in evs:
            if e["type"] not in MISS_TYPES or not (lo <= e["missed_due_at"] < hi):
                continue
            if unit is not None and e["miss_holder"] != f"unit:{unit}":
                continue
            person = _person_for_miss(e, evs)
            if actor is not None and person != actor:
                continue
            done = _done(e, evs)
            misses.append({
                "case_id": cid, "step": e["detail"].get("missed_step", "assist"),
                "due_at": local_text(e["missed_due_at"], city.tz),
                "done_at": local_text(done["occurred_at"], city.tz) if done else None,
                **_overrun(city, e["missed_due_at"], done["occurred_at"] if done else None),
                "holder": e["miss_holder"], "person": person,
            })
    return {"unit": unit, "actor": actor, "from": start.isoformat(), "to": end.isoformat(),
            "count": len(misses), "cases": sorted({m["case_id"] for m in misses}),
            "misses": misses}
