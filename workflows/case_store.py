"""Saving cases: the event store, optimistic concurrency with retries, a write-through cache.

A command loads its case, the case decides, the store saves. Two writers of one case
meet at the save: the loser's save fails on its version (IntegrityError) and the whole
command is tried again on a fresh load (eventsourcing.utils.retry). Cases this process
saved are kept (bounded, least recently saved dropped) so a command needs no read first;
the library's aggregate cache would fast-forward with a read on every get, which is the
read this cache exists to skip.

Many NEW cases (import, a Kafka batch) are saved by `save_new` in one transaction through
the store's bulk writer (PostgreSQL: COPY, adapters/storage/bulk.py), checked against the
store with one read for all of them (`existing`).
"""

from __future__ import annotations

import itertools
import random
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any, TypeVar
from uuid import UUID

import structlog
from eventsourcing.application import AggregateNotFoundError, Application, ProcessingEvent
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError
from eventsourcing.utils import retry

from domain.case import Case
from domain.errors import CasegridError, ConflictError, NotFoundError, ValidationError

log = structlog.get_logger("casegrid.workflow")
T = TypeVar("T")
# (events, **recorder keywords) → stored in ONE transaction; IntegrityError if any
# (case, version) is taken. Default: the library's Application.save.
BulkWriter = Callable[..., None]
# case ids → those that have events (one query for all of them)
Existing = Callable[[list[UUID]], set[UUID]]


class CaseApplication(Application):
    """The event store of cases (eventsourcing Application), snapshotting long streams."""

    name = "casegrid"
    snapshotting_intervals = {Case: 50}

    def save(self, *objs: Any, **kwargs: Any) -> Any:
        """Application.save, without its runtime Protocol checks on every object (typing's
        isinstance on a Protocol: a tenth of a batched command's time on Python 3.11) when
        all are aggregates; anything else goes the library's way."""
        if not all(isinstance(obj, Aggregate) for obj in objs):
            return super().save(*objs, **kwargs)
        processing = ProcessingEvent()
        for obj in objs:
            processing.events.extend(obj.collect_events())
            processing.aggregates[obj.id] = obj
        processing.saved_kwargs.update(kwargs)
        recordings = self._record(processing)
        self._take_snapshots(processing)
        self._notify(recordings)
        self.notify(processing.events)
        return recordings


class CaseStore:
    def __init__(self, app: CaseApplication, *, retries: int = 8, cache_size: int = 20_000,
                 writer: BulkWriter | None = None, existing: Existing | None = None):
        self.app = app
        self.retries = retries
        self.writer = writer
        self._existing = existing
        # Cases as last saved by this process. Never the only copy: another writer makes
        # our save fail on its version, and the command is retried on a fresh load.
        self._cache: OrderedDict[UUID, Case] = OrderedDict()
        self._cache_size = cache_size

    def get(self, case_id: UUID | str) -> Case:
        cid = parse_case_id(case_id)
        try:
            return self.app.repository.get(cid)
        except AggregateNotFoundError:
            raise NotFoundError(f"case_id: no case '{cid}'") from None

    def __contains__(self, case_id: UUID) -> bool:
        """Held in the write-through cache: saved by this process, so stored."""
        return case_id in self._cache

    def exists(self, case_id: UUID) -> bool:
        """Whether the case is stored: a case this process saved is (events are never
        deleted), so only the others cost a read."""
        return case_id in self._cache or bool(list(self.app.events.get(case_id, limit=1)))

    def existing(self, case_ids: Iterable[UUID]) -> set[UUID]:
        """Which of these cases are stored: one query (the adapter's), else one read each."""
        ids = list(dict.fromkeys(case_ids))
        if not ids:
            return set()
        if self._existing is not None:
            return self._existing(ids)
        return {cid for cid in ids if self.exists(cid)}

    def save_new(self, cases: list[Case], *, rows: Callable[[list[Case]], dict] | None = None,
                 remember: bool = True) -> tuple[list[Case], list[Case]]:
        """Many NEW cases in ONE transaction (新案件批量保存) by the bulk writer: (saved, already).

        A case another writer stored first (a rerun, a second importer, a Kafka resend)
        fails the insert on its first version; those are looked up with one query, left
        out (returned as `already`, unchanged in the store) and the rest saved again in one
        transaction. `rows(saved cases)` gives the recorder keywords written in the same
        transaction (e.g. the Kafka inbox rows of exactly the cases saved)."""
        pending = {c.id: (c, list(c.collect_events())) for c in cases}
        already: list[Case] = []
        for _ in range(self.retries + 1):
            if not pending:
                return [], already
            saved = [c for c, _ in pending.values()]
            kwargs = rows(saved) if rows is not None else {}
            events = [e for _, evs in pending.values() for e in evs]
            try:
                if self.writer is None:
                    self.app.save(*events, **kwargs)
                else:
                    self.writer(events, **kwargs)
            except IntegrityError:
                there = self.existing(pending)
                if not there:  # not a case stored first: something else is wrong
                    raise
                already += [pending.pop(cid)[0] for cid in there if cid in pending]
                log.info("bulk_save_skipped_existing", cases=len(there), remaining=len(pending))
                continue
            self._snapshots(pending.values())
            if remember:
                self.remember(saved)
            return saved, already
        raise ConflictError(f"conflict: {len(pending)} new cases kept meeting other writers; "
                            f"gave up after {self.retries} retries")

    def _snapshots(self, saved: Iterable[tuple[Case, list]]) -> None:
        """The snapshots Application.save would take (a new case past the interval)."""
        interval = (self.app.snapshotting_intervals or {}).get(Case)
        if not interval or self.app.snapshots is None:
            return
        for case, events in saved:
            for e in events:
                if e.originator_version % interval == 0:
                    self.app.take_snapshot(case.id, version=e.originator_version)

    def current(self, case_id: UUID | str, decide: Callable[[Case], bool]) -> Case | None:
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

    def save(self, cases: list[Case]) -> list[Case]:
        """One transaction for all of them; on any error none is kept in the cache."""
        self.app.save(*cases)
        self.remember(cases)
        return cases

    def remember(self, cases: Iterable[Case]) -> None:
        """Keep cases just saved (also by a caller that saved them with rows of its own)."""
        for case in cases:
            self._cache[case.id] = case
            self._cache.move_to_end(case.id)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    def forget(self, case_id: UUID) -> None:
        """Drop a copy a failed command may have changed: the next use reloads it."""
        self._cache.pop(case_id, None)

    def retrying(self, bound: Any, fn: Callable[[], T], *, case_id: Any = None) -> T:
        """fn() until its save is not beaten by another writer; then a ConflictError."""

        conflicts = itertools.count(1)

        @retry(IntegrityError, max_attempts=self.retries + 1)
        def attempt() -> T:
            try:
                return fn()
            except IntegrityError:
                n = next(conflicts)
                bound.info("version_conflict_retry", attempt=n)
                if n <= self.retries:  # a random, growing pause before the next try: two
                    # writers that met must not meet again in step
                    time.sleep(random.uniform(0, 0.002 * 2 ** min(n, 6)))
                raise

        try:
            return attempt()
        except IntegrityError:
            current = self.get(case_id).version if case_id is not None else None
            raise ConflictError(
                f"conflict: case {case_id or ''} kept changing; gave up after "
                f"{self.retries} retries", current_version=current) from None


def parse_case_id(value: UUID | str) -> UUID:
    if isinstance(value, UUID):
        return value
    try:
        return UUID(str(value))
    except ValueError:
        raise ValidationError("case_id", f"'{value}' is not a case id (a UUID)") from None
