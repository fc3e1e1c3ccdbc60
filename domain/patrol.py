"""Daily patrol reports (零报告): one PatrolDay aggregate per squad and calendar day.

000_…txt: every squad reports its area's patrol findings by 17:00 each day, even when
it found nothing (a nil report, 零报告). The day is its own event stream, saved through
the same application as the cases, so the notification log, the projections and the
outbound Kafka see it. The stream opens with `Opened`, then holds at most one report
(`PatrolReported`) and at most one miss (`PatrolReportMissed`, recorded by the tick at
the cut-off, or first thing when a report arrives after the cut-off).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate

from domain.errors import ValidationError

PATROL_NS = uuid5(NAMESPACE_URL, "casegrid:patrol-day")


def patrol_day_id(squad: str, day: date) -> UUID:
    return uuid5(PATROL_NS, f"{squad}:{day.isoformat()}")


class PatrolDay(Aggregate):
    class Event(Aggregate.Event):
        occurred_at: datetime  # business time
        actor: str
        role: str
        squad: str
        day: str  # ISO date the report is for (city time zone)

    class Opened(Event, Aggregate.Created):
        """The squad-day's stream begins (always saved together with its first fact)."""

        cut_off: datetime

        def apply(self, day: PatrolDay) -> None:
            day.squad, day.day, day.cut_off = self.squad, self.day, self.cut_off

    class PatrolReported(Event):
        """巡查日报 / 零报告: the day's findings, or an explicit nil report."""

        nil: bool
        findings: int
        case_ids: list
        note: str
        late: bool  # after the cut-off

        def apply(self, day: PatrolDay) -> None:
            day.reported_at = self.occurred_at
            day.reporter = self.actor
            day.nil = self.nil

    class PatrolReportMissed(Event):
        """未按时报告: no report by the cut-off; recorded once per squad-day."""

        cut_off: datetime

        def apply(self, day: PatrolDay) -> None:
            day.missed = True

    def __init__(self, **kwargs: Any) -> None:
        self.reported_at: datetime | None = None
        self.reporter: str | None = None
        self.nil: bool | None = None
        self.missed = False

    @classmethod
    def open(cls, squad: str, day: date, cut_off: datetime, at: datetime) -> PatrolDay:
        return cls._create(cls.Opened, id=patrol_day_id(squad, day), occurred_at=at,
                           actor="system", role="system", squad=squad, day=day.isoformat(),
                           cut_off=cut_off)

    def report(self, *, at: datetime, actor: str, role: str, nil: bool, case_ids: list[str],
               findings: int, note: str) -> None:
        if self.reported_at is not None:
            raise ValidationError(
                "date", f"squad '{self.squad}' already reported for {self.day} "
                f"(at {self.reported_at.isoformat()} by {self.reporter}); nothing stored")
        late = at > self.cut_off
        if late:
            self.miss(at)  # the miss comes first, as a case's DeadlineMissed does
        self.trigger_event(self.PatrolReported, occurred_at=at, actor=actor, role=role,
                           squad=self.squad, day=self.day, nil=nil, findings=findings,
                           case_ids=list(case_ids), note=note, late=late)

    def miss(self, now: datetime) -> bool:
        """Record the miss if the cut-off has passed with no report by then; never twice."""
        if self.missed or now <= self.cut_off:
            return False
        if self.reported_at is not None and self.reported_at <= self.cut_off:
            return False
        self.trigger_event(self.PatrolReportMissed, occurred_at=self.cut_off, actor="system",
                           role="system", squad=self.squad, day=self.day, cut_off=self.cut_off)
        return True
