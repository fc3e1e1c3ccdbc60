"""Reading an export: the file decoded as UTF-8, its CSV or JSON-lines rows, and the
checks of the file as a whole against a mapping (load_source → Source)."""

from __future__ import annotations

import codecs
import csv
import difflib
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from adapters.importing.mapping import Mapping
from domain.errors import ValidationError

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
    v = value_at(rec, col)
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
                   if all(value_at(rec, c) is ABSENT for rec in records)}
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


def value_at(rec: dict, path: str) -> Any:
    """The value at a column (CSV) or dotted path (JSON lines); ABSENT if there is none."""
    if path in rec:
        return rec[path]
    cur: Any = rec
    for part in path.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return ABSENT
        cur = cur[part]
    return cur

