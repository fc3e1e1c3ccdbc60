"""The case service: check the command at the edge, load the case, let it decide, save.

    act:    intake.action(cmd) → store.current(case) → case.<trigger>(…) → store.save
    report: intake.report(cmd) → Case.report(…) → store.save

Retries on a version conflict and the write-through cache are the store's
(workflows/case_store.py); `execute` saves commands that arrive together in one
transaction and falls back to one at a time when another writer got there first;
`report_many` saves many NEW cases, each with the steps that follow its report, in one
transaction (import, a Kafka batch of reports).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from uuid import NAMESPACE_URL, UUID, uuid4, uuid5

import structlog
from eventsourcing.persistence import IntegrityError

from domain import validate
from domain.case import Case
from domain.city import City
from domain.errors import (
    CasegridError,
    ConflictError,
    NotFoundError,
    RefusedError,
    ValidationError,
)
from domain.machine import decide
from workflows import intake
from workflows.case_store import BulkWriter, CaseApplication, CaseStore, Existing, parse_case_id
from workflows.commands import CaseAction, Command, ReportCase
from workflows.numbering import CaseNumbers, MemoryNumbers, NumberPool

__all__ = ["CaseApplication", "CaseService", "EXTERNAL_NS", "NewCase", "Outcome", "parse_case_id"]

log = structlog.get_logger("casegrid.workflow")
EXTERNAL_NS = uuid5(NAMESPACE_URL, "casegrid:external-id")
IDEMPOTENCY_NS = uuid5(NAMESPACE_URL, "casegrid:idempotency-key")

# trigger → the Case method that makes the move (退回 is `return_to_center`)
METHODS = {
    "verify": Case.verify, "file": Case.file, "refuse": Case.refuse,
    "dispatch": Case.dispatch, "return": Case.return_to_center,
    "request_extension": Case.request_extension, "decide_extension": Case.decide_extension,
    "request_shelve": Case.request_shelve, "decide_shelve": Case.decide_shelve,
    "resolve": Case.resolve, "check": Case.check, "close": Case.close,
    "evaluate": Case.evaluate, "urge": Case.urge, "accept": Case.accept, "callback": Case.callback,
    "assist_feedback": Case.assist_feedback, "assist_override": Case.assist_override,
    "assign": Case.assign,  # 协办 and 指派到人: domain/case_assist.py
}


@dataclass
class Outcome:
    """Result of one command in a batch: the case it touched, or the error it met."""

    command: Command
    case_id: UUID | None = None
    error: CasegridError | None = None
    case: Case | None = None  # report_many: the case as saved (or, not saving, as made)
    already: bool = False  # report_many: the case was stored before; nothing changed


@dataclass
class NewCase:
    """A report and the steps that follow it, for report_many (import: a case's history)."""

    report: ReportCase
    steps: Sequence[CaseAction] = field(default_factory=tuple)


class CaseService:
    def __init__(self, app: CaseApplication, city: City, *,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 retries: int = 8, cache_size: int = 20_000,
                 numbers: CaseNumbers | None = None,
                 evidence_known: Callable[[str], bool] | None = None,
                 writer: BulkWriter | None = None, existing: Existing | None = None):
        self.app = app
        self.city = city
        self.clock = clock
        self.evidence_known = evidence_known  # is a sha256: photo in the evidence store?
        self.numbers = numbers or MemoryNumbers()
        self.store = CaseStore(app, retries=retries, cache_size=cache_size, writer=writer,
                               existing=existing)

    # ------------------------------------------------------------------ reads

    def get(self, case_id: UUID | str) -> Case:
        return self.store.get(case_id)

    def timeline(self, case_id: UUID | str, *, as_of: datetime | None = None) -> list[Case.Event]:
        cid = parse_case_id(case_id)
        events = list(self.app.events.get(cid))
        if not events:
            raise NotFoundError(f"case_id: no case '{cid}'")
        if as_of is not None:
            events = [e for e in events if e.timestamp <= as_of]
        return events

    # ------------------------------------------------------------------ writes

    def report(self, cmd: ReportCase) -> Case:
        """上报; a report whose idempotency key its reporter used before is that case."""
        def once() -> list[Case]:
            key = validate.key(cmd.idempotency_key)
            if key is not None:
                cid = keyed_case_id(validate.identifier(cmd.actor, "actor", required=True), key)
                if self.store.exists(cid):
                    return [self.store.get(cid)]
            return self.store.save([self.prepare_report(cmd)])
        return self._retrying(cmd, once)[0]

    def act(self, cmd: CaseAction) -> Case:
        step = intake.action(self.city, cmd, self.clock(), self.evidence_known)

        def decide_on(case: Case) -> bool:
            if cmd.expected_version is not None and case.version != cmd.expected_version:
                # the actor decided on a version that is no longer current: no retry on top
                raise ConflictError(
                    f"conflict: case {case.id} is at version {case.version}, not "
                    f"{cmd.expected_version}; reload it and decide again",
                    current_version=case.version)
            self._call(case, step)
            return True

        try:
            if step.trigger == "merge":
                return self.merge(cmd, step)
            return self._retrying(
                cmd, lambda: self.store.save([self.store.current(cmd.case_id, decide_on)]))[0]
        except (RefusedError, ConflictError):
            if validate.key(cmd.idempotency_key) is None or not self.recorded(cmd, step):
                raise
            return self.store.get(cmd.case_id)  # a resend of a step already recorded

    def merge(self, cmd: CaseAction, step: intake.Step) -> Case:
        """合并: the duplicate and its original, both changed and saved in one transaction."""
        args = dict(step.args)
        into = args.pop("into")

        def once() -> list[Case]:
            dup = self.store.get(cmd.case_id)
            if cmd.expected_version is not None and dup.version != cmd.expected_version:
                raise ConflictError(
                    f"conflict: case {dup.id} is at version {dup.version}, not "
                    f"{cmd.expected_version}; reload it and decide again",
                    current_version=dup.version)
            try:
                original = self.store.get(into)
            except NotFoundError:
                raise ValidationError("into", f"no case '{into}' to merge into") from None
            dup.merge(step.by, step.at, self.city, original=original, **args)
            return self.store.save([dup, original])

        return self._retrying(cmd, once)[0]

    def recorded(self, cmd: CaseAction, step: intake.Step) -> bool:
        """Whether the case already holds this step: an event by the same actor at the same
        business time (a client resending with its idempotency key sends both unchanged)."""
        if cmd.occurred_at is None:
            return False
        return any(e.actor == step.by.id and e.occurred_at == step.at
                   and not isinstance(e, Case.DeadlineMissed)
                   for e in self.app.events.get(parse_case_id(cmd.case_id)))

    def execute(self, commands: Iterable[Command]) -> list[Outcome]:
        """Run commands that arrive together and save them in one transaction.

        A command the lifecycle refuses gets its error in its Outcome and changes
        nothing; on a version conflict the batch falls back to one-by-one with retries.
        """
        commands = list(commands)
        cases: dict[UUID, Case] = {}
        outcomes = []
        pool = NumberPool(self.numbers, sum(isinstance(c, ReportCase) for c in commands))
        stored = self._stored_reports(commands)
        for cmd in commands:
            try:
                if isinstance(cmd, ReportCase):
                    case = self.prepare_report(cmd, pool, stored=stored)
                    if case.id in cases:
                        raise ValidationError("external_id", f"reported twice in one batch as {case.id}")
                else:
                    step = intake.action(self.city, cmd, self.clock(), self.evidence_known)
                    cid = parse_case_id(cmd.case_id)
                    case = cases.get(cid)
                    if case is None:
                        case = self.store.current(cid, lambda c, s=step: self._call(c, s) or True)
                    else:
                        self._call(case, step)
                cases[case.id] = case
                outcomes.append(Outcome(cmd, case.id))
            except CasegridError as e:
                outcomes.append(Outcome(cmd, getattr(cmd, "case_id", None), e))
        if not cases:
            return outcomes
        try:
            self.store.save(list(cases.values()))
        except IntegrityError:
            log.warning("batch_conflict_fallback", commands=len(commands))
            return [self._one(c) for c in commands]
        return outcomes

    def _stored_reports(self, commands: list[Command]) -> set[UUID]:
        """Which of the batch's reports by external id are stored cases: those this process
        saved, and the rest by one query (not one read per report)."""
        ids = []
        for cmd in commands:
            if isinstance(cmd, ReportCase) and cmd.external_id:
                try:
                    ids.append(self.report_case_id(cmd))
                except CasegridError:
                    continue  # refused again, with its field, when the report is made
        held = {cid for cid in ids if cid in self.store}
        return held | self.store.existing(cid for cid in ids if cid not in held)

    def report_many(self, items: Sequence[NewCase], *, save: bool = True,
                    rows: Callable[[list[Case]], dict] | None = None,
                    remember: bool = False) -> list[Outcome]:
        """Many NEW cases, each reported and taken through its steps, saved in ONE
        transaction (新案件批量保存): the bulk path of import and of a Kafka batch of reports.

        One read for the whole batch finds the cases already stored (a rerun, another
        writer): their Outcome says `already` and nothing of them changes. One block of
        case numbers serves the batch. Every report and step passes the ordinary checks;
        an item refused by one gets its error in its Outcome and stores nothing, the
        others are saved. `save=False` makes the cases without storing them (dry run);
        `rows` as in CaseStore.save_new. An Outcome per item, in order."""
        outcomes = [Outcome(item.report) for item in items]
        ids: dict[int, UUID] = {}
        for i, item in enumerate(items):
            try:
                cid = self.report_case_id(item.report)
            except CasegridError as e:
                outcomes[i].error = e
                continue
            if cid is not None:
                ids[i] = outcomes[i].case_id = cid
        there = self.store.existing(ids.values())
        fresh = [i for i in range(len(items)) if outcomes[i].error is None and ids.get(i) not in there]
        pool = NumberPool(self.numbers, len(fresh))
        made: dict[UUID, int] = {}
        for i, item in enumerate(items):
            out = outcomes[i]
            if out.error is not None:
                continue
            if ids.get(i) in there:
                out.already = True
                continue
            try:
                case = self.prepare_report(item.report, pool, checked=True)
                if case.id in made:
                    raise ValidationError("external_id", f"reported twice in one batch as {case.id} "
                                                         f"(first as item {made[case.id] + 1})")
                for step in item.steps:
                    self.apply(case, step)
            except CasegridError as e:
                out.error = e
                continue
            made[case.id] = i
            out.case_id, out.case = case.id, case
        if save and made:
            cases = [outcomes[i].case for i in made.values()]
            _, beaten = self.store.save_new(cases, rows=rows, remember=remember)
            for case in beaten:  # another writer stored it between our read and our save
                outcomes[made[case.id]].already = True
                outcomes[made[case.id]].case = None
        return outcomes

    def report_case_id(self, cmd: ReportCase) -> UUID | None:
        """The id a report's case will have when the report decides it (given, by
        idempotency key, by external id), else None (a fresh random id)."""
        if cmd.case_id is not None:
            return parse_case_id(cmd.case_id)
        key = validate.key(cmd.idempotency_key)
        if key is not None:
            return keyed_case_id(validate.identifier(cmd.actor, "actor", required=True), key)
        ext = validate.identifier(cmd.external_id, "external_id")
        if ext:
            return uuid5(EXTERNAL_NS, f"{cmd.channel}:{ext}")
        return None

    def _one(self, cmd: Command) -> Outcome:
        try:
            case = self.report(cmd) if isinstance(cmd, ReportCase) else self.act(cmd)
            return Outcome(cmd, case.id)
        except CasegridError as e:
            return Outcome(cmd, getattr(cmd, "case_id", None), e)

    def tick(self, now: datetime, case_ids: Iterable[UUID]) -> list[Case.DeadlineMissed]:
        """Record DeadlineMissed for every running step past due, and AssistDeadlineMissed
        for every assisting unit past its own; never twice for one due time."""
        recorded: list[Case.DeadlineMissed] = []
        for cid in case_ids:

            def once(cid=cid):
                case = self.store.current(  # the step's clock, then the assisting units'
                    cid, lambda c: c.miss_deadline(now) | c.miss_assists(now))
                if case is None:
                    return []
                events = list(case.pending_events)
                self.store.save([case])
                return events

            recorded += self._retrying(CaseAction(cid, "tick", "system", now), once, log_it=False)
        for e in recorded:
            if isinstance(e, Case.AssistDeadlineMissed):
                log.info("assist_deadline_missed", case_id=str(e.originator_id),
                         unit=e.assist_unit, due_at=e.missed_assist_due_at.isoformat())
                continue
            log.info("deadline_missed", case_id=str(e.originator_id), step=e.missed_step,
                     due_at=e.missed_due_at.isoformat(), holder=f"{e.holder_kind}:{e.holder}")
        return recorded

    # ------------------------------------------------------------------ unsaved, for callers
    # that save with rows of their own (Kafka inbox, import batches)

    def apply(self, case: Case, cmd: CaseAction) -> None:
        """Make the step on `case` (checked at the edge, decided by the case), unsaved."""
        self._call(case, intake.action(self.city, cmd, self.clock(), self.evidence_known))

    def current(self, case_id: UUID | str, decide: Callable[[Case], bool]) -> Case | None:
        """See CaseStore.current: the held copy if `decide` acts on it, else the stored case."""
        return self.store.current(case_id, decide)

    # ------------------------------------------------------------------ the parts

    def prepare_report(self, cmd: ReportCase, pool: NumberPool | None = None, *,
                       checked: bool = False, stored: set[UUID] | None = None) -> Case:
        """The new case a report makes, numbered (from `pool` in a batch), not yet saved;
        `checked`: the caller has found its id not stored yet (report_many); `stored`: the
        batch's report ids already stored (execute), else one read for this report."""
        by, at, fields = intake.report(self.city, cmd, self.clock(), self.evidence_known)
        contact = intake.reporter_contact(cmd)
        ext = fields["external_id"]
        case_id = self.report_case_id(cmd) or uuid4()
        if ext and not checked and (case_id in stored if stored is not None
                                    else self.store.exists(case_id)):
            raise ValidationError(
                "external_id", f"'{ext}' from channel '{cmd.channel}' is already case {case_id}"
                               f"{self.merged_note(case_id)}")
        pool = pool or NumberPool(self.numbers)
        case = Case.report(case_id, by, at, self.city, number=pool.next, **fields)
        case.give_contact(by, **contact)  # its own event, never published (case_callback.py)
        return case

    def original_of(self, case_id: UUID | str) -> UUID:
        """The case a merged duplicate was merged into (followed to the end), else itself:
        where later reports and look-ups of a duplicate's external id are directed."""
        cid = parse_case_id(case_id)
        for _ in range(16):  # merging refuses a merged original, so chains stay short
            into = self.store.get(cid).merged_into
            if into is None:
                break
            cid = parse_case_id(into)
        return cid

    def merged_note(self, case_id: UUID) -> str:
        original = self.original_of(case_id)
        return "" if original == case_id else f", merged into case {original}; report to it"

    def _call(self, case: Case, step: intake.Step) -> None:
        if step.trigger == "merge":  # two cases: CaseService.merge saves both
            raise ValidationError("trigger", "merge is made one case at a time (act), "
                                             "not in a batch")
        method = METHODS.get(step.trigger)
        if method is None:  # not a step on an existing case ('report'): the guard says why
            decide(case.state, step.trigger, step.by.role, {})
            raise RefusedError(f"refused: '{step.trigger}' is not a step on an existing case",
                               state=case.state, trigger=step.trigger, role=step.by.role)
        method(case, step.by, step.at, self.city, **step.args)

    def _retrying(self, cmd: Command, fn, *, log_it: bool = True):
        bound = log.bind(case_id=str(getattr(cmd, "case_id", "") or ""), actor=cmd.actor,
                         command=getattr(cmd, "trigger", "report"))
        try:
            result = self.store.retrying(
                bound, fn, case_id=cmd.case_id if isinstance(cmd, CaseAction) else None)
        except CasegridError as e:
            bound.info("command_refused", error=str(e))
            raise
        if log_it:
            bound.info("command_recorded", case_id=str(result[0].id), version=result[0].version)
        return result


def keyed_case_id(actor: str, key: str) -> UUID:
    """The id of the case a reporter's idempotency key names: the same key, the same case."""
    return uuid5(IDEMPOTENCY_NS, f"{actor}:{key}")
