"""Importer.run: every row of an export planned, checked by the service and saved in
batches (all or nothing per row; a batch's new cases in one transaction through
CaseService.report_many), counted in an ImportReport."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import structlog

from adapters.importing.mapping import Mapping
from adapters.importing.parallel import Job, run_shards
from adapters.importing.planner import Planner, RowPlan, SkipRow
from adapters.importing.readers import Source, load_source
from adapters.storage.sql import Sql
from domain.errors import CasegridError, ValidationError
from workflows.service import CaseService, NewCase, Outcome

log = structlog.get_logger("casegrid.import")
LISTED = 10_000  # skipped / partial rows listed one by one in a report; beyond, only counted
DUPLICATE_WINDOW = 100_000  # external ids remembered to name a repeat's first row
MAX_WORKERS = 32


@dataclass
class ImportReport:
    file: str
    source: str
    rows: int = 0
    imported: int = 0
    already: int = 0
    skipped: list[dict] = field(default_factory=list)  # the first LISTED of them
    partial: list[dict] = field(default_factory=list)  # the first LISTED of them
    skipped_count: int = 0
    partial_count: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    events: int = 0
    created: dict[str, list] = field(default_factory=lambda: {"categories": [], "units": []})
    dry_run: bool = False
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return {
            "file": self.file, "source": self.source, "dry_run": self.dry_run, "rows": self.rows,
            "imported": self.imported, "already_imported": self.already,
            "skipped": self.skipped_count, "partial": self.partial_count, "outcomes": self.outcomes,
            "events": self.events, "created": self.created, "seconds": round(self.seconds, 3),
            "rows_per_second": round(self.rows / self.seconds, 1) if self.seconds else None,
            "skipped_rows": self.skipped, "partial_rows": self.partial,
            "rows_listed_at_most": LISTED,
        }

    def skip(self, row: int, fld: str | None, reason: str) -> None:
        self.skipped_count += 1
        if len(self.skipped) < LISTED:
            self.skipped.append({"row": row, "field": fld, "reason": reason})

    def merge(self, part: ImportReport) -> None:
        """Add a shard's report (parallel import): counts summed, rows listed in row order."""
        self.rows += part.rows
        self.imported += part.imported
        self.already += part.already
        self.events += part.events
        for k, v in part.outcomes.items():
            self.outcomes[k] = self.outcomes.get(k, 0) + v
        self.skipped_count += part.skipped_count
        self.partial_count += part.partial_count
        self.skipped = sorted(self.skipped + part.skipped, key=lambda r: r["row"])[:LISTED]
        self.partial = sorted(self.partial + part.partial, key=lambda r: r["row"])[:LISTED]

    def stopped_short(self, entry: dict) -> None:
        self.partial_count += 1
        if len(self.partial) < LISTED:
            self.partial.append(entry)


class RecentIds:
    """The row of each of the last `size` external ids (a repeat names its first row;
    memory stays bounded on a file of any length: a repeat further back than `size` rows
    finds its case stored and counts as already imported)."""

    def __init__(self, size: int = DUPLICATE_WINDOW):
        self.size = size
        self.rows: dict[str, int] = {}

    def first(self, external_id: str, row: int) -> int | None:
        """The row it was first seen on, or None (and it is remembered from `row`)."""
        seen = self.rows.get(external_id)
        if seen is not None:
            return seen
        self.rows[external_id] = row
        if len(self.rows) > self.size:  # dicts keep insertion order: drop the oldest
            del self.rows[next(iter(self.rows))]
        return None


class Importer(Planner):
    """Imports an export: every row planned (Planner), then `batch` rows' cases checked by
    the service and saved as new cases in one transaction (CaseService.report_many)."""

    def __init__(self, service: CaseService, mapping: Mapping, *, create_unknown: bool = False,
                 batch: int = 500, workers: int = 1):
        super().__init__(service, mapping, create_unknown=create_unknown)
        self.app = service.app
        self.batch = max(1, batch)
        if isinstance(workers, bool) or not isinstance(workers, int) or not 1 <= workers <= MAX_WORKERS:
            raise ValidationError("workers", f"must be a whole number from 1 to {MAX_WORKERS}, "
                                             f"not {workers!r}")
        if workers > 1 and Sql(self.app.recorder).datastore is None:
            raise ValidationError("workers", "several import processes need SQLite or PostgreSQL, "
                                             "not the in-memory store")
        self.workers = workers

    def run(self, path: str | Path | Source, *, dry_run: bool = False,
            progress: Callable[[int], None] | None = None,
            shard: tuple[int, int] | None = None) -> ImportReport:
        """Import a file (or a Source already read with load_source). A file wrong as a
        whole raises ValidationError before anything is stored. `shard` (i, n): only the
        rows of shard i of n (readers.shard_of); with workers > 1, n processes do them."""
        import time as _time

        t0 = _time.perf_counter()
        src = path if isinstance(path, Source) else load_source(path, self.mapping)
        if shard is None:
            self.prepare(src.rows)
        rep = ImportReport(str(src.path), self.mapping.source, dry_run=dry_run, created=self.created)
        if self.workers > 1 and shard is None:
            self._run_workers(src, rep, dry_run, progress)
        else:
            self._run_rows(src, rep, dry_run, progress, shard)
        rep.seconds = _time.perf_counter() - t0
        log.info("import_done", file=str(src.path), source=self.mapping.source, rows=rep.rows,
                 imported=rep.imported, already=rep.already, skipped=rep.skipped_count,
                 dry_run=dry_run, seconds=round(rep.seconds, 3), shard=shard, workers=self.workers)
        return rep

    def _run_workers(self, src: Source, rep: ImportReport, dry_run: bool,
                     progress: Callable[[int], None] | None) -> None:
        jobs = [Job(dict(self.app.env), self.city.raw, self.mapping, src, self.batch, i,
                    self.workers, dry_run) for i in range(self.workers)]
        for part in run_shards(jobs, progress):
            rep.merge(part)

    def _run_rows(self, src: Source, rep: ImportReport, dry_run: bool,
                  progress: Callable[[int], None] | None, shard: tuple[int, int] | None) -> None:
        plans: list[RowPlan] = []
        skips: list[tuple[int, str | None, str]] = []  # this batch's, reported in row order
        recent = RecentIds()
        ext_col = self.mapping.fields["external_id"]
        rows = src.rows if shard is None else src.rows_of(ext_col, *shard)
        for row, rec, err in rows:
            rep.rows += 1
            try:
                if err:
                    raise SkipRow(*err)
                plan = self.plan(row, rec)
                first = recent.first(plan.external_id, row)
                if first is not None:
                    raise SkipRow(self.mapping.fields["external_id"],
                                  f"'{plan.external_id}' appears again (first on row {first})")
                plans.append(plan)
            except SkipRow as e:
                skips.append((row, e.field, e.rule))
            except CasegridError as e:
                skips.append((row, getattr(e, "field", None), str(e)))
            if len(plans) >= self.batch:
                self._flush(plans, skips, rep, dry_run)
                plans, skips = [], []
            if progress:
                progress(1)
        self._flush(plans, skips, rep, dry_run)

    def _flush(self, plans: list[RowPlan], skips: list[tuple[int, str | None, str]],
               rep: ImportReport, dry_run: bool) -> None:
        """The batch's cases through the service, saved together; the batch's skipped rows
        reported in row order."""
        outcomes: list[Outcome] = []
        if plans:
            outcomes = self.service.report_many([NewCase(p.report, p.actions) for p in plans],
                                                save=not dry_run)
        for plan, out in zip(plans, outcomes, strict=True):
            if out.already:
                rep.already += 1
            elif out.error is not None:
                skips.append((plan.row, getattr(out.error, "field", None), str(out.error)))
            else:
                case = out.case
                rep.imported += 1
                rep.events += case.version
                rep.outcomes[plan.outcome] = rep.outcomes.get(plan.outcome, 0) + 1
                if plan.partial:
                    rep.stopped_short({"row": plan.row, "external_id": plan.external_id,
                                       "outcome": plan.outcome, "stopped_at": case.state,
                                       "reason": plan.partial})
        for row, fld, reason in sorted(skips, key=lambda s: s[0]):
            rep.skip(row, fld, reason)
