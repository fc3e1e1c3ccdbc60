"""A report as an XLSX workbook (openpyxl): a cover with the contents, one sheet per table
with typed numbers (percentages 0.00%, yuan #,##0), and a chart sheet."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

from adapters.reports.charts import chart_png, has_chart


def sheet_name(title: str, used: set[str]) -> str:
    """A section title as a unique, valid sheet name (≤ 31 characters, no []:*?/\\)."""
    name = re.sub(r"[\[\]:*?/\\]", "", re.sub(r"^[一二三四五六七八九十]+、", "", title))[:28] or "表"
    base, k = name, 2
    while name in used:
        name = f"{base[:26]}{k}"
        k += 1
    used.add(name)
    return name


def to_xlsx(doc: dict, path: Path) -> None:
    """Write the document to path."""
    from openpyxl import Workbook
    from openpyxl.drawing.image import Image as XlImage
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    cover = wb.active
    cover.title = "封面"
    cover["A1"] = doc["title"]
    cover["A1"].font = Font(size=16, bold=True)
    meta = [("城市", doc["city"]), ("统计期间", f"{doc['from']} 至 {doc['to']}"),
            ("生成时间", doc["generated_at"])]
    if doc.get("publish_by"):
        meta.append(("应发布时间", doc["publish_by"]))
    if doc.get("as_of"):
        meta.append(("数据截至", doc["as_of"]))
    if doc.get("policy"):
        meta.append(("奖惩政策", f"{doc['policy']['name']}（{doc['policy']['id']}）"))
    for i, (k, v) in enumerate(meta, start=3):
        cover.cell(i, 1, k).font = Font(bold=True)
        cover.cell(i, 2, v)
    cover.cell(len(meta) + 4, 1, "目录").font = Font(bold=True)
    cover.column_dimensions["A"].width = 16
    cover.column_dimensions["B"].width = 60
    used = {"封面", "图表"}
    head = PatternFill("solid", fgColor="F3E6E6")
    charts = []
    for n, sec in enumerate(doc["sections"]):
        ws = wb.create_sheet(sheet_name(sec["title"], used))
        cover.cell(len(meta) + 5 + n, 1, ws.title)
        cover.cell(len(meta) + 5 + n, 2, sec["title"])
        ws.cell(1, 1, sec["title"]).font = Font(size=12, bold=True)
        r0 = 2
        if sec.get("note"):
            ws.cell(2, 1, sec["note"])
            r0 = 3
        for j, c in enumerate(sec["columns"], start=1):
            cell = ws.cell(r0, j, c["label"])
            cell.font, cell.fill = Font(bold=True), head
            cell.alignment = Alignment(wrap_text=True, vertical="center")
        for i, row in enumerate(sec["rows"], start=r0 + 1):
            for j, c in enumerate(sec["columns"], start=1):
                v = row.get(c["key"])
                fmt = row.get("fmt", "text") if c["fmt"] == "auto" else c["fmt"]
                if isinstance(v, (list, dict, set)):
                    v = json.dumps(v, ensure_ascii=False, default=str)
                cell = ws.cell(i, j, v)
                if fmt == "pct" and isinstance(v, (int, float)):
                    cell.number_format = "0.00%"
                elif fmt in ("score", "delta") and isinstance(v, (int, float)):
                    cell.number_format = "0.00"
                elif fmt == "yuan":
                    cell.number_format = "#,##0"
                if c["key"] in ("case_ids", "explanation"):
                    cell.alignment = Alignment(wrap_text=True, vertical="top")
        for j, c in enumerate(sec["columns"], start=1):
            longest = max([len(str(c["label"]))] + [len(str(r.get(c["key"]) or ""))
                                                    for r in sec["rows"][:200]])
            ws.column_dimensions[get_column_letter(j)].width = min(60, max(8, longest * 1.6 + 2))
        ws.freeze_panes = ws.cell(r0 + 1, 1)
        if has_chart(sec):
            charts.append((sec["title"], chart_png(sec["chart"])))
    if charts:
        ws = wb.create_sheet("图表", 1)
        row = 1
        for title, png in charts:
            ws.cell(row, 1, title).font = Font(bold=True)
            img = XlImage(io.BytesIO(png))
            ws.add_image(img, f"A{row + 1}")
            row += int(img.height / 20) + 3
    wb.save(path)
