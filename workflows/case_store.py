"""Saving cases: the event store, optimistic concurrency with retries, a write-through cache.

A command loads its case, the case decides, the store saves. Two writers of one case
meet at the save: the loser's save fails on its version (IntegrityError) and the whole
command is tried again on a fresh load (eventsourcing.utils.retry). Cases this process
saved are kept (bounded, least recently saved dropped) so a command needs no read first;
the library's aggregate cache would fast-forward with a read on every get, which is the
read this cache exists to skip.
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
    def __init__(self, app: CaseApplication, *, retries: int = 8, cache_size: int = 20_000):
        self.app = app
        self.retries = retries
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

    def exists(self, case_id: UUID) -> bool:
        """Whether the case is stored: a case this process saved is (events are never
        deleted), so only the others cost a read."""
        return case_id in self._cache or bool(list(self.app.events.get(case_id, limit=1)))

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
