"""Importer.run: every row of an export planned, checked by the service and saved in
batches (all or nothing per row), counted in an ImportReport."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import structlog
from eventsourcing.persistence import IntegrityError

from adapters.importing.mapping import Mapping
from adapters.importing.planner import Planner, RowPlan, SkipRow
from adapters.importing.readers import Source, load_source
from domain.case import Case
from domain.errors import CasegridError, ValidationError
from workflows.service import CaseService

log = structlog.get_logger("casegrid.import")


@dataclass
class ImportReport:
    file: str
    source: str
    rows: int = 0
    imported: int = 0
    already: int = 0
    skipped: list[dict] = field(default_factory=list)
    partial: list[dict] = field(default_factory=list)
    outcomes: dict[str, int] = field(default_factory=dict)
    events: int = 0
    created: dict[str, list] = field(default_factory=lambda: {"categories": [], "units": []})
    dry_run: bool = False
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return {
            "file": self.file, "source": self.source, "dry_run": self.dry_run, "rows": self.rows,
            "imported": self.imported, "already_imported": self.already,
            "skipped": len(self.skipped), "partial": len(self.partial), "outcomes": self.outcomes,
            "events": self.events, "created": self.created, "seconds": round(self.seconds, 3),
            "rows_per_second": round(self.rows / self.seconds, 1) if self.seconds else None,
            "skipped_rows": self.skipped, "partial_rows": self.partial,
        }


class Importer(Planner):
    """Imports an export: every row planned (Planner), applied through the service's
    checks, and saved `batch` rows' cases per transaction."""

    def __init__(self, service: CaseService, mapping: Mapping, *, create_unknown: bool = False,
                 batch: int = 200):
        super().__init__(service, mapping, create_unknown=create_unknown)
        self.app = service.app
        self.batch = batch

    def run(self, path: str | Path | Source, *, dry_run: bool = False,
            progress: Callable[[int], None] | None = None) -> ImportReport:
        """Import a file (or a Source already read with load_source). A file wrong as a
        whole raises ValidationError before anything is stored."""
        import time as _time

        t0 = _time.perf_counter()
        src = path if isinstance(path, Source) else load_source(path, self.mapping)
        path, rows = src.path, src.rows
        self.prepare(rows)
        rep = ImportReport(str(path), self.mapping.source, dry_run=dry_run, created=self.created)
        pending: list[tuple[RowPlan, Case]] = []
        seen: dict[str, int] = {}
        svc = self.service
        for row, rec, err in rows:
            rep.rows += 1
            try:
                if err:
                    raise SkipRow(*err)
                plan = self.plan(row, rec)
                if plan.external_id in seen:
                    raise SkipRow(self.mapping.fields["external_id"],
                                  f"'{plan.external_id}' appears again (first on row {seen[plan.external_id]})")
                seen[plan.external_id] = row
                try:
                    case = svc.prepare_report(plan.report)
                except ValidationError as e:
                    if e.field == "external_id" and "already case" in e.rule:
                        rep.already += 1
                        continue
                    raise
                for action in plan.actions:
                    svc.apply(case, action)
            except SkipRow as e:
                rep.skipped.append({"row": row, "field": e.field, "reason": e.rule})
            except CasegridError as e:
                rep.skipped.append({"row": row, "field": getattr(e, "field", None), "reason": str(e)})
            else:
                pending.append((plan, case))
                if len(pending) >= self.batch:
                    self._flush(pending, rep, dry_run)
                    pending = []
            finally:
                if progress:
                    progress(1)
        self._flush(pending, rep, dry_run)
        rep.seconds = _time.perf_counter() - t0
        log.info("import_done", file=str(path), source=self.mapping.source, rows=rep.rows,
                 imported=rep.imported, already=rep.already, skipped=len(rep.skipped),
                 dry_run=dry_run, seconds=round(rep.seconds, 3))
        return rep

    def _flush(self, pending: list[tuple[RowPlan, Case]], rep: ImportReport, dry_run: bool) -> None:
        if not pending:
            return
        saved = pending
        if not dry_run:
            try:
                self.app.save(*(c for _, c in pending))
            except IntegrityError:  # another importer got some of them first: row by row
                saved = []
                for plan, case in pending:
                    try:
                        self.app.save(case)
                        saved.append((plan, case))
                    except IntegrityError:
                        rep.already += 1
        for plan, case in saved:
            rep.imported += 1
            rep.events += case.version
            rep.outcomes[plan.outcome] = rep.outcomes.get(plan.outcome, 0) + 1
            if plan.partial:
                rep.partial.append({"row": plan.row, "external_id": plan.external_id,
                                    "outcome": plan.outcome, "stopped_at": case.state,
                                    "reason": plan.partial})
