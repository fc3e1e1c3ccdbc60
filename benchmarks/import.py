"""Rows per second importing the Los Angeles 311 extract (10,000 rows) with docs/import/la311.yaml.

Ours: the importer saving 200 rows' cases per transaction, into SQLite and PostgreSQL
(a throwaway server; skip with --no-postgres). Baseline, measured in the same run on the
same store: the same importer saving one row per transaction. A re-run of the same file
(which must import nothing) is timed too.

    python benchmarks/import.py [--file benchmarks/data/la311_2020-01-01_to_03_10k.csv] [--no-postgres]

Prints one `name: value unit` line per figure; the last line is the headline speedup
(PostgreSQL if it ran, else SQLite; batched vs one row per transaction).
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import structlog  # noqa: E402

from adapters.bootstrap import bootstrap, load_city  # noqa: E402
from adapters.importing import Importer, Mapping  # noqa: E402

DEFAULT_FILE = ROOT / "benchmarks" / "data" / "la311_2020-01-01_to_03_10k.csv"
MAPPING = ROOT / "docs" / "import" / "la311.yaml"


def run(env: dict, path: Path, batch: int) -> tuple[float, float, object]:
    cg = bootstrap(env=env, city=load_city())
    try:
        rep = Importer(cg.service, Mapping.load(MAPPING), batch=batch).run(path)
        again = Importer(cg.service, Mapping.load(MAPPING), batch=batch).run(path)
        assert again.imported == 0, "a re-run imported something"
        return rep.rows / rep.seconds, again.rows / again.seconds, rep
    finally:
        cg.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--file", type=Path, default=DEFAULT_FILE)
    ap.add_argument("--batch", type=int, default=200)
    ap.add_argument("--no-postgres", action="store_true")
    args = ap.parse_args()
    logging.disable(logging.WARNING)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR))
    pg = None
    headline = None
    with tempfile.TemporaryDirectory() as tmp:
        stores: list[tuple[str, object]] = [("sqlite", None)]
        if not args.no_postgres:
            from deploy.postgres import ThrowawayPostgres

            pg = ThrowawayPostgres().start()
            stores.append(("postgres", pg))
        try:
            for name, server in stores:
                def env(tag, server=server):
                    if server is None:
                        return {"PERSISTENCE_MODULE": "eventsourcing.sqlite",
                                "SQLITE_DBNAME": str(Path(tmp) / f"{tag}.sqlite")}
                    return server.create_database(tag)

                rate, rerun, rep = run(env(f"{name}_batched"), args.file, args.batch)
                if name == "sqlite":
                    print(f"file: {args.file.name} {rep.rows} rows")
                    print(f"imported: {rep.imported} cases")
                    print(f"events: {rep.events} events")
                    print(f"skipped: {len(rep.skipped)} rows")
                print(f"{name}_import_batched: {rate:.0f} rows/s")
                print(f"{name}_rerun_imports_nothing: {rerun:.0f} rows/s")
                base, _, _ = run(env(f"{name}_single"), args.file, 1)
                print(f"{name}_import_one_row_per_transaction: {base:.0f} rows/s")
                headline = (name, rate / base)
        finally:
            if pg is not None:
                pg.stop()
    name, speedup = headline
    print(f"speedup: {speedup:.1f}x ({name} import, {args.batch} rows per transaction vs one)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
