"""One report document in the format asked for: JSON (the document itself), HTML, XLSX or
PDF; the same document feeds every format, so they never disagree."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from adapters.reports.html import to_html
from adapters.reports.pdf import to_pdf
from adapters.reports.xlsx import to_xlsx

FORMATS = ("json", "html", "xlsx", "pdf")


def to_json(doc: dict) -> str:
    """The document as indented JSON (times ISO 8601, sets sorted)."""
    def default(o):
        if isinstance(o, datetime):
            return o.isoformat()
        if isinstance(o, set):
            return sorted(o)
        return str(o)

    return json.dumps(doc, ensure_ascii=False, indent=2, default=default)


def render(doc: dict, fmt: str, out: str | Path) -> Path:
    """Write the document as fmt (one of FORMATS) to out, making its folder; the path."""
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "json":
        path.write_text(to_json(doc), encoding="utf-8")
    elif fmt == "html":
        path.write_text(to_html(doc), encoding="utf-8")
    elif fmt == "xlsx":
        to_xlsx(doc, path)
    elif fmt == "pdf":
        to_pdf(doc, path)
    else:
        raise ValueError(fmt)
    return path
