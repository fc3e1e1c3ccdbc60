"""A report as one self-contained HTML page: the Jinja2 template templates/report.html
(autoescaped), charts embedded as PNG data URIs."""

from __future__ import annotations

import base64
from functools import cache
from pathlib import Path

from adapters.reports.cells import table_cells
from adapters.reports.charts import chart_png, has_chart

TEMPLATES = Path(__file__).parent / "templates"
# the template's source; the console hashes its style block into the Content-Security-Policy
HTML = (TEMPLATES / "report.html").read_text(encoding="utf-8")


@cache
def _env():
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    return Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(default=True))


def to_html(doc: dict) -> str:
    """The document as HTML: its meta line, then each section's title, note, chart and table."""
    sections = []
    for sec in doc["sections"]:
        s = dict(sec)
        s["cells"] = table_cells(sec)
        if has_chart(sec):
            s["chart_uri"] = "data:image/png;base64," + base64.b64encode(chart_png(sec["chart"])).decode()
        sections.append(s)
    return _env().get_template("report.html").render(doc=doc, sections=sections)
