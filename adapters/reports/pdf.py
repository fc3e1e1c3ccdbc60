"""A report as PDF (reportlab): A4 landscape, charts as images, page numbers.

Every character, the case-id cells included, is set in WenQuanYi Micro Hei (Debian
`fonts-wqy-microhei`; deploy/install-system-deps.sh), embedded as subsets, so the PDF
prints and its text extracts on any machine (no viewer-side CID font such as
poppler-data's is needed). Case ids use the same file's "Mono" face, which has the CJK
glyphs too. The font is a TrueType-outline .ttc: reportlab cannot embed OpenType/CFF
fonts such as Noto Sans CJK. Without a usable font file to_pdf raises PdfFontMissing,
naming the package to install, rather than writing a PDF whose text would not print.
"""

from __future__ import annotations

import io
import threading
from pathlib import Path

from adapters.reports.cells import table_cells
from adapters.reports.charts import chart_png, has_chart

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
    """Write the document to path: A4 landscape, tables repeating their header, page numbers."""
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
        if has_chart(sec):  # drawn after its table
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
            elif c["key"] == "cases":  # readable case numbers, a few per line
                weights.append(2.8)
            elif c["key"] in ("source", "note", "flag", "rule_names"):
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
            data.append([Paragraph(esc(pdf_ids(v)) if c["key"] == "case_ids" else esc(v),
                                   ids if c["key"] in ("case_ids", "case_id", "case_no")
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


def pdf_ids(text: str) -> str:
    """Print at most PDF_MAX_IDS case ids in a cell; the full list is in the XLSX and JSON."""
    got = text.split()
    if len(got) <= PDF_MAX_IDS:
        return text
    return " ".join(got[:PDF_MAX_IDS]) + f" …（共 {len(got)} 件，完整编号见同期 XLSX/JSON）"
