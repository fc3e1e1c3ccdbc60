"""Render a report document (adapters/reports.py) as JSON, HTML, XLSX or PDF.

- charts: matplotlib (Agg) PNGs, with a CJK font when one is installed (Debian
  `fonts-noto-cjk`; deploy/install-system-deps.sh);
- HTML: Jinja2, charts embedded as data URIs, one self-contained file;
- XLSX: openpyxl, one sheet per table plus a cover and a chart sheet;
- PDF: reportlab, A4 landscape, charts as images. Every character, the case-id
  cells included, is set in WenQuanYi Micro Hei (Debian `fonts-wqy-microhei`;
  deploy/install-system-deps.sh), embedded as subsets, so the PDF prints and its text
  extracts on any machine (no viewer-side CID font such as poppler-data's is needed).
  Case ids use the same file's "Mono" face, which has the CJK glyphs too. The font is
  a TrueType-outline .ttc: reportlab cannot embed OpenType/CFF fonts such as Noto
  Sans CJK. Without a usable font file to_pdf raises PdfFontMissing, naming the
  package to install, rather than writing a PDF whose text would not print.
"""

from __future__ import annotations

import base64
import io
import json
import re
import threading
from datetime import datetime
from pathlib import Path

FORMATS = ("json", "html", "xlsx", "pdf")
CJK_FONT_FILES = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
)
# The PDF's fonts, first usable wins: (file, face index of the text, face index of the
# case ids). TrueType outlines only (reportlab embeds no CFF), and Latin, digits and CJK
# in one face (DroidSansFallback has no digits); the first is installed by
# deploy/install-system-deps.sh, the second is accepted where already present.
PDF_FONT_FILES = (
    ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 0, 1),  # Micro Hei, Micro Hei Mono
    ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0, 1),  # Zen Hei, Zen Hei Mono
)
PDF_FONT_NEEDS = "0123456789azAZ-—…%+.:（）　：，、。第页坭岗社区通报排名"  # a face lacking one is refused
PDF_FONT, PDF_FONT_MONO = "CgPdfSans", "CgPdfMono"  # reportlab names of the two faces


# ---------------------------------------------------------------- values


def cell_text(value, fmt: str, row: dict | None = None) -> str:
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


def _auto_cell(row: dict, col: dict) -> str:
    v = row.get(col["key"])
    if col["fmt"] == "auto" and col["key"] == "change" and row.get("fmt") == "pct" and v is not None:
        return f"{v * 100:+.2f} 个百分点"
    if col["fmt"] == "auto" and col["key"] == "change" and v is not None:
        return f"{v:+d}"
    return cell_text(v, col["fmt"], row)


def table_cells(sec: dict) -> list[list[str]]:
    return [[_auto_cell(r, c) for c in sec["columns"]] for r in sec["rows"]]


# ---------------------------------------------------------------- charts


_FONT_READY = None


def _mpl():
    global _FONT_READY
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import font_manager

    if _FONT_READY is None:
        names = []
        for f in CJK_FONT_FILES:
            if Path(f).exists():
                try:
                    font_manager.fontManager.addfont(f)
                    names.append(font_manager.FontProperties(fname=f).get_name())
                except Exception:  # noqa: BLE001 - an unreadable font file: try the next
                    continue
        _FONT_READY = names
        matplotlib.rcParams["font.sans-serif"] = [*names, "DejaVu Sans"]
        matplotlib.rcParams["font.family"] = "sans-serif"
        matplotlib.rcParams["axes.unicode_minus"] = False
    return plt


def chart_png(spec: dict, *, width: float = 9.0, height: float = 3.6) -> bytes:
    """A chart spec {type: bar|barh|line, title, labels, series[{name, values}]} as PNG."""
    plt = _mpl()
    labels = spec["labels"]
    series = spec["series"]
    kind = spec["type"]
    if kind == "barh":
        height = max(2.4, 0.32 * len(labels) * max(1, len(series)) + 1.2)
    fig, ax = plt.subplots(figsize=(width, height), dpi=110)
    n = max(1, len(series))
    if kind == "line":
        for s in series:
            xs = [i for i, v in enumerate(s["values"]) if v is not None]
            ax.plot([labels[i] for i in xs], [s["values"][i] for i in xs], marker="o", markersize=3,
                    label=s["name"])
        ax.tick_params(axis="x", labelsize=7)
    else:
        w = 0.8 / n
        pos = list(range(len(labels)))
        for k, s in enumerate(series):
            off = [p - 0.4 + w / 2 + k * w for p in pos]
            vals = [v or 0 for v in s["values"]]
            if kind == "barh":
                bars = ax.barh(off, vals, height=w, label=s["name"])
            else:
                bars = ax.bar(off, vals, width=w, label=s["name"])
            ax.bar_label(bars, labels=["" if v is None else f"{v:g}" for v in s["values"]],
                         fontsize=7, padding=2)
        if kind == "barh":
            ax.set_yticks(pos, labels, fontsize=8)
            ax.invert_yaxis()
        else:
            ax.set_xticks(pos, labels, fontsize=8, rotation=20 if len(labels) > 6 else 0)
    from matplotlib.ticker import MaxNLocator

    (ax.xaxis if kind == "barh" else ax.yaxis).set_major_locator(MaxNLocator(integer=True))
    ax.set_title(spec.get("title", ""), fontsize=11)
    if n > 1 or kind == "line":
        ax.legend(fontsize=8)
    ax.grid(axis="x" if kind == "barh" else "y", alpha=0.3)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


# ---------------------------------------------------------------- JSON


def to_json(doc: dict) -> str:
    def default(o):
        if isinstance(o, datetime):
            return o.isoformat()
        if isinstance(o, set):
            return sorted(o)
        return str(o)

    return json.dumps(doc, ensure_ascii=False, indent=2, default=default)


# ---------------------------------------------------------------- HTML


HTML = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>{{ doc.title }}</title>
<style>
body{font-family:"Noto Sans CJK SC","Microsoft YaHei","PingFang SC",sans-serif;margin:2em auto;max-width:1200px;color:#222}
h1{text-align:center;font-size:1.6em;margin-bottom:.2em}.meta{text-align:center;color:#555;margin-bottom:2em}
h2{border-left:5px solid #b22;padding-left:.5em;font-size:1.2em;margin-top:2em}
table{border-collapse:collapse;width:100%;font-size:.85em;margin:.5em 0}
th,td{border:1px solid #bbb;padding:3px 6px;vertical-align:top}th{background:#f3e6e6}
td.num{text-align:right;white-space:nowrap}td.ids{font-family:monospace;font-size:.8em;word-break:break-all}
tr:nth-child(even) td{background:#fafafa}.note{color:#555;font-size:.9em}.empty{color:#888}
img.chart{max-width:100%;display:block;margin:.5em 0}
</style></head><body>
<h1>{{ doc.title }}</h1>
<div class="meta">{{ doc.city }}　统计期间 {{ doc["from"] }} 至 {{ doc["to"] }}　生成时间 {{ doc.generated_at }}
{% if doc.publish_by %}　应发布时间 {{ doc.publish_by }} 前{% endif %}
{% if doc.as_of %}<br>数据截至 {{ doc.as_of }}（此后记录的事件不计入）{% endif %}
{% if doc.policy %}<br>奖惩政策：{{ doc.policy.name }}（{{ doc.policy.id }}）{% endif %}</div>
{% for sec in sections %}
<h2>{{ sec.title }}</h2>
{% if sec.note %}<p class="note">{{ sec.note }}</p>{% endif %}
{% if sec.chart_uri %}<img class="chart" alt="{{ sec.chart.title }}" src="{{ sec.chart_uri }}">{% endif %}
{% if sec.rows %}
<table><thead><tr>{% for c in sec.columns %}<th>{{ c.label }}</th>{% endfor %}</tr></thead><tbody>
{% for row in sec.cells %}<tr>{% for v in row %}{% set c = sec.columns[loop.index0] %}
<td class="{{ 'ids' if c.key in ('case_ids','case_id') else ('num' if c.fmt not in ('text',) else '') }}">{{ v }}</td>{% endfor %}</tr>
{% endfor %}</tbody></table>
{% else %}<p class="empty">（无）</p>{% endif %}
{% endfor %}
</body></html>
"""


def to_html(doc: dict) -> str:
    from jinja2 import Environment, select_autoescape

    env = Environment(autoescape=select_autoescape(default=True))
    sections = []
    for sec in doc["sections"]:
        s = dict(sec)
        s["cells"] = table_cells(sec)
        if sec.get("chart") and sec["chart"]["labels"]:
            s["chart_uri"] = "data:image/png;base64," + base64.b64encode(chart_png(sec["chart"])).decode()
        sections.append(s)
    return env.from_string(HTML).render(doc=doc, sections=sections)


# ---------------------------------------------------------------- XLSX


def _sheet_name(title: str, used: set[str]) -> str:
    name = re.sub(r"[\[\]:*?/\\]", "", re.sub(r"^[一二三四五六七八九十]+、", "", title))[:28] or "表"
    base, k = name, 2
    while name in used:
        name = f"{base[:26]}{k}"
        k += 1
    used.add(name)
    return name


def to_xlsx(doc: dict, path: Path) -> None:
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
        ws = wb.create_sheet(_sheet_name(sec["title"], used))
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
        if sec.get("chart") and sec["chart"]["labels"]:
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


# ---------------------------------------------------------------- PDF


class PdfFontMissing(RuntimeError):
    """No embeddable CJK font for the PDF: install Debian's fonts-wqy-microhei."""


_PDF_FONTS: tuple[str, str] | None = None
_PDF_FONTS_LOCK = threading.Lock()


def pdf_fonts() -> tuple[str, str]:
    """The reportlab names of the PDF's text and case-id faces, registered once per process.

    Parsing the 5 MB font file is the slow part, so it is done on the first PDF only.
    Raises PdfFontMissing, naming what to install, when no file of PDF_FONT_FILES is
    there or none can be embedded."""
    global _PDF_FONTS
    if _PDF_FONTS is not None:
        return _PDF_FONTS
    with _PDF_FONTS_LOCK:
        if _PDF_FONTS is None:
            from reportlab.pdfbase import pdfmetrics
            from reportlab.pdfbase.ttfonts import TTFError, TTFont

            tried = []
            for f, text_ix, mono_ix in PDF_FONT_FILES:
                if not Path(f).is_file():
                    tried.append(f"{f}: absent")
                    continue
                try:
                    faces = (TTFont(PDF_FONT, f, subfontIndex=text_ix),
                             TTFont(PDF_FONT_MONO, f, subfontIndex=mono_ix))
                except (TTFError, OSError) as e:
                    tried.append(f"{f}: {e}")
                    continue
                lacks = {c for face in faces for c in PDF_FONT_NEEDS
                         if ord(c) not in face.face.charToGlyph}
                if lacks:
                    tried.append(f"{f}: no glyph for {''.join(sorted(lacks))}")
                    continue
                for face in faces:
                    pdfmetrics.registerFont(face)
                _PDF_FONTS = (PDF_FONT, PDF_FONT_MONO)
                break
            else:
                raise PdfFontMissing(
                    "no embeddable CJK font for the PDF bulletin; install Debian's "
                    "fonts-wqy-microhei (bash deploy/install-system-deps.sh, or apt-get install "
                    "fonts-wqy-microhei). Tried: " + "; ".join(tried))
    return _PDF_FONTS


def to_pdf(doc: dict, path: Path) -> None:
    from reportlab.lib import colors
    from reportlab.lib.enums import TA_CENTER, TA_RIGHT
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import (
        Image,
        KeepTogether,
        LongTable,
        Paragraph,
        SimpleDocTemplate,
        Spacer,
    )

    font, mono = pdf_fonts()
    page = landscape(A4)
    title = ParagraphStyle("t", fontName=font, fontSize=20, leading=26, alignment=TA_CENTER,
                           spaceAfter=6)
    meta = ParagraphStyle("m", fontName=font, fontSize=10, leading=14, alignment=TA_CENTER,
                          textColor=colors.HexColor("#444444"), spaceAfter=10)
    h2 = ParagraphStyle("h2", fontName=font, fontSize=13, leading=18, spaceBefore=10, spaceAfter=4,
                        textColor=colors.HexColor("#991111"), keepWithNext=1)
    note = ParagraphStyle("n", fontName=font, fontSize=9, leading=12, textColor=colors.HexColor("#444444"))
    cell = ParagraphStyle("c", fontName=font, fontSize=7.5, leading=9.5)
    num = ParagraphStyle("r", parent=cell, alignment=TA_RIGHT)
    ids = ParagraphStyle("i", fontName=mono, fontSize=6, leading=7.5)
    headst = ParagraphStyle("h", fontName=font, fontSize=7.5, leading=9.5)

    def esc(s: str) -> str:
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

    story = [Paragraph(esc(doc["title"]), title)]
    line = f"{doc['city']}　统计期间 {doc['from']} 至 {doc['to']}　生成时间 {doc['generated_at']}"
    if doc.get("publish_by"):
        line += f"　应发布时间 {doc['publish_by']} 前"
    if doc.get("as_of"):
        line += f"<br/>数据截至 {doc['as_of']}（此后记录的事件不计入）"
    if doc.get("policy"):
        line += f"<br/>奖惩政策：{esc(doc['policy']['name'])}（{esc(doc['policy']['id'])}）"
    story.append(Paragraph(line, meta))
    width = page[0] - 30 * mm
    for sec in doc["sections"]:
        block = [Paragraph(esc(sec["title"]), h2)]
        if sec.get("note"):
            block.append(Paragraph(esc(sec["note"]), note))
        chart = None
        if sec.get("chart") and sec["chart"]["labels"]:  # drawn after its table
            chart = Image(io.BytesIO(chart_png(sec["chart"])))
            scale = min(1.0, (width * 0.8) / chart.drawWidth, (110 * mm) / chart.drawHeight)
            chart.drawWidth, chart.drawHeight = chart.drawWidth * scale, chart.drawHeight * scale
        if not sec["rows"]:
            block.append(Paragraph("（无）", note))
            story.append(KeepTogether(block))
            continue
        cols = sec["columns"]
        weights = []
        for c in cols:
            if c["key"] in ("case_ids",):
                weights.append(3.4)
            elif c["key"] == "explanation":
                weights.append(3.8)
            elif c["key"] in ("source", "note", "flag"):
                weights.append(2.2)
            elif c["key"] in ("case_id",):
                weights.append(2.3)
            elif c["fmt"] == "text" or c["fmt"] == "auto":
                weights.append(1.3)
            else:
                weights.append(0.8)
        total = sum(weights)
        col_w = [width * w / total for w in weights]
        data = [[Paragraph(esc(c["label"]), headst) for c in cols]]
        for row in table_cells(sec):
            data.append([Paragraph(esc(_pdf_ids(v)) if c["key"] == "case_ids" else esc(v),
                                   ids if c["key"] in ("case_ids", "case_id")
                                   else (cell if c["fmt"] in ("text", "auto") else num))
                         for v, c in zip(row, cols, strict=True)])
        t = LongTable(data, colWidths=col_w, repeatRows=1)
        t.setStyle([
            ("FONTNAME", (0, 0), (-1, -1), font),  # else reportlab sets Helvetica (unembedded)
            ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#999999")),
            ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#F3E6E6")),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, colors.HexColor("#FAFAFA")]),
            ("LEFTPADDING", (0, 0), (-1, -1), 3), ("RIGHTPADDING", (0, 0), (-1, -1), 3),
        ])
        if len(data) <= 12:
            story.append(KeepTogether([*block, t]))
        else:
            story += [*block, t]
        if chart is not None:
            story += [Spacer(1, 2 * mm), chart]
        story.append(Spacer(1, 4 * mm))

    def footer(canvas, d):
        canvas.saveState()
        canvas.setFont(font, 8)
        canvas.drawString(15 * mm, 8 * mm, doc["title"])
        canvas.drawRightString(page[0] - 15 * mm, 8 * mm, f"第 {d.page} 页")
        canvas.restoreState()

    pdf = SimpleDocTemplate(str(path), pagesize=page, leftMargin=15 * mm, rightMargin=15 * mm,
                            topMargin=12 * mm, bottomMargin=14 * mm, title=doc["title"],
                            author=doc["city"],
                            initialFontName=font)  # not Helvetica, which is never embedded
    pdf.build(story, onFirstPage=footer, onLaterPages=footer)


PDF_MAX_IDS = 24


def _pdf_ids(text: str) -> str:
    """Print at most PDF_MAX_IDS case ids in a cell; the full list is in the XLSX and JSON."""
    got = text.split()
    if len(got) <= PDF_MAX_IDS:
        return text
    return " ".join(got[:PDF_MAX_IDS]) + f" …（共 {len(got)} 件，完整编号见同期 XLSX/JSON）"


def render(doc: dict, fmt: str, out: str | Path) -> Path:
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
