"""The reporter's contact (报案人联系方式, protected data) and 回访 (the callback after closure).

A citizen or hotline report may carry who reported it: a name and a phone number. That is
personal data, so it is NOT a field of Reported (which every outward path copies: the
outbound Kafka envelope, Open311, the trail, reports): it is an event of its own,
ContactGiven, recorded in the same save just after Reported, whose fields every outward
path drops by name (PROTECTED). Only the center's desk roles (CONTACT_ROLES) read it.

回访: once a case is closed (结案) and before its evaluation (评价), the acceptor — or the
12345 hotline's system through a channel account — calls the reporter back and records
the citizen's satisfaction (满意 / 基本满意 / 不满意, the RATING words) and comment. An
unsatisfied callback reopens the case to rework (返工: back to dispatched, the same unit,
a new resolve clock) when the city says so (`callback.reopen_unsatisfied`, default off).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING, Any

from domain.case_base import CaseEvent
from domain.errors import ValidationError
from domain.validate import text

if TYPE_CHECKING:
    from domain.city import City, User

# the fields that never leave the center: dropped from every outward copy of an event
PROTECTED = ("reporter_name", "reporter_phone")
# who may read a reporter's contact: the center's desk (受理员, 值班长, 派遣员); never a unit,
# a public channel, the inspector, a supervisor in the field, or the system's exports
CONTACT_ROLES = ("acceptor", "duty_chief", "dispatcher")
CONTACT_CHANNELS = ("citizen", "hotline")  # the channels whose reports may carry a contact
PHONE_RE = re.compile(r"[0-9+\- ]{5,20}")
NAME_MAX = 40
COMMENT_MAX = 500


def contact(name: Any, phone: Any, channel: str) -> dict[str, str | None]:
    """The reporter's contact, checked; the refusal names the field and the rule, never
    the value (it would reach the logs)."""
    name = text(name, "reporter_name", limit=NAME_MAX, multiline=False)
    if phone is not None and not isinstance(phone, str):
        raise ValidationError("reporter_phone", "must be text: digits, +, - and spaces")
    phone = phone.strip() if phone else None
    if phone and (not PHONE_RE.fullmatch(phone) or not any(c.isdigit() for c in phone)):
        raise ValidationError("reporter_phone", "must be 5-20 of digits, +, - and spaces")
    if (name or phone) and channel not in CONTACT_CHANNELS:
        raise ValidationError("reporter_phone" if phone else "reporter_name",
                              f"a contact is taken only with a report through "
                              f"{' or '.join(CONTACT_CHANNELS)}, not '{channel}'")
    return {"reporter_name": name, "reporter_phone": phone or None}


def visible_contact(case: Any, role: str | None) -> dict[str, str | None] | None:
    """The case's contact if `role` may read it and there is one, else None."""
    got = getattr(case, "contact", None)
    return dict(got) if got and role in CONTACT_ROLES else None


class Callbacks:
    """Mixin of Case: the contact event and the 回访 step."""

    contact: dict | None = None  # {'reporter_name', 'reporter_phone'}; None: none given
    callbacks: list = []  # the ratings of the callbacks, in order  # noqa: RUF012

    class ContactGiven(CaseEvent):
        """报案人联系方式: protected, never published (see PROTECTED)."""

        reporter_name: str | None
        reporter_phone: str | None

        def apply_step(self, case: Any) -> None:
            case.contact = {"reporter_name": self.reporter_name,
                            "reporter_phone": self.reporter_phone}

    class CalledBack(CaseEvent):
        """回访: the citizen's satisfaction and comment; `reopened` when it sent the case
        back to the unit for rework."""

        rating: str
        comment: str | None
        reopened: bool
        unit: str | None

        def apply_step(self, case: Any) -> None:
            case.callbacks = [*case.callbacks, self.rating]
            if self.reopened:
                case.reworks += 1
                case.closure_type = None
                case.closed_at = None

    def give_contact(self: Any, by: User, reporter_name: str | None,
                     reporter_phone: str | None) -> None:
        """Record the reporter's contact just after the report (no lifecycle move)."""
        if not (reporter_name or reporter_phone):
            return
        self.trigger_event(
            type(self).ContactGiven, occurred_at=self.last_at, actor=by.id, role=by.role,
            state=self.state, step=self.step, due_at=self.due_at, held_by=self.held_by,
            reason=None, reporter_name=reporter_name, reporter_phone=reporter_phone)

    def callback(self: Any, by: User, at: datetime, city: City, *, rating: str,
                 comment: str | None = None, reason: str | None = None) -> None:
        """回访 of a closed case; an unsatisfied one reopens it where the city says so."""
        rework = rating == "unsatisfied" and city.callback_reopens
        move = self._guard("callback", by, rework=rework)
        if rework and not (comment or reason):
            raise ValidationError("comment", "an unsatisfied callback that reopens the case "
                                             "needs the citizen's comment (the rework's reason)")
        reason = reason or (comment if rework else None)  # a rework's reason: the citizen's words
        self.record(type(self).CalledBack, move, by, at, city, reason, holder_unit=self.unit,
                    rating=rating, comment=comment, reopened=rework, unit=self.unit)
