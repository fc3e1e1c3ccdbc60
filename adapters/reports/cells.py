"""A table cell's printed text, shared by the HTML and the PDF (the XLSX keeps typed values)."""

from __future__ import annotations


def cell_text(value, fmt: str, row: dict | None = None) -> str:
    """value as printed: pct 12.34%, score 1.23, delta +1.23, yuan 1,234; — for a missing rate."""
    if fmt == "auto":
        fmt = (row or {}).get("fmt", "text")
    if value is None or value == "":
        return "—" if fmt in ("pct", "score", "delta") else ""
    if fmt == "pct":
        return f"{value:.2%}"
    if fmt == "score":
        return f"{value:.2f}"
    if fmt == "delta":
        return f"{value:+.2f}"
    if fmt == "yuan":
        return f"{int(value):,}"
    if fmt == "int":
        return str(value)
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def auto_cell(row: dict, col: dict) -> str:
    """A cell's text; an "auto" change column prints percentage points or a signed count."""
    v = row.get(col["key"])
    if col["fmt"] == "auto" and col["key"] == "change" and row.get("fmt") == "pct" and v is not None:
        return f"{v * 100:+.2f} 个百分点"
    if col["fmt"] == "auto" and col["key"] == "change" and v is not None:
        return f"{v:+d}"
    return cell_text(v, col["fmt"], row)


def table_cells(sec: dict) -> list[list[str]]:
    """A section's rows as printed text, column by column."""
    return [[auto_cell(r, c) for c in sec["columns"]] for r in sec["rows"]]
