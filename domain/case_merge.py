"""Merging a duplicate report into the case it repeats (重复案件合并), a mixin of Case.

`merge` closes the duplicate (state `merged`, terminal) with a `MergedInto` event naming
the original, and records on the original a `DuplicateMerged` event that carries the
duplicate's reporter, channel, evidence, external id and report time, so the original's
history keeps every reporter. The original's state, step, due time and holder do not
change. Both cases link to each other (`merged_into`, `duplicates`); the service saves
both events in one transaction (workflows/merging.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from domain.case_base import CaseEvent
from domain.errors import ValidationError
from domain.machine import Move, reason_for

if TYPE_CHECKING:
    from domain.city import City, User

CLOSED_STATES = ("closed", "evaluated", "voided", "merged")  # no longer open: nothing merges in


class Merging:
    """The merge step of Case (declared here to keep domain/case.py small)."""

    merged_into: str | None = None  # the original's case id, on a merged duplicate
    duplicates: tuple = ()  # on an original: one dict per duplicate merged into it

    class MergedInto(CaseEvent):
        """合并: this report repeats `original_id` and is closed as its duplicate."""

        original_id: str
        original_number: str | None

        def apply_step(self, case: Any) -> None:
            case.merged_into = self.original_id

    class DuplicateMerged(CaseEvent):
        """并入重复上报: a duplicate's report joins this case's history (its reporter,
        channel, evidence, external id and report time); the case's state is unchanged."""

        duplicate_id: str
        duplicate_number: str | None
        reporter: str
        reporter_role: str
        channel: str
        evidence: list
        external_id: str | None
        reported_at: datetime

        def apply_step(self, case: Any) -> None:
            case.duplicates = (*case.duplicates, {
                "case_id": self.duplicate_id, "number": self.duplicate_number,
                "reporter": self.reporter, "reporter_role": self.reporter_role,
                "channel": self.channel, "external_id": self.external_id,
                "reported_at": self.reported_at, "evidence": list(self.evidence),
            })

    def merge(self, by: User, at: datetime, city: City, *, original: Any,
              reason: str | None) -> None:
        """合并 this case (the duplicate) into `original`, an open case other than itself;
        both cases get their event, unsaved (save them together)."""
        move = self._guard("merge", by)  # type: ignore[attr-defined]
        reason = reason_for(move, reason)
        if original.id == self.id:  # type: ignore[attr-defined]
            raise ValidationError("into", "a case cannot be merged into itself")
        if original.state == "merged":
            raise ValidationError(
                "into", f"case {original.number or original.id} is itself merged into "
                        f"{original.merged_into}; merge into that case")
        if original.state in CLOSED_STATES:
            raise ValidationError(
                "into", f"case {original.number or original.id} is {original.state}; "
                        "merge only into an open case")
        if at < original.last_at:
            raise ValidationError("occurred_at", f"{at.isoformat()} is earlier than the "
                                                 f"original's last event "
                                                 f"({original.last_at.isoformat()})")
        self.record(Merging.MergedInto, move, by, at, city, reason,  # type: ignore[attr-defined]
                    original_id=str(original.id), original_number=original.number)
        reporter = city.users.get(self.reporter)  # type: ignore[attr-defined]
        reporter_role = reporter.role if reporter else "unknown"
        stay = Move("merge", original.state, original.state, move.meta)
        original.record(Merging.DuplicateMerged, stay, by, at, city, reason,
                        duplicate_id=str(self.id),  # type: ignore[attr-defined]
                        duplicate_number=self.number,  # type: ignore[attr-defined]
                        reporter=self.reporter, reporter_role=reporter_role,
                        channel=self.channel, evidence=list(self.evidence),  # type: ignore
                        external_id=self.external_id,  # type: ignore[attr-defined]
                        reported_at=self.reported_at)  # type: ignore[attr-defined]
