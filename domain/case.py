"""The Case aggregate (案件) and its events.

Every event carries the business time it happened (`occurred_at`), who did it and in
what role, the reason where a person decides, and the case's state, running step and
due time after it, so that a reader of the stream never needs the lifecycle to know
where a case stood. The workflow service decides moves; the aggregate records them and
keeps the invariants: business time never runs backwards, and a step that ends after
its due time records one DeadlineMissed (超时) first, once per due time.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.errors import ValidationError


class Case(Aggregate):
    source_due_at: datetime | None = None  # absent from snapshots taken before it existed

    class Event(Aggregate.Event):
        occurred_at: datetime  # business time (业务时间) from the channel
        actor: str
        role: str
        state: str  # state after the event
        step: str | None  # step whose clock runs after the event
        due_at: datetime | None  # that step's due time
        held_by: str | None  # who holds the case after the event: 'unit:hw', 'role:acceptor'
        reason: str | None

        def apply(self, case: Case) -> None:
            if self.step != case.step:  # a new step's clock starts (or the clock stops)
                case.step_started_at = self.occurred_at if self.step else None
            case.state = self.state
            case.step = self.step
            case.due_at = self.due_at
            case.last_at = self.occurred_at
            case.held_by = self.held_by
            self.apply_step(case)

        def apply_step(self, case: Case) -> None:
            """What this kind of event changes besides the common fields."""

    class Reported(Event, Aggregate.Created):
        """上报: a problem found and reported through a channel."""

        channel: str
        category: str
        grid: str
        urgency: str
        description: str
        lat: float | None
        lon: float | None
        evidence: list
        external_id: str | None
        source_due_at: datetime | None  # the source system's own due time (imported history)

        class_version = 2

        @staticmethod
        def upcast_v1_v2(state: dict) -> None:
            state["source_due_at"] = None

        def apply_step(self, case: Case) -> None:
            case.source_due_at = self.source_due_at
            case.channel = self.channel
            case.category = self.category
            case.grid = self.grid
            case.urgency = self.urgency
            case.description = self.description
            case.lat = self.lat
            case.lon = self.lon
            case.evidence = list(self.evidence)
            case.external_id = self.external_id
            case.reporter = self.actor
            case.reported_at = self.occurred_at

    class Verified(Event):
        """核实: a supervisor confirms (or not) a citizen/hotline report."""

        confirmed: bool

        def apply_step(self, case: Case) -> None:
            case.confirmed = self.confirmed

    class Filed(Event):
        """立案."""

    class Refused(Event):
        """不予立案 / 作废."""

    class Dispatched(Event):
        """派遣: to a member unit, recording the routing rule (确责) that decided."""

        unit: str
        routing_rule: str | None
        suggested_unit: str | None

        def apply_step(self, case: Case) -> None:
            case.unit = self.unit
            case.routing_rule = self.routing_rule
            case.dispatches += 1

    class Returned(Event):
        """退回: the unit says the case is not theirs."""

        unit: str

        def apply_step(self, case: Case) -> None:
            case.unit = None
            case.returns += 1

    class ExtensionRequested(Event):
        """申请延期."""

        minutes: float

        def apply_step(self, case: Case) -> None:
            case.pending_extension = self.minutes

    class ExtensionDecided(Event):
        """审批延期: an approval moves the due time."""

        approved: bool
        minutes: float

        def apply_step(self, case: Case) -> None:
            case.pending_extension = None
            if self.approved:
                case.extensions += 1

    class ShelveRequested(Event):
        """申请挂账."""

    class ShelveDecided(Event):
        """审批挂账."""

        approved: bool

        def apply_step(self, case: Case) -> None:
            if self.approved:
                case.shelved_at = self.occurred_at

    class Resolved(Event):
        """处置反馈."""

        evidence: list

        def apply_step(self, case: Case) -> None:
            case.evidence = case.evidence + list(self.evidence)

    class Checked(Event):
        """核查: passed, or failed and sent back for rework (返工)."""

        passed: bool
        evidence: list

        def apply_step(self, case: Case) -> None:
            case.evidence = case.evidence + list(self.evidence)
            if not self.passed:
                case.reworks += 1

    class Closed(Event):
        """结案, with its closure type."""

        closure_type: str

        def apply_step(self, case: Case) -> None:
            case.closure_type = self.closure_type
            case.closed_at = self.occurred_at

    class Evaluated(Event):
        """评价."""

        rating: str

        def apply_step(self, case: Case) -> None:
            case.rating = self.rating

    class Urged(Event):
        """督办 / 催办: pressure recorded, state unchanged."""

        def apply_step(self, case: Case) -> None:
            case.urgings += 1

    class DeadlineMissed(Event):
        """超时: a step passed its due time while `holder` held the case."""

        missed_step: str
        missed_due_at: datetime
        holder_kind: str  # 'unit' | 'role'
        holder: str

        def apply_step(self, case: Case) -> None:
            case.missed_due = self.missed_due_at
            case.missed_steps = [*case.missed_steps, self.missed_step]

    # ------------------------------------------------------------------ commands

    def __init__(self, **kwargs: Any) -> None:
        # fields every case has before its first step event applies
        self.step = None
        self.step_started_at = None
        self.held_by = None
        self.unit = None
        self.routing_rule = None
        self.confirmed = None
        self.pending_extension = None
        self.shelved_at = None
        self.closure_type = None
        self.closed_at = None
        self.rating = None
        self.missed_due = None
        self.missed_steps = []
        self.dispatches = 0
        self.returns = 0
        self.reworks = 0
        self.extensions = 0
        self.urgings = 0

    @classmethod
    def report(cls, case_id: UUID, **fields: Any) -> Case:
        return cls._create(cls.Reported, id=case_id, **fields)

    def move(
        self,
        event_class: type[Case.Event],
        *,
        occurred_at: datetime,
        state: str,
        step: str | None,
        due_at: datetime | None,
        holder: tuple[str, str] | None,
        **fields: Any,
    ) -> None:
        """Record one lifecycle event; if it ends the running step late, record the miss first."""
        self._check_time(occurred_at)
        if self.step is not None and step != self.step:
            self.miss_deadline(occurred_at, holder)
        self.trigger_event(
            event_class, occurred_at=occurred_at, state=state, step=step, due_at=due_at, **fields
        )

    def miss_deadline(self, now: datetime, holder: tuple[str, str] | None) -> bool:
        """Record DeadlineMissed if the running step's due time has passed and is not yet recorded."""
        due = self.due_at
        if self.step is None or due is None or self.missed_due == due:
            return False
        if due >= now:
            return False
        kind, who = holder or ("role", "unknown")
        self.trigger_event(
            Case.DeadlineMissed,
            occurred_at=max(due, self.last_at),
            actor="system",
            role="system",
            state=self.state,
            step=self.step,
            due_at=due,
            held_by=self.held_by,
            reason=None,
            missed_step=self.step,
            missed_due_at=due,
            holder_kind=kind,
            holder=who,
        )
        return True

    def _check_time(self, occurred_at: datetime) -> None:
        if occurred_at < self.last_at:
            raise ValidationError(
                "occurred_at",
                f"{occurred_at.isoformat()} is earlier than the case's last event "
                f"({self.last_at.isoformat()})",
            )

    @property
    def missed_resolve(self) -> bool:
        return "resolve" in self.missed_steps
