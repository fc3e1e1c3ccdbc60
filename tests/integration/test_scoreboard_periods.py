"""A board over any period reads whole months from cg_sb_months and the days around them
from cg_sb_counts; it equals the board folded again from the trail (the as-of path, which
reads neither) for whole months, parts of months, ranges across months and single days."""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.bootstrap import bootstrap
from projections.case_facts import DIMENSIONS
from projections.cases import due_case_ids
from projections.scoreboard import scoreboard, whole_months
from tests.support import SH
from workflows.simulation import Simulation

RANGES = [(date(2026, 10, 1), date(2026, 10, 31)), (date(2026, 11, 1), date(2026, 11, 30)),
          (date(2026, 10, 1), date(2026, 11, 30)), (date(2026, 10, 20), date(2026, 11, 5)),
          (date(2026, 10, 25), date(2026, 11, 30)), (date(2026, 10, 1), date(2026, 11, 3)),
          (date(2026, 10, 28), date(2026, 10, 28)), (date(2026, 9, 1), date(2026, 12, 31))]


def test_boards_over_months_and_days_equal_the_boards_folded_again(tmp_path):
    cg = bootstrap(env={"PERSISTENCE_MODULE": "eventsourcing.sqlite",
                        "SQLITE_DBNAME": str(tmp_path / "p.sqlite")})
    try:
        sim = Simulation(cg.city, seed=21, start=datetime(2026, 10, 24, tzinfo=SH), days=14,
                         end=datetime(2026, 11, 20, tzinfo=SH))

        def tick(now):
            cg.projections.catch_up(["cases"])
            return len(cg.service.tick(now, due_case_ids(cg.sql, now)))

        stats = sim.run(90, cg.service.execute, tick, batch=30)
        assert stats.refused == 0, stats.first_errors
        cg.projections.catch_up()
        assert len(cg.sql.query("SELECT DISTINCT month FROM cg_sb_months")) == 2
        later = datetime(2100, 1, 1, tzinfo=UTC)
        for start, end in RANGES:
            for by in DIMENSIONS:
                live = scoreboard(cg.sql, cg.city, by=by, start=start, end=end)
                folded = scoreboard(cg.sql, cg.city, by=by, start=start, end=end, as_of=later)
                assert live["rows"] == folded["rows"], (by, start, end)
    finally:
        cg.close()


def month_end(d: date) -> date:
    return d.replace(day=calendar.monthrange(d.year, d.month)[1])


def first_whole_month(start: date, end: date) -> date | None:
    """The 1st of the first month lying wholly inside [start, end], if any."""
    d = start
    if start.day != 1:
        if month_end(start) == date.max:
            return None
        d = date.fromordinal(month_end(start).toordinal() + 1)
    return d if month_end(d) <= end else None


@settings(max_examples=500, deadline=None)
@given(st.dates(), st.dates())
def test_whole_months_and_the_days_left_cover_the_range_exactly(a, b):
    start, end = min(a, b), max(a, b)
    months, days = whole_months(start, end)
    first = first_whole_month(start, end)
    if first is None:
        assert months is None and days == [(start, end)]
        return
    assert months is not None and months[0] == first.isoformat()[:7]
    last = month_end(date.fromisoformat(months[1] + "-01"))
    assert last <= end and (last == date.max or month_end(
        date.fromordinal(last.toordinal() + 1)) > end)  # no whole month left after it
    want = []
    if start < first:
        want.append((start, date.fromordinal(first.toordinal() - 1)))
    if last < end:
        want.append((date.fromordinal(last.toordinal() + 1), end))
    assert days == want
