"""Every bad input gets a typed error with a stable code; the CLI prints one line per bad file."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from builders import (
    make_docx,
    make_encrypted_pdf,
    make_pdf,
    make_scanned_pdf,
    make_zip_bomb_docx,
    write_text,
)
from conftest import REPORT_PAGES, REPORT_TEXT

from nlp.errors import (
    CorruptDocxError,
    CorruptPdfError,
    DocxTooLargeError,
    EmptyFileError,
    EncryptedPdfError,
    ExtractionError,
    FileTooLargeError,
    NoTextFoundError,
    SourceNotFoundError,
    UnknownEncodingError,
    UnsupportedTypeError,
    XunchaError,
)
from nlp.extract import PdfBackend, extract_bytes, extract_file, read_source
from nlp.pipeline import analyze_file

BACKENDS = list(PdfBackend)


def _good_pdf_bytes(tmp_path: Path) -> bytes:
    return make_pdf(tmp_path / "source.pdf", REPORT_PAGES).read_bytes()


def _zip_bytes(members: dict[str, bytes | str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, body in members.items():
            zf.writestr(name, body)
    return buf.getvalue()


# ---------------------------------------------------------------- PDF


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("damage", ["truncated_half", "truncated_head", "garbage_after_header", "header_only"])
def test_bad_input_corrupt_pdf(tmp_path: Path, backend: PdfBackend, damage: str) -> None:
    good = _good_pdf_bytes(tmp_path)
    data = {
        "truncated_half": good[: len(good) // 2],
        "truncated_head": good[:400],
        "garbage_after_header": b"%PDF-1.7\n" + bytes(range(256)) * 16,
        "header_only": b"%PDF-1.4\n",
    }[damage]
    path = tmp_path / "broken.pdf"
    path.write_bytes(data)
    with pytest.raises(CorruptPdfError) as info:
        analyze_file(path, pdf_backend=backend)
    assert info.value.code == "corrupt_pdf"
    assert info.value.source == str(path)
    # the reason is Chinese: no English from PDFium ("Data format error") or pdfminer's exception names
    assert info.value.message.startswith("PDF 文件已损坏") and not re.search(r"[A-Za-z]{3,}", info.value.message.replace("PDF", "")), info.value.message


@pytest.mark.parametrize("backend", BACKENDS)
def test_bad_input_encrypted_pdf(tmp_path: Path, backend: PdfBackend) -> None:
    path = make_encrypted_pdf(tmp_path / "locked.pdf")
    with pytest.raises(EncryptedPdfError) as info:
        analyze_file(path, pdf_backend=backend)
    assert info.value.code == "encrypted_pdf"
    assert info.value.message == "PDF 文件已加密，请先解除密码保护"


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("pages", [1, 3])
def test_bad_input_scan_with_no_writing_on_it(tmp_path: Path, backend: PdfBackend, pages: int) -> None:
    """A PDF of pictures and grey bars has no text layer: its pages are OCR'd (a scan is read, not
    refused), and when OCR reads nothing the error says so."""
    path = make_scanned_pdf(tmp_path / "scan.pdf", pages=pages)
    with pytest.raises(NoTextFoundError) as info:
        analyze_file(path, pdf_backend=backend)
    assert info.value.code == "no_text_found"
    assert "文字" in info.value.message


BROKEN_READABLE: dict[str, tuple[bytes, str]] = {
    # formats xuncha reads, with bytes that are not one: refused with the format's own error
    "png_header_then_zeros": (b"\x89PNG\r\n\x1a\n" + bytes(200), "corrupt_image"),
    "jpeg_header_then_zeros": (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(200), "corrupt_image"),
    "ole2_header_then_zeros": (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(1024), "conversion_failed"),
}


@pytest.mark.parametrize("kind", list(BROKEN_READABLE))
def test_bad_input_broken_image_or_office_file(tmp_path: Path, kind: str) -> None:
    data, code = BROKEN_READABLE[kind]
    path = tmp_path / "report.pdf"  # the name is no hint: the bytes decide
    path.write_bytes(data)
    with pytest.raises(ExtractionError) as info:
        analyze_file(path)
    assert info.value.code == code, info.value
    assert re.search(r"[\u4e00-\u9fff]", info.value.message)


# ---------------------------------------------------------------- empty / encoding / size


@pytest.mark.parametrize(
    "data",
    [b"", b"   ", b" \t\r\n \n", b"\xef\xbb\xbf", b"\xef\xbb\xbf \r\n", "\ufeff \n\t".encode("utf-16-le"), b"\x00\x00"],
    ids=["zero_bytes", "spaces", "ascii_whitespace", "bom_only", "bom_whitespace", "utf16_whitespace", "nuls"],
)
def test_bad_input_empty_file(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "empty.txt"
    path.write_bytes(data)
    with pytest.raises(EmptyFileError) as info:
        analyze_file(path)
    assert info.value.code == "empty_file"


@pytest.mark.parametrize(
    ("text", "encoding"),
    [("\u3000\u3000\n\u3000", "utf-8"), ("\u3000\u3000\r\n\u3000\n", "gbk"), ("\u00a0\u00a0\n", "utf-8")],
    ids=["ideographic_utf8", "ideographic_gbk", "nbsp_utf8"],
)
def test_bad_input_unicode_whitespace_only_is_empty(tmp_path: Path, text: str, encoding: str) -> None:
    path = write_text(tmp_path / "blank.txt", text, encoding)
    with pytest.raises(EmptyFileError) as info:
        analyze_file(path)
    assert info.value.code == "empty_file"


@pytest.mark.parametrize("kind", ["docx_no_paragraphs", "docx_blank_paragraphs", "html_empty_body"])
def test_bad_input_document_without_text_is_empty(tmp_path: Path, kind: str) -> None:
    if kind == "docx_no_paragraphs":
        path = make_docx(tmp_path / "empty.docx", [])
    elif kind == "docx_blank_paragraphs":
        path = make_docx(tmp_path / "blank.docx", ["  ", "\u3000", ""])
    else:
        path = tmp_path / "empty.html"
        path.write_bytes(b"<html><head><title></title><script>var a = 1;</script></head><body> </body></html>")
    with pytest.raises(EmptyFileError) as info:
        analyze_file(path)
    assert info.value.code == "empty_file"


@pytest.mark.parametrize(
    "data",
    [
        "巡察发现问题".encode() + b"\x80\xff\x80\xff abc \xff\xfe\x80",
        b"abc def \x80\x81\xff\xff\xff\xfe\x80 ghi" * 10,
        "café résumé naïve déjà vu".encode("latin-1") * 5,
    ],
    ids=["utf8_with_stray_bytes", "ascii_with_high_bytes", "latin1"],
)
def test_bad_input_unknown_encoding(tmp_path: Path, data: bytes) -> None:
    for encoding in ("utf-8", "gb18030"):
        with pytest.raises(UnicodeDecodeError):
            data.decode(encoding)
    path = tmp_path / "odd.txt"
    path.write_bytes(data)
    with pytest.raises(UnknownEncodingError) as info:
        analyze_file(path)
    assert info.value.code == "unknown_encoding"


def test_bad_input_oversize_refused_before_reading(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "huge.txt"
    with path.open("wb") as fh:  # sparse: 64 MB on paper, nothing on disk
        fh.truncate(64 * 1024 * 1024)

    def no_reading(self: Path) -> bytes:
        raise AssertionError(f"{self} was read before its size was checked")

    monkeypatch.setattr(Path, "read_bytes", no_reading)
    with pytest.raises(FileTooLargeError) as info:
        read_source(path, max_bytes=1024)
    assert info.value.code == "file_too_large"
    with pytest.raises(FileTooLargeError):
        analyze_file(path, max_bytes=1024)
    with pytest.raises(FileTooLargeError):
        extract_file(path)  # default limit, 50 MB


def test_bad_input_oversize_limit_is_inclusive(tmp_path: Path) -> None:
    path = write_text(tmp_path / "report.txt", REPORT_TEXT, "utf-8")
    size = path.stat().st_size
    assert read_source(path, max_bytes=size) == path.read_bytes()
    with pytest.raises(FileTooLargeError) as info:
        read_source(path, max_bytes=size - 1)
    assert info.value.code == "file_too_large"
    with pytest.raises(FileTooLargeError):
        extract_bytes(path.read_bytes(), "report.txt", max_bytes=size - 1)


def test_bad_input_oversize_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_text(tmp_path / "report.txt", REPORT_TEXT * 4, "utf-8")
    monkeypatch.setenv("XUNCHA_MAX_FILE_MB", "0.001")
    with pytest.raises(FileTooLargeError) as info:
        analyze_file(path)
    assert info.value.code == "file_too_large"


# ---------------------------------------------------------------- unsupported types


UNSUPPORTED: dict[str, bytes] = {
    "xlsx": _zip_bytes({"[Content_Types].xml": "<Types/>", "xl/workbook.xml": "<workbook/>"}),
    "pptx": _zip_bytes({"[Content_Types].xml": "<Types/>", "ppt/presentation.xml": "<p/>"}),
    "plain_zip": _zip_bytes({"readme.txt": "巡察报告", "data/a.csv": "a,b"}),
    "elf": b"\x7fELF\x02\x01\x01\x00" + bytes(300),
    "exe": b"MZ\x90\x00\x03" + bytes(300),
    "gzip": b"\x1f\x8b\x08\x00" + bytes(100),
    "binary_junk": bytes(range(32)) * 20,
}


@pytest.mark.parametrize("name", ["report.pdf", "report.docx", "report.txt"])
@pytest.mark.parametrize("kind", list(UNSUPPORTED))
def test_bad_input_unsupported_type(tmp_path: Path, kind: str, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(UNSUPPORTED[kind])
    with pytest.raises(UnsupportedTypeError) as info:
        analyze_file(path)
    assert info.value.code == "unsupported_type"
    assert info.value.message.startswith("不支持的文件类型")


# ---------------------------------------------------------------- DOCX


def _docx_with(tmp_path: Path, replace: dict[str, bytes | None]) -> bytes:
    good = make_docx(tmp_path / "source.docx", ["一是党建工作不到位。"]).read_bytes()
    src = zipfile.ZipFile(io.BytesIO(good))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for info in src.infolist():
            if info.filename in replace:
                if replace[info.filename] is not None:
                    zf.writestr(info.filename, replace[info.filename])  # type: ignore[arg-type]
            else:
                zf.writestr(info, src.read(info))
    return buf.getvalue()


@pytest.mark.parametrize(
    "damage", ["truncated_zip", "broken_document_xml", "no_content_types", "zip_header_garbage"]
)
def test_bad_input_corrupt_docx(tmp_path: Path, damage: str) -> None:
    if damage == "truncated_zip":
        good = make_docx(tmp_path / "source.docx", ["一是党建工作不到位。"]).read_bytes()
        data = good[: len(good) // 2]
    elif damage == "broken_document_xml":
        data = _docx_with(tmp_path, {"word/document.xml": b"<w:document><w:body><w:p>broken"})
    elif damage == "no_content_types":
        data = _docx_with(tmp_path, {"[Content_Types].xml": None})
    else:
        data = b"PK\x03\x04" + bytes(range(256)) * 4
    path = tmp_path / "broken.docx"
    path.write_bytes(data)
    with pytest.raises(CorruptDocxError) as info:
        analyze_file(path)
    assert info.value.code == "corrupt_docx"


def test_bad_input_zip_bomb_docx(tmp_path: Path) -> None:
    path = make_zip_bomb_docx(tmp_path / "bomb.docx")
    assert path.stat().st_size < 2 * 1024 * 1024
    with pytest.raises(DocxTooLargeError) as info:
        analyze_file(path)
    assert info.value.code == "docx_too_large"


# ---------------------------------------------------------------- missing / not a file


def test_bad_input_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope" / "report.pdf"
    with pytest.raises(SourceNotFoundError) as info:
        analyze_file(path)
    assert info.value.code == "file_not_found"
    assert info.value.source == str(path)


def test_bad_input_directory(tmp_path: Path) -> None:
    with pytest.raises(ExtractionError) as info:
        analyze_file(tmp_path)
    assert info.value.code == "extraction_failed"


def test_bad_input_errors_are_xuncha_errors_with_codes() -> None:
    from nlp import errors

    classes = (
        SourceNotFoundError, EmptyFileError, FileTooLargeError, UnsupportedTypeError, UnknownEncodingError,
        CorruptPdfError, EncryptedPdfError, NoTextFoundError, CorruptDocxError, DocxTooLargeError,
        errors.CorruptOfdError, errors.OfdTooLargeError, errors.CorruptImageError, errors.OcrPageLimitError,
        errors.ConverterMissingError, errors.ConversionFailedError, errors.ConversionTimeoutError, errors.TextTooLongError,
    )
    codes = {cls.code for cls in classes}
    assert len(codes) == len(classes)  # every code distinct
    assert all(re.search(r"[\u4e00-\u9fff]", cls.default_message) for cls in classes)
    assert all(issubclass(c, XunchaError) for c in (ExtractionError, SourceNotFoundError, DocxTooLargeError))
    assert str(EncryptedPdfError(source="a.pdf")) == "a.pdf: [encrypted_pdf] PDF 文件已加密，请先解除密码保护"


# ---------------------------------------------------------------- CLI


def run_cli(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The real command in a subprocess, so stdout and stderr are truly separate streams."""
    env = {**os.environ, "PYTHONIOENCODING": "utf-8", "NO_COLOR": "1", "COLUMNS": "80"}
    env.pop("XUNCHA_MAX_FILE_MB", None)
    return subprocess.run(
        [sys.executable, "-m", "service", *map(str, args)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=60,
    )


@pytest.fixture
def batch(tmp_path: Path) -> list[Path]:
    return [
        write_text(tmp_path / "good.txt", REPORT_TEXT, "gbk"),
        make_encrypted_pdf(tmp_path / "encrypted.pdf"),
        make_scanned_pdf(tmp_path / "scanned.pdf"),
        make_docx(tmp_path / "good.docx", [p for page in REPORT_PAGES for p in page]),
    ]


def test_bad_input_cli_batch_json(tmp_path: Path, batch: list[Path]) -> None:
    result = run_cli("analyze", "--format", "json", *batch, cwd=tmp_path)
    assert result.returncode == 1
    out = json.loads(result.stdout)
    assert [item["source"] for item in out] == [str(p) for p in batch]
    good_txt, encrypted, scanned, good_docx = out
    for good in (good_txt, good_docx):
        assert "error" not in good
        assert len(good["findings"]) >= 4
    assert encrypted == {
        "source": str(batch[1]),
        "error": {"code": "encrypted_pdf", "message": "PDF 文件已加密，请先解除密码保护"},
    }
    assert set(scanned) == {"source", "error"}
    assert scanned["error"]["code"] == "no_text_found"  # OCR'd, and nothing written on it

    lines = result.stderr.splitlines()
    assert len(lines) == 2, result.stderr
    assert "[encrypted_pdf]" in lines[0] and str(batch[1]) in lines[0]
    assert "[no_text_found]" in lines[1] and str(batch[2]) in lines[1]
    assert "Traceback" not in result.stderr


def test_bad_input_cli_all_good_exit_zero(tmp_path: Path, batch: list[Path]) -> None:
    good = [batch[0], batch[3]]
    result = run_cli("analyze", "--format", "json", "--no-text", *good, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    out = json.loads(result.stdout)
    assert [item["source"] for item in out] == [str(p) for p in good]
    assert all("text" not in item for item in out)


def test_bad_input_cli_every_error_one_line(tmp_path: Path) -> None:
    files = {
        "missing.txt": None,
        "empty.txt": b"",
        "picture.pdf": BROKEN_READABLE["png_header_then_zeros"][0],
        "broken.pdf": b"%PDF-1.4\n",
        "bomb.docx": None,
        "odd.txt": "巡察".encode() + b"\x80\xff\x80\xff",
    }
    paths = []
    for name, data in files.items():
        path = tmp_path / name
        if name == "bomb.docx":
            make_zip_bomb_docx(path)
        elif data is not None:
            path.write_bytes(data)
        paths.append(path)
    result = run_cli("analyze", "--format", "json", *paths, cwd=tmp_path)
    assert result.returncode == 1
    codes = ["file_not_found", "empty_file", "corrupt_image", "corrupt_pdf", "docx_too_large", "unknown_encoding"]
    assert [item["error"]["code"] for item in json.loads(result.stdout)] == codes
    lines = result.stderr.splitlines()
    assert len(lines) == len(codes), result.stderr
    for line, code, path in zip(lines, codes, paths, strict=True):
        assert f"[{code}]" in line and str(path) in line
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("fmt", ["json", "table"])
def test_bad_input_cli_max_size(tmp_path: Path, fmt: str) -> None:
    path = write_text(tmp_path / "report.txt", REPORT_TEXT * 4, "utf-8")
    assert path.stat().st_size > 0.001 * 1024 * 1024
    result = run_cli("analyze", "--format", fmt, "--max-size-mb", "0.001", path, cwd=tmp_path)
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "[file_too_large]" in lines[0]
    if fmt == "json":
        assert json.loads(result.stdout)[0]["error"]["code"] == "file_too_large"
    else:
        assert "共分析 0/1 个文件" in result.stdout


def test_bad_input_docx_of_200k_tiny_paragraphs_is_refused_at_once(tmp_path: Path) -> None:
    """265k one-character paragraphs held an upload worker for minutes at 2.4 GB; counted on the raw
    XML, they are refused in well under a second, before python-docx parses anything."""
    import time

    from builders import make_paragraph_flood_docx

    path = make_paragraph_flood_docx(tmp_path / "flood.docx")
    assert path.stat().st_size < 2 * 1024 * 1024
    started = time.monotonic()
    with pytest.raises(DocxTooLargeError) as info:
        analyze_file(path)
    assert time.monotonic() - started < 2.0
    assert info.value.code == "docx_too_large" and "段落" in info.value.message
    normal = make_paragraph_flood_docx(tmp_path / "long.docx", paragraphs=5_000)  # a long report passes
    assert analyze_file(normal).text.count("字") == 5_000


def test_bad_input_more_text_than_a_report_holds_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "long.txt"
    filler = "会议强调，要切实提高政治站位，以实际成效检验巡察成果。\n" * 400  # not findings: nothing to embed
    path.write_text(filler + "巡察发现党建工作不到位的问题。\n", encoding="utf-8")
    monkeypatch.setenv("XUNCHA_MAX_TEXT_CHARS", "10000")
    with pytest.raises(ExtractionError) as info:
        analyze_file(path)
    assert info.value.code == "text_too_long" and "上限" in info.value.message
    monkeypatch.setenv("XUNCHA_MAX_TEXT_CHARS", "100000")
    assert analyze_file(path).findings
