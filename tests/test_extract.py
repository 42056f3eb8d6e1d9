"""Round trips through stage 1 (extract): text written into real PDF/DOCX/TXT/HTML files comes back."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from builders import make_docx, make_encrypted_pdf, make_pdf, shared_text_files, write_text
from conftest import REPORT_PAGES, REPORT_TEXT

from nlp.extract import PdfBackend, extract_file
from nlp.model import MediaType, page_of
from nlp.normalize import fold_text
from nlp.pipeline import analyze_file


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


# ---------------------------------------------------------------- PDF


@pytest.mark.parametrize("backend", list(PdfBackend))
def test_extract_pdf_round_trip_each_page(tmp_path: Path, backend: PdfBackend) -> None:
    path = make_pdf(tmp_path / "report.pdf", REPORT_PAGES)
    extracted = extract_file(path, pdf_backend=backend)
    assert extracted.media_type is MediaType.PDF
    assert extracted.backend == str(backend)
    assert len(extracted.pages) == len(REPORT_PAGES)
    for got, drawn in zip(extracted.pages, REPORT_PAGES, strict=True):
        assert squash(got) == squash("".join(drawn))


@pytest.mark.parametrize("backend", list(PdfBackend))
def test_extract_pdf_two_pages_round_trip(tmp_path: Path, backend: PdfBackend) -> None:
    pages = [["巡察发现的主要问题：", "一是党建工作不到位。"], ["二是财务管理不规范。"]]
    extracted = extract_file(make_pdf(tmp_path / "two.pdf", pages), pdf_backend=backend)
    assert [squash(p) for p in extracted.pages] == ["巡察发现的主要问题：一是党建工作不到位。", "二是财务管理不规范。"]
    assert extracted.metadata["pages_without_text"] == []


@pytest.mark.parametrize("backend", list(PdfBackend))
def test_extract_pdf_finding_page_numbers(tmp_path: Path, backend: PdfBackend) -> None:
    doc = analyze_file(make_pdf(tmp_path / "report.pdf", REPORT_PAGES), pdf_backend=backend)
    assert doc.page_count == 3
    by_text = {f.text: f for f in doc.findings}
    first = next(f for t, f in by_text.items() if t.startswith("一是落实全面从严治党"))
    second = next(f for t, f in by_text.items() if t.startswith("二是财务管理不规范"))
    third = next(f for t, f in by_text.items() if t.startswith("三是干部队伍建设"))
    fourth = next(f for t, f in by_text.items() if t.startswith("四是巡察整改工作滞后"))
    assert (first.page, second.page, third.page, fourth.page) == (1, 2, 2, 3)
    for f in doc.findings:
        assert f.page == doc.page_at(f.start)


@pytest.mark.parametrize("backend", list(PdfBackend))
def test_extract_pdf_page_at_every_character(tmp_path: Path, backend: PdfBackend) -> None:
    path = make_pdf(tmp_path / "report.pdf", REPORT_PAGES)
    doc = analyze_file(path, pdf_backend=backend)
    extracted = extract_file(path, pdf_backend=backend)
    # every character drawn on page k reports page k
    for k, page in enumerate(REPORT_PAGES, start=1):
        for paragraph in page:
            start = doc.text.index(paragraph)
            assert {doc.page_at(i) for i in range(start, start + len(paragraph))} == {k}, paragraph
    # and agrees with the page of the extracted character it came from
    for i, ch in enumerate(doc.text):
        if not ch.isspace():
            assert doc.page_at(i) == page_of(extracted.page_starts, doc.raw_offsets[i])


@pytest.mark.parametrize("backend", list(PdfBackend))
def test_extract_pdf_raw_offsets_point_at_same_character(tmp_path: Path, backend: PdfBackend) -> None:
    pages = [list(p) for p in REPORT_PAGES]
    pages[1].append("整改完成率仅为９８．１４％，ＡＢＣ公司违规承揽项目１２３万元。")
    path = make_pdf(tmp_path / "report.pdf", pages)
    raw = extract_file(path, pdf_backend=backend).text
    doc = analyze_file(path, pdf_backend=backend)
    assert len(doc.raw_offsets) == len(doc.text)
    assert list(doc.raw_offsets) == sorted(doc.raw_offsets)
    folded = 0
    for i, ch in enumerate(doc.text):
        source = raw[doc.raw_offsets[i]]
        if ch.isspace():
            assert source.isspace()
        elif source == ch:
            continue
        else:
            assert fold_text(source) == ch or (source == "．" and ch == "."), (i, ch, source)
            folded += 1
    assert folded == len("９８．１４％ＡＢＣ１２３")
    assert "98.14%" in doc.text and "ABC公司" in doc.text


@pytest.mark.parametrize("backend", list(PdfBackend))
def test_extract_pdf_owner_password_only_is_readable(tmp_path: Path, backend: PdfBackend) -> None:
    # "restrictions only" PDFs (empty user password) open without asking and must not be refused
    path = make_encrypted_pdf(tmp_path / "restricted.pdf", user_password="")
    extracted = extract_file(path, pdf_backend=backend)
    assert [squash(p) for p in extracted.pages] == ["巡察发现的问题：一是党建工作不到位。", "二是财务管理不规范。"]


# ---------------------------------------------------------------- DOCX


def test_extract_pdf_from_many_threads_at_once(tmp_path: Path) -> None:
    """PDFium is not thread-safe; a server worker checks uploads on several threads. Unserialised,
    this crashed the process (a segmentation fault in get_textpage); now every thread gets its text."""
    from concurrent.futures import ThreadPoolExecutor

    files = [
        make_pdf(tmp_path / f"r{i}.pdf", [[f"第{i}份报告", "一是党建工作不到位。"], [f"二是财务管理不规范{i}笔。"]] * 6)
        for i in range(6)
    ]
    expected = [[squash(p) for p in extract_file(f).pages] for f in files]
    assert all(len(pages) == 12 for pages in expected)
    with ThreadPoolExecutor(max_workers=6) as pool:
        got = list(pool.map(lambda f: [squash(p) for p in extract_file(f).pages], files * 8))
    assert got == expected * 8


def test_extract_docx_paragraphs_and_table_in_document_order(tmp_path: Path) -> None:
    path = make_docx(
        tmp_path / "report.docx",
        ["巡察反馈情况如下。", "存在的主要问题统计：", "以上问题须限期整改。"],
        heading="关于区委第七轮巡察反馈情况的通报",
        table=[["单位", "问题数"], ["区农业农村局", "3"], ["区教育局", "5"]],
        table_after=2,
    )
    extracted = extract_file(path)
    assert extracted.media_type is MediaType.DOCX
    assert extracted.text.split("\n") == [
        "关于区委第七轮巡察反馈情况的通报",
        "巡察反馈情况如下。",
        "存在的主要问题统计：",
        "单位\t问题数",
        "区农业农村局\t3",
        "区教育局\t5",
        "以上问题须限期整改。",
    ]


def test_extract_docx_word_numbering_restored(tmp_path: Path) -> None:
    items = ["落实主体责任不到位。", "财务管理不规范。", "选人用人不严格。"]
    path = make_docx(tmp_path / "numbered.docx", ["区农业农村局党组存在的主要问题是："], numbered=items)
    # the numbers are drawn by Word, not stored in the runs
    import docx

    assert [p.text for p in docx.Document(str(path)).paragraphs][1:] == items
    lines = extract_file(path).text.split("\n")
    assert lines == ["区农业农村局党组存在的主要问题是：", "1.落实主体责任不到位。", "2.财务管理不规范。", "3.选人用人不严格。"]
    doc = analyze_file(path)
    assert [(f.marker, f.text) for f in doc.findings] == [
        ("1.", "1.落实主体责任不到位。"),
        ("2.", "2.财务管理不规范。"),
        ("3.", "3.选人用人不严格。"),
    ]


@pytest.mark.parametrize("name", ["report.pdf", "report.txt", "report.dat", "report"])
def test_extract_docx_type_from_content_not_extension(tmp_path: Path, name: str) -> None:
    real = make_docx(tmp_path / "real.docx", ["一是党建工作不到位。", "二是财务管理不规范。"])
    renamed = tmp_path / name
    real.rename(renamed)
    extracted = extract_file(renamed)
    assert extracted.media_type is MediaType.DOCX
    assert extracted.text == "一是党建工作不到位。\n二是财务管理不规范。"


# ---------------------------------------------------------------- TXT

TXT_SAMPLE = "关于巡察反馈情况的通报\n一是党建工作不到位，“三会一课”落实不严。\n二是财务管理不规范（白条入账）；完成率９８．１４％。\n"


@pytest.mark.parametrize(
    ("encoding", "bom", "reported"),
    [
        ("utf-8", False, {"utf-8"}),
        ("utf-8", True, {"utf-8-sig", "utf-8"}),
        ("gbk", False, {"gbk", "gb18030"}),
        ("gb18030", False, {"gbk", "gb18030"}),
        ("utf-16-le", True, {"utf-16", "utf-16-le"}),
        ("utf-16-be", True, {"utf-16", "utf-16-be"}),
        ("utf-16-le", False, {"utf-16-le"}),
        ("utf-16-be", False, {"utf-16-be"}),
    ],
)
def test_extract_text_encodings_decode_to_same_text(
    tmp_path: Path, encoding: str, bom: bool, reported: set[str]
) -> None:
    path = write_text(tmp_path / "report.txt", TXT_SAMPLE, encoding, bom=bom)
    extracted = extract_file(path)
    assert extracted.media_type is MediaType.TEXT
    assert extracted.text == TXT_SAMPLE
    assert extracted.encoding in reported


def test_extract_text_gb18030_only_characters(tmp_path: Path) -> None:
    text = "巡察发现𠀀䶮等生僻字姓名的干部违规领取补贴。\n"
    with pytest.raises(UnicodeEncodeError):
        text.encode("gbk")
    extracted = extract_file(write_text(tmp_path / "rare.txt", text, "gb18030"))
    assert (extracted.text, extracted.encoding) == (text, "gb18030")


def test_extract_text_traditional_with_pinyin_glosses(tmp_path: Path) -> None:
    # mirror copies of real notices: Traditional script with tone-marked pinyin typed inside words
    text = "根據(jù)區(qū)委部署,區(qū)委第二巡察組向區(qū)教育工作黨委反饋巡察情況。" * 3 + "\n"
    extracted = extract_file(write_text(tmp_path / "mirror.txt", text, "utf-8"))
    assert (extracted.text, extracted.encoding) == (text, "utf-8")


@pytest.mark.parametrize("newline", ["\r\n", "\r"])
@pytest.mark.parametrize("encoding", ["utf-8", "gbk", "utf-16-le"])
def test_extract_text_line_endings_normalised(tmp_path: Path, newline: str, encoding: str) -> None:
    path = write_text(tmp_path / "report.txt", TXT_SAMPLE, encoding, newline=newline)
    extracted = extract_file(path)
    assert extracted.text == TXT_SAMPLE
    assert "\r" not in analyze_file(path).text


def test_extract_text_mixed_line_endings(tmp_path: Path) -> None:
    path = tmp_path / "mixed.txt"
    path.write_bytes("一是党建工作不到位。\r\n二是财务管理不规范。\r三是选人用人不严格。\n".encode())
    assert extract_file(path).text == "一是党建工作不到位。\n二是财务管理不规范。\n三是选人用人不严格。\n"


# ---------------------------------------------------------------- HTML

HTML_PAGE = """<!DOCTYPE html>
<html><head>{meta}<title>巡察反馈情况通报</title>
<style>p {{ color: red; }} .x::after {{ content: "样式内容"; }}</style>
<script>var secret = "脚本内容不应出现"; document.write("脚本");</script>
</head><body>
<div class="nav"><script type="text/javascript">track("统计代码");</script></div>
<p>区农业农村局党组存在的主要问题是：</p>
<p>一是党建工作不到位。</p>
<p>二是财务管理   不规范。</p>
</body></html>
"""
HTML_PARAGRAPHS = ["区农业农村局党组存在的主要问题是：", "一是党建工作不到位。", "二是财务管理 不规范。"]


@pytest.mark.parametrize(
    ("encoding", "meta"),
    [
        ("utf-8", '<meta charset="utf-8">'),
        ("gbk", '<meta http-equiv="Content-Type" content="text/html; charset=gbk">'),
        ("gbk", '<meta charset="gb2312">'),
        ("gbk", ""),
    ],
)
def test_extract_html_paragraphs_without_script(tmp_path: Path, encoding: str, meta: str) -> None:
    path = tmp_path / "page.html"
    path.write_bytes(HTML_PAGE.format(meta=meta).encode(encoding))
    extracted = extract_file(path)
    assert extracted.media_type is MediaType.HTML
    assert extracted.encoding == encoding
    assert extracted.metadata["html_title"] == "巡察反馈情况通报"
    lines = extracted.text.split("\n")
    assert lines[-3:] == HTML_PARAGRAPHS
    for leaked in ("脚本", "secret", "样式内容", "color", "统计代码"):
        assert leaked not in extracted.text


@pytest.mark.parametrize("encoding", ["utf-8", "gbk"])
def test_extract_html_xhtml_with_xml_prolog(tmp_path: Path, encoding: str) -> None:
    charset = "utf-8" if encoding == "utf-8" else "gb2312"
    page = (
        f'<?xml version="1.0" encoding="{charset}"?>\n'
        '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" '
        '"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">\n'
        + HTML_PAGE.split("\n", 1)[1].replace("<html>", '<html xmlns="http://www.w3.org/1999/xhtml">').format(
            meta=f'<meta http-equiv="Content-Type" content="text/html; charset={charset}" />'
        )
    )
    path = tmp_path / "page.html"
    path.write_bytes(page.encode(encoding))
    extracted = extract_file(path)
    assert extracted.media_type is MediaType.HTML
    assert extracted.text.split("\n")[-3:] == HTML_PARAGRAPHS
    assert "脚本" not in extracted.text


# ---------------------------------------------------------------- real report texts

REAL_TEXTS = shared_text_files()


@pytest.mark.skipif(not REAL_TEXTS, reason="/work/shared texts not found")
@pytest.mark.parametrize("original", REAL_TEXTS, ids=[p.name for p in REAL_TEXTS])
def test_extract_real_text_gbk_with_misleading_extension(tmp_path: Path, original: Path) -> None:
    text = original.read_text(encoding="utf-8")
    try:
        data = text.encode("gbk")
    except UnicodeEncodeError:
        data = text.encode("gb18030")
    recoded = tmp_path / (original.stem + ".dat")
    recoded.write_bytes(data)

    expected = analyze_file(original)
    got = analyze_file(recoded)
    assert got.media_type is MediaType.TEXT
    assert got.encoding in {"gbk", "gb18030"}
    assert "\ufffd" not in got.text
    assert got.text == expected.text
    assert [f.text for f in got.findings] == [f.text for f in expected.findings]


@pytest.mark.parametrize("encoding", ["utf-8", "gbk", "utf-16-le"])
def test_extract_report_text_same_analysis_in_every_encoding(tmp_path: Path, encoding: str) -> None:
    reference = analyze_file(write_text(tmp_path / "ref.txt", REPORT_TEXT, "utf-8"))
    doc = analyze_file(write_text(tmp_path / f"report.{encoding}", REPORT_TEXT, encoding, bom=encoding != "gbk"))
    assert doc.text == reference.text
    assert [f.to_dict() for f in doc.findings] == [f.to_dict() for f in reference.findings]
