"""The common-issue report and the XLSX export over a library built from the sample feedback notices."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest
from docx.shared import Emu, RGBColor
from sqlalchemy import select

from nlp.pipeline import analyze_bytes
from service.export import FINDINGS_SHEET, LEDGER_SHEET, export_xlsx
from service.library import EmptyLibraryError
from service.store import models
from service.store.db import session_factory
from service.store.repository import Overrides, ingest_bytes
from service.summary import (
    build_summary,
    fmt_amount,
    heading_level,
    quoted,
    render_docx,
    render_markdown,
    trend,
)

SAMPLES = Path(__file__).resolve().parents[1] / "corpora" / "samples"
MANIFEST = [json.loads(x) for x in (SAMPLES / "manifest.jsonl").read_text(encoding="utf-8").splitlines() if x]
FEEDBACK = [row for row in MANIFEST if row["doc_type"] == "feedback"]


def add(url: str, files: Path, row: dict) -> None:
    """Ingest one sample with its round given, as ``xuncha ingest --round`` would."""
    data = (SAMPLES / row["file"]).read_bytes()
    with session_factory(url)() as session:
        ingest_bytes(session, data, row["file"], analyze_bytes(data, row["file"]), files, Overrides(round=row["round"]))


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("summary")
    url = f"sqlite:///{tmp_path / 'lib.db'}"
    for row in FEEDBACK:
        add(url, tmp_path / "files", row)
    return url


@pytest.fixture(scope="module")
def summary(library):
    with session_factory(library)() as session:
        return build_summary(session)


def stored_finding_ids(url: str) -> set[int]:
    with session_factory(url)() as session:
        return set(session.scalars(select(models.Finding.id)))


def test_summary_opening_has_scope_and_aggregated_statistics(summary):
    json.dumps(summary, ensure_ascii=False)  # JSON-able
    texts = [s["text"] for s in summary["opening"]["sentences"]]
    assert f"{len(FEEDBACK)}份巡察文件" in texts[0] and f"共提取问题{summary['scope']['findings']}条" in texts[0]
    found = next(s for s in summary["statistics"] if s["metric"] == "problems_found")
    assert found["name"] == "发现问题" and found["total"] == sum(
        d["total"] for d in found["documents"]
    ) and len(found["documents"]) >= 2
    assert any("发现问题" in t and "合计" in t for t in texts)


def test_summary_sections_span_units_and_are_traceable(summary, library):
    sections = summary["sections"]
    assert len(sections) >= 2
    assert [s["heading"][:2] for s in sections[:2]] == ["一、", "二、"]
    scores = [s["systemic_score"] for s in sections]
    assert scores == sorted(scores, reverse=True)
    stored = stored_finding_ids(library)
    for section in sections:
        assert len(section["units"]) >= 2
        assert 2 <= len(section["representatives"]) <= 3
        assert all(r["unit"] and r["round"] for r in section["representatives"])
        assert section["trend"] in {"上升", "下降", "持平", "波动", "无法判断"}
        assert any(re.search(r"第[五六七]轮\d+条", s["text"]) or "仅见于" in s["text"] for s in section["sentences"])
        for sentence in section["sentences"]:
            assert sentence["finding_ids"] and set(sentence["finding_ids"]) <= set(section["finding_ids"])
        assert set(section["finding_ids"]) <= stored
    for sentence in summary["opening"]["sentences"]:
        assert set(sentence["finding_ids"]) <= stored


def test_summary_quotes_are_extractive(summary, library):
    with session_factory(library)() as session:
        for section in summary["sections"]:
            for r in section["representatives"]:
                text = session.get(models.Finding, r["finding_id"]).text
                assert re.sub(r"\s+", "", text).startswith(r["quote"].removesuffix("……"))


def test_summary_recurrence_sentence(library, monkeypatch):
    """A recurrence touching a section's findings is reported in that section with both ids."""
    import service.summary as summary_module

    real = summary_module.cached_common_issues

    def with_recurrence(session, query, **kwargs):
        issues = dict(real(session, query, **kwargs))  # a copy: the kept result is shared
        cluster = issues["clusters"][0]
        early, late = cluster["findings"][0], cluster["findings"][1]
        issues["recurrences"] = [{"unit": early["unit"], "earlier": early, "later": late, "similarity": 0.9}]
        return issues

    monkeypatch.setattr(summary_module, "cached_common_issues", with_recurrence)
    with session_factory(library)() as session:
        first = build_summary(session, top=1)["sections"][0]
    assert len(first["recurrences"]) == 1
    rec = first["recurrences"][0]
    sentence = next(s for s in first["sentences"] if "重复出现" in s["text"])
    assert sentence["finding_ids"] == sorted({rec["earlier_id"], rec["later_id"]})
    assert f"{rec['earlier_id']}→{rec['later_id']}" in sentence["text"]


@pytest.mark.parametrize(
    ("counts", "expected"),
    [([1, 2, 3], "上升"), ([3, 1, 0], "下降"), ([2, 2], "持平"), ([1, 0, 1], "波动"), ([4], "无法判断")],
)
def test_summary_trend(counts, expected):
    assert trend(counts) == expected


def test_summary_round_filter_and_empty_scope(library):
    with session_factory(library)() as session:
        seventh = build_summary(session, rounds=["第七轮"], top=3)
        assert seventh["scope"]["rounds"] == ["十四届县委第七轮"] and len(seventh["sections"]) <= 3
        with pytest.raises(EmptyLibraryError):
            build_summary(session, rounds=["第九十九轮"])


def test_summary_markdown_and_docx(summary, tmp_path):
    from docx import Document

    md = render_markdown(summary)
    assert md.startswith("# 巡察共性问题分析报告")
    assert "## 总体情况" in md and "| 指标 | 合计 |" in md
    for section in summary["sections"]:
        assert f"## {section['heading']}" in md
    path = render_docx(summary, tmp_path / "report.docx")
    doc = Document(str(path))
    headings = [p.text for p in doc.paragraphs if p.style is not None and p.style.name.startswith(("Heading", "Title"))]
    assert "总体情况" in headings and all(s["heading"] in headings for s in summary["sections"])
    assert doc.tables and doc.tables[0].rows[0].cells[0].text == "指标"
    assert any(row.cells[0].text == "发现问题" for row in doc.tables[0].rows)



def test_export_xlsx_sheets_rows_and_headers(library, tmp_path):
    from openpyxl import load_workbook

    with session_factory(library)() as session:
        path = export_xlsx(session, tmp_path / "out.xlsx")
    wb = load_workbook(path)
    assert wb.sheetnames == [FINDINGS_SHEET, LEDGER_SHEET]
    listing, ledger = wb[FINDINGS_SHEET], wb[LEDGER_SHEET]
    # one id column (the finding's number everywhere), a 四个落实 column, Chinese throughout
    assert [c.value for c in listing[1]] == [
        "问题编号", "被巡察单位", "轮次", "文件", "页码", "问题", "三个聚焦", "四个落实", "问题类型", "民生领域", "依据", "标签来源",
        "所属表述",
    ]
    assert [c.value for c in ledger[1]][:4] == ["问题编号", "被巡察单位", "轮次", "问题"]
    assert "完成情况" in [c.value for c in ledger[1]]
    stored = stored_finding_ids(library)
    rows = list(listing.iter_rows(min_row=2, values_only=True))
    ids = [row[0] for row in rows]
    assert sorted(ids) == sorted(stored)
    assert [row[0] for row in ledger.iter_rows(min_row=2, values_only=True)] == ids
    assert listing.freeze_panes == "A2" and listing["A1"].font.b
    # items one sentence listed under one focus carry their statement; each such statement has two or more
    shared = Counter((row[3], row[-1]) for row in rows if row[-1])
    assert shared and all(n >= 2 for n in shared.values())
    assert all(re.fullmatch(r"S\d{3}", statement) for _, statement in shared)
    assert any("已完成" in (dv.formula1 or "") for dv in ledger.data_validations.dataValidation)
    assert rows and {row[11] for row in rows} == {"自动"}  # nothing confirmed in this library yet
    from nlp.taxonomy import default_taxonomy

    four = {row[7] for row in rows} - {None, ""}
    assert four and four <= {label.name for label in default_taxonomy().schemes["four_implementations"].labels}
    text = " ".join(str(v) for row in rows for v in row if v is not None)
    assert "auto" not in text and "confirmed" not in text


def test_export_xlsx_text_is_never_a_formula(tmp_path):
    from openpyxl import load_workbook

    url = f"sqlite:///{tmp_path / 'lib.db'}"
    add(url, tmp_path / "files", FEEDBACK[0])
    evil = '=HYPERLINK("http://example.com","点击")'
    with session_factory(url)() as session:
        finding = session.scalars(select(models.Finding).order_by(models.Finding.start)).first()
        finding.text = evil
        finding.unit.name = "+县教育局党组"
        session.commit()
        path = export_xlsx(session, tmp_path / "out.xlsx")
    wb = load_workbook(path)
    for sheet, col in ((FINDINGS_SHEET, 6), (LEDGER_SHEET, 4)):
        cell = wb[sheet].cell(row=2, column=col)
        assert cell.value == evil and cell.data_type == "s"
        assert wb[sheet].cell(row=2, column=2).data_type == "s"

# --- the DOCX as a 公文 (GB/T 9704) -------------------------------------------------------------------

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


@pytest.fixture(scope="module")
def docx_report(summary, tmp_path_factory):
    """The summary rendered, then opened again with python-docx: what a reader's Word would load."""
    from docx import Document

    path = render_docx(summary, tmp_path_factory.mktemp("docx") / "共性问题分析报告.docx")
    return Document(str(path))


def east_asia_font(style) -> str | None:
    """The East Asian font a style names itself (w:rFonts/@w:eastAsia), and no theme font beside it."""
    fonts = style.element.rPr.find(f"{W}rFonts")
    assert fonts is not None and fonts.get(f"{W}eastAsiaTheme") is None and fonts.get(f"{W}asciiTheme") is None
    return fonts.get(f"{W}eastAsia")


def colour(style) -> str | None:
    node = style.element.rPr.find(f"{W}color")
    assert node is None or node.get(f"{W}themeColor") is None, style.name
    return None if node is None else node.get(f"{W}val")


def test_docx_is_a4_with_the_gb9704_margins(docx_report):
    section = docx_report.sections[0]
    size_mm = (section.page_width.mm, section.page_height.mm)
    assert size_mm == pytest.approx((210, 297), abs=0.1)
    margins = [m.mm for m in (section.top_margin, section.bottom_margin, section.left_margin, section.right_margin)]
    assert margins == pytest.approx([37, 35, 28, 26], abs=0.1)
    grid = section._sectPr.find(f"{W}docGrid")  # Word's 文档网格: 22 lines
    assert grid.get(f"{W}type") == "lines" and int(grid.get(f"{W}linePitch")) == 579


def test_docx_lines_hold_28_characters(docx_report):
    """28 characters of 三号 to a line: 156 mm hold 27.6 at 16 pt, so the body is set 0.25 pt closer."""
    section = docx_report.sections[0]
    width_pt = Emu(section.page_width - section.left_margin - section.right_margin).pt
    spacing = docx_report.styles["Normal"].element.rPr.find(f"{W}spacing")
    pitch = 16 + int(spacing.get(f"{W}val")) / 20
    assert 28 * pitch <= width_pt < 29 * pitch


def test_docx_body_is_fangsong_sanhao_22_lines_a_page_indented_two_characters(docx_report, summary):
    from docx.enum.text import WD_LINE_SPACING

    normal = docx_report.styles["Normal"]
    assert east_asia_font(normal) in ("仿宋_GB2312", "仿宋") and normal.font.size.pt == 16
    fmt = normal.paragraph_format
    assert fmt.line_spacing_rule == WD_LINE_SPACING.EXACTLY
    section = docx_report.sections[0]
    type_area_pt = Emu(section.page_height - section.top_margin - section.bottom_margin).pt
    assert int(type_area_pt // fmt.line_spacing.pt) == 22
    assert fmt.first_line_indent.pt == 32 and fmt.space_before.pt == fmt.space_after.pt == 0
    assert normal.element.pPr.find(f"{W}ind").get(f"{W}firstLineChars") == "200"
    body = [p for p in docx_report.paragraphs if p.style.name == "Normal"]
    sentences = [s for s in summary["opening"]["sentences"]] + [s for sec in summary["sections"] for s in sec["sentences"]]
    assert len(body) == len(sentences) and all(p.text for p in body)
    assert all(p.paragraph_format.first_line_indent is None for p in body)  # the style's indent holds
    defaults = docx_report.styles.element.find(f"{W}docDefaults").find(f"{W}rPrDefault").find(f"{W}rPr")
    assert defaults.find(f"{W}rFonts").get(f"{W}eastAsia") == "仿宋_GB2312"
    assert defaults.find(f"{W}lang").get(f"{W}eastAsia") == "zh-CN"


def test_docx_title_and_headings_by_level(docx_report, summary):
    from docx.enum.text import WD_ALIGN_PARAGRAPH

    title = docx_report.paragraphs[0]
    assert title.text == summary["title"] and title.style.name == "Title"
    assert east_asia_font(title.style) == "方正小标宋简体" and title.style.font.size.pt == 22
    assert title.style.paragraph_format.alignment == WD_ALIGN_PARAGRAPH.CENTER
    assert title.style.element.pPr.find(f"{W}pBdr") is None  # no rule under the title
    expected = {"Heading 1": ("黑体", False), "Heading 2": ("楷体_GB2312", False), "Heading 3": ("仿宋_GB2312", True)}
    for name, (font, bold) in expected.items():
        style = docx_report.styles[name]
        assert east_asia_font(style) == font and style.font.size.pt == 16 and bool(style.font.bold) is bold, name
        assert style.paragraph_format.first_line_indent.pt == 32
    levels = {p.text: p.style.name for p in docx_report.paragraphs if p.style.name.startswith("Heading")}
    assert levels["总体情况"] == "Heading 1"
    assert all(levels[s["heading"]] == "Heading 1" for s in summary["sections"])  # 一、 二、 …
    assert [heading_level(t) for t in ("一、总体情况", "（二）主要问题", "(三)其他", "1.理论学习", "3．整改", "总体情况")] == [1, 2, 2, 3, 3, 1]


def test_docx_text_is_black_everywhere(docx_report):
    for name in ("Normal", "Title", "Heading 1", "Heading 2", "Heading 3", "表格文字"):
        assert colour(docx_report.styles[name]) == "000000", name
    for paragraph in docx_report.paragraphs:
        for run in paragraph.runs:
            assert run.font.color.rgb in (None, RGBColor(0, 0, 0)) and run.font.color.theme_color is None
    header = docx_report.tables[0].rows[0].cells[0].paragraphs[0]
    assert header.style.name == "表格文字" and header.runs[0].element.rPr.find(f"{W}rFonts").get(f"{W}eastAsia") == "黑体"


def page_field(paragraph) -> tuple[str, list[str]]:
    """The footer's visible text and its field instructions."""
    instructions = [t.text.strip() for t in paragraph._p.iter(f"{W}instrText")]
    kinds = [f.get(f"{W}fldCharType") for f in paragraph._p.iter(f"{W}fldChar")]
    assert kinds == ["begin", "separate", "end"]
    return paragraph.text, instructions


def test_docx_page_numbers_odd_right_even_left(docx_report):
    from docx.enum.text import WD_ALIGN_PARAGRAPH

    section = docx_report.sections[0]
    assert docx_report.settings.odd_and_even_pages_header_footer is True
    for footer, align in ((section.footer, WD_ALIGN_PARAGRAPH.RIGHT), (section.even_page_footer, WD_ALIGN_PARAGRAPH.LEFT)):
        assert not footer.is_linked_to_previous
        paragraph = footer.paragraphs[0]
        text, instructions = page_field(paragraph)
        assert text == "— 1 —" and instructions == ["PAGE"]
        assert paragraph.paragraph_format.alignment == align
        for run in paragraph.runs:
            assert run.font.size.pt == 14 and run.element.rPr.find(f"{W}rFonts").get(f"{W}eastAsia") == "宋体"
    # the number's top edge 7 mm below the type area: its exact 14 pt line ends footer_distance above the edge
    assert section.footer_distance.mm + 14 / 72 * 25.4 == pytest.approx(35 - 7, abs=0.1)


def test_docx_declares_fallbacks_for_the_gb2312_fonts(docx_report):
    part = next(p for p in docx_report.part.package.iter_parts() if str(p.partname) == "/word/fontTable.xml")
    from lxml import etree

    fonts = {f.get(f"{W}name"): f for f in etree.fromstring(part.blob).iter(f"{W}font")}
    for font, alternative in (("方正小标宋简体", "宋体"), ("仿宋_GB2312", "仿宋"), ("楷体_GB2312", "楷体")):
        assert fonts[font].find(f"{W}altName").get(f"{W}val") == alternative
        assert fonts[font].find(f"{W}charset").get(f"{W}val") == "86"


def nested_identical_quotes(text: str) -> list[int]:
    """Positions where a quotation opens inside a quotation of the same mark (“…“…”…”, ‘…‘…’…’)."""
    stack: list[str] = []
    bad = []
    for i, ch in enumerate(text):
        if ch in "“‘":
            if stack and stack[-1] == ch:
                bad.append(i)
            stack.append(ch)
        elif ch in "”’":
            opener = "“" if ch == "”" else "‘"
            while stack and stack[-1] != opener:
                stack.pop()  # an inner quotation cut short by a quote's ellipsis
            if stack:
                stack.pop()
    return bad


def test_quotes_nest_outer_double_inner_single(summary, docx_report):
    assert quoted("一是“第一议题”制度落实不严格") == "“一是‘第一议题’制度落实不严格”"
    assert quoted("落实“‘三重一大’制度”不到位") == "“落实‘“三重一大”制度’不到位”"
    assert quoted('存在"三会一课"不规范') == "“存在‘三会一课’不规范”"
    assert nested_identical_quotes("“一是“第一议题”不严”") == [3]
    texts = [s["text"] for sec in summary["sections"] for s in sec["sentences"]]
    texts += [s["text"] for s in summary["opening"]["sentences"]]
    texts += render_markdown(summary).splitlines() + [p.text for p in docx_report.paragraphs]
    assert all(not nested_identical_quotes(t) for t in texts), [t for t in texts if nested_identical_quotes(t)]
    inner = [s for sec in summary["sections"] for s in sec["sentences"] if "‘" in s["text"]]
    reps = [r for sec in summary["sections"] for r in sec["representatives"] if "“" in r["quote"]]
    assert len(inner) == len(reps)  # every quoted finding that quotes something nests its marks


# --- amounts ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "unit", "text"),
    [
        (99_999, "元", "99999元"), (100_000, "元", "10万元"), (123_456_789, "元", "1.23亿元"),
        (12_605_000, "元", "1260.5万元"), (99_999_999, "元", "1亿元"), (99_995_000, "元", "9999.5万元"),
        (100_000_000, "元", "1亿元"), (320_000_000, "元", "3.2亿元"), (1_005_000, "元", "100.5万元"), (125_050, "元", "12.51万元"),
        (-150_000, "元", "-15万元"), (12.5, "万元", "12.5万元"), (3, "万元", "30000元"), (15_000, "万元", "1.5亿元"),
        (1.5, "亿元", "1.5亿元"), (312, "个", "312个"), (1_832_000, "项", "1832000项"), (98.14, "%", "98.14%"),
    ],
)
def test_amounts_of_ten_wan_or_more_are_never_written_in_yuan(value: float, unit: str, text: str):
    assert fmt_amount(value, unit) == text


@pytest.fixture(scope="module")
def money_summary(tmp_path_factory):
    """The summary of a library holding the work summary (挽回经济损失1260.5万元, stored as 12605000元)."""
    tmp_path = tmp_path_factory.mktemp("money")
    url = f"sqlite:///{tmp_path / 'lib.db'}"
    for row in MANIFEST:
        if row["doc_type"] == "summary" or row["file"] in ("r5_jiaoyuju_feedback.pdf", "r7_jiaoyuju_huitoukan_feedback.pdf"):
            add(url, tmp_path / "files", row)
    with session_factory(url)() as session:
        summary = build_summary(session)
    return summary, render_docx(summary, tmp_path / "report.docx")


def test_no_amount_of_ten_wan_or_more_in_yuan_anywhere_in_the_summary(money_summary):
    """The sentences (JSON), the Markdown and the DOCX, figures and table included. The findings' own
    quotes are the documents' words and are not rewritten: only the report's own figures count."""
    from docx import Document

    summary, path = money_summary
    recovered = next(s for s in summary["statistics"] if s["metric"] == "funds_recovered")
    assert (recovered["total"], recovered["unit"]) == (12_605_000, "元")
    docx = Document(str(path))
    own = [s["text"] for s in summary["opening"]["sentences"]]
    own += [line for line in render_markdown(summary).splitlines() if not line.startswith(">")]
    own += [p.text for p in docx.paragraphs if "：“" not in p.text]
    own += [c.text for row in docx.tables[0].rows for c in row.cells]
    big_yuan = re.compile(r"(?<![0-9.])[0-9]{6,}(?:\.[0-9]+)?余?元")
    assert not [t for t in own if big_yuan.search(t)]
    assert "挽回（追缴）经济损失1260.5万元（1份文件合计）" in own[1]
    assert any(c.text == "1260.5万元" for row in docx.tables[0].rows for c in row.cells)
    assert "| 挽回（追缴）经济损失 | 1260.5万元 | 1 | r7_summary.txt：1260.5万元 |" in own
