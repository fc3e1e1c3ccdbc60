"""Reading an export: the file checked as UTF-8, its CSV or JSON-lines rows, and the
checks of the file as a whole against a mapping (load_source → Source). Everything
streams (a chunk or a row at a time): a file of millions of rows needs no more memory
than one of a thousand."""

from __future__ import annotations

import codecs
import csv
import difflib
import json
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from adapters.importing.mapping import Mapping
from domain.errors import ValidationError

ABSENT: Any = object()  # a column (path) the record does not have, told from an empty cell
Row = tuple[int, dict | None, tuple[str, str] | None]
Rows = Iterable[Row]
Pick = tuple[str, int, int] | None  # (key column, shard, shards): one shard's rows
CHUNK = 1 << 20  # bytes read at a time: memory stays flat whatever the file's size


@dataclass
class Source:
    """An export, checked as a whole against a mapping before any row is imported, and
    read again, streaming, each time its `rows` are iterated: (row number, record or None,
    (field, reason) for a row that cannot be read); CSV rows are numbered by the line they
    start on (line 1 is the header), JSON lines by their line. `count`: its data rows."""

    path: str
    format: str
    header: list[str] | None = None
    count: int = 0

    @property
    def rows(self) -> Iterator[Row]:
        return _rows(Path(self.path), self.format)

    def rows_of(self, key: str, shard: int, shards: int) -> Iterator[Row]:
        """The rows of one shard: those whose `key` column (the external id) hashes to it
        (shard_of), a row without a readable key by its row number. Rows of other shards
        are passed over before any record is built."""
        return _rows(Path(self.path), self.format, (key, shard, shards))


def shard_of(key: str, shards: int) -> int:
    """The shard of a row's key: the same in every process and run."""
    return zlib.crc32(key.encode("utf-8", "surrogatepass")) % shards


def _open(path: Path, fmt: str) -> TextIO:
    """The file as UTF-8 text (a BOM is skipped), lines split as the format splits them."""
    try:
        return path.open(encoding="utf-8-sig", newline="" if fmt == "csv" else "\n")
    except OSError as e:
        raise ValidationError("file", f"cannot read '{path}': {e.strerror or e}") from None


def _check_utf8(path: Path) -> None:
    """The whole file is UTF-8 (a BOM is allowed), read a chunk at a time; else a
    ValidationError naming the line and byte offset of the first bad byte."""
    try:
        fh = path.open("rb")
    except OSError as e:
        raise ValidationError("file", f"cannot read '{path}': {e.strerror or e}") from None
    with fh:
        base, lines, line_start, carry = 0, 0, 0, b""
        while True:
            chunk = fh.read(CHUNK)
            data = carry + chunk
            if base == 0 and data.startswith(codecs.BOM_UTF8):
                data, base = data[3:], 3
            try:
                data.decode("utf-8")
                carry = b""
            except UnicodeDecodeError as e:
                if chunk and e.start >= len(data) - 3 and e.end == len(data):
                    carry, data = data[e.start:], data[:e.start]  # a character split by the chunk
                else:
                    at = base + e.start
                    nl = data.rfind(b"\n", 0, e.start)
                    start = base + nl + 1 if nl >= 0 else line_start
                    line = lines + data.count(b"\n", 0, e.start) + 1
                    raise ValidationError(
                        "file", f"is not valid UTF-8: byte {data[e.start:e.end][:4]!r} at line {line}, "
                                f"byte {at - start + 1} of the line (byte offset {at} in the file); "
                                "re-export it as UTF-8") from None
            if not chunk:
                return
            nl = data.rfind(b"\n")
            if nl >= 0:
                line_start = base + nl + 1
            lines += data.count(b"\n")
            base += len(data)


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


def _csv_records(fh: TextIO, pick: Pick = None) -> tuple[list[str], Iterator[Row]]:
    reader = csv.reader(fh)
    header = next(reader, None)
    while header is not None and not any(c.strip() for c in header):
        header = next(reader, None)  # blank lines before the header
    if header is None:
        raise ValidationError("file", "is empty: no header line (a CSV export starts with "
                                      "its column names), 0 data rows")

    def rows() -> Iterator[Row]:
        width = len(header)
        at = header.index(pick[0]) if pick and pick[0] in header else None
        line = reader.line_num  # the line the next record starts on, minus one
        for cells in reader:
            start, line = line + 1, reader.line_num
            if not cells:
                continue  # a blank line
            if pick is not None:
                key = cells[at].strip() if at is not None and len(cells) == width else str(start)
                if shard_of(key, pick[2]) != pick[1]:
                    continue
            if len(cells) != width:
                yield (start, None, ("(row)", f"row {start} has {len(cells)} cells, header has "
                                              f"{width} (a stray delimiter or quote?)"))
                continue
            rec = dict(zip(header, cells, strict=True))
            if any("\x00" in c for c in cells):
                col = next(h for h, c in zip(header, cells, strict=True) if "\x00" in c)
                yield (start, None, _nul_reason(rec, col))
                continue
            yield (start, rec, None)

    return header, rows()


def _csv_error(reader_line: int, e: csv.Error) -> ValidationError:
    return ValidationError("file", f"is not readable as CSV at line {reader_line}: {e}")


def _jsonl_records(fh: TextIO, pick: Pick = None) -> Iterator[Row]:
    for i, line in enumerate(fh, start=1):
        line = line.rstrip("\n")
        if not line.strip():
            continue
        try:
            doc = json.loads(line)
        except json.JSONDecodeError as e:
            if pick is not None and shard_of(str(i), pick[2]) != pick[1]:
                continue
            near = line[max(0, e.pos - 15):e.pos + 15].strip().replace("\x00", "\\0")
            yield (i, None, ("(line)", f"line {i}, column {e.colno} (character {e.pos + 1}): "
                                       f"is not JSON: {e.msg} (near {near!r})"))
            continue
        if pick is not None:
            key = value_at(doc, pick[0]) if isinstance(doc, dict) else ABSENT
            key = str(i) if key is ABSENT or key is None else str(key).strip()
            if shard_of(key, pick[2]) != pick[1]:
                continue
        if not isinstance(doc, dict):
            yield (i, None, ("(line)", f"line {i} must be a JSON object, not {type(doc).__name__}"))
            continue
        hit = _nul(doc)
        if hit is not None:
            yield (i, None, _nul_reason(doc, hit))
            continue
        yield (i, doc, None)


def _rows(path: Path, fmt: str, pick: Pick = None) -> Iterator[Row]:
    """The file's rows (of one shard, with `pick`), streaming (the file is open only while
    they are read)."""
    with _open(path, fmt) as fh:
        if fmt == "csv":
            _, rows = _csv_records(fh, pick)
            try:
                yield from rows
            except csv.Error as e:  # checked by load_source: only a file changed since
                raise _csv_error(-1, e) from None
        else:
            yield from _jsonl_records(fh, pick)


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
    """Check the whole export against the mapping, streaming (memory stays flat): a file
    that is wrong as a whole (not UTF-8, not readable as CSV, empty, header only, a mapped
    column missing from the header, a required field in no JSON record) is a
    ValidationError and nothing of it is imported. Rows that cannot be read (ragged,
    broken JSON, a NUL byte) are reported one by one when the rows are read."""
    path = Path(path)
    _check_utf8(path)
    with _open(path, mapping.format) as fh:
        if mapping.format == "csv":
            return _check_csv(path, fh, mapping)
        count = records = 0
        cols = mapping.columns()
        missing = {mapping.fields[k]: cols[mapping.fields[k]]
                   for k in ("external_id", "reported_at", "category")}
        keys: set[str] = set()  # the records' top-level names (few), for the message
        for _, rec, _ in _jsonl_records(fh):
            count += 1
            if rec is None:
                continue
            records += 1
            if missing:
                keys.update(rec)
                missing = {c: k for c, k in missing.items() if value_at(rec, c) is ABSENT}
        if not count:
            raise ValidationError("file", "is empty: 0 JSON lines (0 data rows), nothing to import")
        if records and missing:
            raise ValidationError("file", _missing("field", missing, sorted(keys)) +
                                  f" in all {records} records (is this the export the mapping is for?)")
        return Source(str(path), "jsonl", None, count)


def _check_csv(path: Path, fh: TextIO, mapping: Mapping) -> Source:
    reader_line = 0
    try:
        header, rows = _csv_records(fh)
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
        count = 0
        for row, _, _ in rows:
            count += 1
            reader_line = row
    except csv.Error as e:
        raise _csv_error(reader_line + 1, e) from None
    if not count:
        raise ValidationError("file", f"has a header line ({len(header)} columns) but 0 data rows: "
                                      "nothing to import")
    return Source(str(path), "csv", header, count)


def read_rows(path: str | Path, fmt: str) -> Iterator[Row]:
    """(row number, record or None, error), streaming, without a mapping's checks (empty
    files and headers are still checked)."""
    path = Path(path)
    _check_utf8(path)
    yield from _rows(path, fmt)


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

