"""The application service: load → check → record → save, with optimistic concurrency."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import NAMESPACE_URL, UUID, uuid4, uuid5

import structlog
from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError

from domain import validate
from domain.case import Case
from domain.city import URGENCIES, City, User
from domain.errors import CasegridError, ConflictError, NotFoundError, RefusedError, ValidationError
from domain.times import CEILING, FLOOR, check_business_time, parse_time
from workflows.commands import CaseAction, Command, ReportCase
from workflows.lifecycle import CHANNELS, CLOSURE_TYPES, RATINGS, STATES, UNIT_STATES
from workflows.machine import Move, decide

log = structlog.get_logger("casegrid.workflow")

EVENT_FOR = {
    "verify": Case.Verified,
    "file": Case.Filed,
    "refuse": Case.Refused,
    "dispatch": Case.Dispatched,
    "return": Case.Returned,
    "request_extension": Case.ExtensionRequested,
    "decide_extension": Case.ExtensionDecided,
    "request_shelve": Case.ShelveRequested,
    "decide_shelve": Case.ShelveDecided,
    "resolve": Case.Resolved,
    "check": Case.Checked,
    "close": Case.Closed,
    "evaluate": Case.Evaluated,
    "urge": Case.Urged,
}
EXTERNAL_NS = uuid5(NAMESPACE_URL, "casegrid:external-id")


class CaseApplication(Application):
    """The event store of cases (eventsourcing Application), snapshotting long streams."""

    name = "casegrid"
    snapshotting_intervals = {Case: 50}


@dataclass
class Outcome:
    """Result of one command in a batch: the case it touched, or the error it met."""

    command: Command
    case_id: UUID | None = None
    error: CasegridError | None = None


class CaseService:
    def __init__(
        self,
        app: CaseApplication,
        city: City,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        retries: int = 8,
        cache_size: int = 20_000,
    ):
        self.app = app
        self.city = city
        self.clock = clock
        self.retries = retries
        # Cases as last saved by this process, to skip a read before a write. Never the
        # only copy: another writer makes our save fail on its version, and we reload.
        self._cache: OrderedDict[UUID, Case] = OrderedDict()
        self._cache_size = cache_size

    # ------------------------------------------------------------------ reads

    def get(self, case_id: UUID | str) -> Case:
        cid = parse_case_id(case_id)
        try:
            return self.app.repository.get(cid)
        except AggregateNotFoundError:
            raise NotFoundError(f"case_id: no case '{cid}'") from None

    def timeline(self, case_id: UUID | str, *, as_of: datetime | None = None) -> list[Case.Event]:
        cid = parse_case_id(case_id)
        events = list(self.app.events.get(cid))
        if not events:
            raise NotFoundError(f"case_id: no case '{cid}'")
        if as_of is not None:
            events = [e for e in events if e.timestamp <= as_of]
        return events

    def holder(self, case: Case) -> tuple[str, str] | None:
        """Who holds the case now (责任主体): ('unit', id) or ('role', center role)."""
        return holder_of(case.state, case.unit)

    # ------------------------------------------------------------------ writes

    def report(self, cmd: ReportCase) -> Case:
        return self._retrying(cmd, lambda: self._save([self._report(cmd)]))[0]

    def act(self, cmd: CaseAction) -> Case:
        def decide(case: Case) -> bool:
            if cmd.expected_version is not None and case.version != cmd.expected_version:
                # the actor decided on a version that is no longer current: no retry on top
                raise ConflictError(
                    f"conflict: case {case.id} is at version {case.version}, not "
                    f"{cmd.expected_version}; reload it and decide again",
                    current_version=case.version)
            self._act(case, cmd)
            return True

        def once():
            return self._save([self._on_current(cmd.case_id, decide)])

        return self._retrying(cmd, once)[0]

    def execute(self, commands: Iterable[Command]) -> list[Outcome]:
        """Run commands that arrive together and save them in one transaction.

        A command the lifecycle refuses gets its error in its Outcome and changes
        nothing; on a version conflict the batch falls back to one-by-one with retries.
        """
        commands = list(commands)
        cases: dict[UUID, Case] = {}
        outcomes = []
        for cmd in commands:
            try:
                if isinstance(cmd, ReportCase):
                    case = self._report(cmd)
                    if case.id in cases:
                        raise ValidationError("external_id", f"reported twice in one batch as {case.id}")
                else:
                    cid = parse_case_id(cmd.case_id)
                    case = cases.get(cid)
                    if case is None:
                        case = self._on_current(cid, lambda c, cmd=cmd: self._act(c, cmd) or True)
                    else:
                        self._act(case, cmd)
                cases[case.id] = case
                outcomes.append(Outcome(cmd, case.id))
            except CasegridError as e:
                outcomes.append(Outcome(cmd, getattr(cmd, "case_id", None), e))
        if not cases:
            return outcomes
        try:
            self._save(list(cases.values()))
        except IntegrityError:
            log.warning("batch_conflict_fallback", commands=len(commands))
            return [self._one(c) for c in commands]
        return outcomes

    def _one(self, cmd: Command) -> Outcome:
        try:
            case = self.report(cmd) if isinstance(cmd, ReportCase) else self.act(cmd)
            return Outcome(cmd, case.id)
        except CasegridError as e:
            return Outcome(cmd, getattr(cmd, "case_id", None), e)

    def tick(self, now: datetime, case_ids: Iterable[UUID]) -> list[Case.DeadlineMissed]:
        """Record DeadlineMissed for every running step past due; never twice for one due time."""
        recorded: list[Case.DeadlineMissed] = []
        for cid in case_ids:

            def once(cid=cid):
                case = self._on_current(cid, lambda c: c.miss_deadline(now, self.holder(c)))
                if case is None:
                    return []
                events = list(case.pending_events)
                self._save([case])
                return events

            recorded += self._retrying(CaseAction(cid, "tick", "system", now), once, log_it=False)
        for e in recorded:
            log.info("deadline_missed", case_id=str(e.originator_id), step=e.missed_step,
                     due_at=e.missed_due_at.isoformat(), holder=f"{e.holder_kind}:{e.holder}")
        return recorded

    def _on_current(self, case_id: UUID | str, decide: Callable[[Case], bool]) -> Case | None:
        """Run `decide` on the case as this process last saved it, if held, else as stored;
        the case if it decided to act, None if there was nothing to do.

        A held copy may be stale: another process may have written since. Acting on it is
        safe (the save fails on its version and the command is retried on a fresh load),
        but a refusal or a "nothing to do" on it is checked again on the stored case."""
        cid = parse_case_id(case_id)
        case = self._cache.pop(cid, None)  # taken out: a failed command leaves no dirty copy
        if case is not None:
            try:
                if decide(case):
                    return case
            except CasegridError:
                pass
        case = self.get(cid)
        return case if decide(case) else None

    def _save(self, cases: list[Case]) -> list[Case]:
        self.app.save(*cases)  # on any error the cases stay out of the cache
        for case in cases:
            self._cache[case.id] = case
            self._cache.move_to_end(case.id)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return cases

    def _retrying(self, cmd: Command, fn, *, log_it: bool = True):
        bound = log.bind(
            case_id=str(getattr(cmd, "case_id", "") or ""),
            actor=cmd.actor,
            command=getattr(cmd, "trigger", "report"),
        )
        for attempt in range(self.retries + 1):
            try:
                result = fn()
            except IntegrityError:
                bound.info("version_conflict_retry", attempt=attempt + 1)
                time.sleep(0.002 * (attempt + 1))
                continue
            except CasegridError as e:
                bound.info("command_refused", error=str(e))
                raise
            if log_it:
                bound.info("command_recorded", case_id=str(result[0].id), version=result[0].version)
            return result
        current = None
        if isinstance(cmd, CaseAction):
            current = self.get(cmd.case_id).version
        raise ConflictError(
            f"conflict: case {getattr(cmd, 'case_id', '')} kept changing; gave up after "
            f"{self.retries} retries",
            current_version=current,
        )

    # ------------------------------------------------------------------ the checks

    def _actor(self, actor: str) -> User:
        return self.city.user(validate.identifier(actor, "actor", required=True))

    def _when(self, at: datetime | str | None, cmd: Command) -> datetime:
        """Business time: the channel's (bounded by history_from and the clock skew), or now."""
        now = self.clock()
        if at is None:
            return now
        at = parse_time(at, "occurred_at", self.city.tz)
        intake = self.city.intake
        earliest = intake.history_from
        if cmd.history_from is not None:  # an import mapping's own bound, never below FLOOR
            earliest = max(parse_time(cmd.history_from, "history_from", self.city.tz), FLOOR)
        return check_business_time(at, "occurred_at", now=now, earliest=earliest,
                                   future_skew=intake.future_skew)

    def _due(self, step: str | None, category: str, urgency: str, start: datetime):
        if step is None:
            return None
        minutes = self.city.limit(step, category, urgency)
        return None if minutes is None else self.city.calendar.add(start, minutes)

    def _report(self, cmd: ReportCase) -> Case:
        user = self._actor(cmd.actor)
        ch = CHANNELS[validate.choice(cmd.channel, "channel", CHANNELS)]
        if user.role not in ch["roles"]:
            raise RefusedError(
                f"refused: channel '{cmd.channel}' takes reports from roles "
                f"{', '.join(ch['roles'])}, not '{user.role}'",
                state="new", trigger="report", role=user.role,
            )
        intake = self.city.intake
        cat = self.city.category(validate.identifier(cmd.category, "category", required=True))
        self.city.cell(validate.identifier(cmd.grid, "grid", required=True))
        validate.choice(cmd.urgency, "urgency", URGENCIES)
        lat, lon = validate.location(cmd.lat, cmd.lon)
        description = validate.text(cmd.description, "description",
                                    limit=intake.max_description) or ""
        evidence = validate.evidence(cmd.evidence, intake=intake)
        ext = validate.identifier(cmd.external_id, "external_id")
        at = self._when(cmd.occurred_at, cmd)
        source_due = None
        if cmd.source_due_at is not None:
            source_due = parse_time(cmd.source_due_at, "source_due_at", self.city.tz,
                                    floor=FLOOR, ceiling=CEILING)
        move = decide("new", "report", user.role, {"needs_verification": ch["verify"]})
        if cmd.case_id is not None:
            case_id = cmd.case_id
        elif ext:
            case_id = uuid5(EXTERNAL_NS, f"{cmd.channel}:{ext}")
        else:
            case_id = uuid4()
        if ext and self._exists(case_id):
            raise ValidationError(
                "external_id", f"'{ext}' from channel '{cmd.channel}' is already case {case_id}"
            )
        step = STATES[move.dest]["step"]
        return Case.report(
            case_id,
            occurred_at=at,
            actor=user.id,
            role=user.role,
            state=move.dest,
            step=step,
            due_at=self._due(step, cat.code, cmd.urgency, at),
            held_by=_held_by(move.dest, None),
            reason=None,
            channel=cmd.channel,
            category=cat.code,
            grid=cmd.grid,
            urgency=cmd.urgency,
            description=description,
            lat=lat,
            lon=lon,
            evidence=evidence,
            external_id=ext,
            source_due_at=source_due,
        )

    def _exists(self, case_id: UUID) -> bool:
        return bool(list(self.app.events.get(case_id, limit=1)))

    def _act(self, case: Case, cmd: CaseAction) -> None:
        user = self._actor(cmd.actor)
        trigger = validate.identifier(cmd.trigger, "trigger", required=True).replace("-", "_")
        validate.flag(cmd.passed, "passed")
        validate.flag(cmd.approved, "approved")
        validate.version(cmd.expected_version)
        flags = {"passed": cmd.passed, "approved": cmd.approved}
        if trigger in ("verify", "check") and cmd.passed is None:
            raise ValidationError("passed", f"{trigger} needs an outcome: passed or failed")
        if trigger in ("decide_extension", "decide_shelve") and cmd.approved is None:
            raise ValidationError("approved", f"{trigger} needs a decision: approve or reject")
        move = decide(case.state, trigger, user.role, flags)
        if user.role == "unit_member" and case.state in UNIT_STATES and case.unit != user.unit:
            raise RefusedError(
                f"refused: case is {case.state} ({STATES[case.state]['zh']}) with unit "
                f"'{case.unit}'; trigger '{trigger}' by role 'unit_member' of unit '{user.unit}'",
                state=case.state, trigger=trigger, role=user.role,
            )
        at = self._when(cmd.occurred_at, cmd)
        reason = self._reason(move, cmd)
        fields = self._fields(case, move, cmd, reason)
        step = STATES[move.dest]["step"]
        if "due_at" in fields:
            due = fields.pop("due_at")
        elif step != case.step:
            due = self._due(step, case.category, case.urgency, at)
        else:
            due = case.due_at
        unit_after = fields["unit"] if trigger == "dispatch" else (
            None if trigger == "return" else case.unit)
        case.move(
            EVENT_FOR[trigger],
            occurred_at=at,
            actor=user.id,
            role=user.role,
            state=move.dest,
            step=step,
            due_at=due,
            holder=self.holder(case),
            held_by=_held_by(move.dest, unit_after),
            reason=reason,
            **fields,
        )

    def _reason(self, move: Move, cmd: CaseAction) -> str | None:
        reason = validate.text(cmd.reason, "reason", limit=self.city.intake.max_reason)
        rule = move.requires_reason
        needed = (
            rule == "always"
            or (rule == "unless_passed" and not cmd.passed)
            or (rule == "unless_approved" and not cmd.approved)
        )
        if needed and not reason:
            raise ValidationError("reason", f"{move.trigger} ({move.meta['zh']}) needs a reason")
        return reason

    def _fields(self, case: Case, move: Move, cmd: CaseAction, reason) -> dict:
        t = move.trigger
        if t == "verify":
            return {"confirmed": bool(cmd.passed)}
        if t == "dispatch":
            return self._dispatch_fields(case, cmd, reason)
        if t == "return":
            return {"unit": case.unit}
        if t == "request_extension":
            return {"minutes": self._extra(cmd.extra)}
        if t == "decide_extension":
            minutes = case.pending_extension or 0.0
            most = self.city.intake.max_extension_minutes
            if cmd.approved and not minutes <= most:  # stored by a version without the bound
                raise ValidationError("approved", f"the pending extension asks for {minutes:g} "
                                      f"working minutes, more than the most allowed ({most:g});"
                                      " reject it")
            out = {"approved": bool(cmd.approved), "minutes": minutes}
            if cmd.approved and case.due_at is not None:
                out["due_at"] = self.city.calendar.add(case.due_at, minutes)
            return out
        if t == "decide_shelve":
            return {"approved": bool(cmd.approved)}
        if t in ("resolve", "check"):
            out = {"evidence": validate.evidence(cmd.evidence, intake=self.city.intake)}
            if t == "check":
                out["passed"] = bool(cmd.passed)
            return out
        if t == "close":
            return {"closure_type": self._closure_type(case, cmd, reason)}
        if t == "evaluate":
            return {"rating": validate.choice(cmd.rating, "rating", RATINGS)}
        return {}

    def _dispatch_fields(self, case: Case, cmd: CaseAction, reason) -> dict:
        rule = self.city.route(case.category, self.city.cells[case.grid])
        suggested = rule.unit if rule else None
        unit = validate.identifier(cmd.unit, "unit") or suggested
        if unit is None:
            raise ValidationError(
                "unit", f"no routing rule matches {case.category} in {case.grid}; name the unit"
            )
        self.city.unit(unit)
        if unit != suggested and not reason:
            raise ValidationError(
                "reason",
                f"dispatch to '{unit}' overrides the routing suggestion "
                f"'{suggested}' ({rule.id if rule else 'no rule'}); give a reason",
            )
        return {
            "unit": unit,
            "routing_rule": rule.id if rule and unit == suggested else "manual",
            "suggested_unit": suggested,
        }

    def _extra(self, extra: str | None) -> float:
        if extra is None or extra == "":
            raise ValidationError("extra", "request_extension needs the extra time, e.g. '4h' or '2d'")
        if isinstance(extra, str):
            extra = validate.identifier(extra, "extra", required=True)
        elif isinstance(extra, bool) or not isinstance(extra, (int, float)):
            raise ValidationError("extra", "must be a duration like '4h' or '2d'")
        try:
            minutes = self.city.calendar.parse_duration(extra)
        except (ValueError, OverflowError) as e:
            raise ValidationError("extra", str(e)) from None
        return validate.duration(minutes, "extra", most=self.city.intake.max_extension_minutes)

    def _closure_type(self, case: Case, cmd: CaseAction, reason) -> str:
        ct = cmd.closure_type
        if ct is not None:
            validate.choice(ct, "closure_type", CLOSURE_TYPES)
        if case.state == "shelved":
            if ct not in (None, "special"):
                raise ValidationError("closure_type", "a shelved case closes only as 'special'")
            ct = "special"
        if ct in ("error", "special") and not reason:
            raise ValidationError("reason", f"a '{ct}' closure ({CLOSURE_TYPES[ct]}) needs a reason")
        return ct or ("overdue" if case.missed_resolve else "normal")


# ------------------------------------------------------------------ field checks


def holder_of(state: str, unit: str | None) -> tuple[str, str] | None:
    h = STATES[state]["holder"]
    if h is None:
        return None
    if h == "unit":
        return ("unit", unit) if unit else None
    return ("role", h)


def _held_by(state: str, unit: str | None) -> str | None:
    h = holder_of(state, unit)
    return f"{h[0]}:{h[1]}" if h else None


def parse_case_id(value: UUID | str) -> UUID:
    if isinstance(value, UUID):
        return value
    try:
        return UUID(str(value))
    except ValueError:
        raise ValidationError("case_id", f"'{value}' is not a case id (a UUID)") from None
