"""The scoreboard's contributions (projections/contributions.py), worked out per role and
per shape of facts with shared count dicts, equal those of the plain per-cell code they
replaced (kept below verbatim as the reference), for any row of facts (hypothesis), every
dimension; and a batch's changes (contributions.delta) are the differences of the two."""

from __future__ import annotations

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.city import City
from projections.case_facts import AREA_DIMS, DIMENSIONS, OTHERS, ROW_KEYS, STEPS
from projections.contributions import cells, contributions, delta
from tests.support import city

SATISFIED = ("satisfied", "basic")
_STEP_KEYS = {s: (f"{s}_started", f"{s}_done", f"{s}_missed", (f"{s}_due",),
                  (f"{s}_due", f"{s}_on_time")) for s in STEPS}

# ---------------------------------------------------------------- the reference (before 2026-12-03)

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



UNIT_COUNTS = ("dispatched", "due", "resolved", "on_time", "overdue", "overdue_open", "reworked",
               "rework_events", "extended", "shelved", "fix_passed", "due_closure", "closed",
               "closed_on_time", "urged", "callbacks", "callbacks_satisfied")

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


def reference_contributions(row: dict, city: City, dims: tuple[str, ...] = DIMENSIONS) -> Counter:
    """Every (dimension, key, count) cell this case adds to (areas: every level of its grid)."""
    out: Counter = Counter()
    own = case_counts(row)
    if row["state"] == "merged":
        return reference_merged(row, own, dims, out)
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


def reference_merged(row: dict, own: dict, dims: tuple[str, ...], out: Counter) -> Counter:
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


# ---------------------------------------------------------------- the check

CITY = city()
GRIDS = [*list(CITY.cells)[:12], "99999999999999", None]
PEOPLE = [*[u.id for u in CITY.users.values()][:10], "someone", None]
UNITS = ["hw_unit", "cg_unit", "jt_unit", "sc_unit"]
BOOL_KEYS = ("filed", "voided", "filed_voided", "dispatched", "resolved", "fix_passed",
             "shelved", "closed", *(f"{s}_{k}" for s in STEPS for k in ("started", "done", "missed")))
COUNT_KEYS = ("reworks", "extensions", "urgings", "callbacks", "callbacks_satisfied")


@st.composite
def fact_rows(draw) -> dict:
    g = draw(st.sampled_from(GRIDS))
    cell = CITY.cells.get(g)
    areas = {d: getattr(cell, d) if cell else None for d in AREA_DIMS[1:]}
    if draw(st.integers(0, 9)) == 0:  # areas stored apart from the grid (an older city)
        areas = {d: draw(st.sampled_from(["a1", "a2", None])) for d in AREA_DIMS[1:]}
    row = {
        "case_id": "c", "day": draw(st.sampled_from(["2026-10-01", "2026-10-02"])), "grid": g,
        **areas,
        "channel": draw(st.sampled_from(["patrol", *OTHERS, "video"])), "category": "E0102",
        "reporter": draw(st.sampled_from(PEOPLE[:-1])),  # every report has its actor
        "reporter_role": draw(st.sampled_from(["supervisor", "citizen", "acceptor"])),
        "state": draw(st.sampled_from(["merged", "closed", "pending_dispatch", "evaluated"])),
        "step": draw(st.sampled_from([*STEPS, None])),
        "unit": draw(st.sampled_from([*UNITS, None])),
        "returned_by": draw(st.lists(st.sampled_from(UNITS), max_size=3)),
        "closure_type": draw(st.sampled_from(["normal", "other", None])),
        **{k: draw(st.sampled_from(PEOPLE)) for k in ("verifier", "filer", "dispatcher", "checker")},
        **{k: draw(st.lists(st.sampled_from(UNITS), max_size=2))
           for k in ("assist_on_time", "assist_missed", "assist_late")},
        **{k: draw(st.booleans()) for k in BOOL_KEYS},
        **{k: draw(st.integers(0, 3)) for k in COUNT_KEYS},
    }
    assert set(row) == set(ROW_KEYS)
    return row


@settings(max_examples=400, deadline=None)
@given(fact_rows())
def test_contributions_equal_the_plain_per_cell_code(row):
    for dims in (DIMENSIONS, ("grid", "unit", "supervisor", "dispatcher", "duty-chief"),
                 *((d,) for d in DIMENSIONS)):
        assert +contributions(row, CITY, dims) == +reference_contributions(row, CITY, dims), dims


@settings(max_examples=300, deadline=None)
@given(fact_rows(), fact_rows())
def test_delta_is_the_difference_of_two_cases_counts(a, b):
    before, after = cells(a, CITY), cells(b, CITY)
    for key in {*before, *after}:
        x, y = before.get(key), after.get(key)
        want = {k: n for k in {*(x or {}), *(y or {})}
                if (n := (y or {}).get(k, 0) - (x or {}).get(k, 0))}
        assert dict(delta(x, y)) == want
        assert dict(delta(x, y)) == dict(delta(x, y))  # the remembered pair, the same answer
