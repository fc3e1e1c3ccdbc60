"""Reports (零报告、周小结、月通报): daily summary, weekly summary, monthly bulletin, the
rewards-and-penalties ledger and the what-if comparison.

Each builder returns one plain document: a title, the period, and sections that are tables
(columns with a format, rows of plain values) with an optional chart spec. Everything is
read from the read models (cg_sb_case, cg_cases, cg_trail, cg_patrol) and the scoreboards;
the ledger is `domain.policy.evaluate`. The renderers turn the same document into JSON,
HTML, XLSX and PDF, so the formats never disagree.

- document.py — the document's shape (section, meta) and the shared look-ups;
- daily_report.py (with the patrol section), weekly_report.py, monthly_bulletin.py — the
  reports; ledger.py — the ledger's sections and the what-if (compare);
- cells.py — a cell's printed text; charts.py — matplotlib PNGs;
- html.py (templates/report.html, Jinja2), xlsx.py (openpyxl), pdf.py (reportlab, the
  embedded WenQuanYi fonts); formats.py — render() in a format, and JSON.
"""

from adapters.reports.cells import cell_text, table_cells
from adapters.reports.charts import chart_png
from adapters.reports.daily_report import daily, patrol_section
from adapters.reports.formats import FORMATS, render, to_json
from adapters.reports.html import HTML, to_html
from adapters.reports.ledger import compare, ledger_sections
from adapters.reports.monthly_bulletin import monthly, previous_month
from adapters.reports.pdf import (
    PDF_FONT,
    PDF_FONT_MONO,
    PDF_MAX_IDS,
    PdfFontMissing,
    pdf_fonts,
    pdf_ids,
    to_pdf,
)
from adapters.reports.weekly_report import week_bounds, weekly
from adapters.reports.xlsx import to_xlsx

__all__ = [
    "FORMATS", "HTML", "PDF_FONT", "PDF_FONT_MONO", "PDF_MAX_IDS", "PdfFontMissing", "cell_text",
    "chart_png", "compare", "daily", "ledger_sections", "monthly", "patrol_section", "pdf_fonts",
    "pdf_ids", "previous_month", "render", "table_cells", "to_html", "to_json", "to_pdf", "to_xlsx",
    "week_bounds", "weekly",
]
