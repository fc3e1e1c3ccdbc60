"""The Case aggregate (案件): its events, and one method per lifecycle trigger.

Every event carries the business time it happened (`occurred_at`), who did it and in
what role, the reason where a person decides, and the case's state, running step, due
time and holder after it, so that a reader of the stream never needs the lifecycle to
know where a case stood. Each method asks the lifecycle's guard (domain/machine.py) for
the move, applies the rules of its step (reasons, routing, closure type), and records
the event declared beside it. A step that ends after its due time records one
DeadlineMissed (超时) first, once per due time; business time never runs backwards.
Input is validated before it gets here (workflows/service.py, one edge for every
channel); `city` gives the rules: calendar, time limits, routing, intake bounds.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.case_accept import Accepting
from domain.case_assist import Assisting
from domain.case_base import CaseEvent
from domain.case_callback import Callbacks
from domain.case_merge import Merging
from domain.errors import RefusedError, ValidationError
from domain.lifecycle import CHANNELS, CLOSURE_TYPES, STATES, UNIT_STATES, held_by, holder_of
from domain.machine import Move, decide, reason_for

if TYPE_CHECKING:
    from domain.city import City, User

_SAME: Any = object()  # "as the case has it now" (due time)


class Case(Accepting, Assisting, Callbacks, Merging, Aggregate):
    source_due_at: datetime | None = None  # absent from snapshots taken before it existed
    number: str | None = None  # 案件编号 2026-11-000123; None for cases reported before it

    class Event(CaseEvent):
        """A step of the case (the common fields: domain/case_base.py)."""

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

    # ------------------------------------------------------------------ 上报 report

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
        number: str | None  # the readable case number (案件编号), None before numbers existed

        class_version = 3

        @staticmethod
        def upcast_v1_v2(state: dict) -> None:
            state["source_due_at"] = None

        @staticmethod
        def upcast_v2_v3(state: dict) -> None:
            state["number"] = None

        def apply_step(self, case: Case) -> None:
            case.source_due_at = self.source_due_at
            case.number = self.number
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

    @classmethod
    def report(cls, case_id: UUID, by: User, at: datetime, city: City, *, channel: str,
               category: str, grid: str, urgency: str,
               number: Callable[[datetime], str] | None = None, **fields: Any) -> Case:
        """上报 through a channel that takes reports from `by`'s role; a channel that needs
        核实 starts at verification, the others at filing. `number` gives the readable
        number for the business time in the city's zone, once the report is accepted."""
        ch = CHANNELS[channel]
        if by.role not in ch["roles"]:
            raise RefusedError(
                f"refused: channel '{channel}' takes reports from roles "
                f"{', '.join(ch['roles'])}, not '{by.role}'",
                state="new", trigger="report", role=by.role,
            )
        move = decide("new", "report", by.role, {"needs_verification": ch["verify"]})
        step = STATES[move.dest]["step"]
        return cls._create(
            cls.Reported, id=case_id, occurred_at=at, actor=by.id, role=by.role,
            state=move.dest, step=step, due_at=_due(city, step, category, urgency, at),
            held_by=held_by(move.dest, None), reason=None, channel=channel,
            category=category, grid=grid, urgency=urgency,
            number=number(at.astimezone(city.tz)) if number else None, **fields,
        )

    # ------------------------------------------------------------------ 核实 立案 作废

    class Verified(Event):
        """核实: a supervisor confirms (or not) a citizen/hotline report."""

        confirmed: bool

        def apply_step(self, case: Case) -> None:
            case.confirmed = self.confirmed

    def verify(self, by: User, at: datetime, city: City, *, passed: bool,
               reason: str | None = None) -> None:
        move = self._guard("verify", by, passed=passed)
        self.record(Case.Verified, move, by, at, city, reason_for(move, reason, passed),
                     confirmed=passed)

    class Filed(Event):
        """立案."""

    def file(self, by: User, at: datetime, city: City, *, reason: str | None = None) -> None:
        self.record(Case.Filed, self._guard("file", by), by, at, city, reason)

    class Refused(Event):
        """不予立案 / 作废."""

    def refuse(self, by: User, at: datetime, city: City, *, reason: str | None) -> None:
        move = self._guard("refuse", by)
        self.record(Case.Refused, move, by, at, city, reason_for(move, reason))

    # ------------------------------------------------------------------ 派遣 退回

    class Dispatched(Event):
        """派遣: to a member unit, recording the routing rule (确责) that decided."""

        unit: str
        routing_rule: str | None
        suggested_unit: str | None

        def apply_step(self, case: Case) -> None:
            case.unit = self.unit
            case.routing_rule = self.routing_rule
            case.dispatches += 1
            case.accepted_at = case.accepted_by = None  # the unit signs for each dispatch
            case.assignee = None  # 指派到人 is per dispatch too

    def dispatch(self, by: User, at: datetime, city: City, *, unit: str | None = None,
                 reason: str | None = None, assist: list[str] | tuple = ()) -> None:
        """To the unit the routing rule (确责) names, or another with a reason; `assist`
        names assisting units (协办, domain/case_assist.py)."""
        move = self._guard("dispatch", by)
        rule = city.route(self.category, city.cells[self.grid])
        suggested = rule.unit if rule else None
        unit = unit or suggested
        if unit is None:
            raise ValidationError(
                "unit", f"no routing rule matches {self.category} in {self.grid}; name the unit")
        city.unit(unit)
        if unit != suggested and not reason:
            raise ValidationError(
                "reason", f"dispatch to '{unit}' overrides the routing suggestion "
                          f"'{suggested}' ({rule.id if rule else 'no rule'}); give a reason")
        assist = self.check_assist(city, assist, lead=unit)
        self.record(Case.Dispatched, move, by, at, city, reason, holder_unit=unit, unit=unit,
                     routing_rule=rule.id if rule and unit == suggested else "manual",
                     suggested_unit=suggested)
        self.ask_assist(by, at, city, assist)

    class Returned(Event):
        """退回: the unit says the case is not theirs."""

        unit: str

        def apply_step(self, case: Case) -> None:
            case.unit = None
            case.returns += 1

    def return_to_center(self, by: User, at: datetime, city: City, *, reason: str | None) -> None:
        move = self._guard("return", by)
        self.record(Case.Returned, move, by, at, city, reason_for(move, reason),
                     holder_unit=None, unit=self.unit)

    # ------------------------------------------------------------------ 延期 挂账

    class ExtensionRequested(Event):
        """申请延期."""

        minutes: float

        def apply_step(self, case: Case) -> None:
            case.pending_extension = self.minutes

    def request_extension(self, by: User, at: datetime, city: City, *, minutes: float,
                          reason: str | None) -> None:
        """`minutes` of working time, already bounded by the city's max_extension."""
        move = self._guard("request_extension", by)
        self.record(Case.ExtensionRequested, move, by, at, city, reason_for(move, reason),
                     minutes=minutes)

    class ExtensionDecided(Event):
        """审批延期: an approval moves the due time."""

        approved: bool
        minutes: float

        def apply_step(self, case: Case) -> None:
            case.pending_extension = None
            if self.approved:
                case.extensions += 1

    def decide_extension(self, by: User, at: datetime, city: City, *, approved: bool,
                         reason: str | None = None) -> None:
        move = self._guard("decide_extension", by, approved=approved)
        minutes = self.pending_extension or 0.0
        most = city.intake.max_extension_minutes
        if approved and not minutes <= most:  # stored by a version without the bound
            raise ValidationError("approved", f"the pending extension asks for {minutes:g} "
                                              f"working minutes, more than the most allowed "
                                              f"({most:g}); reject it")
        reason = reason_for(move, reason, approved=approved)
        due = city.calendar.add(self.due_at, minutes) if approved and self.due_at else _SAME
        self.record(Case.ExtensionDecided, move, by, at, city, reason, due_at=due,
                     approved=approved, minutes=minutes)

    class ShelveRequested(Event):
        """申请挂账."""

    def request_shelve(self, by: User, at: datetime, city: City, *, reason: str | None) -> None:
        move = self._guard("request_shelve", by)
        self.record(Case.ShelveRequested, move, by, at, city, reason_for(move, reason))

    class ShelveDecided(Event):
        """审批挂账."""

        approved: bool

        def apply_step(self, case: Case) -> None:
            if self.approved:
                case.shelved_at = self.occurred_at

    def decide_shelve(self, by: User, at: datetime, city: City, *, approved: bool,
                      reason: str | None) -> None:
        move = self._guard("decide_shelve", by, approved=approved)
        self.record(Case.ShelveDecided, move, by, at, city,
                     reason_for(move, reason, approved=approved), approved=approved)

    # ------------------------------------------------------------------ 处置 核查

    class Resolved(Event):
        """处置反馈."""

        evidence: list

        def apply_step(self, case: Case) -> None:
            case.evidence = case.evidence + list(self.evidence)

    def resolve(self, by: User, at: datetime, city: City, *, evidence: list[str],
                reason: str | None = None) -> None:
        move = self._guard("resolve", by)
        city.check_resolve_photo(self.category, evidence)  # where the city asks for one
        self.check_assists_answered()  # 协办: every assisting unit answered or waived
        self.record(Case.Resolved, move, by, at, city, reason, evidence=evidence)

    class Checked(Event):
        """核查: passed, or failed and sent back for rework (返工)."""

        passed: bool
        evidence: list

        def apply_step(self, case: Case) -> None:
            case.evidence = case.evidence + list(self.evidence)
            if not self.passed:
                case.reworks += 1

    def check(self, by: User, at: datetime, city: City, *, passed: bool,
              evidence: list[str], reason: str | None = None) -> None:
        move = self._guard("check", by, passed=passed)
        self.record(Case.Checked, move, by, at, city, reason_for(move, reason, passed),
                     passed=passed, evidence=evidence)

    # ------------------------------------------------------------------ 结案 评价 督办

    class Closed(Event):
        """结案, with its closure type."""

        closure_type: str

        def apply_step(self, case: Case) -> None:
            case.closure_type = self.closure_type
            case.closed_at = self.occurred_at

    def close(self, by: User, at: datetime, city: City, *, closure_type: str | None = None,
              reason: str | None = None) -> None:
        """结案: normal, or overdue when the resolve step was missed; a shelved case closes
        as special; error and special closures need a reason."""
        move = self._guard("close", by)
        ct = closure_type
        if self.state == "shelved":
            if ct not in (None, "special"):
                raise ValidationError("closure_type", "a shelved case closes only as 'special'")
            ct = "special"
        if ct in ("error", "special") and not reason:
            raise ValidationError("reason", f"a '{ct}' closure ({CLOSURE_TYPES[ct]}) needs a reason")
        ct = ct or ("overdue" if self.missed_resolve else "normal")
        self.record(Case.Closed, move, by, at, city, reason, closure_type=ct)

    class Evaluated(Event):
        """评价."""

        rating: str

        def apply_step(self, case: Case) -> None:
            case.rating = self.rating

    def evaluate(self, by: User, at: datetime, city: City, *, rating: str,
                 reason: str | None = None) -> None:
        self.record(Case.Evaluated, self._guard("evaluate", by), by, at, city, reason,
                     rating=rating)

    class Urged(Event):
        """督办 / 催办: pressure recorded, state unchanged."""

        def apply_step(self, case: Case) -> None:
            case.urgings += 1

    def urge(self, by: User, at: datetime, city: City, *, reason: str | None) -> None:
        move = self._guard("urge", by)
        self.record(Case.Urged, move, by, at, city, reason_for(move, reason))

    # ------------------------------------------------------------------ 超时 deadline missed

    class DeadlineMissed(Event):
        """超时: a step passed its due time while `holder` held the case."""

        missed_step: str
        missed_due_at: datetime
        holder_kind: str  # 'unit' | 'role'
        holder: str

        def apply_step(self, case: Case) -> None:
            case.missed_due = self.missed_due_at
            case.missed_steps = [*case.missed_steps, self.missed_step]

    def miss_deadline(self, now: datetime) -> bool:
        """Record DeadlineMissed if the running step's due time has passed and is not yet recorded."""
        due = self.due_at
        if self.step is None or due is None or self.missed_due == due or due >= now:
            return False
        kind, who = self.holder or ("role", "unknown")
        self.trigger_event(
            Case.DeadlineMissed, occurred_at=max(due, self.last_at), actor="system",
            role="system", state=self.state, step=self.step, due_at=due,
            held_by=self.held_by, reason=None, missed_step=self.step, missed_due_at=due,
            holder_kind=kind, holder=who,
        )
        return True

    # ------------------------------------------------------------------ the common part

    @property
    def holder(self) -> tuple[str, str] | None:
        """Who holds the case now (责任主体): ('unit', id) or ('role', center role)."""
        return holder_of(self.state, self.unit)

    @property
    def missed_resolve(self) -> bool:
        return "resolve" in self.missed_steps

    def _guard(self, trigger: str, by: User, **flags: bool) -> Move:
        """The lifecycle's move for `by`; a unit member acts only on their own unit's case."""
        move = decide(self.state, trigger, by.role, flags)
        if by.role == "unit_member" and self.state in UNIT_STATES and self.unit != by.unit:
            raise RefusedError(
                f"refused: case is {self.state} ({STATES[self.state]['zh']}) with unit "
                f"'{self.unit}'; trigger '{trigger}' by role 'unit_member' of unit '{by.unit}'",
                state=self.state, trigger=trigger, role=by.role,
            )
        return move

    def record(self, event_class: type[Case.Event], move: Move, by: User, at: datetime,
                city: City, reason: str | None, *, holder_unit: Any = _SAME, due_at: Any = _SAME,
                **fields: Any) -> None:
        """Record the move's event (after a DeadlineMissed, if it ends its step late)."""
        if at < self.last_at:
            raise ValidationError("occurred_at", f"{at.isoformat()} is earlier than the case's "
                                                 f"last event ({self.last_at.isoformat()})")
        step = STATES[move.dest]["step"]
        if due_at is _SAME:
            due_at = self.due_at if step == self.step else _due(
                city, step, self.category, self.urgency, at)
        unit = self.unit if holder_unit is _SAME else holder_unit
        if self.step is not None and step != self.step:
            self.miss_deadline(at)
        self.trigger_event(
            event_class, occurred_at=at, actor=by.id, role=by.role, state=move.dest, step=step,
            due_at=due_at, held_by=held_by(move.dest, unit), reason=reason, **fields,
        )


def _due(city: City, step: str | None, category: str, urgency: str, start: datetime):
    """The step's due time: its working-time limit from `start` on the city's calendar."""
    if step is None:
        return None
    minutes = city.limit(step, category, urgency)
    return None if minutes is None else city.calendar.add(start, minutes)
