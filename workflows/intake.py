"""The one validated edge: every command from every channel (console, API, CLI, Kafka,
Open311, import) is checked here before a case sees it — the actor, business time within
the city's bounds, text lengths and control characters, URLs and evidence, enums,
durations. What comes out is plain, typed and bounded; a bad field is a ValidationError
naming it, and nothing is stored.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from domain import validate
from domain.case_assist import ASSIST_MAX, FEEDBACK_MAX
from domain.case_callback import COMMENT_MAX, contact
from domain.city import URGENCIES, City, User
from domain.errors import ValidationError
from domain.lifecycle import CHANNELS, CLOSURE_TYPES, RATINGS
from domain.times import CEILING, FLOOR, check_business_time, parse_time
from workflows.commands import CaseAction, ReportCase


@dataclass
class Step:
    """A lifecycle step, checked: who, when, and the fields its trigger takes."""

    trigger: str
    by: User
    at: datetime
    args: dict[str, Any] = field(default_factory=dict)


def actor(city: City, name: str) -> User:
    return city.user(validate.identifier(name, "actor", required=True))


def business_time(city: City, at: Any, now: datetime, history_from: Any = None) -> datetime:
    """The channel's business time (bounded by history_from and the clock skew), or now."""
    if at is None:
        return now
    at = parse_time(at, "occurred_at", city.tz)
    earliest = city.intake.history_from
    if history_from is not None:  # an import mapping's own bound, never below FLOOR
        earliest = max(parse_time(history_from, "history_from", city.tz), FLOOR)
    return check_business_time(at, "occurred_at", now=now, earliest=earliest,
                               future_skew=city.intake.future_skew)


def report(city: City, cmd: ReportCase, now: datetime,
           known: Callable[[str], bool] | None = None) -> tuple[User, datetime, dict]:
    """The reporter, the business time and the Reported fields; `known` tells whether a
    photo (sha256: ref) is in the evidence store."""
    by = actor(city, cmd.actor)
    validate.choice(cmd.channel, "channel", CHANNELS)
    intake = city.intake
    cat = city.category(validate.identifier(cmd.category, "category", required=True))
    city.cell(validate.identifier(cmd.grid, "grid", required=True))
    validate.choice(cmd.urgency, "urgency", URGENCIES)
    validate.key(cmd.idempotency_key)
    lat, lon = validate.location(cmd.lat, cmd.lon)
    fields = dict(
        channel=cmd.channel, category=cat.code, grid=cmd.grid, urgency=cmd.urgency,
        description=validate.text(cmd.description, "description", limit=intake.max_description) or "",
        lat=lat, lon=lon, evidence=stored(validate.evidence(cmd.evidence, intake=intake), known),
        external_id=validate.identifier(cmd.external_id, "external_id"),
    )
    at = business_time(city, cmd.occurred_at, now, cmd.history_from)
    fields["source_due_at"] = None if cmd.source_due_at is None else parse_time(
        cmd.source_due_at, "source_due_at", city.tz, floor=FLOOR, ceiling=CEILING)
    return by, at, fields


def reporter_contact(cmd: ReportCase) -> dict:
    """The reporter's contact (protected; domain/case_callback.py), checked."""
    return contact(cmd.reporter_name, cmd.reporter_phone, cmd.channel)


def action(city: City, cmd: CaseAction, now: datetime,
           known: Callable[[str], bool] | None = None) -> Step:
    """A step on an existing case, its fields checked for its trigger."""
    by = actor(city, cmd.actor)
    trigger = validate.identifier(cmd.trigger, "trigger", required=True).replace("-", "_")
    validate.flag(cmd.passed, "passed")
    validate.flag(cmd.approved, "approved")
    validate.version(cmd.expected_version)
    validate.key(cmd.idempotency_key)
    if trigger in ("verify", "check") and cmd.passed is None:
        raise ValidationError("passed", f"{trigger} needs an outcome: passed or failed")
    if trigger in ("decide_extension", "decide_shelve") and cmd.approved is None:
        raise ValidationError("approved", f"{trigger} needs a decision: approve or reject")
    at = business_time(city, cmd.occurred_at, now, cmd.history_from)
    reason = validate.text(cmd.reason, "reason", limit=city.intake.max_reason)
    args: dict[str, Any] = {}
    if trigger in ("verify", "check"):
        args["passed"] = bool(cmd.passed)
    if trigger in ("decide_extension", "decide_shelve"):
        args["approved"] = bool(cmd.approved)
    if trigger in ("resolve", "check"):
        args["evidence"] = stored(validate.evidence(cmd.evidence, intake=city.intake), known)
    if trigger == "dispatch":
        args["unit"] = validate.identifier(cmd.unit, "unit")
        args["assist"] = assist_units(cmd.assist)
    if trigger == "assist_feedback":
        args["text"] = validate.text(cmd.comment, "comment", limit=FEEDBACK_MAX)
        args["evidence"] = stored(validate.evidence(cmd.evidence, intake=city.intake), known)
    if trigger == "assign":
        args["assignee"] = validate.identifier(cmd.assignee, "assignee", required=True)
    if trigger == "request_extension":
        args["minutes"] = extension_minutes(city, cmd.extra)
    if trigger == "close":
        if cmd.closure_type is not None:
            validate.choice(cmd.closure_type, "closure_type", CLOSURE_TYPES)
        args["closure_type"] = cmd.closure_type
    if trigger in ("evaluate", "callback"):
        args["rating"] = validate.choice(cmd.rating, "rating", RATINGS)
    if trigger == "callback":
        args["comment"] = validate.text(cmd.comment, "comment", limit=COMMENT_MAX)
    if trigger == "merge":
        args["into"] = merge_target(cmd.into)
    args["reason"] = reason
    return Step(trigger, by, at, args)


def assist_units(units: Any) -> list[str]:
    """A dispatch's assisting units (协办): a list of unit ids, at most ASSIST_MAX."""
    if units is None:
        return []
    if not isinstance(units, (list, tuple)):
        raise ValidationError("assist", "must be a list of unit ids")
    if len(units) > ASSIST_MAX:
        raise ValidationError("assist", f"at most {ASSIST_MAX} assisting units, not {len(units)}")
    return [validate.identifier(u, f"assist[{i}]", required=True) for i, u in enumerate(units)]


def merge_target(into: Any) -> UUID:
    """The original case a merge names: a case id (an adapter turns a readable number into
    its id before it gets here)."""
    if into is None or into == "":
        raise ValidationError("into", "merge needs the original case (into) this one repeats")
    if isinstance(into, UUID):
        return into
    text = validate.identifier(into, "into", required=True)
    try:
        return UUID(text)
    except ValueError:
        raise ValidationError("into", f"'{text[:60]}' is not a case id") from None


def stored(refs: list[str], known: Callable[[str], bool] | None) -> list[str]:
    """Evidence whose photos (sha256: refs) are in the evidence store, when there is one:
    a photo is uploaded before a report or a step names it."""
    for i, ref in enumerate(refs):
        if known is not None and validate.PHOTO_RE.match(ref) and not known(ref):
            raise ValidationError(f"evidence[{i}]", f"'{ref}' is not in the evidence store; "
                                                    "upload the photo first (POST /api/evidence)")
    return refs


def extension_minutes(city: City, extra: Any) -> float:
    """'4h', '2d' (working time) → minutes, at most the city's max_extension."""
    if extra is None or extra == "":
        raise ValidationError("extra", "request_extension needs the extra time, e.g. '4h' or '2d'")
    if isinstance(extra, str):
        extra = validate.identifier(extra, "extra", required=True)
    elif isinstance(extra, bool) or not isinstance(extra, (int, float)):
        raise ValidationError("extra", "must be a duration like '4h' or '2d'")
    try:
        minutes = city.calendar.parse_duration(extra)
    except (ValueError, OverflowError) as e:
        raise ValidationError("extra", str(e)) from None
    return validate.duration(minutes, "extra", most=city.intake.max_extension_minutes)
