"""`python -m adapters.shard_worker`: one shard of `casegrid projections rebuild
--processes N` on PostgreSQL (分片重建, projections/shards.py), started by that command.

A process of its own without the command line's modules (the HTTP app, the reports …):
it folds its shard with a smaller footprint. Prints one JSON line, {"shard", "read"}.
"""

from __future__ import annotations

import argparse
import json
import sys

from adapters.bootstrap import bootstrap
from adapters.logs import setup_logging


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m adapters.shard_worker")
    ap.add_argument("names", nargs="+")
    ap.add_argument("--shard", type=int, required=True)
    ap.add_argument("--of", type=int, required=True)
    ap.add_argument("--to", type=int, help="the last notification id to fold; without it,"
                    " read from standard input once this process is ready (an empty line or"
                    " none: exit, the rebuild did not start)")
    ap.add_argument("--data-dir")
    ap.add_argument("--config")
    args = ap.parse_args(argv)
    if not 2 <= args.of <= 16 or not 0 <= args.shard < args.of or (args.to or 0) < 0:
        ap.error(f"--shard {args.shard} --of {args.of} --to {args.to}: need 0 <= shard < of,"
                 " 2 <= of <= 16, to >= 0")
    setup_logging()
    cg = bootstrap(data_dir=args.data_dir, config=args.config)
    try:
        unknown = [n for n in args.names if n not in cg.projections.projections]
        if unknown:
            ap.error(f"unknown projections: {', '.join(unknown)}")
        to = args.to
        if to is None:  # started before the rebuild began: its plan comes now
            line = sys.stdin.readline().strip()
            if not line:
                return 0
            to = int(line)
        n = cg.projections.catch_up_shard(args.names, args.shard, args.of, to)
    finally:
        cg.close()
    print(json.dumps({"shard": args.shard, "read": n}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
