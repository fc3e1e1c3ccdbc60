"""Any console list as an XLSX workbook (openpyxl, write-only: rows streamed to the sheet),
headers in the page's language, a title row naming the filters and the time of export."""

from __future__ import annotations

import io
from collections.abc import Iterable
from urllib.parse import quote

from fastapi.responses import Response

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MAX_ROWS = 100_000  # a list longer than this is narrowed first (the page says so)


def xlsx_response(filename: str, title: str, headers: list[str],
                  rows: Iterable[list]) -> Response:
    """A download of `rows` under `headers`, with `title` in the first row."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    wb = Workbook(write_only=True)
    ws = wb.create_sheet(title=filename[:31])
    bold = Font(bold=True)
    ws.append([title])
    head = []
    for h in headers:
        c = WriteOnlyCell(ws, value=h)
        c.font = bold
        head.append(c)
    ws.append(head)
    for r in rows:
        ws.append([cell(ws, v) for v in r])
    buf = io.BytesIO()
    wb.save(buf)
    name = quote(f"{filename}.xlsx")
    return Response(buf.getvalue(), media_type=XLSX, headers={
        "Content-Disposition": f"attachment; filename=\"export.xlsx\"; filename*=UTF-8''{name}"})


def cell(ws, value):
    """A cell: text without the control characters XLSX refuses, and never a formula (a
    description typed as '=HYPERLINK(…)' stays text)."""
    if not isinstance(value, str):
        return value
    from openpyxl.cell import WriteOnlyCell

    c = WriteOnlyCell(ws, value="".join(ch for ch in value if ch in "\t\n" or ord(ch) >= 32))
    c.data_type = "s"
    return c
