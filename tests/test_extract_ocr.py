"""OCR of page images and scanned PDFs, on real inputs: report text rendered with the Noto CJK font and
degraded like a scan (0.8° skew, speckles, JPEG quality 55, 200 dpi), then read back.

Each OCR'd page costs seconds, so pages are rendered once per module and kept small (a half page of
text); the geometry of reading order is also tested without OCR, on boxes placed by hand.
"""

from __future__ import annotations

import io
import math
import sys
import threading
import warnings
from collections.abc import Callable
from difflib import SequenceMatcher
from pathlib import Path

import numpy as np
import pytest
from builders import make_scanned_pdf
from conftest import SHARED_DIR
from ocr_builders import (
    A4_MM,
    PageStyle,
    char_accuracy,
    cjk_font_path,
    comparable,
    degrade,
    fitted,
    image_bytes,
    mixed_pdf_bytes,
    render_page,
    report_body,
    scanned_pdf_bytes,
    tiff_bytes,
)
from PIL import Image

from nlp.errors import XunchaError
from nlp.extract import check_bytes, extract_bytes
from nlp.extract import ocr as ocr_module
from nlp.extract.ocr import check_image, extract_image, max_ocr_pages
from nlp.extract.pdf import PdfBackend, check_pdf, extract_pdf
from nlp.model import ExtractedText, MediaType, ReportDoc
from nlp.pipeline import analyze_bytes, analyze_extracted
from nlp.script import to_simplified

pytestmark = pytest.mark.skipif(cjk_font_path() is None, reason="Noto CJK font missing (apt install fonts-noto-cjk)")

DOCS = SHARED_DIR / "eval-dev-2" / "docs"
MIN_ACCURACY = 0.95
MIN_FINDING_RECALL = 0.85


# Used when ../shared is not there: a feedback notice of the same kind and length as the shared texts.
FALLBACK = [
    "根据县委统一部署，县委第三巡察组于2023年3月6日至4月28日对县农业农村局党组开展了常规巡察，"
    "并于6月12日召开巡察情况反馈会议，县委巡察办负责同志出席会议并讲话。",
    "巡察组指出，县农业农村局党组存在的主要问题是：一是落实全面从严治党主体责任不到位，党组会议研究"
    "党风廉政建设工作次数偏少；二是财务管理不规范，存在白条入账、公务接待超标准等问题。",
    "三是干部队伍建设有差距，年轻干部培养力度不够，部分岗位长期空缺；四是巡察整改工作滞后，上轮巡察"
    "反馈问题仍有3项未整改到位。",
    "针对上述问题，巡察组提出三点意见：一要提高政治站位，切实把思想和行动统一到县委部署要求上来；二要"
    "压实整改责任，建立问题清单、任务清单和责任清单；三要强化成果运用，以巡察整改推动各项工作提质增效。",
    "县农业农村局党组主要负责同志表示，诚恳接受巡察组反馈的意见，坚决抓好整改落实，按时报送整改情况。",
]


# Used when ../shared is not there: a Traditional-script mirror copy with pinyin glosses typed inside
# words, as eval-dev-2's copies have them.
TRADITIONAL_FALLBACK = [
    "反饋嚴(yán)肅指出了被巡察黨組織存在的問題：部分單位推動高質(zhì)量發(fā)展的成效不足，聚焦主責主業(yè)、"
    "履行核心職能存在差距，對下屬單位監(jiān)督管理不到位；部分單位履行全面從嚴治黨主體責任不到位，"
    "工程項目未嚴格履行招投標和政府採購程序，國有資產(chǎn)出租收益長期未收繳；部分單位執(zhí)行“三重一大”"
    "決策制度和幹部選拔任用相關(guān)規(guī)定不夠規(guī)範，對上一輪巡察發(fā)現(xiàn)的問題整改不徹底、不到位等。",
]


def _paragraphs(name: str) -> list[str]:
    """A real feedback text from the shared dev set (or FALLBACK when the set is absent)."""
    path = DOCS / name
    if path.is_file():
        return report_body(path).split("\n")
    return list(FALLBACK)


def _page(paragraphs: list[str], seed: int, style: PageStyle | None = None, extra_mm: float = 0.0, **marks: str) -> Image.Image:
    base = style or PageStyle(size_mm=(A4_MM[0], A4_MM[1]))
    return degrade(render_page(paragraphs, fitted(paragraphs, base, extra_mm=extra_mm), **marks), seed=seed)


class Progress:
    """Records every ``progress(done, total)`` call."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, int]] = []

    def __call__(self, done: int, total: int) -> None:
        self.calls.append((done, total))


def _expect(code: str, call: Callable[[], object]) -> XunchaError:
    with pytest.raises(XunchaError) as info:
        call()
    assert info.value.code == code, info.value
    assert info.value.message and not info.value.message.isascii()  # a Chinese message for the user
    return info.value


def _finding_recall(reference: ReportDoc, got: ReportDoc) -> float:
    """Share of the reference findings that OCR'd text also yields (a near-identical text: OCR may
    misread a character or two)."""
    found = [comparable(f.text) for f in got.findings]

    def matched(text: str) -> bool:
        return any(SequenceMatcher(None, text, o, autojunk=False).ratio() >= 0.8 for o in found)

    refs = [comparable(f.text) for f in reference.findings]
    assert refs, "the reference text has no findings: pick another"
    return sum(1 for r in refs if matched(r)) / len(refs)


# ---------------------------------------------------------------- fixtures: rendered pages, OCR'd once


@pytest.fixture(scope="module")
def png_case() -> tuple[list[str], bytes]:
    paragraphs = _paragraphs("12_pingyuan_health_units.txt")
    return paragraphs, image_bytes(_page(paragraphs, seed=1))


@pytest.fixture(scope="module")
def png_read(png_case: tuple[list[str], bytes]) -> tuple[ExtractedText, list[tuple[int, int]]]:
    progress = Progress()
    extracted = extract_image(png_case[1], "page.png", progress=progress)
    return extracted, progress.calls


@pytest.fixture(scope="module")
def tiff_case() -> tuple[list[str], bytes]:
    paragraphs = _paragraphs("09_tangyin_health_centers.txt")
    half = len(paragraphs) // 2
    # as scanners write them: one greyscale page, one bilevel (1 bit per pixel) page
    pages = [_page(paragraphs[:half], seed=2).convert("L"), _page(paragraphs[half:], seed=3).convert("1")]
    return paragraphs, tiff_bytes(pages)


@pytest.fixture(scope="module")
def masthead_case() -> tuple[list[str], ExtractedText]:
    paragraphs = _paragraphs("16_huaian_pulou_subdistrict.txt")[:1]
    image = _page(
        paragraphs,
        seed=4,
        style=PageStyle(),
        extra_mm=35,
        masthead="中共青石县委巡察工作领导小组",
        seal="红柳县委巡察工作办公室",
        page_number="— 2 —",
    )
    return paragraphs, extract_image(image_bytes(image), "masthead.png")


@pytest.fixture(scope="module")
def mixed_case() -> tuple[list[str], list[str], bytes]:
    paragraphs = _paragraphs("01_wudi_shejiazhen.txt")
    text_part, scanned_part = paragraphs[:2], paragraphs[2:]
    scan = _page(scanned_part, seed=5, style=PageStyle(), extra_mm=12, page_number="第 2 页")
    return text_part, scanned_part, mixed_pdf_bytes([text_part, scan])


def _blank_png() -> bytes:
    return image_bytes(degrade(Image.new("RGB", (900, 600), "white"), seed=9))


def _tiff_frames(count: int) -> bytes:
    return tiff_bytes([Image.new("RGB", (300, 200), "white") for _ in range(count)])


# ---------------------------------------------------------------- images


def test_ocr_png_page_reads_the_report_text(png_case: tuple[list[str], bytes], png_read: tuple[ExtractedText, list[tuple[int, int]]]) -> None:
    paragraphs, _ = png_case
    extracted, calls = png_read
    assert extracted.media_type is MediaType.IMAGE
    assert extracted.backend == "rapidocr"
    assert len(extracted.pages) == 1
    accuracy = char_accuracy("\n".join(paragraphs), extracted.pages[0])
    assert accuracy >= MIN_ACCURACY, (accuracy, extracted.pages[0])
    assert calls == [(1, 1)]


def test_ocr_lines_keep_page_position_and_score(png_read: tuple[ExtractedText, list[tuple[int, int]]]) -> None:
    extracted, _ = png_read
    text = extracted.pages[0]
    (lines,) = extracted.metadata["ocr_lines"]
    width, height = extracted.metadata["ocr_image_sizes"][0]
    assert len(lines) == text.count("\n") + 1 >= 10  # one record per physical line
    tops = []
    for line in lines:
        assert text[line["start"] : line["end"]].strip() and "\n" not in text[line["start"] : line["end"]]
        x0, y0, x1, y1 = line["box"]
        assert 0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height
        assert 0.5 <= line["score"] <= 1.0
        tops.append(y0)
    assert tops == sorted(tops)  # read top to bottom
    assert extracted.metadata["ocr_pages"] == [1]


def test_ocr_png_yields_the_findings_of_the_text(png_case: tuple[list[str], bytes]) -> None:
    paragraphs, png = png_case
    reference = analyze_bytes("\n".join(paragraphs).encode("utf-8"), "report.txt", tagger=None)
    got = analyze_bytes(png, "report.png", tagger=None)
    assert got.media_type is MediaType.IMAGE
    assert _finding_recall(reference, got) >= MIN_FINDING_RECALL


def test_ocr_multipage_tiff_yields_findings_on_their_pages(tiff_case: tuple[list[str], bytes]) -> None:
    paragraphs, tiff = tiff_case
    progress = Progress()
    got = analyze_bytes(tiff, "scan.tif", tagger=None, progress=progress)
    reference = analyze_bytes("\n".join(paragraphs).encode("utf-8"), "scan.txt", tagger=None)
    assert progress.calls == [(1, 2), (2, 2)]
    assert got.page_count == 2
    assert _finding_recall(reference, got) >= MIN_FINDING_RECALL
    assert {f.page for f in got.findings} == {1, 2}


def test_ocr_masthead_seal_and_page_number_are_kept_out(masthead_case: tuple[list[str], ExtractedText]) -> None:
    paragraphs, extracted = masthead_case
    text = extracted.pages[0]
    assert "青石" not in text and "领导小组文件" not in text  # the 红头
    assert "红柳" not in text and "办公室" not in text  # the seal
    assert not any(line.strip().strip("—-－ ") == "2" for line in text.split("\n"))  # "— 2 —"
    assert char_accuracy(paragraphs[0], text) >= MIN_ACCURACY  # ...and the lines under the seal are read
    dropped = extracted.metadata["ocr_dropped"]
    kinds = {d["kind"] for d in dropped}
    assert {"red_masthead", "red_seal"} <= kinds, dropped
    masthead = next(d for d in dropped if d["kind"] == "red_masthead")
    assert "青石" in masthead["text"] and masthead["page"] == 1
    assert masthead["box"][1] < extracted.metadata["ocr_lines"][0][0]["box"][1]  # above the first line


def test_ocr_two_column_page_is_read_column_by_column() -> None:
    paragraphs = _paragraphs("10_weibin_jiangnan_community.txt")
    style = PageStyle(size_mm=A4_MM, columns=2, font_pt=10.5)
    title = "关于巡察姜南社区的反馈情况"
    image = _page(paragraphs, seed=6, style=style, extra_mm=15, title=title)
    extracted = extract_image(image_bytes(image, "JPEG"), "columns.jpg")
    text = extracted.pages[0]
    assert text.split("\n")[0].startswith("关于巡察")  # the title across both columns comes first
    assert char_accuracy(title + "\n" + "\n".join(paragraphs), text) >= MIN_ACCURACY


def test_ocr_traditional_script_page_with_pinyin_glosses_is_read() -> None:
    """Mirror copies of notices reach the library in Traditional script, some with pinyin glosses
    typed inside words (區(qū)委, 嚴(yán)肅). PP-OCRv4 read such a page at 0.83 and lost half of its
    findings; PP-OCRv6 reads the characters and the tone marks. Drawn with the TC face, as the
    copies show it; the findings are compared with those of the same text read as .txt."""
    paragraphs = _traditional_paragraphs()
    text = "\n".join(paragraphs)
    assert sum(a != b for a, b in zip(text, to_simplified(text), strict=True)) > 0.1 * len(text)  # Traditional
    image = _page(paragraphs, seed=12, style=PageStyle(size_mm=A4_MM, face="TC"))
    extracted = extract_image(image_bytes(image, "JPEG"), "traditional.jpg")
    assert char_accuracy(text, extracted.pages[0]) >= MIN_ACCURACY
    assert "質(zhì)量" in extracted.pages[0].replace("（", "(").replace("）", ")")  # a gloss, tone mark and all
    reference = analyze_bytes(text.encode("utf-8"), "traditional.txt", tagger=None)
    assert _finding_recall(reference, analyze_extracted(extracted, None)) >= MIN_FINDING_RECALL


def _traditional_paragraphs() -> list[str]:
    """The findings paragraph of eval-dev-2's Traditional copy with glosses (or TRADITIONAL_FALLBACK)."""
    path = DOCS / "05_meixian_district_units.txt"
    if path.is_file():
        return [p for p in report_body(path).split("\n") if p.startswith("反饋嚴")][:1] or list(TRADITIONAL_FALLBACK)
    return list(TRADITIONAL_FALLBACK)


def test_ocr_large_photo_is_scaled_down_and_boxes_stay_in_its_pixels() -> None:
    paragraphs = _paragraphs("17_ningshan_poverty_inspection.txt")[:1]
    paragraphs = [paragraphs[0][:120]]
    style = PageStyle(dpi=400)  # an A5 page photographed at 400 dpi: 2331 x 3307 pixels
    image = degrade(render_page(paragraphs, style), seed=10)
    assert max(image.size) > ocr_module.MAX_OCR_SIDE
    extracted = extract_image(image_bytes(image, "JPEG"), "photo.jpg")
    assert char_accuracy(paragraphs[0], extracted.pages[0]) >= MIN_ACCURACY
    assert extracted.metadata["ocr_image_sizes"] == [list(image.size)]
    first = extracted.metadata["ocr_lines"][0][0]["box"]
    margin = 15 / 25.4 * 400  # the text starts at the 15 mm margin, in the photo's own pixels
    assert abs(first[1] - margin) < 40 and first[2] > image.width / 2


def test_ocr_runs_beside_other_pdf_work_in_threads(mixed_case: tuple[list[str], list[str], bytes]) -> None:
    """OCR holds no PDFium lock while it reads, and PDFium calls from another thread stay safe."""
    text_part, _, pdf = mixed_case
    text_pdf = mixed_pdf_bytes([text_part])
    expected = extract_pdf(text_pdf, "text.pdf").pages
    results: dict[str, object] = {}

    def scan() -> None:
        results["scan"] = extract_pdf(pdf, "mixed.pdf").pages

    def text() -> None:
        results["text"] = [extract_pdf(text_pdf, "text.pdf").pages for _ in range(30)]
        check_pdf(pdf, "mixed.pdf")

    threads = [threading.Thread(target=scan), threading.Thread(target=text)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert results["text"] == [expected] * 30
    scanned = results["scan"]
    assert isinstance(scanned, list) and scanned[0] == expected[0] and scanned[1].strip()


@pytest.mark.parametrize("turn", [90, 180, 270])
def test_ocr_page_scanned_sideways_or_upside_down_is_turned(turn: int) -> None:
    paragraphs = [_paragraphs("16_huaian_pulou_subdistrict.txt")[0][:90]]
    upright = _page(paragraphs, seed=11, style=PageStyle())
    image = upright.rotate(turn, expand=True)  # counter-clockwise, as a page fed the wrong way
    extracted = extract_image(image_bytes(image), "turned.png")
    assert char_accuracy(paragraphs[0], extracted.pages[0]) >= MIN_ACCURACY
    assert extracted.metadata["ocr_rotation"] == [(360 - turn) % 360]
    width, height = image.size
    for line in extracted.metadata["ocr_lines"][0]:  # boxes are given in the image as uploaded
        x0, y0, x1, y1 = line["box"]
        assert 0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height
        assert (y1 - y0 > x1 - x0) == (turn != 180)  # a sideways page's lines stand tall


def test_ocr_blank_image_is_no_text_found() -> None:
    png = _blank_png()
    _expect("no_text_found", lambda: extract_image(png, "blank.png"))
    _expect("no_text_found", lambda: extract_bytes(png, "blank.png"))


@pytest.mark.parametrize(
    "data",
    [
        b"\x89PNG\r\n\x1a\n" + bytes(200),
        b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(200),
        b"II*\x00" + bytes(64),
        b"BM" + bytes(100),
    ],
    ids=["png_zeros", "jpeg_zeros", "tiff_zeros", "bmp_zeros"],
)
def test_ocr_garbage_image_is_corrupt_image(data: bytes) -> None:
    _expect("corrupt_image", lambda: check_image(data, "bad.img"))
    _expect("corrupt_image", lambda: check_bytes(data, "bad.img"))
    _expect("corrupt_image", lambda: extract_bytes(data, "bad.img"))


def test_ocr_truncated_image_is_corrupt_image() -> None:
    whole = image_bytes(degrade(Image.new("RGB", (800, 600), "white"), seed=1))
    cut = whole[: len(whole) // 2]
    _expect("corrupt_image", lambda: check_image(cut, "cut.png"))
    _expect("corrupt_image", lambda: extract_image(cut, "cut.png"))


@pytest.mark.parametrize("side", [9_000, 12_000], ids=["over_our_limit", "over_pillow_warning"])
def test_ocr_decompression_bomb_is_refused_without_pillow_warning(side: int) -> None:
    buffer = io.BytesIO()
    Image.new("1", (side, side), 1).save(buffer, "PNG")  # 81 or 144 MP in a few kilobytes
    bomb = buffer.getvalue()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        error = _expect("file_too_large", lambda: check_image(bomb, "bomb.png"))
        _expect("file_too_large", lambda: extract_image(bomb, "bomb.png"))
    assert "像素" in error.message


def test_ocr_image_page_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XUNCHA_MAX_OCR_PAGES", "2")
    monkeypatch.setattr(ocr_module, "ocr_image", _no_ocr)
    check_image(_tiff_frames(2), "two.tif")  # at the limit: accepted
    three = _tiff_frames(3)
    error = _expect("ocr_page_limit", lambda: check_image(three, "three.tif"))
    assert "3" in error.message and "2" in error.message
    _expect("ocr_page_limit", lambda: extract_image(three, "three.tif"))
    _expect("ocr_page_limit", lambda: check_bytes(three, "three.tif"))


def test_ocr_check_image_accepts_good_images(png_case: tuple[list[str], bytes]) -> None:
    assert check_bytes(png_case[1], "page.png") is MediaType.IMAGE
    check_image(_tiff_frames(2), "two.tif")
    rgba = Image.new("RGBA", (200, 100), (0, 0, 0, 0))
    check_image(image_bytes(rgba), "transparent.png")


def test_ocr_page_limit_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("XUNCHA_MAX_OCR_PAGES", raising=False)
    assert max_ocr_pages() == 50
    monkeypatch.setenv("XUNCHA_MAX_OCR_PAGES", "7")
    assert max_ocr_pages() == 7
    monkeypatch.setenv("XUNCHA_MAX_OCR_PAGES", "many")
    assert max_ocr_pages() == 50


def test_ocr_transparent_and_rotated_images_decode_upright_on_white() -> None:
    rgba = Image.new("RGBA", (40, 20), (0, 0, 0, 0))
    assert ocr_module._to_rgb(rgba).min() == 255  # transparent is paper, not black
    photo = Image.new("RGB", (60, 20), "white")
    exif = photo.getexif()
    exif[0x0112] = 6  # EXIF orientation: rotate 90° to display
    buffer = io.BytesIO()
    photo.save(buffer, "JPEG", exif=exif.tobytes())
    assert ocr_module._to_rgb(Image.open(buffer)).shape[:2] == (60, 20)


def test_ocr_backend_missing_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ocr_module, "_engine", None)
    monkeypatch.setitem(sys.modules, "rapidocr", None)  # import now fails
    error = _expect("backend_unavailable", lambda: ocr_module._get_engine())
    assert "pip install rapidocr onnxruntime" in error.message
    monkeypatch.setattr(ocr_module.importlib.util, "find_spec", lambda name: None)
    error = _expect("backend_unavailable", lambda: check_image(_tiff_frames(1), "one.tif"))
    assert "rapidocr" in error.message


def test_ocr_engine_loads_the_bundled_models_and_never_downloads(monkeypatch: pytest.MonkeyPatch) -> None:
    """The models are files of the rapidocr wheel, given to it by path: with every download made
    impossible a fresh engine still loads and reads. A missing model file is a clear error, never
    rapidocr's own fetch (which would hang on an offline machine)."""
    import rapidocr.utils.download_file as download_file

    def no_download(*args: object, **kwargs: object) -> None:
        raise AssertionError("the OCR engine tried to download a model")

    monkeypatch.setattr(download_file.DownloadFile, "run", classmethod(no_download))
    monkeypatch.setattr(download_file.requests, "get", no_download)
    det, rec, cls = ocr_module.model_paths()
    assert det.name == "PP-OCRv6_det_small.onnx" and rec.name == "PP-OCRv6_rec_small.onnx"
    assert all(p.is_file() and p.parent.parent.name == "rapidocr" for p in (det, rec, cls))
    monkeypatch.setattr(ocr_module, "_engine", None)
    engine = ocr_module._get_engine()
    assert (engine.cfg.Det.model_path, engine.cfg.Rec.model_path, engine.cfg.Cls.model_path) == (str(det), str(rec), str(cls))
    line = render_page(["巡察发现问题整改不到位"], PageStyle(size_mm=(90.0, 30.0), margin_mm=5.0))
    assert ocr_module.ocr_image(np.asarray(line)).text == "巡察发现问题整改不到位"

    monkeypatch.setattr(ocr_module, "_engine", None)
    monkeypatch.setattr(ocr_module, "model_paths", lambda: (det, det.parent / "missing_rec.onnx", cls))
    error = _expect("backend_unavailable", lambda: ocr_module._get_engine())
    assert "missing_rec.onnx" in error.message


def _no_ocr(*args: object, **kwargs: object) -> None:
    raise AssertionError("OCR must not run once the page limit is exceeded")


# ---------------------------------------------------------------- PDF


def test_ocr_scanned_pdf_yields_text() -> None:
    paragraphs = _paragraphs("17_ningshan_poverty_inspection.txt")
    pdf = scanned_pdf_bytes([_page(paragraphs, seed=7, style=PageStyle())])
    check_pdf(pdf, "scan.pdf")  # a scan is no longer refused at upload
    progress = Progress()
    extracted = extract_bytes(pdf, "scan.pdf", progress=progress)
    assert extracted.media_type is MediaType.PDF
    assert extracted.backend == "pdfium+rapidocr"
    assert extracted.metadata["ocr_pages"] == [1]
    assert extracted.metadata["ocr_dpi"] == [200]
    assert progress.calls == [(1, 1)]
    assert char_accuracy("\n".join(paragraphs), extracted.pages[0]) >= MIN_ACCURACY


def test_ocr_mixed_pdf_keeps_text_page_and_reads_the_scan(mixed_case: tuple[list[str], list[str], bytes]) -> None:
    text_part, scanned_part, pdf = mixed_case
    text_only = extract_pdf(mixed_pdf_bytes([text_part]), "text.pdf")
    progress = Progress()
    extracted = extract_pdf(pdf, "mixed.pdf", progress=progress)
    assert extracted.pages[0] == text_only.pages[0]  # the text layer, exactly
    assert extracted.metadata["ocr_pages"] == [2]
    assert extracted.metadata["pages_without_text"] == [2]
    assert extracted.metadata["ocr_lines"][0] == [] and extracted.metadata["ocr_lines"][1]
    assert extracted.metadata["ocr_dpi"] == [None, 200]
    assert progress.calls == [(1, 1)]
    assert char_accuracy("\n".join(scanned_part), extracted.pages[1]) >= MIN_ACCURACY
    assert "页" not in extracted.pages[1].split("\n")[-1]  # "第 2 页" at the bottom is not text
    numbers = [d for d in extracted.metadata["ocr_dropped"] if d["kind"] == "page_number"]
    assert numbers and numbers[0]["page"] == 2


@pytest.mark.parametrize("backend", list(PdfBackend))
def test_ocr_scanned_pdf_without_writing_is_no_text_found(backend: PdfBackend) -> None:
    pdf = scanned_pdf_bytes([degrade(Image.new("RGB", (900, 600), "white"), seed=8)] * 2)
    check_pdf(pdf, "blank.pdf")
    error = _expect("no_text_found", lambda: extract_pdf(pdf, "blank.pdf", backend))
    assert "共 2 页" in error.message


def test_ocr_pdf_page_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pdf = make_scanned_pdf(tmp_path / "scan3.pdf", pages=3).read_bytes()
    monkeypatch.setattr(ocr_module, "ocr_image", _no_ocr)
    monkeypatch.setenv("XUNCHA_MAX_OCR_PAGES", "2")
    error = _expect("ocr_page_limit", lambda: check_pdf(pdf, "scan3.pdf"))
    assert "3" in error.message
    _expect("ocr_page_limit", lambda: check_bytes(pdf, "scan3.pdf"))
    _expect("ocr_page_limit", lambda: extract_pdf(pdf, "scan3.pdf", PdfBackend.PDFIUM))
    _expect("ocr_page_limit", lambda: extract_pdf(pdf, "scan3.pdf", PdfBackend.PDFPLUMBER))
    monkeypatch.setenv("XUNCHA_MAX_OCR_PAGES", "3")
    check_pdf(pdf, "scan3.pdf")


# ---------------------------------------------------------------- reading order, without OCR


def _box(x0: float, y0: float, x1: float, y1: float, text: str, angle_deg: float = 0.0) -> ocr_module._Box:
    points = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.float64)
    if angle_deg:
        a = math.radians(angle_deg)
        rotation = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
        points = (points - (800, 1100)) @ rotation.T + (800, 1100)
    return ocr_module._Box(points, text, 0.99)


def _layout(monkeypatch: pytest.MonkeyPatch, boxes: list[ocr_module._Box], size: tuple[int, int] = (1600, 2200)):
    """OCR a blank page whose engine 'reads' exactly ``boxes`` (the geometry code runs for real)."""
    monkeypatch.setattr(ocr_module, "_read", lambda rgb: (list(boxes), ocr_module._Shapes(wide=len(boxes))))
    return ocr_module.ocr_image(np.full((size[1], size[0], 3), 255, dtype=np.uint8))


@pytest.mark.parametrize("skew", [0.0, 1.2])
def test_layout_two_columns_with_a_title(monkeypatch: pytest.MonkeyPatch, skew: float) -> None:
    boxes = [_box(450, 150, 1150, 210, "关于巡察情况的通报", skew)]
    for k in range(6):
        y = 300 + k * 60
        boxes.append(_box(850, y, 1500, y + 40, f"右栏第{k + 1}行文字内容较长", skew))
        boxes.append(_box(100, y, 750, y + 40, f"左栏第{k + 1}行文字内容较长", skew))
    lines = _layout(monkeypatch, boxes).text.split("\n")
    assert lines[0] == "关于巡察情况的通报"
    assert lines[1:7] == [f"左栏第{k}行文字内容较长" for k in range(1, 7)]
    assert lines[7:] == [f"右栏第{k}行文字内容较长" for k in range(1, 7)]


def test_layout_single_column_with_short_lines_and_signature(monkeypatch: pytest.MonkeyPatch) -> None:
    rows = [
        (100, 1500, "一是落实全面从严治党主体责任不到位，党组会议研究党风廉政建设"),
        (100, 500, "工作次数偏少。"),
        (100, 1500, "二是财务管理不规范，存在白条入账、公务接待超标准等问题，上轮巡察"),
        (100, 700, "反馈问题仍有3项未整改。"),
        (1000, 1500, "县委第二巡察组"),
        (1000, 1500, "2023年6月10日"),
    ]
    boxes = [_box(x0, 300 + k * 60, x1, 340 + k * 60, text, 0.8) for k, (x0, x1, text) in enumerate(rows)]
    assert _layout(monkeypatch, boxes).text.split("\n") == [text for _, _, text in rows]


def test_layout_boxes_of_one_skewed_line_are_joined(monkeypatch: pytest.MonkeyPatch) -> None:
    boxes = [
        _box(100, 300, 700, 340, "姓名", 1.5),
        _box(1000, 300, 1500, 340, "职务", 1.5),
        _box(100, 360, 700, 400, "张三", 1.5),
        _box(1000, 360, 1500, 400, "支部书记", 1.5),
        _box(100, 420, 700, 460, "李四", 1.5),
        _box(1000, 420, 1500, 460, "委员", 1.5),
    ]
    assert _layout(monkeypatch, boxes).text.split("\n") == ["姓名 职务", "张三 支部书记", "李四 委员"]


def test_layout_page_numbers_are_dropped_at_the_edges_only(monkeypatch: pytest.MonkeyPatch) -> None:
    boxes = [
        _box(700, 60, 900, 100, "3/10"),
        _box(100, 300, 1500, 340, "巡察发现，该单位存在以下问题："),
        _box(700, 400, 900, 440, "2023"),
        _box(100, 500, 1500, 540, "一是党建工作不到位。"),
        _box(700, 2100, 900, 2140, "— 3 —"),
    ]
    page = _layout(monkeypatch, boxes)
    assert page.text.split("\n") == ["巡察发现，该单位存在以下问题：", "2023", "一是党建工作不到位。"]
    assert sorted(d["text"] for d in page.dropped) == ["3/10", "— 3 —"]
    assert {d["kind"] for d in page.dropped} == {"page_number"}
    assert [line["start"] for line in page.lines] == [0, 16, 21]
