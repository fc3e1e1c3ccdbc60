"""What every case event carries (the common part of domain/case.py's events), so that a
case's steps can be declared in more than one module: the lifecycle's core in
domain/case.py, later steps in modules of their own (a mixin of Case whose events
subclass CaseEvent and record through `Case.record`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from eventsourcing.domain import Aggregate


class CaseEvent(Aggregate.Event):
    occurred_at: datetime  # business time (业务时间) from the channel
    actor: str
    role: str
    state: str  # state after the event
    step: str | None  # step whose clock runs after the event
    due_at: datetime | None  # that step's due time
    held_by: str | None  # who holds the case after the event: 'unit:hw', 'role:acceptor'
    reason: str | None

    def apply(self, case: Any) -> None:
        if self.step != case.step:  # a new step's clock starts (or the clock stops)
            case.step_started_at = self.occurred_at if self.step else None
        case.state = self.state
        case.step = self.step
        case.due_at = self.due_at
        case.last_at = self.occurred_at
        case.held_by = self.held_by
        self.apply_step(case)

    def apply_step(self, case: Any) -> None:
        """What this kind of event changes besides the common fields."""
