"""Merging duplicates (合并) never changes the resolution figures of the original's unit:
the scoreboard's facts (projections/case_facts.py) of a case with any set of duplicates
merged into it, at any open moment of its life, equal those of the case alone; each
merged report adds only reported / patrol_reported / valid to its areas and reporter."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.indicators import RATES, rate
from projections.case_facts import fold, new_row
from projections.contributions import contributions
from tests.support import T0, UNIT, city, grid, report
from workflows.commands import CaseAction

# the original's life: (trigger, actor, fields); a step may be late (next day 16:00)
LIFE = [("file", "acc_wang", {}), ("dispatch", "disp_chen", {}),
        ("resolve", "hw_luo", {}), ("check", "sup_zhang", {"passed": True}),
        ("close", "acc_wang", {}), ("evaluate", "chief_zhao", {"rating": "satisfied"})]
OPEN_BEFORE = 4  # a merge may come before any of the first 5 steps (the case still open)
DUP_PATHS = {"pending_verification": [], "pending_filing": [],
             "pending_dispatch": [("file", "acc_wang", {})]}
RESOLUTION = ("resolution_rate", "on_time_resolution_rate", "rectification_rate",
              "rework_rate", "overdue_rate", "extension_rate", "closure_rate",
              "on_time_closure_rate")


def facts(svc, case_ids) -> Counter:
    out: Counter = Counter()
    for cid in case_ids:
        events = svc.timeline(cid)
        row = new_row(events[0], city())
        for e in events[1:]:
            fold(row, e)
        out += contributions(row, city())
    return out


def world(dups: list[tuple[str, str, int]], late_resolve: bool, rework: bool):
    """The original through its whole life, with `dups` (channel, state, merge before
    step i) reported 1 minute apart and merged; the facts of every case."""
    svc = grid().service
    original = report(svc, "patrol", T0)
    ids = [original.id]
    at = T0 + timedelta(minutes=1)
    steps = list(LIFE)
    if rework:
        steps[3:4] = [("check", "sup_zhang", {"passed": False, "reason": "未清理"}),
                      ("resolve", "hw_luo", {}), ("check", "sup_zhang", {"passed": True})]
    for i, (trigger, actor, fields) in enumerate(steps):
        for channel, state, before in dups:
            if before != i:
                continue
            dup = report(svc, channel, at)
            for t, a, f in dup_path(channel, state):
                at += timedelta(minutes=1)
                svc.act(CaseAction(dup.id, t, a, at, **f))
            at += timedelta(minutes=1)
            svc.act(CaseAction(dup.id, "merge", "acc_wang", at, reason="同一问题",
                               into=str(original.id)))
            ids.append(dup.id)
        at += timedelta(minutes=1)
        if trigger == "resolve" and late_resolve:
            at = max(at, T0 + timedelta(days=1, hours=7))
        svc.act(CaseAction(original.id, trigger, actor, at, **fields))
    return svc, original, ids


def dup_path(channel: str, state: str) -> list:
    """The steps that bring a fresh report of `channel` to `state` (a patrol report starts
    at filing, so its pending_verification is pending_filing)."""
    verify = [("verify", "sup_zhang", {"passed": True})]
    if channel == "patrol" or state == "pending_verification":
        return DUP_PATHS[state]
    return verify + DUP_PATHS[state]


def unit_counts(cells: Counter) -> dict:
    return {k[2]: n for k, n in cells.items() if k[0] == "unit" and k[1] == UNIT}


dup_strategy = st.lists(st.tuples(st.sampled_from(["patrol", "citizen", "hotline"]),
                                  st.sampled_from(list(DUP_PATHS)),
                                  st.integers(0, OPEN_BEFORE)), max_size=4)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(dups=dup_strategy, late=st.booleans(), rework=st.booleans())
def test_merging_never_changes_the_units_resolution_figures(dups, late, rework):
    svc, original, ids = world(dups, late, rework)
    alone_svc, _, alone_ids = world([], late, rework)
    merged, alone = facts(svc, ids), facts(alone_svc, alone_ids)
    assert unit_counts(merged) == unit_counts(alone)
    for name in RESOLUTION:
        assert rate(unit_counts(merged), name) == rate(unit_counts(alone), name), name
    # the areas: every figure but the discovery counts is the same
    discovery = {"reported", "patrol_reported", "valid"}
    for (dim, key, name), n in merged.items():
        if dim == "grid" and name not in discovery:
            assert alone[(dim, key, name)] == n, name
    grid_key = next(k for (d, k, _n) in alone if d == "grid")
    assert merged[("grid", grid_key, "reported")] == 1 + len(dups)
    assert merged[("grid", grid_key, "valid")] == 1 + len(dups)
    patrol = sum(1 for c, _s, _b in dups if c == "patrol")
    assert merged[("supervisor", "sup_zhang", "reported")] == 1 + patrol
    # the original keeps every reporter in its history
    assert len(svc.get(original.id).duplicates) == len(dups)


def test_rates_named_here_exist():
    assert set(RESOLUTION) <= set(RATES)


@pytest.mark.parametrize("state", list(DUP_PATHS))
def test_a_merged_report_counts_in_discovery_only(state):
    svc, original, ids = world([("patrol", state, 2)], late_resolve=False, rework=False)
    dup_cells = facts(svc, ids[1:])
    names = {name for (_d, _k, name) in dup_cells}
    assert names == {"reported", "patrol_reported", "valid"}
