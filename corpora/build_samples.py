"""Build the fictional sample corpus of 巡察 reports in ``corpora/samples/``.

Every document is written by hand as UTF-8 text in ``corpora/samples/src/`` (first line =
title).  This script renders each source into its *delivery* format (PDF / DOCX / legacy
encoded TXT), writes ``manifest.jsonl`` and validates the hand-labelled
``gold_findings.jsonl`` against the sources.  The output is deterministic: running it twice
produces byte-identical files.

    python corpora/build_samples.py            # build + validate
    python corpora/build_samples.py --check    # validate only, write nothing

Rendering conventions for the sources (kept deliberately small):

* every non-empty line is one paragraph; blank lines are ignored;
* lines starting with ``|`` form a table (first row = header) -- DOCX only;
* in documents with ``list_number=True`` lines like ``1.xxx`` become Word ``List Number``
  paragraphs (the literal ``1.`` is dropped, Word numbers them; each run restarts at 1);
* ``（图为…）`` lines are photo captions (centred); a trailing ``YYYY年M月D日`` line and the
  signature line before it are right-aligned.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import re
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
SAMPLES = HERE / "samples"
SRC = SAMPLES / "src"

R5 = ("十四届县委第五轮", 5)
R6 = ("十四届县委第六轮", 6)
R7 = ("十四届县委第七轮", 7)

HEADER_XCB = "澄溪县委巡察工作领导小组办公室"


@dataclass(frozen=True)
class Doc:
    src: str
    file: str
    round: tuple[str, int]
    kind: str
    units: tuple[str, ...]
    date: str
    doc_type: str  # feedback | rectification | summary
    topic: str | None = None  # 专项巡察 / 机动巡察 focus
    # rendering options
    header: str = HEADER_XCB
    encoding: str | None = None  # TXT only
    newline: str = "\n"  # TXT only
    indent: bool = False  # TXT only: prefix paragraphs with two U+3000
    list_number: bool = False  # DOCX only

    @property
    def fmt(self) -> str:
        return self.file.rsplit(".", 1)[1]


DOCS: list[Doc] = [
    Doc(
        "01_r5_jiaoyuju_feedback.txt",
        "r5_jiaoyuju_feedback.pdf",
        R5,
        "常规巡察",
        ("县教育局党组",),
        "2023-12-12",
        "feedback",
    ),
    Doc(
        "02_r5_zhujianju_feedback.txt",
        "r5_zhujianju_feedback.docx",
        R5,
        "常规巡察",
        ("县住建局党组",),
        "2023-12-14",
        "feedback",
    ),
    Doc(
        "03_r5_chengguanzhen_feedback.txt",
        "r5_chengguanzhen_feedback.txt",
        R5,
        "常规巡察",
        ("城关镇党委",),
        "2023-12-15",
        "feedback",
        encoding="gbk",
        indent=True,
    ),
    Doc(
        "04_r5_bulletin_feedback.txt",
        "r5_minzhengju_hekouzhen_feedback.pdf",
        R5,
        "常规巡察",
        ("县民政局党组", "河口镇党委"),
        "2023-12-20",
        "feedback",
    ),
    Doc(
        "05_r5_jiaoyuju_rectification.txt",
        "r5_jiaoyuju_rectification.docx",
        R5,
        "常规巡察",
        ("县教育局党组",),
        "2024-03-20",
        "rectification",
    ),
    Doc(
        "11_r5_zhujianju_rectification.txt",
        "r5_zhujianju_rectification.pdf",
        R5,
        "常规巡察",
        ("县住建局党组",),
        "2024-04-15",
        "rectification",
        header="中共澄溪县住房和城乡建设局党组",
    ),
    Doc(
        "06_r6_yibaoju_feedback.txt",
        "r6_yibaoju_special_feedback.pdf",
        R6,
        "专项巡察",
        ("县医保局党组",),
        "2024-06-07",
        "feedback",
        topic="医保基金管理使用",
    ),
    Doc(
        "07_r6_weijianju_feedback.txt",
        "r6_weijianju_special_feedback.txt",
        R6,
        "专项巡察",
        ("县卫生健康局党组",),
        "2024-06-08",
        "feedback",
        topic="医保基金管理使用",
        encoding="gbk",
        newline="\r\n",
    ),
    Doc(
        "08_r6_education_special_feedback.txt",
        "r6_yizhong_zhizhong_special_feedback.docx",
        R6,
        "专项巡察",
        ("县第一中学党委", "县职业中学党支部"),
        "2024-06-12",
        "feedback",
        topic="教育领域",
        list_number=True,
    ),
    Doc(
        "09_r6_hekouzhen_mobile_feedback.txt",
        "r6_hekouzhen_jidong_feedback.txt",
        R6,
        "机动巡察",
        ("河口镇党委",),
        "2024-06-09",
        "feedback",
        topic="征地拆迁",
        encoding="gbk",
    ),
    Doc(
        "10_r6_shiqiaocun_feedback.txt",
        "r6_shiqiaocun_village_feedback.txt",
        R6,
        "村（社区）巡察",
        ("石桥村党支部",),
        "2024-06-13",
        "feedback",
        encoding="gbk",
        indent=True,
    ),
    Doc(
        "16_r6_yibaoju_rectification.txt",
        "r6_yibaoju_rectification.docx",
        R6,
        "专项巡察",
        ("县医保局党组",),
        "2024-10-15",
        "rectification",
        topic="医保基金管理使用",
    ),
    Doc(
        "12_r7_nongyenongcunju_feedback.txt",
        "r7_nongyenongcunju_special_feedback.docx",
        R7,
        "专项巡察",
        ("县农业农村局党组",),
        "2024-11-29",
        "feedback",
        topic="乡村振兴",
    ),
    Doc(
        "13_r7_jiaoyuju_huitoukan_feedback.txt",
        "r7_jiaoyuju_huitoukan_feedback.pdf",
        R7,
        "巡察“回头看”",
        ("县教育局党组",),
        "2024-11-28",
        "feedback",
    ),
    Doc(
        "14_r7_chengguanzhen_huitoukan_feedback.txt",
        "r7_chengguanzhen_huitoukan_feedback.txt",
        R7,
        "巡察“回头看”",
        ("城关镇党委",),
        "2024-11-29",
        "feedback",
        encoding="gbk",
        newline="\r\n",
    ),
    Doc(
        "15_r7_bulletin_feedback.txt",
        "r7_shuiliju_liangshi_feedback.pdf",
        R7,
        "常规巡察",
        ("县水利局党组", "县粮食和物资储备中心党支部"),
        "2024-12-02",
        "feedback",
    ),
    Doc(
        "17_r7_summary.txt",
        "r7_summary.txt",
        R7,
        "综述",
        ("县农业农村局党组", "县教育局党组", "城关镇党委", "县水利局党组", "县粮食和物资储备中心党支部"),
        "2024-12-26",
        "summary",
        encoding="utf-16",
        newline="\r\n",
    ),
]

FIXED_TIME = dt.datetime(2024, 12, 31, 0, 0, 0)
DATE_LINE = re.compile(r"^\d{4}年\d{1,2}月\d{1,2}日$")
LIST_ITEM = re.compile(r"^(\d+)\.(.+)$")
CAPTION = re.compile(r"^（图为.*）$")


# --------------------------------------------------------------------------- source model


@dataclass
class Para:
    text: str
    role: str = "body"  # title | body | caption | sign | list | table


def read_src(doc: Doc) -> str:
    return (SRC / doc.src).read_text(encoding="utf-8")


def parse(doc: Doc, text: str) -> list[Para | list[list[str]]]:
    lines = [ln.strip() for ln in text.split("\n")]
    lines = [ln for ln in lines if ln]
    out: list[Para | list[list[str]]] = [Para(lines[0], "title")]
    rest = lines[1:]
    n = len(rest)
    for i, ln in enumerate(rest):
        if ln.startswith("|"):
            row = ln.strip("|").split("|")
            if out and isinstance(out[-1], list):
                out[-1].append(row)
            else:
                out.append([row])
        elif CAPTION.match(ln):
            out.append(Para(ln, "caption"))
        elif DATE_LINE.match(ln) and i == n - 1:
            out.append(Para(ln, "sign"))
            prev = out[-2]
            if isinstance(prev, Para) and len(prev.text) <= 30 and not prev.text.endswith("。"):
                prev.role = "sign"
        elif doc.list_number and LIST_ITEM.match(ln):
            out.append(Para(ln, "list"))
        else:
            out.append(Para(ln))
    return out


# --------------------------------------------------------------------------- PDF

PDF_FONT = "STSong-Light"
PDF_FS = 14
TITLE_FS = 18
PDF_LEADING = 25
PDF_CHARS = 32  # line width, in full-width characters
NO_LINE_START = set("，。、；：？！）”’》」』】〕…,.;:?!)%")
NO_LINE_END = set("（“‘《「『【〔(")


def wrap(text: str, width: float, measure) -> list[str]:
    """Fixed-width wrapping that breaks inside sentences (with simple kinsoku rules)."""
    lines: list[str] = []
    cur = ""
    for ch in text:
        if cur and measure(cur + ch) > width and ch not in NO_LINE_START:
            carry = ""
            while cur and cur[-1] in NO_LINE_END:
                carry = cur[-1] + carry
                cur = cur[:-1]
            lines.append(cur)
            cur = carry
        cur += ch
    if cur:
        lines.append(cur)
    return lines


def render_pdf(doc: Doc, text: str, path: Path) -> None:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    if PDF_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(PDF_FONT))

    def sw(s: str, fs: float = PDF_FS) -> float:
        return pdfmetrics.stringWidth(s, PDF_FONT, fs)

    page_w, page_h = A4
    text_w = PDF_CHARS * PDF_FS
    left = (page_w - text_w) / 2
    top = page_h - 95
    bottom = 85

    c = canvas.Canvas(str(path), pagesize=A4, invariant=1, pageCompression=1)
    c.setTitle(text.split("\n", 1)[0])
    c.setAuthor(doc.header)
    c.setCreator("xuncha corpora/build_samples.py")
    state = {"page": 1, "y": top}

    def decorate() -> None:
        c.setFont(PDF_FONT, 10.5)
        c.drawCentredString(page_w / 2, page_h - 50, doc.header)
        c.setLineWidth(0.6)
        c.line(left, page_h - 58, left + text_w, page_h - 58)
        c.setFont(PDF_FONT, 11)
        c.drawCentredString(page_w / 2, 45, f"- {state['page']} -")

    def newline(leading: float) -> None:
        if state["y"] - leading < bottom:
            c.showPage()
            state["page"] += 1
            decorate()
            state["y"] = top
        state["y"] -= leading

    decorate()
    for item in parse(doc, text):
        if isinstance(item, list):
            raise ValueError(f"{doc.src}: tables are only supported for DOCX output")
        if item.role == "title":
            for ln in wrap(item.text, 22 * TITLE_FS, lambda s: sw(s, TITLE_FS)):
                newline(30)
                c.setFont(PDF_FONT, TITLE_FS)
                c.drawCentredString(page_w / 2, state["y"], ln)
            state["y"] -= 14
            continue
        c.setFont(PDF_FONT, PDF_FS)
        if item.role == "caption":
            newline(PDF_LEADING)
            c.drawCentredString(page_w / 2, state["y"], item.text)
        elif item.role == "sign":
            newline(PDF_LEADING)
            c.drawRightString(left + text_w - 2 * PDF_FS, state["y"], item.text)
        else:
            indent = 2 * PDF_FS
            first = True
            # the first line is shorter by the indent; wrap it separately
            remaining = item.text
            while remaining:
                width = text_w - indent if first else text_w
                ln = wrap(remaining, width, sw)[0]
                remaining = remaining[len(ln) :]
                newline(PDF_LEADING)
                c.drawString(left + (indent if first else 0), state["y"], ln)
                first = False
    c.showPage()
    c.save()


# --------------------------------------------------------------------------- DOCX


def _east_asian(run_or_style, font: str) -> None:
    from docx.oxml.ns import qn

    rpr = run_or_style.element.get_or_add_rPr()
    rfonts = rpr.find(qn("w:rFonts"))
    if rfonts is None:
        rfonts = rpr.makeelement(qn("w:rFonts"), {})
        rpr.append(rfonts)
    rfonts.set(qn("w:eastAsia"), font)


def render_docx(doc: Doc, text: str, path: Path) -> None:
    import docx
    from docx.enum.table import WD_TABLE_ALIGNMENT
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Pt

    d = docx.Document()
    normal = d.styles["Normal"]
    normal.font.size = Pt(14)
    _east_asian(normal, "仿宋")
    for name in ("Heading 1", "List Number", "Caption"):
        if name in [s.name for s in d.styles]:
            _east_asian(d.styles[name], "宋体")

    cp = d.core_properties
    cp.title = text.split("\n", 1)[0]
    cp.author = doc.header
    cp.last_modified_by = doc.header
    cp.created = FIXED_TIME
    cp.modified = FIXED_TIME
    cp.last_printed = FIXED_TIME
    cp.revision = 1
    cp.comments = "Fictional sample generated by corpora/build_samples.py"

    numbering = d.part.numbering_part.element
    list_num_id = d.styles["List Number"].element.pPr.numPr.numId.val
    abstract_id = next(n.abstractNumId.val for n in numbering.num_lst if n.numId == list_num_id)
    current_num: int | None = None

    for item in parse(doc, text):
        if isinstance(item, list):
            header, *rows = item
            table = d.add_table(rows=1, cols=len(header))
            table.style = "Table Grid"
            table.alignment = WD_TABLE_ALIGNMENT.CENTER
            for cell, val in zip(table.rows[0].cells, header, strict=True):
                cell.text = val
                for r in cell.paragraphs[0].runs:
                    r.bold = True
            for row in rows:
                cells = table.add_row().cells
                for cell, val in zip(cells, row, strict=True):
                    cell.text = val
            current_num = None
            continue
        if item.role == "title":
            h = d.add_heading(item.text, level=1)
            h.alignment = WD_ALIGN_PARAGRAPH.CENTER
            current_num = None
            continue
        if item.role == "list":
            if current_num is None:  # new list: restart numbering at 1
                num = numbering.add_num(abstract_id)
                num.add_lvlOverride(ilvl=0).add_startOverride(1)
                current_num = num.numId
            p = d.add_paragraph(LIST_ITEM.match(item.text).group(2), style="List Number")
            numpr = p._p.get_or_add_pPr().get_or_add_numPr()
            numpr.get_or_add_ilvl().val = 0
            numpr.get_or_add_numId().val = current_num
            continue
        current_num = None
        p = d.add_paragraph(item.text)
        if item.role == "caption":
            p.alignment = WD_ALIGN_PARAGRAPH.CENTER
            for r in p.runs:
                r.italic = True
        elif item.role == "sign":
            p.alignment = WD_ALIGN_PARAGRAPH.RIGHT
        else:
            p.paragraph_format.first_line_indent = Pt(28)

    buf = io.BytesIO()
    d.save(buf)
    _normalise_zip(buf.getvalue(), path)


def _normalise_zip(data: bytes, path: Path) -> None:
    """Rewrite a zip with fixed timestamps so DOCX output is byte-for-byte reproducible."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for info in src.infolist():
            zi = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = 0o644 << 16
            z.writestr(zi, src.read(info.filename))
    path.write_bytes(out.getvalue())


# --------------------------------------------------------------------------- TXT


def render_txt(doc: Doc, text: str, path: Path) -> None:
    out_lines = []
    for item in parse(doc, text):
        if isinstance(item, list):
            out_lines.extend("|".join(r) for r in item)
            continue
        if doc.indent and item.role in ("body", "list"):
            out_lines.append("\u3000\u3000" + item.text)
        else:
            out_lines.append(item.text)
        if item.role == "title":
            out_lines.append("")
    body = doc.newline.join(out_lines) + doc.newline
    path.write_bytes(body.encode(doc.encoding or "utf-8"))


# --------------------------------------------------------------------------- manifest / gold


def manifest_rows() -> list[dict]:
    rows = []
    for doc in DOCS:
        row = {
            "file": doc.file,
            "src": f"src/{doc.src}",
            "round": doc.round[0],
            "round_number": doc.round[1],
            "kind": doc.kind,
            "units": list(doc.units),
            "date": doc.date,
            "doc_type": doc.doc_type,
            "format": doc.fmt,
        }
        if doc.topic:
            row["topic"] = doc.topic
        if doc.fmt == "txt":
            row["encoding"] = doc.encoding
            row["newline"] = "crlf" if doc.newline == "\r\n" else "lf"
        rows.append(row)
    return rows


def check_gold() -> list[dict]:
    by_file = {d.file: d for d in DOCS}
    gold = [json.loads(ln) for ln in (SAMPLES / "gold_findings.jsonl").read_text("utf-8").splitlines() if ln]
    seen = set()
    for g in gold:
        assert set(g) == {"file", "unit", "text", "issue"}, g
        doc = by_file.get(g["file"])
        assert doc is not None, f"gold refers to unknown file {g['file']}"
        assert doc.doc_type in ("feedback", "rectification"), g
        assert g["unit"] in doc.units, f"{g['file']}: unit {g['unit']} not in manifest units"
        src = read_src(doc)
        assert g["text"] in src, f"gold text not a substring of {doc.src}: {g['text']}"
        assert src.count(g["text"]) == 1, f"gold text is ambiguous in {doc.src}: {g['text']}"
        assert re.fullmatch(r"[a-z][a-z0-9_]*", g["issue"]), g["issue"]
        key = (g["file"], g["text"])
        assert key not in seen, f"duplicate gold row {key}"
        seen.add(key)
    labelled = {g["file"] for g in gold}
    for doc in DOCS:
        if doc.doc_type != "summary":
            assert doc.file in labelled, f"no gold findings for {doc.file}"
    return gold


def check_sources() -> None:
    han = re.compile(r"[\u4e00-\u9fff]")
    for doc in DOCS:
        text = read_src(doc)
        n = len(han.findall(text))
        assert 600 <= n <= 2500, f"{doc.src}: {n} Chinese characters"
        if doc.encoding:
            text.encode(doc.encoding)  # raises if not encodable
        for d in DOCS:
            if d is not doc:
                assert d.file != doc.file and d.src != doc.src


# --------------------------------------------------------------------------- verification


def verify_outputs() -> None:
    for doc in DOCS:
        path = SAMPLES / doc.file
        title = read_src(doc).split("\n", 1)[0]
        if doc.fmt == "pdf":
            try:
                import pypdfium2 as pdfium
            except ImportError:  # pragma: no cover - optional dependency
                print("  (pypdfium2 not installed, PDF text check skipped)")
                continue
            pdf = pdfium.PdfDocument(str(path))
            pages = [pdf[i].get_textpage().get_text_range() for i in range(len(pdf))]
            assert len(pages) >= 2, f"{doc.file}: only {len(pages)} page(s)"
            assert re.search(r"[\u4e00-\u9fff]{4}", pages[0]), f"{doc.file}: no Chinese text extracted"
            for i, pt in enumerate(pages, 1):
                assert doc.header in pt and f"- {i} -" in pt, f"{doc.file}: header/footer missing on page {i}"
            pdf.close()
        elif doc.fmt == "docx":
            import docx

            d = docx.Document(str(path))
            assert d.paragraphs[0].text == title, (doc.file, d.paragraphs[0].text)
            if "|" in read_src(doc):
                assert d.tables, f"{doc.file}: table missing"
            if doc.list_number:
                assert any(p.style.name == "List Number" for p in d.paragraphs)
        else:
            data = path.read_bytes()
            text = data.decode(doc.encoding)
            assert text.lstrip("\ufeff").startswith(title), doc.file
            if doc.newline == "\r\n":
                assert b"\r\n" in data or doc.encoding.startswith("utf-16")
            else:
                assert b"\r" not in data


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true", help="validate sources and gold only")
    args = ap.parse_args(argv)

    check_sources()
    gold = check_gold()
    if args.check:
        print(f"ok: {len(DOCS)} sources, {len(gold)} gold findings")
        return 0

    renderers = {"pdf": render_pdf, "docx": render_docx, "txt": render_txt}
    for doc in DOCS:
        renderers[doc.fmt](doc, read_src(doc), SAMPLES / doc.file)
        print(f"  wrote {doc.file}")
    with (SAMPLES / "manifest.jsonl").open("w", encoding="utf-8", newline="\n") as fh:
        for row in manifest_rows():
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    verify_outputs()
    issues = {g["issue"] for g in gold}
    print(f"ok: {len(DOCS)} documents, {len(gold)} gold findings, {len(issues)} issue keys")
    return 0


if __name__ == "__main__":
    sys.exit(main())
