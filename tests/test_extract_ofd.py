"""OFD (GB/T 33190-2016) packages built to the standard's structure come back as text in reading order.

The packages are real ZIPs written by ``tests/ofd_builder.py``; the damaged and hostile ones replace or
drop single members of a good package, so each test breaks exactly one thing.
"""

from __future__ import annotations

import io
import re
import time
import zipfile
from pathlib import Path

import pytest
from ofd_builder import (
    BODY_SIZE,
    LEFT,
    LINE_PITCH,
    TOP,
    Text,
    build_ofd,
    header_template,
    lay_out,
    make_ofd,
    make_zip_bomb_ofd,
    text_width,
)

import nlp.extract.ofd as ofd
from nlp.errors import CorruptOfdError, EmptyFileError, OfdTooLargeError, XunchaError
from nlp.extract import extract_bytes, extract_file
from nlp.extract.ofd import extract_ofd
from nlp.extract.sniff import sniff_media_type
from nlp.model import MediaType
from nlp.normalize import normalize
from nlp.pipeline import analyze_bytes, analyze_file
from nlp.script import analysis_form

EVAL_DOCS = Path(__file__).resolve().parents[2] / "shared" / "eval-dev-2" / "docs"
_CHINESE = re.compile(r"[\u4e00-\u9fff]")

REPORT = [
    "关于县委第二轮巡察反馈情况的通报",
    "县委第一巡察组对县农业农村局党组开展了常规巡察。",
    "县农业农村局党组存在的主要问题是：",
    "一是落实全面从严治党主体责任不到位，党组会议研究党风廉政建设工作次数偏少。",
    "二是财务管理不规范，存在白条入账、公务接待超标准等问题。",
    "三是干部队伍建设有差距，年轻干部培养力度不够。",
    "县委巡察办",
]
# The same report in Traditional script, character for character.
REPORT_TRADITIONAL = [
    "關於縣委第二輪巡察反饋情況的通報",
    "縣委第一巡察組對縣農業農村局黨組開展了常規巡察。",
    "縣農業農村局黨組存在的主要問題是：",
    "一是落實全面從嚴治黨主體責任不到位，黨組會議研究黨風廉政建設工作次數偏少。",
    "二是財務管理不規範，存在白條入賬、公務接待超標準等問題。",
    "三是幹部隊伍建設有差距，年輕幹部培養力度不夠。",
    "縣委巡察辦",
]


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def lines(page: str) -> list[str]:
    return [line for line in page.split("\n") if line.strip()]


def one_page(*texts: Text, **options: object) -> str:
    """The text of a one-page OFD holding ``texts``."""
    data = build_ofd([list(texts)], **options)  # type: ignore[arg-type]
    return extract_bytes(data, "one.ofd").pages[0]


def rezip(data: bytes, rename: dict[str, str]) -> bytes:
    """The package with members renamed (references inside stay as they were)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(rename.get(info.filename, info.filename), src.read(info))
    return out.getvalue()


def assert_chinese(error: XunchaError) -> None:
    assert _CHINESE.search(error.message), error.message


# ---------------------------------------------------------------- recognising the format


def test_ofd_sniffed_from_content_whatever_the_name(tmp_path: Path) -> None:
    data = build_ofd(lay_out(REPORT))
    for name in ("report.ofd", "report.pdf", "report.zip", "report"):
        assert sniff_media_type(data, name) is MediaType.OFD
    path = make_ofd(tmp_path / "misnamed.docx", [REPORT])
    extracted = extract_file(path)
    assert extracted.media_type is MediaType.OFD
    assert extracted.backend == "ofd"


# ---------------------------------------------------------------- pages, templates, reading order


def test_ofd_several_pages_in_document_order(tmp_path: Path) -> None:
    pages = [REPORT[:3], REPORT[3:5], REPORT[5:]]
    extracted = extract_file(make_ofd(tmp_path / "three.ofd", pages))
    assert extracted.metadata == {"ofd_pages": 3}
    assert [lines(p) for p in extracted.pages] == pages


def test_ofd_template_header_appears_on_every_page_and_normalize_drops_it(tmp_path: Path) -> None:
    header = "中共某某县委巡察工作领导小组办公室"
    pages = [REPORT[:3], REPORT[3:5], REPORT[5:]]
    extracted = extract_file(make_ofd(tmp_path / "header.ofd", pages, header=header, page_numbers=True))
    for number, (page, drawn) in enumerate(zip(extracted.pages, pages, strict=True), start=1):
        assert lines(page) == [header, *drawn, f"- {number} -"]  # header above the body, footer under it
    norm = normalize(extracted)
    assert header not in norm.text and "- 2 -" not in norm.text
    assert header in norm.removed_lines
    assert squash(norm.text) == squash("".join(REPORT))


def test_ofd_text_object_split_into_runs_reads_as_one_line() -> None:
    sentence = "一是落实全面从严治党主体责任不到位，党组会议研究次数偏少。"
    assert one_page(Text(sentence, LEFT, TOP, runs=4)) == sentence
    assert one_page(Text(sentence, LEFT, TOP, runs=3, delta_x=False)) == sentence  # steps estimated


def test_ofd_line_split_over_objects_given_out_of_order() -> None:
    head, tail = "二是财务管理不规范，", "存在白条入账等问题。"
    first_line = [Text(head, LEFT, TOP), Text(tail, LEFT + text_width(head), TOP)]
    second = Text("三是干部队伍建设有差距。", LEFT, TOP + LINE_PITCH)
    # drawn bottom line first, and the end of the top line before its start
    page = one_page(second, first_line[1], first_line[0])
    assert page.split("\n") == [head + tail, "三是干部队伍建设有差距。"]


def test_ofd_layers_blocks_and_ctm_are_all_read_by_position() -> None:
    page = one_page(
        Text("第三行在前景层", LEFT, TOP + 2 * LINE_PITCH, layer="Foreground"),
        Text("第二行在页块里", LEFT, TOP + LINE_PITCH, in_block=True),
        Text("第一行经过变换矩阵", LEFT, TOP, scale=2.0),
        Text("背景层的页脚", LEFT, 280, layer="Background"),
    )
    assert page.split("\n") == ["第一行经过变换矩阵", "第二行在页块里", "第三行在前景层", "背景层的页脚"]


def test_ofd_seal_and_watermark_at_an_angle_stay_out_of_the_lines() -> None:
    body = [Text(line, LEFT, TOP + i * LINE_PITCH) for i, line in enumerate(REPORT[3:6])]
    watermark = Text("内部资料注意保密", LEFT + 10, TOP + 2, size=8, rotate=-35)
    seal = [Text(ch, LEFT + 30 + 6 * k, TOP + LINE_PITCH + 1, rotate=30 + 25 * k) for k, ch in enumerate("巡察办公室")]
    assert one_page(watermark, *body, *seal).split("\n") == REPORT[3:6]
    # a page of nothing but turned text (a landscape table) is still read
    assert one_page(Text("横排表格转了九十度", LEFT, TOP, rotate=90)) == "横排表格转了九十度"


def test_ofd_spaces_only_between_ascii_words_with_a_gap() -> None:
    size = BODY_SIZE
    hello = Text("Hello", LEFT, TOP)
    world = Text("World", LEFT + text_width("Hello") + size * 0.3, TOP)  # a word space
    abutting = Text("2023", LEFT + text_width("Hello") * 2 + size * 0.3, TOP)  # no gap: same word
    assert one_page(hello, world, abutting) == "Hello World2023"
    # CJK runs never get a space, not even across Word's CJK/Latin auto-spacing (a quarter em)
    left = Text("共发现问题", LEFT, TOP)
    number = Text("35", LEFT + text_width("共发现问题") + size * 0.25, TOP)
    unit = Text("个", LEFT + text_width("共发现问题35") + size * 0.5, TOP)
    assert one_page(unit, number, left) == "共发现问题35个"


def test_ofd_table_columns_far_apart_are_separated() -> None:
    cells = [Text("序号", LEFT, TOP), Text("问题", LEFT + 40, TOP), Text("整改情况", LEFT + 100, TOP)]
    assert one_page(*cells) == "序号 问题 整改情况"


def test_ofd_same_run_drawn_twice_for_bold_is_read_once() -> None:
    title = "巡察反馈情况通报"
    assert one_page(Text(title, LEFT, TOP), Text(title, LEFT + 0.2, TOP)) == title


def test_ofd_namespace_prefix_or_none_gives_the_same_text() -> None:
    texts = lay_out(REPORT)
    expected = extract_bytes(build_ofd(texts), "ofd.ofd").pages
    assert extract_bytes(build_ofd(texts, prefix="x"), "x.ofd").pages == expected
    assert extract_bytes(build_ofd(texts, prefix=None), "none.ofd").pages == expected


def test_ofd_paths_absolute_or_differently_cased() -> None:
    texts = lay_out(REPORT, lines_per_page=4)
    expected = extract_bytes(build_ofd(texts), "a.ofd").pages
    assert extract_bytes(build_ofd(texts, absolute_paths=True), "abs.ofd").pages == expected
    renamed = rezip(build_ofd(texts), {"Doc_0/Pages/Page_1/Content.xml": "doc_0/pages/page_1/content.XML"})
    assert extract_bytes(renamed, "case.ofd").pages == expected


def test_ofd_hand_written_content_quirks() -> None:
    """What producers write that the builder does not: a huge 'g' repeat, a TextCode continuing the
    previous one without X, no Size, a broken Boundary, vertical text, a comment in the layer."""
    ns = 'xmlns:ofd="http://www.ofdspec.org/2016"'
    content = (
        f'<?xml version="1.0" encoding="UTF-8"?><ofd:Page {ns}><ofd:Content><ofd:Layer ID="1">'
        "<!-- drawn by hand -->"
        '<ofd:TextObject ID="2" Boundary="20 20 100 10" Size="5">'
        '<ofd:TextCode X="0" Y="5" DeltaX="g 1000000000 5">巡察发现</ofd:TextCode>'
        '<ofd:TextCode DeltaX="5 5">的问题</ofd:TextCode></ofd:TextObject>'
        '<ofd:TextObject ID="3" Boundary="broken">'
        '<ofd:TextCode X="20" Y="60">没有字号也没有边框</ofd:TextCode></ofd:TextObject>'
        '<ofd:TextObject ID="4" Boundary="150 80 10 40" Size="5">'
        '<ofd:TextCode X="0" Y="5" DeltaY="g 3 5">竖排文字</ofd:TextCode></ofd:TextObject>'
        "</ofd:Layer></ofd:Content></ofd:Page>"
    )
    data = build_ofd([[]], overrides={"Doc_0/Pages/Page_0/Content.xml": content.encode()})
    assert extract_bytes(data, "hand.ofd").pages == ["巡察发现的问题\n没有字号也没有边框\n竖排文字"]


# ---------------------------------------------------------------- through the pipeline


def test_ofd_wrapped_sentence_is_one_finding(tmp_path: Path) -> None:
    path = make_ofd(tmp_path / "wrapped.ofd", [REPORT], wrap=20)
    extracted = extract_file(path)
    assert "一是落实全面从严治党主体责任不到位，党组" in extracted.pages[0].split("\n")  # really wrapped
    doc = analyze_file(path, tagger=None)
    texts = [squash(f.text) for f in doc.findings]
    assert any(t.startswith("一是落实全面从严治党主体责任不到位") and "次数偏少" in t for t in texts), texts
    assert any(t.startswith("二是财务管理不规范") and "超标准" in t for t in texts), texts


def test_ofd_traditional_gives_the_same_findings_as_simplified(tmp_path: Path) -> None:
    assert [len(p) for p in REPORT] == [len(p) for p in REPORT_TRADITIONAL]
    simplified = analyze_bytes(build_ofd(lay_out(REPORT, wrap=24)), "s.ofd", tagger=None)
    traditional = analyze_bytes(build_ofd(lay_out(REPORT_TRADITIONAL, wrap=24)), "t.ofd", tagger=None)
    assert len(simplified.findings) >= 3
    assert [(f.start, f.end, f.marker) for f in traditional.findings] == [
        (f.start, f.end, f.marker) for f in simplified.findings
    ]
    assert [analysis_form(f.text).text for f in traditional.findings] == [f.text for f in simplified.findings]
    assert "財務管理不規範" in traditional.findings[1].text  # shown as written


def test_ofd_of_real_texts_finds_what_the_plain_text_finds() -> None:
    """Each eval-dev-2 text laid out 30 characters a line, 28 lines a page with page numbers: the
    findings of its plain text (exact, or one containing the other) are found again in the OFD."""
    docs = sorted(EVAL_DOCS.glob("*.txt")) if EVAL_DOCS.is_dir() else []
    if not docs:
        pytest.skip(f"real texts not found at {EVAL_DOCS}")
    wanted = found = 0
    for path in docs:
        raw = path.read_bytes()
        body = raw.decode("utf-8").splitlines()[2:]  # lines 1-2 are the corpus' SOURCE/DATE notes
        plain = {squash(f.text) for f in analyze_bytes(raw, path.name, tagger=None).findings}
        ofd_doc = analyze_bytes(build_ofd(lay_out(body, lines_per_page=28, page_numbers=True)), path.stem, tagger=None)
        laid = {squash(f.text) for f in ofd_doc.findings}
        wanted += len(plain)
        found += sum(1 for p in plain if any(p == o or p in o or o in p for o in laid))
    assert wanted > 100
    print(f"OFD finds {found}/{wanted} = {found / wanted:.3f} of the plain-text findings")
    assert found / wanted >= 0.85, (found, wanted)


# ---------------------------------------------------------------- damaged packages and limits


def test_ofd_page_without_content_is_left_empty_and_listed() -> None:
    data = build_ofd(lay_out(REPORT, wrap=100, lines_per_page=3), omit=["Doc_0/Pages/Page_1/Content.xml"])
    extracted = extract_bytes(data, "gap.ofd")
    assert extracted.metadata == {"ofd_pages": 3, "ofd_missing_pages": [2]}
    assert extracted.pages[1] == ""
    assert lines(extracted.pages[0]) == REPORT[:3] and lines(extracted.pages[2]) == REPORT[6:]


def test_ofd_without_any_page_content_is_corrupt() -> None:
    data = build_ofd(lay_out(REPORT), omit=["Doc_0/Pages/Page_0/Content.xml"])
    with pytest.raises(CorruptOfdError) as info:
        extract_bytes(data, "nothing.ofd")
    assert "Content.xml" in info.value.message
    assert_chinese(info.value)


def test_ofd_without_text_is_empty_file() -> None:
    with pytest.raises(EmptyFileError):
        extract_bytes(build_ofd([[], []]), "blank.ofd")


@pytest.mark.parametrize(
    ("damage", "named"),
    [
        ("not_a_zip", "ZIP"),
        ("no_ofd_xml", "OFD.xml"),
        ("no_document_xml", "Document.xml"),
        ("no_doc_root", "DocRoot"),
        ("broken_document_xml", "Document.xml"),
        ("broken_page_xml", "Content.xml"),
        ("truncated_zip", ""),
    ],
)
def test_ofd_corrupt_package(damage: str, named: str) -> None:
    good = build_ofd(lay_out(REPORT))
    page = "Doc_0/Pages/Page_0/Content.xml"
    data = {
        "not_a_zip": lambda: b"this is not a zip at all",
        "no_ofd_xml": lambda: build_ofd(lay_out(REPORT), omit=["OFD.xml"]),
        "no_document_xml": lambda: build_ofd(lay_out(REPORT), omit=["Doc_0/Document.xml"]),
        "no_doc_root": lambda: build_ofd(lay_out(REPORT), overrides={"OFD.xml": b"<OFD><DocBody/></OFD>"}),
        "broken_document_xml": lambda: build_ofd(
            lay_out(REPORT), overrides={"Doc_0/Document.xml": b"<ofd:Document><Pages>"}
        ),
        "broken_page_xml": lambda: build_ofd(lay_out(REPORT), overrides={page: b"<Page><Content><Layer>"}),
        "truncated_zip": lambda: good[: len(good) // 2],
    }[damage]()
    with pytest.raises(CorruptOfdError) as info:
        extract_ofd(data, "broken.ofd")  # called directly: a non-ZIP never reaches it through sniffing
    assert info.value.code == "corrupt_ofd"
    assert named in info.value.message
    assert_chinese(info.value)


def test_ofd_xxe_is_refused_without_reading_the_file(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("机密内容SECRET", encoding="utf-8")
    document = (
        f'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file://{secret}">]>'
        '<ofd:Document xmlns:ofd="http://www.ofdspec.org/2016"><ofd:Pages>'
        '<ofd:Page ID="1" BaseLoc="Pages/Page_0/Content.xml"/></ofd:Pages><ofd:Title>&x;</ofd:Title></ofd:Document>'
    )
    data = build_ofd(lay_out(REPORT), overrides={"Doc_0/Document.xml": document.encode()})
    with pytest.raises(CorruptOfdError) as info:
        extract_bytes(data, "xxe.ofd")
    assert info.value.code == "corrupt_ofd"
    assert "DTD" in info.value.message and "SECRET" not in str(info.value)
    assert_chinese(info.value)


def test_ofd_billion_laughs_is_refused_quickly() -> None:
    entities = '<!ENTITY l0 "哈哈哈哈哈哈哈哈哈哈">' + "".join(
        f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10)
    )
    content = (
        f'<?xml version="1.0"?><!DOCTYPE Page [{entities}]><Page><Content><Layer>'
        '<TextObject Boundary="0 0 100 10" Size="5"><TextCode X="0" Y="5">&l9;</TextCode></TextObject>'
        "</Layer></Content></Page>"
    )
    data = build_ofd(lay_out(REPORT), overrides={"Doc_0/Pages/Page_0/Content.xml": content.encode()})
    started = time.perf_counter()
    with pytest.raises(CorruptOfdError) as info:
        extract_bytes(data, "laughs.ofd")
    assert time.perf_counter() - started < 2
    assert info.value.code == "corrupt_ofd"
    assert_chinese(info.value)


def test_ofd_zip_bomb_is_refused(tmp_path: Path) -> None:
    path = make_zip_bomb_ofd(tmp_path / "bomb.ofd")
    assert path.stat().st_size < 2 * 1024 * 1024
    assert sniff_media_type(path.read_bytes(), path.name) is MediaType.OFD
    with pytest.raises(OfdTooLargeError) as info:
        analyze_file(path)
    assert info.value.code == "ofd_too_large"
    assert "OFD" in info.value.message
    assert_chinese(info.value)


def test_ofd_page_and_object_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    data = build_ofd(lay_out(REPORT, lines_per_page=2))  # 4 pages of 2 objects
    monkeypatch.setattr(ofd, "MAX_PAGES", 3)
    with pytest.raises(OfdTooLargeError) as info:
        extract_bytes(data, "long.ofd")
    assert "页数" in info.value.message
    monkeypatch.setattr(ofd, "MAX_PAGES", 2000)
    monkeypatch.setattr(ofd, "MAX_TEXT_OBJECTS_PER_PAGE", 1)
    with pytest.raises(OfdTooLargeError) as info:
        extract_bytes(data, "dense.ofd")
    assert "文字对象" in info.value.message
    assert info.value.code == "ofd_too_large"


def test_ofd_header_template_is_read_once() -> None:
    """A template under 200 pages is parsed once, not 200 times."""
    data = build_ofd([[Text(f"第{n}页的正文", LEFT, TOP)] for n in range(200)], template=header_template("页眉"))
    started = time.perf_counter()
    extracted = extract_bytes(data, "many.ofd")
    assert time.perf_counter() - started < 3
    assert all(page.startswith("页眉\n") for page in extracted.pages)
    assert extracted.metadata["ofd_pages"] == 200
