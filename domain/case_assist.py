"""Lead and assisting units (主办/协办), and a case assigned to a person in its unit
(指派到人): a mixin of Case.

A dispatch may name assisting units besides the lead (the case's `unit`): the dispatch
step records `AssistRequested` after `Dispatched`, with one due time for the assisting
units (the city's `assist` time limit, else the resolve limit, on its working calendar).
Each assisting unit answers once (`assist_feedback`: text and evidence) while the case is
with the lead; a due time passed before an answer is recorded once per unit
(`AssistDeadlineMissed`, the unit's own miss, never the lead's). The lead resolves only
when every assisting unit has answered, or the center waived the rest with a reason
(`assist_override`: duty chief / dispatcher). The clocks belong to one dispatch: a return
or a new dispatch ends them. Every assist event carries `assist_due_at`, the due time
still running after it (None when no unit owes an answer), for the deadline watch.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from domain.case_base import CaseEvent
from domain.errors import RefusedError, ValidationError
from domain.lifecycle import STATES
from domain.machine import Move, decide, reason_for

if TYPE_CHECKING:
    from domain.city import City, User

ASSIST_MAX = 5  # assisting units on one dispatch
FEEDBACK_MAX = 2000  # characters of an assisting unit's feedback
OPEN = ("dispatched", "extension_requested", "shelve_requested")  # with the lead unit


class Assisting:
    """The assist, assist-feedback, assist-override and assign steps of Case."""

    assists: tuple = ()  # one dict per assisting unit, of every dispatch (`dispatch` = its number)
    assignee: str | None = None  # the person in the unit the case is assigned to
    assigned_by: str | None = None

    class AssistRequested(CaseEvent):
        """协办: the dispatch names assisting units, each owing its own feedback by the due time."""

        units: list
        assist_due_at: datetime | None

        def apply_step(self, case: Any) -> None:
            n = case.dispatches
            case.assists = (*case.assists, *({
                "unit": u, "dispatch": n, "asked_at": self.occurred_at,
                "due_at": self.assist_due_at, "answered_at": None, "answered_by": None,
                "text": None, "evidence": [], "missed": False, "waived": False,
            } for u in self.units))

    class AssistAnswered(CaseEvent):
        """协办反馈: an assisting unit's own answer (text, evidence)."""

        assist_unit: str
        text: str
        evidence: list
        assist_due_at: datetime | None

        def apply_step(self, case: Any) -> None:
            case.assists = _changed(case, [self.assist_unit], answered_at=self.occurred_at,
                                    answered_by=self.actor, text=self.text,
                                    evidence=list(self.evidence))

    class AssistDeadlineMissed(CaseEvent):
        """协办超时: an assisting unit passed its due time without an answer (its own miss)."""

        assist_unit: str
        missed_assist_due_at: datetime
        assist_due_at: datetime | None

        def apply_step(self, case: Any) -> None:
            case.assists = _changed(case, [self.assist_unit], missed=True)

    class AssistWaived(CaseEvent):
        """协办免除: the center lets the lead resolve without the named units' answers."""

        units: list
        assist_due_at: datetime | None

        def apply_step(self, case: Any) -> None:
            case.assists = _changed(case, self.units, waived=True)

    class Assigned(CaseEvent):
        """指派到人: the case is assigned to a named member of the holding unit."""

        assignee: str
        unit: str

        def apply_step(self, case: Any) -> None:
            case.assignee = self.assignee
            case.assigned_by = self.actor

    # ------------------------------------------------------------------ reads

    @property
    def current_assists(self) -> list[dict]:
        """The assisting units of the current dispatch."""
        n = self.dispatches  # type: ignore[attr-defined]
        return [a for a in self.assists if a["dispatch"] == n]

    @property
    def assist_units(self) -> list[str]:
        return [a["unit"] for a in self.current_assists]

    @property
    def owed_assists(self) -> list[dict]:
        """Assisting units still owing feedback (neither answered nor waived)."""
        return [a for a in self.current_assists if a["answered_at"] is None and not a["waived"]]

    def running_assist_due(self, after: list[str] = ()) -> datetime | None:
        """The assist due time still running once the units in `after` are settled."""
        if self.state not in OPEN:  # type: ignore[attr-defined]
            return None
        dues = [a["due_at"] for a in self.owed_assists
                if a["unit"] not in after and not a["missed"] and a["due_at"] is not None]
        return min(dues) if dues else None

    # ------------------------------------------------------------------ steps

    def check_assist(self, city: City, units: Any, *, lead: str) -> list[str]:
        """The assisting units a dispatch names, checked by field before anything is recorded."""
        units = list(units or ())
        if len(units) > ASSIST_MAX:
            raise ValidationError("assist", f"at most {ASSIST_MAX} assisting units, not {len(units)}")
        for i, u in enumerate(units):
            if u not in city.units:
                raise ValidationError(f"assist[{i}]", f"'{u}' is not a member unit")
            if u == lead:
                raise ValidationError(f"assist[{i}]", f"'{u}' is the lead unit; an assisting "
                                                      "unit is another unit")
            if u in units[:i]:
                raise ValidationError(f"assist[{i}]", f"'{u}' is named twice")
        return units

    def ask_assist(self, by: User, at: datetime, city: City, units: list[str]) -> None:
        """Record the assisting units (checked) of the dispatch just made."""
        if not units:
            return
        due = assist_due(city, self.category, self.urgency, at)  # type: ignore[attr-defined]
        stay = Move("dispatch", self.state, self.state, {"zh": "协办"})  # type: ignore
        self.record(type(self).AssistRequested, stay, by, at, city, None,  # type: ignore
                    units=units, assist_due_at=due)

    def assist_feedback(self, by: User, at: datetime, city: City, *, text: str | None,
                        evidence: list[str] | None = None, reason: str | None = None) -> None:
        """协办反馈 by a member of an assisting unit that still owes its answer."""
        move = decide(self.state, "assist_feedback", by.role, {})  # type: ignore[attr-defined]
        mine = next((a for a in self.current_assists if a["unit"] == by.unit), None)
        if mine is None:
            raise RefusedError(
                f"refused: unit '{by.unit}' is not an assisting unit of this dispatch "
                f"(assisting: {', '.join(self.assist_units) or 'none'})",
                state=self.state, trigger="assist_feedback", role=by.role)  # type: ignore
        if mine["answered_at"] is not None or mine["waived"]:
            raise RefusedError(
                f"refused: unit '{by.unit}' has already "
                f"{'answered' if mine['answered_at'] else 'been waived'} for this dispatch",
                state=self.state, trigger="assist_feedback", role=by.role)  # type: ignore
        if not text:
            raise ValidationError("comment", "assist feedback needs the unit's words")
        self.miss_assists(at, units=[by.unit])
        self.record(type(self).AssistAnswered, move, by, at, city, reason,  # type: ignore
                    assist_unit=by.unit, text=text, evidence=list(evidence or []),
                    assist_due_at=self.running_assist_due(after=[by.unit]))

    def assist_override(self, by: User, at: datetime, city: City, *,
                        reason: str | None) -> None:
        """协办免除: the center lets the lead resolve without the answers still owed."""
        move = self._guard("assist_override", by)  # type: ignore[attr-defined]
        reason = reason_for(move, reason)
        owed = [a["unit"] for a in self.owed_assists]
        if not owed:
            raise ValidationError("assist", "no assisting unit owes feedback on this case")
        self.miss_assists(at, units=owed)
        self.record(type(self).AssistWaived, move, by, at, city, reason,  # type: ignore
                    units=owed, assist_due_at=None)

    def check_assists_answered(self) -> None:
        """The lead resolves only once every assisting unit answered (or was waived)."""
        owed = [a["unit"] for a in self.owed_assists]
        if owed:
            raise ValidationError(
                "assist", f"assisting units still owe feedback: {', '.join(owed)}; wait for "
                          "them, or the center waives them (assist_override) with a reason")

    def assign(self, by: User, at: datetime, city: City, *, assignee: str | None,
               reason: str | None = None) -> None:
        """指派到人: a member of the holding unit assigns the case to a member of it."""
        move = self._guard("assign", by)  # type: ignore[attr-defined]
        if not assignee:
            raise ValidationError("assignee", "name the unit member to assign the case to")
        person = city.users.get(assignee)
        if person is None or person.role != "unit_member" or person.unit != self.unit:  # type: ignore
            raise ValidationError("assignee", f"'{assignee}' is not a member of unit "
                                              f"'{self.unit}'")  # type: ignore[attr-defined]
        if assignee == self.assignee:
            raise ValidationError("assignee", f"the case is already assigned to '{assignee}'")
        self.record(type(self).Assigned, move, by, at, city, reason,  # type: ignore
                    assignee=assignee, unit=self.unit)  # type: ignore[attr-defined]

    # ------------------------------------------------------------------ the second clock

    def miss_assists(self, now: datetime, units: list[str] | None = None) -> bool:
        """Record AssistDeadlineMissed once for each owing unit (of `units`, or all) whose
        due time has passed by `now`; the lead's clock is not touched."""
        if self.state not in OPEN:  # type: ignore[attr-defined]
            return False
        late = [a for a in self.owed_assists if not a["missed"] and a["due_at"] is not None
                and a["due_at"] < now and (units is None or a["unit"] in units)]
        for a in late:
            self.trigger_event(  # type: ignore[attr-defined]
                type(self).AssistDeadlineMissed,
                occurred_at=max(a["due_at"], self.last_at),  # type: ignore[attr-defined]
                actor="system", role="system", state=self.state,  # type: ignore
                step=self.step, due_at=self.due_at, held_by=self.held_by,  # type: ignore
                reason=None, assist_unit=a["unit"], missed_assist_due_at=a["due_at"],
                assist_due_at=self.running_assist_due(after=[a["unit"]]))
        return bool(late)


def assist_due(city: City, category: str, urgency: str, start: datetime) -> datetime | None:
    """An assisting unit's due time: the city's `assist` limit, else its resolve limit."""
    minutes = city.limit("assist", category, urgency)
    if minutes is None:
        minutes = city.limit(STATES["dispatched"]["step"], category, urgency)
    return None if minutes is None else city.calendar.add(start, minutes)


def _changed(case: Any, units: list[str], **change: Any) -> tuple:
    n = case.dispatches
    return tuple({**a, **change} if a["dispatch"] == n and a["unit"] in units else a
                 for a in case.assists)
