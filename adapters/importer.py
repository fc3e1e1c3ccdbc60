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

import codecs
import copy
import csv
import difflib
import hashlib
import io
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import structlog
import yaml
from eventsourcing.persistence import IntegrityError

from adapters.config.city_build import build_city
from adapters.config.mapping_file import Create, check_mapping
from adapters.kafka_in import report_case_id
from domain.case import Case
from domain.city import City
from domain.errors import CasegridError, ConfigError, ValidationError
from domain.lifecycle import CHANNELS
from workflows.commands import CaseAction, ReportCase
from workflows.service import CaseService

log = structlog.get_logger("casegrid.import")

# outcome -> the steps after the report, in order
PATH = {
    "reported": [],
    "filed": ["verify", "file"],
    "dispatched": ["verify", "file", "dispatch"],
    "resolved": ["verify", "file", "dispatch", "resolve"],
    "closed": ["verify", "file", "dispatch", "resolve", "check", "close"],
    "refused": ["refuse"],
}
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
    history_from: datetime | None = None  # the mapping's own earliest business time

    def columns(self) -> dict[str, list[str]]:
        """Every source column (CSV) or path (JSON lines) the mapping names → the mapping
        keys that name it, e.g. {'requesttype': ['fields.category', 'fields.description']}."""
        out: dict[str, list[str]] = {}

        def add(col: Any, key: str) -> None:
            if isinstance(col, str) and col:
                keys = out.setdefault(col, [])
                if key not in keys:
                    keys.append(key)

        for key, col in self.fields.items():
            for c in ([col] if isinstance(col, str) else col or []):
                add(c, f"fields.{key}")
        add(self.grid.get("field"), "grid.field")
        add(self.raw.get("refuse_reason_field"), "refuse_reason_field")
        for i, r in enumerate(self.rules):
            for c in r["when"]:
                add(c, f"rules[{i}].when")
        for step, cols in self.steps.items():
            for c in cols:  # a step names a field key (closed_at) or a column of its own
                if c != "reported_at" and c not in self.fields:
                    add(c, f"steps.{step}")
        if self.notes:
            add(self.notes.get("field", "notes"), "notes.field")
        return out

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
        m = check_mapping(raw)  # adapters/config/mapping_file.py: ConfigError naming mapping.<key>
        tz = ZoneInfo(m.timezone)
        return cls(
            source=m.source, format=m.format, tz=tz, time_formats=list(m.time_formats or []),
            fields=dict(raw["fields"]), channels=dict(m.channels or {}),
            categories=dict(m.categories or {}), units=dict(m.units or {}),
            grid=m.grid.model_dump(exclude_none=True) if m.grid else {"method": "hash"},
            statuses=dict(m.statuses or {}), rules=[r.model_dump() for r in m.rules or []],
            steps=dict(m.steps or {}), notes=raw.get("notes"),
            actors={**DEFAULT_ACTORS, **(m.actors or {})},
            create=(m.create or Create()).model_dump(), raw=raw,
            tolerance=float(m.tolerance_seconds or 0),
            history_from=m.history_from and datetime.combine(m.history_from, datetime.min.time(), tz),
        )


# ---------------------------------------------------------------- reading rows


ABSENT: Any = object()  # a column (path) the record does not have, told from an empty cell
Rows = list[tuple[int, dict | None, tuple[str, str] | None]]


@dataclass
class Source:
    """A whole export, read and checked against a mapping before any row is imported:
    `rows` are (row number, record or None, (field, reason) for a row that cannot be read);
    CSV rows are numbered by the line they start on (line 1 is the header), JSON lines
    by their line."""

    path: str
    format: str
    rows: Rows
    header: list[str] | None = None


def _decode(path: Path) -> str:
    """The file as text: UTF-8 (a BOM is allowed); anything else is a ValidationError
    naming the line and byte offset of the first bad byte."""
    try:
        data = path.read_bytes()
    except OSError as e:
        raise ValidationError("file", f"cannot read '{path}': {e.strerror or e}") from None
    bom = 3 if data.startswith(codecs.BOM_UTF8) else 0
    try:
        return data[bom:].decode("utf-8")
    except UnicodeDecodeError as e:
        at = bom + e.start
        line_start = data.rfind(b"\n", 0, at) + 1
        bad = data[at:bom + e.end]
        line = data.count(b"\n", 0, at) + 1
        raise ValidationError(
            "file", f"is not valid UTF-8: byte {bad[:4]!r} at line {line}, "
                    f"byte {at - line_start + 1} of the line (byte offset {at} in the file); "
                    "re-export it as UTF-8") from None


def _nul(value: Any, path: str = "") -> str | None:
    """The column or dotted path of the first string with a NUL character in it, or None."""
    if isinstance(value, str):
        return path if "\x00" in value else None
    if isinstance(value, dict):
        for k, v in value.items():
            sub = f"{path}.{k}" if path else str(k)
            if "\x00" in str(k):
                return sub
            hit = _nul(v, sub)
            if hit is not None:
                return hit
    elif isinstance(value, list):
        for i, v in enumerate(value):
            hit = _nul(v, f"{path}[{i}]")
            if hit is not None:
                return hit
    return None


def _nul_reason(rec: dict, col: str) -> tuple[str, str]:
    v = _get(rec, col)
    where = f" (character {v.index(chr(0)) + 1} of the cell)" if isinstance(v, str) and "\x00" in v else ""
    return col, f"contains a NUL byte{where}: a damaged record, not imported"


def _csv_rows(text: str) -> tuple[list[str], Rows]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
        while header is not None and not any(c.strip() for c in header):
            header = next(reader, None)  # blank lines before the header
        if header is None:
            raise ValidationError("file", "is empty: no header line (a CSV export starts with "
                                          "its column names), 0 data rows")
        width = len(header)
        rows: Rows = []
        line = reader.line_num  # the line the next record starts on, minus one
        for cells in reader:
            start, line = line + 1, reader.line_num
            if not cells:
                continue  # a blank line
            if len(cells) != width:
                rows.append((start, None, ("(row)", f"row {start} has {len(cells)} cells, header has "
                                                    f"{width} (a stray delimiter or quote?)")))
                continue
            rec = dict(zip(header, cells, strict=True))
            if any("\x00" in c for c in cells):
                col = next(h for h, c in zip(header, cells, strict=True) if "\x00" in c)
                rows.append((start, None, _nul_reason(rec, col)))
                continue
            rows.append((start, rec, None))
    except csv.Error as e:
        raise ValidationError("file", f"is not readable as CSV at line {reader.line_num}: {e}") from None
    return header, rows


def _jsonl_rows(text: str) -> Rows:
    rows: Rows = []
    for i, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            doc = json.loads(line)
        except json.JSONDecodeError as e:
            near = line[max(0, e.pos - 15):e.pos + 15].strip().replace("\x00", "\\0")
            rows.append((i, None, ("(line)", f"line {i}, column {e.colno} (character {e.pos + 1}): "
                                             f"is not JSON: {e.msg} (near {near!r})")))
            continue
        if not isinstance(doc, dict):
            rows.append((i, None, ("(line)", f"line {i} must be a JSON object, not {type(doc).__name__}")))
            continue
        hit = _nul(doc)
        if hit is not None:
            rows.append((i, None, _nul_reason(doc, hit)))
            continue
        rows.append((i, doc, None))
    return rows


def _missing(kind: str, missing: dict[str, list[str]], present: list[str]) -> str:
    parts = []
    for col, keys in missing.items():
        hint = difflib.get_close_matches(col, present, n=1, cutoff=0.75) or [
            h for h in present if h.strip().lower() == col.strip().lower()]
        parts.append(f"'{col}' (mapping {', '.join(keys)})" + (f", the file has '{hint[0]}'" if hint else ""))
    n = len(missing)
    head = f"{n} {kind}{'s' if n > 1 else ''} the mapping names {'are' if n > 1 else 'is'} missing: "
    if n > 3:  # most of them: probably another export; the names alone, and what the file has
        shown = ", ".join(f"'{c}'" for c in missing)
        has = ", ".join(f"'{h}'" for h in present[:8]) + (" …" if len(present) > 8 else "")
        return head + shown + f"; the file has {has or 'no columns'}"
    return head + "; ".join(parts)


def load_source(path: str | Path, mapping: Mapping) -> Source:
    """Read the whole export and check it as a whole against the mapping; a file that is
    wrong as a whole (not UTF-8, empty, header only, a mapped column missing from the
    header, a required field in no JSON record) is a ValidationError and nothing of it is
    imported. Rows that cannot be read (ragged, broken JSON, a NUL byte) come back with
    their reason, to be reported one by one."""
    path = Path(path)
    text = _decode(path)
    if mapping.format == "csv":
        header, rows = _csv_rows(text)
        counts: dict[str, int] = {}
        for h in header:
            counts[h] = counts.get(h, 0) + 1
        cols = mapping.columns()
        missing = {c: keys for c, keys in cols.items() if c not in counts}
        if missing:
            raise ValidationError("header", _missing("column", missing, header) +
                                  " (is this the export the mapping is for?)")
        twice = [f"'{c}' (mapping {', '.join(cols[c])})" for c in cols if counts.get(c, 0) > 1]
        if twice:
            raise ValidationError("header", "column named twice, so which one is meant is unclear: "
                                            + "; ".join(twice))
        if not rows:
            raise ValidationError("file", f"has a header line ({len(header)} columns) but 0 data rows: "
                                          "nothing to import")
        return Source(str(path), "csv", rows, header)
    rows = _jsonl_rows(text)
    if not rows:
        raise ValidationError("file", "is empty: 0 JSON lines (0 data rows), nothing to import")
    records = [rec for _, rec, _ in rows if rec is not None]
    if records:
        cols = mapping.columns()
        required = {mapping.fields[k]: cols[mapping.fields[k]]
                    for k in ("external_id", "reported_at", "category")}
        missing = {c: keys for c, keys in required.items()
                   if all(_get(rec, c) is ABSENT for rec in records)}
        if missing:
            raise ValidationError("file", _missing("field", missing, sorted({k for r in records for k in r}))
                                  + f" in all {len(records)} records (is this the export the mapping is for?)")
    return Source(str(path), "jsonl", rows)


def read_rows(path: str | Path, fmt: str) -> Iterator[tuple[int, dict | None, tuple[str, str] | None]]:
    """(row number, record or None, error), without a mapping's checks (empty files and
    headers are still checked)."""
    text = _decode(Path(path))
    yield from (_csv_rows(text)[1] if fmt == "csv" else _jsonl_rows(text))


def count_rows(path: str | Path, fmt: str) -> int:
    """Rows (for a progress bar); never raises on a bad file (reading it does)."""
    try:
        with Path(path).open(encoding="utf-8-sig", errors="replace", newline="") as fh:
            if fmt == "csv":
                return max(sum(1 for row in csv.reader(fh) if row) - 1, 0)
            return sum(1 for line in fh if line.strip())
    except (OSError, csv.Error):
        return 0


def _get(rec: dict, path: str) -> Any:
    """The value at a column (CSV) or dotted path (JSON lines); ABSENT if there is none."""
    if path in rec:
        return rec[path]
    cur: Any = rec
    for part in path.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return ABSENT
        cur = cur[part]
    return cur


def _str(v: Any) -> str:
    return "" if v is None or v is ABSENT else str(v).strip()


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
        # the earliest business time a row may have: the mapping's own, else the city's
        # (the service enforces the same bound; checked here to name the column)
        if mapping.history_from is not None:
            self.history_from = mapping.history_from
            self._history_from_key = "the mapping's history_from"
        else:
            intake = getattr(self.city, "intake", None)
            self.history_from = getattr(intake, "history_from", None) or datetime(1990, 1, 1, tzinfo=UTC)
            self._history_from_key = ("the city's intake.history_from; a mapping may set its own "
                                      "history_from, not before 1990-01-01")

    # ------------------------------------------------------------ unknown categories/units

    @staticmethod
    def _unit_members(city: City) -> dict[str, str]:
        out: dict[str, str] = {}
        for u in city.users.values():
            if u.role == "unit_member" and u.unit not in out:
                out[u.unit] = u.id
        return out

    def prepare(self, rows: Rows) -> None:
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

    @staticmethod
    def _blank(rec: dict, col: str | None, key: str, what: str) -> SkipRow:
        """The reason for a mapped value that is not there: an absent column (path) is told
        from an empty cell."""
        if col and _get(rec, col) is ABSENT:
            return SkipRow(col, f"is absent: the record has no '{col}' (mapping {key}); {what}")
        return SkipRow(col or key.rsplit(".", 1)[-1], f"is empty: {what}")

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
        if not status:
            raise self._blank(rec, col, "fields.status", "no source status (and statuses has no '*')")
        raise SkipRow(col or "status", f"source status '{status}' has no mapping in statuses")

    def _grid(self, rec: dict) -> str:
        g = self.mapping.grid
        col = g.get("field") or self.mapping.fields.get("area")
        area = _str(_get(rec, col)) if col else ""
        if area in [str(x) for x in g.get("empty") or []]:
            area = ""
        if not area:
            raise self._blank(rec, col, "grid.field" if g.get("field") else "fields.area",
                              "no source area to place the case on a grid cell")
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
        notes = _get(rec, spec.get("field", "notes"))
        notes = notes if isinstance(notes, list) else []
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
            raise self._blank(rec, f["external_id"], "fields.external_id", "no external id")
        outcome = self._outcome(rec)
        if outcome == "skip":
            raise SkipRow(f.get("status", "status"), "the mapping says to skip this status")
        reported = self._time(rec, f["reported_at"])
        if reported is None:
            raise self._blank(rec, f["reported_at"], "fields.reported_at", "no report time")
        if reported < self.history_from:
            raise SkipRow(f["reported_at"], f"{reported.isoformat()} is before "
                                            f"{self.history_from.date().isoformat()}, the earliest "
                                            f"business time accepted ({self._history_from_key})")
        due = self._time(rec, f["source_due_at"]) if f.get("source_due_at") else None
        src_cat = _str(_get(rec, f["category"]))
        category = m.categories.get(src_cat) or m.categories.get("*")
        if not category and not src_cat:
            raise self._blank(rec, f["category"], "fields.category",
                              "no source category to map (and categories has no '*')")
        if not category:
            raise SkipRow(f["category"], f"source value '{src_cat}' has no mapping in categories "
                                         "(map it, or import with --create-unknown)")
        unit = None
        if "dispatch" in PATH[outcome]:
            src_unit = _str(_get(rec, f["unit"])) if f.get("unit") else ""
            unit = m.units.get(src_unit) or m.units.get("*")
            if not unit and not src_unit:
                raise self._blank(rec, f.get("unit"), "fields.unit",
                                  f"no source agency to dispatch the {outcome} case to "
                                  "(and units has no '*')")
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
            source_due_at=due, history_from=m.history_from,
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
            action = self._action(step, report.case_id, at, unit, rec, outcome)
            action.history_from = m.history_from
            actions.append(action)
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
