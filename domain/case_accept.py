"""签收 (accept): a member unit acknowledges a case dispatched to it — who took it and when,
for the trail; the state does not change. Once per dispatch: a second accept is refused
(a new dispatch to the unit, after a return, asks for it again)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from domain.case_base import CaseEvent
from domain.errors import RefusedError

if TYPE_CHECKING:
    from domain.city import City, User


class Accepting:
    accepted_at: datetime | None = None  # when the unit signed for the current dispatch
    accepted_by: str | None = None

    class Accepted(CaseEvent):
        """签收: the unit has the case."""

        def apply_step(self, case: Any) -> None:
            case.accepted_at = self.occurred_at
            case.accepted_by = self.actor

    def accept(self, by: User, at: datetime, city: City, *, reason: str | None = None) -> None:
        move = self._guard("accept", by)  # type: ignore[attr-defined]
        if self.accepted_at is not None:
            raise RefusedError(
                f"refused: the case was already accepted at {self.accepted_at.isoformat()} "
                f"by {self.accepted_by}", state=move.source, trigger="accept", role=by.role)
        self.record(Accepting.Accepted, move, by, at, city, reason)  # type: ignore[attr-defined]
