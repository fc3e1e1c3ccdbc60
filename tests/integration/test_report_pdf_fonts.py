"""The monthly bulletin's PDF carries its own fonts (issue 10, defect 5).

It used to name reportlab's CID font STSong-Light without embedding it, and Courier for the
case ids: on a machine without Debian's poppler-data every table printed empty and
pdftotext extracted nothing, and Chinese in a case-id cell printed as ■■. Now every face is
an embedded subset of WenQuanYi Micro Hei (deploy/install-system-deps.sh installs
fonts-wqy-microhei), so the PDF needs nothing from the reader's machine.

The real guard is `pdffonts`: every font embedded, none of the standard 14 or a CID font
left to the viewer. The extraction and rendering checks are run with poppler-data's state
recorded and with an empty fontconfig (no system font to substitute); when poppler-data is
absent (a fresh machine) they prove independence from it directly.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from adapters.policies import load_policy
from adapters.reports import (
    PDF_FONT,
    PDF_FONT_MONO,
    PDF_MAX_IDS,
    PdfFontMissing,
    monthly,
    pdf_fonts,
    pdf_ids,
    render,
    table_cells,
)
from adapters.reports import pdf as report_pdf
from tests.integration.test_reports import NOW, build
from tests.support import grid

UNEMBEDDED_SUSPECTS = ("STSong", "Courier", "Helvetica", "Times", "Symbol", "ZapfDingbats")


def need(tool: str) -> None:
    if not shutil.which(tool):
        pytest.fail(f"{tool} missing: run deploy/install-system-deps.sh (poppler-utils)")


@pytest.fixture(scope="module")
def bulletin(tmp_path_factory):
    """The hand-built October of test_reports.py, rendered once as PDF."""
    tmp = tmp_path_factory.mktemp("pdf-fonts")
    env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(tmp / "m.sqlite")}
    cg = grid(env, clock=lambda: NOW)
    ids = {k: cg.service.get(v).number for k, v in build(cg).items()}  # read as numbers
    doc = monthly(cg.sql, cg.city, "2026-10", NOW, load_policy(None, cg.city), app=cg.app)
    pdf = render(doc, "pdf", tmp / "bulletin.pdf")
    yield ids, doc, pdf
    cg.close()


@pytest.fixture(scope="module")
def bare_env(tmp_path_factory) -> dict[str, str]:
    """An environment whose fontconfig knows no font: poppler can substitute nothing."""
    d = tmp_path_factory.mktemp("no-fonts")
    conf = d / "fonts.conf"
    conf.write_text('<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "fonts.dtd">\n'
                    f"<fontconfig><cachedir>{d / 'cache'}</cachedir></fontconfig>\n")
    return {**os.environ, "FONTCONFIG_FILE": str(conf), "FONTCONFIG_PATH": str(d)}


def pdffonts(pdf: Path) -> list[dict[str, str]]:
    """`pdffonts` rows as dicts keyed by its header (name, type, encoding, emb, sub, uni)."""
    need("pdffonts")
    out = subprocess.run(["pdffonts", str(pdf)], check=True, capture_output=True,
                         text=True).stdout.splitlines()
    header, dashes, *rows = out
    spans, pos = [], 0
    for dash in dashes.split(" "):
        spans.append((pos, pos + len(dash)))
        pos += len(dash) + 1
    keys = [header[a:b].strip() for a, b in spans]
    return [{k: row[a:b].strip() for k, (a, b) in zip(keys, spans, strict=True)} for row in rows]


def poppler_data_installed() -> bool:
    if not shutil.which("dpkg-query"):
        return False
    got = subprocess.run(["dpkg-query", "-W", "-f=${Status}", "poppler-data"],
                         capture_output=True, text=True)
    return got.returncode == 0 and "install ok installed" in got.stdout


def pdftotext(pdf: Path, env: dict[str, str], *layout: str) -> str:
    need("pdftotext")
    return subprocess.run(["pdftotext", *layout, str(pdf), "-"], check=True, capture_output=True,
                          text=True, env=env).stdout


def test_every_pdf_font_is_embedded(bulletin):
    _, _, pdf = bulletin
    fonts = pdffonts(pdf)
    assert fonts, "pdffonts lists no font at all"
    for f in fonts:
        assert f["emb"] == "yes", f"font not embedded: {f}"
        assert f["uni"] == "yes", f"no ToUnicode map, text would not extract: {f}"
        assert not f["encoding"].startswith("Uni"), f"a predefined CJK CMap (poppler-data): {f}"
        assert not any(s in f["name"] for s in UNEMBEDDED_SUSPECTS), f
    names = {f["name"].split("+", 1)[-1] for f in fonts}
    assert any(n.startswith("WenQuanYiMicroHei-") for n in names), names
    assert any(n.startswith("WenQuanYiMicroHeiMono-") for n in names), names  # the case ids


def test_pdf_text_extracts_without_poppler_data_or_system_fonts(bulletin, bare_env):
    ids, _, pdf = bulletin
    print("poppler-data installed:", poppler_data_installed())  # absent: this proves it directly
    text = pdftotext(pdf, bare_env, "-layout")
    flat = "".join(pdftotext(pdf, bare_env).split())
    assert "成员单位考评排名" in text and "社区（责任区）考评排名" in text
    assert "1清水河街道综合行政执法队" in flat  # rank 1 of the units' ranking
    for unit in ("坭岗社区", "玉龙社区", "清水河社区"):
        assert unit in text
    assert "86.67" in text and "80.00" in text and "66.67" in text
    # case-number cells (the monospace face): 超期案件台账 has IC8, 奖惩明细 lists IC5's double
    assert ids["IC8"] in flat and ids["IC5"] in flat
    assert "第1页" in flat and "第2页" in flat  # the footer, drawn on the canvas


def test_pdf_renders_the_same_without_system_fonts(bulletin, bare_env, tmp_path):
    """pdftoppm with no font to substitute draws page 1 exactly as with the machine's fonts,
    and its title band has ink: the glyphs come from the PDF itself."""
    from PIL import Image

    _, _, pdf = bulletin
    need("pdftoppm")
    for name, env in (("own", None), ("bare", bare_env)):
        subprocess.run(["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", str(pdf),
                        str(tmp_path / name)], check=True, env=env, capture_output=True)
    own, bare = sorted(tmp_path.glob("own*.png")), sorted(tmp_path.glob("bare*.png"))
    assert own and bare and own[0].read_bytes() == bare[0].read_bytes()
    img = Image.open(bare[0]).convert("L")
    w, h = img.size
    title = img.crop((0, 0, w, int(h * 0.12)))  # nothing but the title's text is up there
    dark = sum(title.histogram()[:128])
    assert dark > 300, f"title band is blank ({dark} dark pixels)"


def test_every_character_of_the_bulletin_has_a_glyph(bulletin):
    """A face without a glyph prints .notdef boxes silently: check the whole text against both."""
    from reportlab.pdfbase import pdfmetrics

    _, doc, _ = bulletin
    texts = [doc["title"], doc["city"], str(doc["from"]), str(doc["to"]), str(doc["generated_at"]),
             "统计期间 至 生成时间 应发布时间 前 数据截至（此后记录的事件不计入）奖惩政策：第 页（无）",
             pdf_ids(" ".join(["x"] * 30))]
    if doc.get("policy"):
        texts += [doc["policy"]["name"], doc["policy"]["id"]]
    for sec in doc["sections"]:
        texts += [sec["title"], sec.get("note") or ""] + [c["label"] for c in sec["columns"]]
        texts += [v for row in table_cells(sec) for v in row]
    chars = {c for t in texts for c in t if not c.isspace()}
    for face in (PDF_FONT, PDF_FONT_MONO):
        cmap = pdfmetrics.getFont(face).face.charToGlyph
        assert not sorted(c for c in chars if ord(c) not in cmap), face


def test_chinese_in_a_case_id_cell_prints(tmp_path, bare_env):
    """More than PDF_MAX_IDS ids: the cell ends in Chinese, once Courier's ■■."""
    ids = [str(uuid.UUID(int=i + 1)) for i in range(PDF_MAX_IDS + 6)]
    doc = {"title": "字体测试", "city": "测试市", "from": "2026-10-01", "to": "2026-10-31",
           "generated_at": "2026-11-05 08:00",
           "sections": [{"id": "t", "title": "一、案件", "rows": [{"case_ids": " ".join(ids)}],
                         "columns": [{"key": "case_ids", "label": "案件编号", "fmt": "text"}]}]}
    pdf = render(doc, "pdf", tmp_path / "ids.pdf")
    assert all(f["emb"] == "yes" for f in pdffonts(pdf))
    flat = "".join(pdftotext(pdf, bare_env).split())
    assert ids[0] in flat and ids[PDF_MAX_IDS - 1] in flat
    assert f"（共{len(ids)}件，完整编号见同期XLSX/JSON）" in flat


def test_the_fonts_are_registered_once(monkeypatch):
    pdf_fonts()

    def no_parse(*a, **k):
        raise AssertionError("font file parsed again")

    import reportlab.pdfbase.ttfonts as ttfonts

    monkeypatch.setattr(ttfonts, "TTFont", no_parse)
    assert pdf_fonts() == (PDF_FONT, PDF_FONT_MONO)


def test_a_missing_font_is_a_clear_error_not_a_blank_pdf(monkeypatch, tmp_path):
    monkeypatch.setattr(report_pdf, "_PDF_FONTS", None)
    cff = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"  # CFF: refused if present
    monkeypatch.setattr(report_pdf, "PDF_FONT_FILES",
                        ((str(tmp_path / "absent.ttc"), 0, 1), (cff, 0, 0)))
    out = tmp_path / "x.pdf"
    doc = {"title": "t", "city": "c", "from": "", "to": "", "generated_at": "", "sections": []}
    with pytest.raises(PdfFontMissing, match="fonts-wqy-microhei") as e:
        render(doc, "pdf", out)
    assert "absent.ttc: absent" in str(e.value) and "install-system-deps.sh" in str(e.value)
    assert not out.exists()
