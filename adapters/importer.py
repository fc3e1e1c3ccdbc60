"""Historical import (历史案件导入): past cases from another system's CSV or JSON-lines export.

A mapping file (YAML, see docs/import/README.md) says which source column is which of
our fields, how the source's statuses map to how far a case got in our lifecycle, which
source time stamps each step took place at, and how source categories, agencies and
areas map to our categories, member units and grid cells.

Every row becomes one case through the ordinary service checks (roles, states, reasons,
times), with the source's own times as `occurred_at`:
  report → (verify, for channels that need it) → file → dispatch → resolve → check → close
as far as the row's status and times support, or report → refuse for a voided record.
A row's events are saved together (all or nothing), many rows per transaction. The case
id is uuid5(EXTERNAL_NS, "source:<source>:<external id>") (the same id a Kafka report of
that record gets), so a re-run finds its cases already there and imports nothing twice.
A row that cannot be imported is reported with its row number and the reason; nothing of
it is stored.
"""

from __future__ import annotations

import copy
import csv
import hashlib
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import structlog
import yaml
from eventsourcing.persistence import IntegrityError

from adapters.kafka_in import report_case_id
from domain.case import Case
from domain.city import City, build_city
from domain.errors import CasegridError, ConfigError, ValidationError
from workflows.commands import CaseAction, ReportCase
from workflows.lifecycle import CHANNELS
from workflows.service import CaseService

log = structlog.get_logger("casegrid.import")

OUTCOMES = ("reported", "filed", "dispatched", "resolved", "closed", "refused")
# outcome -> the steps after the report, in order
PATH = {
    "reported": [],
    "filed": ["verify", "file"],
    "dispatched": ["verify", "file", "dispatch"],
    "resolved": ["verify", "file", "dispatch", "resolve"],
    "closed": ["verify", "file", "dispatch", "resolve", "check", "close"],
    "refused": ["refuse"],
}
STEPS = ("verify", "file", "dispatch", "resolve", "check", "close", "refuse")
DEFAULT_ACTORS = {"verify": "sup_zhang", "file": "acc_wang", "dispatch": "disp_chen",
                  "check": "sup_zhang", "close": "acc_wang", "refuse": "acc_wang"}
CHANNEL_ACTORS = {"citizen": "citizen_app", "hotline": "hotline_12345", "camera": "system",
                  "inspection": "acc_wang", "patrol": "sup_zhang"}


class SkipRow(Exception):
    def __init__(self, field: str, rule: str):
        self.field, self.rule = field, rule
        super().__init__(f"{field}: {rule}")


@dataclass
class Mapping:
    source: str
    format: str
    tz: ZoneInfo
    time_formats: list[str]
    fields: dict[str, Any]
    channels: dict[str, str]
    categories: dict[str, str]
    units: dict[str, str]
    grid: dict[str, Any]
    statuses: dict[str, str]
    rules: list[dict]
    steps: dict[str, list[str]]
    notes: dict[str, Any] | None
    actors: dict[str, str]
    create: dict[str, str]
    raw: dict
    tolerance: float = 0.0

    @classmethod
    def load(cls, path: str | Path) -> Mapping:
        try:
            raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError("mapping", f"no such file '{path}'") from None
        except yaml.YAMLError as e:
            raise ConfigError("mapping", f"'{path}' is not valid YAML: {e}") from None
        return cls.build(raw)

    @classmethod
    def build(cls, raw: Any) -> Mapping:
        if not isinstance(raw, dict):
            raise ConfigError("mapping", "must be a mapping at the top level")

        def need(key, kind=str):
            v = raw.get(key)
            if v is None:
                raise ConfigError(f"mapping.{key}", "is required")
            if not isinstance(v, kind):
                raise ConfigError(f"mapping.{key}", f"must be a {'mapping' if kind is dict else 'string'}")
            return v

        source = need("source")
        if not re.fullmatch(r"[a-z0-9][a-z0-9_.-]{0,63}", source):
            raise ConfigError("mapping.source", f"'{source}' must be lower-case letters, digits, '_', '.', '-'")
        fmt = raw.get("format", "csv")
        if fmt not in ("csv", "jsonl"):
            raise ConfigError("mapping.format", f"'{fmt}' is not one of csv, jsonl")
        try:
            tz = ZoneInfo(raw.get("timezone", "UTC"))
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError("mapping.timezone", f"unknown time zone '{raw.get('timezone')}'") from None
        fields_ = need("fields", dict)
        for key in ("external_id", "reported_at", "category"):
            if key not in fields_:
                raise ConfigError(f"mapping.fields.{key}", "is required")
        statuses = {str(k): v for k, v in (raw.get("statuses") or {}).items()}
        for k, v in statuses.items():
            if v not in OUTCOMES and v != "skip":
                raise ConfigError(f"mapping.statuses.{k}", f"'{v}' is not one of {', '.join(OUTCOMES)}, skip")
        rules = raw.get("rules") or []
        for i, r in enumerate(rules):
            if not isinstance(r, dict) or not isinstance(r.get("when"), dict) or r.get("then") not in (*OUTCOMES, "skip"):
                raise ConfigError(f"mapping.rules[{i}]", "needs when: {field: value(s)} and then: an outcome")
        steps = {k: ([v] if isinstance(v, str) else list(v)) for k, v in (raw.get("steps") or {}).items()}
        for k in steps:
            if k not in STEPS:
                raise ConfigError(f"mapping.steps.{k}", f"is not one of {', '.join(STEPS)}")
        channels = {str(k): v for k, v in (raw.get("channels") or {}).items()}
        for k, v in channels.items():
            if v not in CHANNELS:
                raise ConfigError(f"mapping.channels.{k}", f"'{v}' is not one of {', '.join(CHANNELS)}")
        grid = raw.get("grid") or {"method": "hash"}
        if grid.get("method") not in ("hash", "map"):
            raise ConfigError("mapping.grid.method", "must be hash or map")
        return cls(
            source=source, format=fmt, tz=tz,
            time_formats=list(raw.get("time_formats") or []),
            fields=fields_, channels=channels,
            categories={str(k): str(v) for k, v in (raw.get("categories") or {}).items()},
            units={str(k): str(v) for k, v in (raw.get("units") or {}).items()},
            grid=grid, statuses=statuses, rules=rules, steps=steps, notes=raw.get("notes"),
            actors={**DEFAULT_ACTORS, **(raw.get("actors") or {})},
            create={"category_class": "99", "category_class_name": "导入类别",
                    **(raw.get("create") or {})},
            raw=raw,
            tolerance=float(raw.get("tolerance_seconds") or 0),
        )


# ---------------------------------------------------------------- reading rows


def read_rows(path: str | Path, fmt: str) -> Iterator[tuple[int, dict | None, str | None]]:
    """(row number, record or None, error): CSV rows count from 2 (line 1 is the header);
    JSON lines from 1."""
    path = Path(path)
    if fmt == "csv":
        with path.open(encoding="utf-8-sig", newline="") as fh:
            for i, row in enumerate(csv.DictReader(fh), start=2):
                yield i, row, None
        return
    with path.open(encoding="utf-8") as fh:
        for i, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                doc = json.loads(line)
            except json.JSONDecodeError as e:
                yield i, None, f"(line): is not JSON: {e.msg}"
                continue
            if not isinstance(doc, dict):
                yield i, None, "(line): must be a JSON object"
                continue
            yield i, doc, None


def count_rows(path: str | Path, fmt: str) -> int:
    with Path(path).open(encoding="utf-8-sig", newline="") as fh:
        if fmt == "csv":
            return sum(1 for _ in csv.reader(fh)) - 1
        return sum(1 for line in fh if line.strip())


def _get(rec: dict, path: str) -> Any:
    cur: Any = rec
    for part in path.split("."):
        if not isinstance(cur, dict):
            return None
        cur = cur.get(part)
    return cur


def _str(v: Any) -> str:
    return "" if v is None else str(v).strip()


# ---------------------------------------------------------------- the importer


@dataclass
class RowPlan:
    row: int
    external_id: str
    outcome: str
    report: ReportCase
    actions: list[CaseAction]
    partial: str | None = None  # why the path stops short of the outcome


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


class Importer:
    def __init__(self, service: CaseService, mapping: Mapping, *, create_unknown: bool = False,
                 batch: int = 200):
        self.service = service
        self.app = service.app
        self.mapping = mapping
        self.create_unknown = create_unknown
        self.batch = batch
        self.city: City = service.city
        self._cells = sorted(self.city.cells)
        self._members = self._unit_members(self.city)
        self.created: dict[str, list] = {"categories": [], "units": []}

    # ------------------------------------------------------------ unknown categories/units

    @staticmethod
    def _unit_members(city: City) -> dict[str, str]:
        out: dict[str, str] = {}
        for u in city.users.values():
            if u.role == "unit_member" and u.unit not in out:
                out[u.unit] = u.id
        return out

    def prepare(self, rows: list[tuple[int, dict | None, str | None]]) -> None:
        """With --create-unknown: add unmapped source categories and units to the city."""
        if not self.create_unknown:
            return
        m = self.mapping
        cat_col, unit_col = m.fields.get("category"), m.fields.get("unit")
        new_cats: list[str] = []
        new_units: list[str] = []
        for _, rec, _ in rows:
            if rec is None:
                continue
            c = _str(_get(rec, cat_col)) if cat_col else ""
            if c and c not in m.categories and c not in new_cats:
                new_cats.append(c)
            u = _str(_get(rec, unit_col)) if unit_col else ""
            if u and u not in m.units and u not in new_units:
                new_units.append(u)
        if not new_cats and not new_units:
            return
        raw = copy.deepcopy(self.city.raw)
        big = m.create["category_class"]
        events = raw.setdefault("categories", {}).setdefault("events", [])
        cls = next((c for c in events if str(c.get("code")) == big), None)
        if cls is None:
            cls = {"code": big, "name": m.create["category_class_name"], "small": {}}
            events.append(cls)
        by_name = {v: k for k, v in cls["small"].items()}
        for name in sorted(new_cats):  # sorted: the same codes whatever order the rows come in
            if name in by_name:
                code = by_name[name]
            else:
                used = {int(k) for k in cls["small"]}
                free = next((n for n in range(1, 100) if n not in used), None)
                if free is None:
                    raise ConfigError("create.category_class", f"E{big} has no free small class for '{name}'")
                code = f"{free:02d}"
                cls["small"][code] = name
                by_name[name] = code
            m.categories[name] = f"E{big}{code}"
            self.created["categories"].append({"source": name, "code": f"E{big}{code}"})
        units = raw.setdefault("units", [])
        users = raw.setdefault("users", [])
        known_units = {u["id"] for u in units}
        for name in sorted(new_units):
            uid = "imp-" + (re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or
                            hashlib.sha1(name.encode()).hexdigest()[:8])[:40]
            if uid not in known_units:
                units.append({"id": uid, "name": name, "short": name[:16], "group": "X"})
                users.append({"id": f"{uid}-staff", "name": f"{name} (imported)", "role": "unit_member",
                              "unit": uid})
                known_units.add(uid)
            m.units[name] = uid
            self.created["units"].append({"source": name, "unit": uid})
        self.city = build_city(raw)
        self.service.city = self.city
        self._cells = sorted(self.city.cells)
        self._members = self._unit_members(self.city)

    # ------------------------------------------------------------ one row → a plan

    def _time(self, rec: dict, column: str) -> datetime | None:
        v = _str(_get(rec, column))
        if not v:
            return None
        t = None
        try:
            t = datetime.fromisoformat(v.replace("Z", "+00:00"))
        except ValueError:
            for fmt in self.mapping.time_formats:
                try:
                    t = datetime.strptime(v, fmt)
                    break
                except ValueError:
                    continue
        if t is None:
            raise SkipRow(column, f"'{v}' is not a time ({', '.join(self.mapping.time_formats) or 'ISO 8601'})")
        return t if t.tzinfo else t.replace(tzinfo=self.mapping.tz)

    def _outcome(self, rec: dict) -> str:
        m = self.mapping
        for r in m.rules:
            if all(_str(_get(rec, f)) in ([str(x) for x in v] if isinstance(v, list) else [str(v)])
                   for f, v in r["when"].items()):
                return r["then"]
        col = m.fields.get("status")
        status = _str(_get(rec, col)) if col else ""
        if status in m.statuses:
            return m.statuses[status]
        if "*" in m.statuses:
            return m.statuses["*"]
        raise SkipRow(col or "status", f"source status '{status}' has no mapping in statuses")

    def _grid(self, rec: dict) -> str:
        g = self.mapping.grid
        col = g.get("field") or self.mapping.fields.get("area")
        area = _str(_get(rec, col)) if col else ""
        if area in [str(x) for x in g.get("empty") or []]:
            area = ""
        if not area:
            raise SkipRow(col or "area", "is empty: no source area to place the case on a grid cell")
        if g["method"] == "map":
            cell = (g.get("map") or {}).get(area) or g.get("default")
            if not cell:
                raise SkipRow(col, f"source area '{area}' has no mapping in grid.map")
            return str(cell)
        digest = hashlib.sha256(f"{self.mapping.source}:{area}".encode()).digest()
        return self._cells[int.from_bytes(digest[:8], "big") % len(self._cells)]

    def _note_times(self, rec: dict) -> dict[str, datetime]:
        """Step times from a list of timestamped notes (e.g. Chicago Open311 `notes`)."""
        spec = self.mapping.notes
        if not spec:
            return {}
        out: dict[str, datetime] = {}
        notes = _get(rec, spec.get("field", "notes")) or []
        for step, match in (spec.get("match") or {}).items():
            alternatives = match if isinstance(match, list) else [match]
            for alt in alternatives:  # the first alternative that some note matches wins
                hit = next((n for n in notes if isinstance(n, dict) and all(
                    _str(n.get(k)) in ([str(x) for x in v] if isinstance(v, list) else [str(v)])
                    for k, v in alt.items())), None)
                if hit is not None:
                    t = self._time(hit, spec.get("time", "datetime"))
                    if t is not None:
                        out[step] = t
                        break
        return out

    def plan(self, row: int, rec: dict) -> RowPlan:
        m, f = self.mapping, self.mapping.fields
        ext = _str(_get(rec, f["external_id"]))
        if not ext:
            raise SkipRow(f["external_id"], "is empty: no external id")
        outcome = self._outcome(rec)
        if outcome == "skip":
            raise SkipRow(f.get("status", "status"), "the mapping says to skip this status")
        reported = self._time(rec, f["reported_at"])
        if reported is None:
            raise SkipRow(f["reported_at"], "is empty: no report time")
        src_cat = _str(_get(rec, f["category"]))
        category = m.categories.get(src_cat) or m.categories.get("*")
        if not category:
            raise SkipRow(f["category"], f"source value '{src_cat}' has no mapping in categories "
                                         "(map it, or import with --create-unknown)")
        unit = None
        if "dispatch" in PATH[outcome]:
            src_unit = _str(_get(rec, f["unit"])) if f.get("unit") else ""
            unit = m.units.get(src_unit) or m.units.get("*")
            if not unit:
                raise SkipRow(f.get("unit", "unit"), f"source value '{src_unit}' has no mapping in units "
                                                     "(map it, or import with --create-unknown)")
        src_ch = _str(_get(rec, f["channel"])) if f.get("channel") else ""
        channel = m.channels.get(src_ch) or m.channels.get("*") or "hotline"
        grid = self._grid(rec)
        lat = lon = None
        if f.get("lat") and f.get("lon"):
            la, lo = _str(_get(rec, f["lat"])), _str(_get(rec, f["lon"]))
            if la and lo:
                try:
                    lat, lon = float(la), float(lo)
                except ValueError:
                    raise SkipRow(f["lat"], f"'{la}', '{lo}' are not coordinates") from None
        desc_cols = f.get("description") or []
        desc_cols = [desc_cols] if isinstance(desc_cols, str) else desc_cols
        description = " | ".join(v for v in (_str(_get(rec, c)) for c in desc_cols) if v)[:2000]
        report = ReportCase(
            channel=channel, category=category, grid=grid,
            actor=m.actors.get(f"report_{channel}") or CHANNEL_ACTORS.get(channel, ""),
            occurred_at=reported, description=description, lat=lat, lon=lon,
            external_id=ext, case_id=report_case_id(m.source, ext),
        )
        notes = self._note_times(rec)
        actions: list[CaseAction] = []
        last = reported
        partial = None
        steps = [s for s in PATH[outcome] if s != "verify" or CHANNELS[channel]["verify"]]
        for step in steps:
            at = notes.get(step)
            if at is None:
                for col in m.steps.get(step, []):
                    at = self._time(rec, col) if col != "reported_at" else reported
                    if at is None and col in f:
                        at = self._time(rec, f[col])
                    if at is not None:
                        break
            if at is None and not m.steps.get(step):
                at = last  # the source records no separate time for this step
            if at is None:
                partial = f"{step}: no time in the record ({', '.join(m.steps.get(step, []))} empty)"
                break
            if at < last and (last - at).total_seconds() <= m.tolerance:
                at = last  # the source's clocks disagree by a moment: keep the order
            if at < last:
                raise SkipRow(step, f"time {at.isoformat()} is earlier than the step before "
                                    f"({last.isoformat()})")
            last = at
            actions.append(self._action(step, report.case_id, at, unit, rec, outcome))
        return RowPlan(row, ext, outcome, report, actions, partial)

    def _action(self, step: str, cid, at: datetime, unit: str | None, rec: dict, outcome: str) -> CaseAction:
        m = self.mapping
        f = m.fields
        status = _str(_get(rec, f["status"])) if f.get("status") else ""
        if step == "verify":
            return CaseAction(cid, "verify", m.actors["verify"], at, passed=True)
        if step == "file":
            return CaseAction(cid, "file", m.actors["file"], at)
        if step == "dispatch":
            src = _str(_get(rec, f["unit"])) if f.get("unit") else ""
            return CaseAction(cid, "dispatch", m.actors["dispatch"], at, unit=unit,
                              reason=f"imported: source agency '{src}'" if src else "imported")
        if step == "resolve":
            member = self._members.get(unit or "")
            if not member:
                raise SkipRow("unit", f"unit '{unit}' has no member user to record its resolution")
            return CaseAction(cid, "resolve", member, at)
        if step == "check":
            return CaseAction(cid, "check", m.actors["check"], at, passed=True)
        if step == "close":
            return CaseAction(cid, "close", m.actors["close"], at)
        reason_col = m.raw.get("refuse_reason_field")
        detail = _str(_get(rec, reason_col)) if reason_col else ""
        reason = f"imported: source status '{status}'" + (f" ({detail})" if detail else "")
        return CaseAction(cid, "refuse", m.actors["refuse"], at, reason=reason)

    # ------------------------------------------------------------ running

    def run(self, path: str | Path, *, dry_run: bool = False,
            progress: Callable[[int], None] | None = None) -> ImportReport:
        import time as _time

        t0 = _time.perf_counter()
        rows = list(read_rows(path, self.mapping.format))
        self.prepare(rows)
        rep = ImportReport(str(path), self.mapping.source, dry_run=dry_run, created=self.created)
        pending: list[tuple[RowPlan, Case]] = []
        seen: dict[str, int] = {}
        svc = self.service
        for row, rec, err in rows:
            rep.rows += 1
            try:
                if err:
                    raise SkipRow(*err.split(": ", 1))
                plan = self.plan(row, rec)
                if plan.external_id in seen:
                    raise SkipRow(self.mapping.fields["external_id"],
                                  f"'{plan.external_id}' appears again (first on row {seen[plan.external_id]})")
                seen[plan.external_id] = row
                try:
                    case = svc._report(plan.report)
                except ValidationError as e:
                    if e.field == "external_id" and "already case" in e.rule:
                        rep.already += 1
                        continue
                    raise
                for action in plan.actions:
                    svc._act(case, action)
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
