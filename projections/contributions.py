"""A case's contributions to the scoreboards (考评贡献): the counts its row adds to.

`cells(row, city)` gives them grouped by whom they count for: {(dimension, key): {count
name: n}}, the areas under ("grid", grid) (the read side rolls a grid up to its community,
street, district and squad). The inner dicts depend only on the row's facts, not on who
the people are, so they are worked out once per shape of facts and shared (never change
one): comparing a case's cells before and after a batch is mostly an identity check.
`contributions(row, city, dims)` is the same, flat, per (dimension, key, count), with
every area level spelled out.
"""

from __future__ import annotations

from collections import Counter
from operator import itemgetter
from typing import Any

from domain.city import City
from projections.case_facts import AREA_DIMS, ASSIST_COUNTS, DIMENSIONS, OTHERS, STEPS

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
# the counts each dimension is given: a rate whose numerator or denominator is not among
# them is no figure of that dimension's board (shown as none)
ATTRIBUTED: dict[str, frozenset[str]] = {
    **{dim: _AREA_COUNTS for dim in AREA_DIMS},
    "unit": frozenset((*UNIT_COUNTS, "returned", *ASSIST_COUNTS)),
    "supervisor": frozenset(("reported", "patrol_reported", "valid", "filed", "others_filed",
                             "verify_due", "verify_on_time", "check_due", "check_on_time")),
    "dispatcher": frozenset(("dispatched", "dispatch_due", "dispatch_on_time",
                             "dispatch_accurate", "returned")),
    "duty-chief": frozenset(("file_due", "file_on_time", "filed", "filed_voided")),
}
_STEP_KEYS = {s: (f"{s}_started", f"{s}_done", f"{s}_missed", (f"{s}_due",),
                  (f"{s}_due", f"{s}_on_time")) for s in STEPS}
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


def step_names(row: dict, step: str) -> tuple[str, ...]:
    """The step's counts: none until it is done or missed; due, and on time if done unmissed."""
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
        "callbacks": row["callbacks"],  # events: every 回访 recorded
        "callbacks_satisfied": row["callbacks_satisfied"],
    }
    return {k: int(v) for k, v in c.items() if v}


def merged_counts(row: dict) -> dict[str, int]:
    """A report merged into another case (合并): it was reported (per channel) and it was a
    valid report of a real problem, and nothing else: the original holds the filing,
    dispatch, resolution, closure and deadlines of the one problem (docs/indicators.md)."""
    c = {"reported": 1, "patrol_reported": row["channel"] == "patrol", "valid": 1}
    return {k: int(v) for k, v in c.items() if v}


# ---------------------------------------------------------------- by shape of facts

# every fact case_counts and step_names read (the people and places are not facts here)
_FACTS = itemgetter(
    "state", "channel", "shelved", "dispatched", "resolved", "closed", "filed", "voided",
    "filed_voided", "fix_passed", "reworks", "extensions", "closure_type", "urgings",
    "callbacks", "callbacks_satisfied",
    *(f"{s}_{k}" for s in STEPS for k in ("started", "done", "missed")))
_SHAPES: dict[tuple, dict[str, Any]] = {}
_SHAPES_MAX = 200_000  # distinct shapes are few (hundreds); a bound all the same
_ONE = {"returned": 1}
_ASSIST_BOTH = {"assist_due": 1, "assist_on_time": 1}
_ASSIST_DUE = {"assist_due": 1}


def _ones(names: tuple[str, ...], *more: str) -> dict[str, int]:
    return dict.fromkeys((*names, *more), 1)


def _shape(row: dict) -> dict[str, Any]:
    """The name → n dicts of each role in the case, for the row's shape of facts."""
    key = (_FACTS(row), len(row["returned_by"]))
    got = _SHAPES.get(key)
    if got is not None:
        return got
    own = case_counts(row)
    merged = row["state"] == "merged"
    if not merged and row["returned_by"]:
        own["returned"] = len(row["returned_by"])
    area = dict(own)
    if not merged:
        for s in STEPS:
            for name in step_names(row, s):
                area[name] = area.get(name, 0) + 1
    dispatch = _ones(step_names(row, "dispatch"), "dispatched")
    if own.get("dispatch_accurate"):
        dispatch["dispatch_accurate"] = 1
    if row["returned_by"]:
        dispatch["returned"] = len(row["returned_by"])
    filing = _ones(step_names(row, "file"))
    if row["filed"]:
        filing["filed"] = 1
        if row["filed_voided"]:
            filing["filed_voided"] = 1
    got = {
        "merged": merged,
        "area": area,
        "unit": {n: own[n] for n in UNIT_COUNTS if own.get(n)},
        "reporter": {n: 1 for n in ("reported", "patrol_reported", "valid") if own.get(n)},
        "squad": {"filed": 1, **({"others_filed": 1} if own.get("others_filed") else {})},
        "verify": _ones(step_names(row, "verify")),
        "check": _ones(step_names(row, "check")),
        "file": filing,
        "dispatch": dispatch,
    }
    got = {k: v if k == "merged" else _intern(v) for k, v in got.items()}
    if len(_SHAPES) >= _SHAPES_MAX:
        _SHAPES.clear()
        _SAME.clear()
    _SHAPES[key] = got
    return got


_SAME: dict[tuple, dict[str, int]] = {}  # equal count dicts are one object (compared by `is`)


def _intern(names: dict[str, int]) -> dict[str, int]:
    key = tuple(sorted(names.items()))
    got = _SAME.get(key)
    if got is None:
        got = _SAME[key] = names
    return got


def _add(out: dict, key: tuple, names: dict[str, int]) -> None:
    if not names:
        return
    have = out.get(key)
    if have is None:
        out[key] = names  # shared: never changed in place
        return
    both = dict(have)
    for k, n in names.items():
        both[k] = both.get(k, 0) + n
    out[key] = _intern(both)


_DELTAS: dict[tuple[int, int], tuple] = {}


def delta(before: dict[str, int] | None, after: dict[str, int] | None) -> tuple:
    """((count, change), …) from one counts dict to another (None: no counts), worked
    out once per pair of shared dicts (the pair is kept, so neither id is reused)."""
    got = _DELTAS.get((id(before), id(after)))
    if got is not None and got[0] is before and got[1] is after:
        return got[2]
    b, a = before or {}, after or {}
    out = tuple((k, n - b.get(k, 0)) for k, n in a.items() if n != b.get(k, 0)) + tuple(
        (k, -n) for k, n in b.items() if k not in a and n)
    if len(_DELTAS) >= _SHAPES_MAX:
        _DELTAS.clear()
    _DELTAS[(id(before), id(after))] = (before, after, out)
    return out


def cells(row: dict, city: City) -> dict[tuple[str, str | None], dict[str, int]]:
    """{(dimension, key): {count: n}} of the counted dimensions (areas as ("grid", grid));
    the inner dicts are shared between cases: read them, never change them."""
    s = _shape(row)
    out: dict = {}
    if s["area"] and (row["grid"] is not None or row["community"] is not None
                      or row["street"] is not None or row["district"] is not None
                      or row["squad"] is not None):
        out[("grid", row["grid"])] = s["area"]
    reporter = row["reporter"] if row["reporter_role"] == "supervisor" else None
    if s["merged"]:
        if reporter is not None and s["reporter"]:
            out[("supervisor", reporter)] = s["reporter"]
        return out
    if row["unit"] and s["unit"]:
        out[("unit", row["unit"])] = s["unit"]
    for unit in row["returned_by"]:
        _add(out, ("unit", unit), _ONE)
    for unit in row["assist_on_time"]:  # 协办按时反馈率: the assisting unit's own
        _add(out, ("unit", unit), _ASSIST_BOTH)
    for unit in row["assist_missed"]:
        _add(out, ("unit", unit), _ASSIST_DUE)
    # supervisors: their own reports; the misses in their squad's area; their checks
    if reporter is not None and s["reporter"]:
        out[("supervisor", reporter)] = s["reporter"]
    if row["squad"] and row["filed"]:
        for sup in squad_supervisors(city).get(row["squad"], ()):
            _add(out, ("supervisor", sup), s["squad"])
    if row["verifier"]:
        _add(out, ("supervisor", row["verifier"]), s["verify"])
    if row["checker"]:
        _add(out, ("supervisor", row["checker"]), s["check"])
    if row["filer"] and s["file"]:  # filing decisions: acceptor / duty chief
        out[("duty-chief", row["filer"])] = s["file"]
    if row["dispatcher"]:  # never empty: "dispatched"
        out[("dispatcher", row["dispatcher"])] = s["dispatch"]
    return out


def contributions(row: dict, city: City, dims: tuple[str, ...] = DIMENSIONS) -> Counter:
    """Every (dimension, key, count) cell this case adds to (areas: every level of its grid)."""
    out: Counter = Counter()
    for (dim, key), names in cells(row, city).items():
        if dim == "grid":
            for area in AREA_DIMS:
                if area in dims and row[area] is not None:
                    for name, n in names.items():
                        out[(area, row[area], name)] += n
        elif dim in dims:
            for name, n in names.items():
                out[(dim, key, name)] += n
    return out
