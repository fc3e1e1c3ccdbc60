"""Write a synthetic Los Angeles 311 export of any length, in the LA file's columns and
shape: row i copies row i mod 10,000 of the real extract (its request type, agency,
status, channel, area, coordinates and the gaps between its times), with its own
service request number (`9-<i>`) and its times moved on by one day per 10,000 rows
(1M rows: 100 days from 2020-01-01). Streams: memory stays flat whatever the count.

    python benchmarks/la311_generate.py OUT.csv [--rows 1000000] [--from FILE]
"""

from __future__ import annotations

import argparse
import csv
import sys
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_FROM = ROOT / "benchmarks" / "data" / "la311_2020-01-01_to_03_10k.csv"
TIME_COLUMNS = ("createddate", "closeddate", "updateddate", "servicedate")
FORMAT = "%Y-%m-%d %H:%M:%S"


def templates(path: Path) -> tuple[list[str], list[tuple[list[str], dict[int, datetime]]]]:
    """The real rows, each with its parsed times (by column index)."""
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        where = [header.index(c) for c in TIME_COLUMNS]
        rows = []
        for cells in reader:
            times = {i: datetime.strptime(cells[i], FORMAT) for i in where if cells[i]}
            rows.append((cells, times))
    return header, rows


def generate(out: Path, rows: int, source: Path = DEFAULT_FROM) -> int:
    """Write `rows` data rows to `out`; returns the count."""
    header, base = templates(source)
    ext = header.index("srnumber")
    with out.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, quoting=csv.QUOTE_MINIMAL)
        w.writerow(header)
        for i in range(rows):
            cells, times = base[i % len(base)]
            shift = timedelta(days=i // len(base))
            row = list(cells)
            row[ext] = f"9-{i:010d}"
            for col, t in times.items():
                row[col] = (t + shift).strftime(FORMAT)
            w.writerow(row)
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--from", dest="source", type=Path, default=DEFAULT_FROM)
    args = ap.parse_args()
    n = generate(args.out, args.rows, args.source)
    print(f"rows: {n} rows")
    print(f"file: {args.out} {args.out.stat().st_size / 1e6:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
