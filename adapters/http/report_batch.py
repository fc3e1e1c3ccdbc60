"""Group commit of reports (成批提交): reports that arrive while the last batch is being
saved are saved together, in one transaction with one block of case numbers
(CaseService.report_many), instead of two transactions each.

One writer thread per process takes whatever reports have queued up and saves them; a
report alone waits for nobody (a batch of one). Every outcome is the single report's:
a report whose case exists already (an idempotency key or external id used before) or
that a check refuses is done again alone by `CaseService.report`, which answers it
exactly as before; two reports naming the same case never share a batch.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future

import structlog

from domain.errors import CasegridError
from workflows.commands import ReportCase
from workflows.service import CaseService, NewCase

log = structlog.get_logger("casegrid.workflow")


class ReportBatcher:
    def __init__(self, service: CaseService, max_batch: int = 64):
        self.service = service
        self.max_batch = max_batch
        self._queue: list[tuple[ReportCase, Future]] = []
        self._ready = threading.Condition()
        self._thread: threading.Thread | None = None
        self.batches = self.reports = 0

    def report(self, cmd: ReportCase):
        """The reported Case, as CaseService.report(cmd) returns it (or its error)."""
        done: Future = Future()
        with self._ready:
            self._queue.append((cmd, done))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._write, name="casegrid-reports",
                                                daemon=True)
                self._thread.start()
            self._ready.notify()
        return done.result()

    def _write(self) -> None:
        while True:
            with self._ready:
                while not self._queue:
                    self._ready.wait()
                batch, seen, later = [], set(), []
                for cmd, done in self._queue:
                    cid = self._case_id(cmd)
                    if len(batch) < self.max_batch and (cid is None or cid not in seen):
                        batch.append((cmd, done))
                        seen.add(cid)
                    else:
                        later.append((cmd, done))
                self._queue = later
            self._save(batch)

    def _case_id(self, cmd: ReportCase):
        try:
            return self.service.report_case_id(cmd)
        except CasegridError:
            return None  # refused again by report_many, then answered alone

    def _save(self, batch: list[tuple[ReportCase, Future]]) -> None:
        try:
            outcomes = self.service.report_many([NewCase(cmd) for cmd, _ in batch])
        except Exception as e:  # noqa: BLE001 - the store: each alone, with its retries
            log.warning("report_batch_failed", reports=len(batch), error=repr(e))
            outcomes = [None] * len(batch)
        self.batches += 1
        self.reports += len(batch)
        for (cmd, done), out in zip(batch, outcomes, strict=True):
            if out is not None and out.error is None and not out.already and out.case is not None:
                case = out.case
                log.info("command_recorded", case_id=str(case.id), actor=cmd.actor,
                         command="report", version=case.version, batch=len(batch))
                done.set_result(case)
                continue
            try:
                done.set_result(self.service.report(cmd))
            except BaseException as e:  # noqa: BLE001 - the request's own error
                done.set_exception(e)
