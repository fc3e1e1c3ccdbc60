"""What the command path remembers of the city (a step's limit, a day's working hours,
the lifecycle's moves) gives what working it out again gives, and a changed copy of a
city (dataclasses.replace, as tests and policies make them) remembers nothing of the old."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

import domain.machine as machine
from domain.calendar import WorkCalendar, parse_hours
from domain.city import TimeLimit
from domain.errors import CasegridError
from domain.lifecycle import STATES, TRIGGERS
from tests.support import city

TZ = ZoneInfo("Asia/Shanghai")
CAL = WorkCalendar(tz=TZ, hours=parse_hours([["08:30", "12:00"], ["14:00", "18:00"]]),
                   holidays=frozenset(date(2026, 10, d) for d in range(1, 8)),
                   extra_workdays=frozenset({date(2026, 10, 10)}))


def add_worked_out(cal: WorkCalendar, start: datetime, minutes: float) -> datetime:
    """The calendar's add, each day's hours worked out afresh (what it did before)."""
    t, left, d = cal.local(start), timedelta(minutes=minutes), cal.local(start).date()
    while True:
        if cal.is_workday(d):
            for a, b in cal._intervals(d):
                if t >= b:
                    continue
                begin = max(t, a)
                if left <= b - begin:
                    return begin + left
                left -= b - begin
        d += timedelta(days=1)


@settings(max_examples=300, deadline=None)
@given(st.datetimes(min_value=datetime(2026, 9, 1), max_value=datetime(2026, 12, 31),
                    timezones=st.just(TZ)), st.floats(min_value=0, max_value=20_000))
def test_add_and_between_equal_the_worked_out_answer(start, minutes):
    end = CAL.add(start, minutes)
    assert end == add_worked_out(CAL, start, minutes)
    assert abs(CAL.between(start, end) - minutes) < 1e-6


def test_a_replaced_city_has_its_own_limits():
    base = city()
    before = base.limit("resolve", "E0102", "normal")
    own = replace(base, time_limits=(TimeLimit("resolve", 7.0),))
    assert own.limit("resolve", "E0102", "normal") == 7.0
    assert base.limit("resolve", "E0102", "normal") == before
    assert own.calendar is base.calendar  # the calendar is shared, and so are its days


def test_remembered_moves_equal_the_guards_answer():
    for state in STATES:
        for trigger in TRIGGERS:
            for role in ("acceptor", "dispatcher", "unit_member", "supervisor", "system"):
                for flags in ({}, {"passed": True}, {"approved": True}):
                    answers = []
                    for forget in (True, False, False):  # worked out, then from memory
                        if forget:
                            machine._DECIDED.clear()
                        try:
                            answers.append(machine.decide(state, trigger, role, flags))
                        except CasegridError as e:
                            answers.append(type(e))
                    assert answers[0] == answers[1] == answers[2], (state, trigger, role, flags)
