"""Stage 2 (normalise): width folding, re-joined lines, headers/page numbers and captions, offsets."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest
from builders import make_docx, make_pdf, shared_text_files, wrap_paragraph, write_text
from conftest import REPORT_PAGES

from nlp.extract import PdfBackend, extract_file
from nlp.model import ExtractedText, MediaType, ReportDoc
from nlp.normalize import fold_text, fold_width, normalize
from nlp.pipeline import analyze_file

HEADER = "中共某某区委巡察工作领导小组办公室"
CAPTION = "（图为巡察反馈会现场）"
PARAGRAPHS = [
    "区委第二巡察组于2023年3月至5月对区农业农村局党组开展了常规巡察，现将巡察反馈情况通报如下。",
    "区农业农村局党组存在的主要问题是：",
    "一是落实全面从严治党主体责任不到位，党组会议研究党风廉政建设工作次数偏少，对下属单位监督检查流于形式。",
    "二是财务管理不规范，存在白条入账、公务接待超标准等问题，部分专项资金长期闲置未发挥效益。",
    "三是干部队伍建设有差距，年轻干部培养力度不够，干部轮岗交流制度执行不严格。",
    "四是巡察整改工作滞后，上轮巡察反馈的问题仍有3项没有整改到位，整改台账管理混乱。",
]
THREE_PAGES = [PARAGRAPHS[:3], [PARAGRAPHS[3], CAPTION, PARAGRAPHS[4]], PARAGRAPHS[5:]]


def as_text(text: str, media_type: MediaType = MediaType.TEXT) -> ExtractedText:
    return ExtractedText(source="mem", media_type=media_type, pages=[text])


def assert_offsets_consistent(doc: ReportDoc) -> None:
    for f in doc.findings:
        assert doc.text[f.start : f.end] == f.text, f
        assert f.page == doc.page_at(f.start)


# ---------------------------------------------------------------- width folding

FOLD_GOLDEN = [
    ("１２３ＡＢＣ", "123ABC"),
    ("ａｂｃｘｙｚ０９", "abcxyz09"),
    ("９８．１４％", "98.14%"),
    ("整改完成率９８．１４％。", "整改完成率98.14%。"),
    ("１．党建工作", "1．党建工作"),  # not a decimal point: no digit after it
    ("，。：；“”（）、！？《》【】", "，。：；“”（）、！？《》【】"),
    ("第１２３号文件", "第123号文件"),
    ("Ｈ＋Ｍ＝１／２", "H+M=1/2"),
    ("a\u00a0b", "a b"),
    ("巡察发现的问题", "巡察发现的问题"),
]


@pytest.mark.parametrize(("text", "expected"), FOLD_GOLDEN)
def test_normalize_fold_text(text: str, expected: str) -> None:
    assert fold_text(text) == expected
    assert len(fold_text(text)) == len(text)  # one for one, so offsets never move


@pytest.mark.parametrize(("text", "expected"), FOLD_GOLDEN[:5])
def test_normalize_folds_width_in_document(text: str, expected: str) -> None:
    norm = normalize(as_text(f"巡察发现：{text}。"))
    assert norm.text == f"巡察发现：{expected}。"


@pytest.mark.parametrize("ch", list("，。：；“”‘’（）、！？《》【】…—　"))
def test_normalize_keeps_chinese_punctuation(ch: str) -> None:
    assert fold_width(ch) == ch


def test_normalize_raw_offsets_track_folded_characters() -> None:
    raw = "问题：完成率９８．１４％，ＡＢＣ公司。"
    norm = normalize(as_text(raw))
    assert norm.text == "问题：完成率98.14%，ABC公司。"
    assert list(norm.raw_offsets) == list(range(len(raw)))


# ---------------------------------------------------------------- hard-wrapped lines


@pytest.mark.parametrize("backend", list(PdfBackend))
def test_normalize_pdf_wrapped_lines_joined(tmp_path: Path, backend: PdfBackend) -> None:
    path = make_pdf(tmp_path / "wrapped.pdf", [PARAGRAPHS], wrap=20)
    raw = extract_file(path, pdf_backend=backend).text
    assert raw.count("\n") > 2 * len(PARAGRAPHS)  # the PDF really breaks sentences across lines
    doc = analyze_file(path, pdf_backend=backend)
    assert doc.text.split("\n") == PARAGRAPHS
    # the findings of an item, unbroken by the PDF's line ends, read as the item (a list of problems
    # on several topics is one finding per topic: nlp/compound.py)
    for item in (PARAGRAPHS[2], PARAGRAPHS[4]):
        pieces = [f.text for f in doc.findings if f.text in item]
        assert pieces and pieces[0].startswith(item[:2]) and "，".join(pieces).rstrip("。") == item.rstrip("。")


def test_normalize_pdf_sentence_across_page_break_joined(tmp_path: Path) -> None:
    first = PARAGRAPHS[2] + "廉政风险防控"
    pages = [[PARAGRAPHS[0], PARAGRAPHS[1], first], ["机制不健全，重点领域监管存在漏洞。", PARAGRAPHS[3]]]
    doc = analyze_file(make_pdf(tmp_path / "across.pdf", pages, wrap=20, header=HEADER, page_numbers=True))
    whole = first + "机制不健全，重点领域监管存在漏洞。"
    assert whole in doc.text.split("\n")
    # the item's two sentences each state a problem, so they are two findings; the second one
    # starts on page 1 and ends on page 2, unbroken by the page's header and page number
    first_findings = [f.text for f in doc.findings if f.text in PARAGRAPHS[2]]
    assert "，".join(first_findings) + "。" == PARAGRAPHS[2]
    second = next(f for f in doc.findings if f.text.startswith("廉政风险防控"))
    assert second.text == "廉政风险防控机制不健全"  # one finding across the page break, unbroken by header and number
    assert second.page == 1
    # its own second statement (a subject of its own, in text the author did not enumerate) follows it
    assert "重点领域监管存在漏洞" in [f.text for f in doc.findings]
    assert doc.page_at(doc.text.index("机制不健全")) == 2


def test_normalize_txt_wrapped_lines_joined(tmp_path: Path) -> None:
    text = "\n".join(line for p in PARAGRAPHS for line in wrap_paragraph(p, 20)) + "\n"
    doc = analyze_file(write_text(tmp_path / "wrapped.txt", text, "gbk"))
    assert doc.text.rstrip("\n").split("\n") == PARAGRAPHS


def test_normalize_short_lines_not_joined() -> None:
    text = "巡察反馈\n区委巡察办\n2023年6月10日\n"
    assert normalize(as_text(text)).text == text


@pytest.mark.parametrize("medium", ["pdf", "txt"])
def test_normalize_number_split_across_lines_joined_without_space(tmp_path: Path, medium: str) -> None:
    head = "区委巡察组在本轮巡察中共发现各类问题"  # 18 characters: wrap=20 splits 1832 as 18|32
    paragraph = head + "1832个，移送问题线索126件，仍有部分问题整改不到位。"
    paragraphs = [PARAGRAPHS[0], paragraph, PARAGRAPHS[2], PARAGRAPHS[3]]
    if medium == "pdf":
        path = make_pdf(tmp_path / "numbers.pdf", [paragraphs], wrap=20)
    else:
        lines = [line for p in paragraphs for line in wrap_paragraph(p, 20)]
        path = write_text(tmp_path / "numbers.txt", "\n".join(lines), "utf-8")
    doc = analyze_file(path)
    assert paragraph in doc.text  # digits split by the wrap join without a space: "1832", not "18 32"


def test_normalize_wrapped_english_words_keep_their_space() -> None:
    sentence = (
        "The inspection team found that the party committee members did not attend the regular meetings "
        "and that the annual budget was never approved by the board which is a clear violation of the "
        "financial rules of the county."
    )
    lines = textwrap.wrap(sentence, 34)
    norm = normalize(as_text("\n".join(lines)))
    assert norm.text == sentence


TITLE = "关于区委第七轮巡察反馈情况的通报"


@pytest.mark.parametrize("issuer", ["区委巡察办", "中共某某区委巡察工作领导小组办公室"], ids=["short", "long"])
def test_normalize_title_not_joined_with_issuer_line(tmp_path: Path, issuer: str) -> None:
    pages = [[TITLE, issuer, "区委第二巡察组对区农业农村局党组开展了常规巡察。", "一是党建工作不到位。"]]
    doc = analyze_file(make_pdf(tmp_path / "titled.pdf", pages))
    assert doc.text.split("\n")[:2] == [TITLE, issuer]
    assert doc.title == TITLE


def test_normalize_wrapped_title_joined(tmp_path: Path) -> None:
    pages = [["关于区委第七轮巡察反馈专项巡", "察情况的通报", "区委第二巡察组对区农业农村局党组开展了常规巡察。"]]
    doc = analyze_file(make_pdf(tmp_path / "wrapped_title.pdf", pages))
    assert doc.text.split("\n")[0] == "关于区委第七轮巡察反馈专项巡察情况的通报"


# ---------------------------------------------------------------- headers, footers, page numbers


@pytest.mark.parametrize("backend", list(PdfBackend))
def test_normalize_running_header_and_page_numbers_removed(tmp_path: Path, backend: PdfBackend) -> None:
    path = make_pdf(tmp_path / "report.pdf", THREE_PAGES, header=HEADER, page_numbers=True)
    extracted = extract_file(path, pdf_backend=backend)
    assert all(HEADER in page for page in extracted.pages)
    norm = normalize(extracted)
    assert HEADER not in norm.text
    assert not re.search(r"-\s*\d\s*-", norm.text)
    assert sorted(norm.removed_lines) == sorted([HEADER] * 3 + ["- 1 -", "- 2 -", "- 3 -"])

    doc = analyze_file(path, pdf_backend=backend)
    assert doc.text.split("\n") == [p for page in THREE_PAGES for p in page]
    assert doc.findings
    for f in doc.findings:
        assert HEADER not in f.text and "巡察工作领导小组办公室" not in f.text
        assert not re.search(r"-\s*\d\s*-", f.text)
    assert [doc.page_at(doc.text.index(page[0])) for page in THREE_PAGES] == [1, 2, 3]


@pytest.mark.parametrize(
    "footer", ["第{k}页 共3页", "{k}/3", "— {k} —", "Page {k} of 3", "- {k} -"]
)
def test_normalize_page_number_styles_removed(tmp_path: Path, footer: str) -> None:
    pages = [page + [footer.format(k=k)] for k, page in enumerate(THREE_PAGES, start=1)]
    doc = analyze_file(make_pdf(tmp_path / "report.pdf", pages))
    assert doc.text.split("\n") == [p for page in THREE_PAGES for p in page]


def test_normalize_headers_kept_outside_pdf() -> None:
    text = f"{HEADER}\n{PARAGRAPHS[2]}\n- 1 -\n"
    assert normalize(as_text(text)).text == text


# ---------------------------------------------------------------- captions


@pytest.mark.parametrize("medium", ["pdf", "txt", "docx"])
def test_normalize_caption_marked_and_never_a_finding(tmp_path: Path, medium: str) -> None:
    paragraphs = [p for page in THREE_PAGES for p in page]
    if medium == "pdf":
        path = make_pdf(tmp_path / "report.pdf", THREE_PAGES, header=HEADER, page_numbers=True)
    elif medium == "txt":
        path = write_text(tmp_path / "report.txt", "\n".join(paragraphs), "utf-8")
    else:
        path = make_docx(tmp_path / "report.docx", paragraphs)
    doc = analyze_file(path)
    assert [doc.text[s:e] for s, e in doc.captions] == [CAPTION]
    start, end = doc.captions[0]
    assert doc.findings
    for f in doc.findings:
        assert not (f.start < end and start < f.end), f
    assert_offsets_consistent(doc)


def test_normalize_caption_with_problem_words_not_a_finding(tmp_path: Path) -> None:
    caption = "（图为巡察组检查专项资金使用不规范问题现场）"
    paragraphs = [PARAGRAPHS[1], PARAGRAPHS[2], caption, PARAGRAPHS[3]]
    doc = analyze_file(write_text(tmp_path / "report.txt", "\n".join(paragraphs), "utf-8"))
    assert [doc.text[s:e] for s, e in doc.captions] == [caption]
    assert all("图为" not in f.text for f in doc.findings)


def test_normalize_caption_inside_paragraph_marked() -> None:
    norm = normalize(as_text("巡察组召开反馈会议。（图为巡察反馈会现场）会议指出问题。"))
    assert [norm.text[s:e] for s, e in norm.captions] == [CAPTION]


# ---------------------------------------------------------------- offsets


def test_normalize_finding_offsets_pdf(tmp_path: Path) -> None:
    doc = analyze_file(make_pdf(tmp_path / "report.pdf", THREE_PAGES, header=HEADER, page_numbers=True, wrap=20))
    assert len(doc.findings) >= 4
    assert_offsets_consistent(doc)


def test_normalize_finding_offsets_docx(tmp_path: Path) -> None:
    doc = analyze_file(
        make_docx(tmp_path / "report.docx", [PARAGRAPHS[0], "存在的主要问题是："], numbered=PARAGRAPHS[2:])
    )
    assert len(doc.findings) >= 4
    assert_offsets_consistent(doc)


def test_normalize_finding_offsets_report_pages(tmp_path: Path) -> None:
    doc = analyze_file(make_pdf(tmp_path / "report.pdf", REPORT_PAGES))
    assert_offsets_consistent(doc)


REAL_TEXTS = shared_text_files()


@pytest.mark.skipif(not REAL_TEXTS, reason="/work/shared texts not found")
@pytest.mark.parametrize("path", REAL_TEXTS, ids=[p.name for p in REAL_TEXTS])
def test_normalize_finding_offsets_real_texts(path: Path) -> None:
    doc = analyze_file(path)
    assert_offsets_consistent(doc)
    raw = extract_file(path).text
    assert len(doc.raw_offsets) == len(doc.text)
    for i, ch in enumerate(doc.text):
        source = raw[doc.raw_offsets[i]]
        assert ch == source or ch == fold_text(source) or (ch == "." and source == "．") or (
            ch.isspace() and source.isspace()
        ), (i, ch, source)
