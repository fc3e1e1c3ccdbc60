"""Inbound Kafka messages → case commands, applied idempotently in one transaction per batch.

The two message types and their parsing (bytes → a schema-valid message and its command)
are in adapters/kafka/messages.py.

Idempotency: a report's case id is uuid5(EXTERNAL_NS, f"source:{source}:{external_id}"),
so a repeated report finds its case already there; every applied message leaves an inbox
row (source, message_id) written in the same transaction as its events (store.py), so a
repeated message id changes nothing. A message that is malformed, invalid or refused by
the lifecycle becomes a dead letter (same transaction), published afterwards with its
original bytes and error. Nothing is dropped: every record ends as applied, duplicate or
dead letter, and the next offset moves only in the transaction that records that.

No message can stop the consumer: one larger than `max_message_bytes` is refused before
it is decoded; ids that the database could not store (control characters, unpaired
surrogates) are refused by rule; and a message that fails in any unforeseen way (a bug,
a value the database refuses) is isolated by applying the batch one message per
transaction, where it becomes a dead letter of kind `error`.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass, field
from uuid import UUID

import structlog
from eventsourcing.persistence import IntegrityError

from adapters.kafka.failures import describe, is_transient
from adapters.kafka.messages import (
    CALLBACK,
    DEFAULT_CHANNEL_ACTORS,
    MAX_MESSAGE_BYTES,
    REPORT,
    UNIT_UPDATE,
    BadMessage,
    Message,
    Record,
    parse,
    without_contact,
)
from adapters.kafka.store import KWARG, KafkaRows, existing_cases, seen_messages
from adapters.storage.sql import Sql
from domain.case import Case
from domain.errors import CasegridError, RefusedError, ValidationError, printable
from domain.lifecycle import STATES, UNIT_STATES
from workflows.numbering import MemoryNumbers, NumberPool
from workflows.service import CaseService

log = structlog.get_logger("casegrid.kafka.in")


@dataclass
class BatchResult:
    applied: int = 0
    duplicates: int = 0
    dead: int = 0
    fallback: bool = False
    case_ids: list[UUID] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.applied + self.duplicates + self.dead


class InboundProcessor:
    """Turns a batch of records into one transaction of events + inbox + dead letters + offsets."""

    def __init__(
        self,
        service: CaseService,
        *,
        group: str,
        topics: dict[str, str],
        channel_actors: dict[str, str] | None = None,
        fallback_retries: int = 5,
        max_message_bytes: int = MAX_MESSAGE_BYTES,
    ):
        self.service = service
        self.app = service.app
        self.city = service.city
        self.sql = Sql(self.app.recorder)
        self.group = group
        self.types = {topics["reports"]: REPORT, topics["unit_updates"]: UNIT_UPDATE}
        if topics.get("callbacks"):
            self.types[topics["callbacks"]] = CALLBACK
        self.channel_actors = {**DEFAULT_CHANNEL_ACTORS, **(channel_actors or {})}
        self.fallback_retries = fallback_retries
        self.max_message_bytes = max_message_bytes

    def parse(self, rec: Record) -> Message:
        return parse(rec, types=self.types, channel_actors=self.channel_actors,
                     max_message_bytes=self.max_message_bytes)

    # ---------------------------------------------------------------- applying

    def _check_unit_actor(self, msg: Message) -> None:
        self.city.unit(msg.unit, "unit")
        user = self.city.user(msg.actor, "actor")
        if user.role != "unit_member" or user.unit != msg.unit:
            raise ValidationError("actor", f"'{user.id}' is not a member of unit '{msg.unit}'")

    def _apply(self, msg: Message, cases: dict[UUID, Case], pool: NumberPool | None = None,
               new: set[UUID] = frozenset()) -> str:
        """Apply one message to the batch's cases (new ones numbered from the batch's
        `pool`; `new`: report case ids checked absent in bulk); returns the inbox outcome."""
        svc = self.service
        if msg.type == REPORT:
            if msg.case_id in cases:
                return "duplicate"
            try:
                case = svc.prepare_report(msg.command, pool, checked=msg.case_id in new)
            except ValidationError as e:
                if e.field == "external_id" and "already case" in e.rule:
                    msg.case_id = svc.original_of(msg.case_id)  # a merged one's original
                    return "duplicate"
                raise
            cases[case.id] = case
            return "applied"
        if msg.type != CALLBACK:  # a callback's actor is checked by the lifecycle (its role)
            self._check_unit_actor(msg)

        accept = msg.command is None or msg.command.trigger == "accept"

        def decide(case: Case) -> bool:
            if accept:  # 签收: the case must be with this unit
                if case.state not in UNIT_STATES or case.unit != msg.unit:
                    raise RefusedError(
                        f"refused: case is {case.state} ({STATES[case.state]['zh']}) with unit "
                        f"'{case.unit}'; unit '{msg.unit}' cannot accept it",
                        state=case.state, trigger="accept", role="unit_member",
                    )
                if msg.command is not None and case.state == "dispatched" and not case.accepted_at:
                    svc.apply(case, msg.command)  # recorded once per dispatch (Accepted)
            else:
                svc.apply(case, msg.command)
            return True

        if msg.type == CALLBACK:  # the source knows its own case: a merged duplicate's
            msg.case_id = msg.command.case_id = svc.original_of(msg.case_id)  # is the original's
        case = cases.get(msg.case_id)
        if case is None:  # a copy this process holds is checked against the store if refused
            case = svc.current(msg.case_id, decide)
        else:
            decide(case)
        cases[case.id] = case
        return "accepted" if accept else "applied"

    def _dead_row(self, rec: Record, err: CasegridError) -> tuple:
        """The dead-letter row: the original bytes (less a reporter's contact), and text any
        database stores (no NUL)."""
        payload = base64.b64encode(without_contact(rec.value) or b"").decode("ascii")
        key = rec.key.decode("utf-8", "replace").replace("\x00", "\ufffd") if rec.key is not None else None
        fld = getattr(err, "field", None)
        return (self.group, rec.topic, rec.partition, rec.offset, key, payload, err.kind,
                printable(fld, 200) if fld is not None else None, printable(str(err), 2000))

    def _save(self, cases: dict[UUID, Case], rows: KafkaRows) -> None:
        self.app.save(*cases.values(), **{KWARG: rows})
        self.service.store.remember(cases.values())

    def process(self, records: Sequence[Record], *, replay: bool = False) -> BatchResult:
        """Apply a batch; every record ends applied, duplicate or dead-lettered, offsets moved.
        `replay`: the records are stored dead letters fed again (kafka replay-dlq): no offset
        moves; one that now applies (or is already there) loses its dead letter in the same
        transaction, one still bad keeps it with the new error (to be published again)."""
        result = BatchResult()
        if not records:
            return result
        rows = KafkaRows(replace_dead=replay)
        for r in records:
            if not replay:
                k = (self.group, r.topic, r.partition)
                rows.offsets[k] = max(rows.offsets.get(k, 0), r.offset + 1)
        parsed: list[tuple[Record, Message]] = []
        for r in records:
            m = self._parse_or_dead(r, rows)
            if m is not None:
                parsed.append((r, m))
        seen = seen_messages(self.sql, [(m.source, m.message_id) for _, m in parsed])
        cases: dict[UUID, Case] = {}
        pool = NumberPool(self.service.numbers, sum(m.type == REPORT for _, m in parsed))
        new = self._new_reports(parsed, seen)
        for r, m in parsed:
            key = (m.source, m.message_id)
            if key in seen:
                result.duplicates += 1
                if replay:
                    rows.resolved.append(self._where(r))
                log.debug("duplicate_message", topic=r.topic, partition=r.partition, offset=r.offset,
                          source=m.source, message_id=m.message_id)
                continue
            try:
                outcome = self._apply(m, cases, pool, new)
            except CasegridError as e:
                rows.dead.append(self._dead_row(r, e))
                continue
            except Exception as e:  # noqa: BLE001 - isolated below, one message at a time
                self._forget(cases, m)
                if is_transient(e):
                    raise
                return self._fall_back(records, cases, "inbound_batch_error_fallback", e, replay)
            seen.add(key)
            rows.inbox.append((m.source, m.message_id, str(m.case_id), outcome, r.topic,
                               r.partition, r.offset))
            if replay:
                rows.resolved.append(self._where(r))
            if outcome == "duplicate":
                result.duplicates += 1
                log.debug("duplicate_report", topic=r.topic, partition=r.partition, offset=r.offset,
                          source=m.source, external_id=getattr(m.command, "external_id", None))
            else:
                result.applied += 1
        try:
            self._save(cases, rows)
        except IntegrityError as e:
            return self._fall_back(records, cases, "inbound_batch_conflict_fallback", e, replay)
        except Exception as e:  # noqa: BLE001 - e.g. a value the database refuses
            if is_transient(e):
                self._forget(cases)  # their events were not stored: reload them next time
                raise
            return self._fall_back(records, cases, "inbound_batch_error_fallback", e, replay)
        result.dead = len(rows.dead)
        result.case_ids = list(cases)
        return result

    def _new_reports(self, parsed: list[tuple[Record, Message]], seen: set) -> set[UUID]:
        """The batch's report case ids that no stored case has yet: one query, not one read
        per report."""
        ids = list({m.case_id for _, m in parsed
                    if m.type == REPORT and (m.source, m.message_id) not in seen})
        return set(ids) - existing_cases(self.app.recorder, self.sql, ids) if ids else set()

    def _parse_or_dead(self, r: Record, rows: KafkaRows) -> Message | None:
        try:
            return self.parse(r)
        except BadMessage as e:
            rows.dead.append(self._dead_row(r, e))
        except Exception as e:  # noqa: BLE001 - parsing touches no store: this message's fault
            rows.dead.append(self._dead_row(r, _Unexpected(e)))
            log.error("inbound_message_failed", topic=r.topic, partition=r.partition,
                      offset=r.offset, error=describe(e))
        return None

    def _fall_back(self, records: Sequence[Record], cases: dict, why: str, e: Exception,
                   replay: bool) -> BatchResult:
        self._forget(cases)
        log.warning(why, records=len(records), error=describe(e))
        return self._one_by_one(records, replay)

    def _one_by_one(self, records: Sequence[Record], replay: bool = False) -> BatchResult:
        """After a version conflict: each message in its own transaction, with retries."""
        result = BatchResult(fallback=True)
        rows = KafkaRows(replace_dead=replay)
        for r in records:
            if not replay:
                k = (self.group, r.topic, r.partition)
                rows.offsets[k] = max(rows.offsets.get(k, 0), r.offset + 1)
            m = self._parse_or_dead(r, rows)
            if m is None:
                continue
            for attempt in range(self.fallback_retries + 1):
                if seen_messages(self.sql, [(m.source, m.message_id)]):
                    result.duplicates += 1
                    if replay:
                        rows.resolved.append(self._where(r))
                    break
                cases: dict[UUID, Case] = {}
                try:
                    outcome = self._apply(m, cases)
                    one = KafkaRows(inbox=[(m.source, m.message_id, str(m.case_id), outcome,
                                            r.topic, r.partition, r.offset)],
                                    resolved=[self._where(r)] if replay else [])
                    self._save(cases, one)
                except CasegridError as e:
                    rows.dead.append(self._dead_row(r, e))
                    break
                except IntegrityError:
                    self._forget(cases, m)
                    if attempt == self.fallback_retries:
                        rows.dead.append(self._dead_row(r, _Conflict(m)))
                    continue
                except Exception as e:  # noqa: BLE001 - this message alone: a dead letter
                    if is_transient(e):
                        raise
                    self._forget(cases, m)
                    rows.dead.append(self._dead_row(r, _Unexpected(e)))
                    log.error("inbound_message_failed", topic=r.topic, partition=r.partition,
                              offset=r.offset, error=describe(e))
                    break
                if outcome == "duplicate":
                    result.duplicates += 1
                else:
                    result.applied += 1
                    result.case_ids.append(m.case_id)
                break
        self._save({}, rows)  # dead letters and offsets, no events
        result.dead = len(rows.dead)
        return result

    def _where(self, r: Record) -> tuple:
        """A record's dead-letter key: (group, topic, partition, offset)."""
        return (self.group, r.topic, r.partition, r.offset)

    def check(self, records: Sequence[Record]) -> list[tuple[Record, str, CasegridError | None]]:
        """What feeding these records would do, saving nothing (replay-dlq --dry-run): each
        alone, numbered from a pool outside the store: ('apply' | 'duplicate' | 'dead', error)."""
        out: list[tuple[Record, str, CasegridError | None]] = []
        pool = NumberPool(MemoryNumbers(), max(1, len(records)))
        for r in records:
            dead = KafkaRows()
            m = self._parse_or_dead(r, dead)
            if m is None:
                out.append((r, "dead", _Stored(dead.dead[0])))
                continue
            if seen_messages(self.sql, [(m.source, m.message_id)]):
                out.append((r, "duplicate", None))
                continue
            cases: dict[UUID, Case] = {}
            try:
                outcome = self._apply(m, cases, pool)
                out.append((r, "duplicate" if outcome == "duplicate" else "apply", None))
            except CasegridError as e:
                out.append((r, "dead", e))
            except Exception as e:  # noqa: BLE001 - reported as the dead letter it would stay
                if is_transient(e):
                    raise
                out.append((r, "dead", _Unexpected(e)))
            finally:
                self._forget(cases, m)
        return out

    def _forget(self, cases: dict, m: Message | None = None) -> None:
        """Drop copies a failure may have changed: the next use reloads them."""
        for cid in (*cases, *([m.case_id] if m is not None else [])):
            self.service.store.forget(cid)


class _Conflict(CasegridError):
    kind = "conflict"

    def __init__(self, m: Message):
        super().__init__(f"conflict: case {m.case_id} kept changing; gave up on message {m.message_id}")


class _Unexpected(CasegridError):
    """A message that failed in a way no rule foresaw; kept as a dead letter of kind `error`."""

    kind = "error"

    def __init__(self, e: BaseException):
        super().__init__(f"error: {describe(e)}")


class _Stored(CasegridError):
    """A dead-letter row's error, as a CasegridError (for check)."""

    def __init__(self, row: tuple):
        self.kind, self.field = row[6], row[7]
        super().__init__(row[8])
