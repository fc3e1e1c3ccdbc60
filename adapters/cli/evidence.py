"""`casegrid evidence`: store a photo, and check that every photo the cases name is still
in the store, unchanged (证据材料核验).

    casegrid evidence put before.jpg [--json]      → sha256:<hex> (use it with --evidence)
    casegrid evidence verify [--case ID] [--json]  → exit 6 if a photo is missing or changed

`verify` reads every `sha256:` reference on the cases' events (or one case's) and checks
the stored original against it: `missing` (not in the store) or `changed` (its bytes no
longer hash to the reference: swapped or edited).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from adapters.cli.common import JsonOpt, casegrid, emit, fail, out
from adapters.evidence import TooLarge
from domain import validate
from domain.errors import CasegridError, ValidationError

evidence_app = typer.Typer(help="Photo evidence (证据材料): store a photo, verify the store.",
                           no_args_is_help=True)
CHANGED_EXIT = 6


@evidence_app.command("put")
def put(ctx: typer.Context,
        path: Annotated[Path, typer.Argument(help="A JPEG, PNG or WebP photo")],
        as_json: JsonOpt = False):
    """Store a photo; prints its ref (sha256:…) for `case report/resolve --evidence`."""
    cg = casegrid(ctx, as_json)
    try:
        if not path.is_file():
            raise ValidationError("file", f"no such file '{str(path)[:200]}'")
        limit = cg.evidence.limits.max_bytes
        if path.stat().st_size > limit:
            raise TooLarge("file", f"is {path.stat().st_size} bytes; at most {limit}")
        stored = cg.evidence.put(path.read_bytes())
    except CasegridError as e:
        fail(e, as_json)
    finally:
        cg.close()
    emit(stored.as_dict(), as_json, lambda: out.print(stored.ref))


def references(cg, case: str | None) -> list[tuple[str, int, str]]:
    """(case id, event version, ref) of every stored photo the events name."""
    if case is not None:
        ids = [case]
    else:
        cg.projections.catch_up(["cases"])
        ids = [row[0] for row in cg.sql.query("SELECT case_id FROM cg_cases ORDER BY case_id")]
    out_ = []
    for cid in ids:
        for e in cg.service.timeline(cid):
            for ref in validate.photos(getattr(e, "evidence", None) or ()):
                out_.append((str(e.originator_id), e.originator_version, ref))
    return out_


@evidence_app.command("verify")
def verify(ctx: typer.Context,
           case: Annotated[str | None, typer.Option(help="Only this case (id)")] = None,
           as_json: JsonOpt = False):
    """Check every photo the cases name: in the store, and its bytes still its hash."""
    cg = casegrid(ctx, as_json)
    try:
        refs = references(cg, case)
        missing, changed = [], []
        for cid, version, ref in refs:
            row = {"case_id": cid, "version": version, "ref": ref}
            if not cg.evidence.exists(ref):
                missing.append(row)
            elif not cg.evidence.verify(ref):
                changed.append(row)
    except CasegridError as e:
        fail(e, as_json)
    finally:
        cg.close()
    result = {"checked": len(refs), "missing": missing, "changed": changed,
              "ok": not missing and not changed}

    def text():
        out.print(f"{len(refs)} photo reference(s) checked")
        for kind, rows in (("missing", missing), ("changed", changed)):
            for r in rows:
                out.print(f"{kind}: {r['ref']} (case {r['case_id']} v{r['version']})")

    emit(result, as_json, text)
    if not result["ok"]:
        raise typer.Exit(CHANGED_EXIT)
