"""Stage 1, extract: bytes of a report file -> ExtractedText, whatever the format.

The type comes from the content (see ``sniff``); the size limit is checked before anything is parsed.
Formats: PDF (text layer, and OCR for pages without one), DOCX, OFD, images (OCR), Word 97 .doc /
WPS / RTF (converted by LibreOffice), HTML and plain text in any Chinese encoding.

Two entry points: ``extract_bytes`` does the whole work (OCR and conversion included, seconds a
page: run it in the background job), ``check_bytes`` only what answers an uploader at once (type,
structure, page limits) without the slow steps.
"""

from __future__ import annotations

import os
from pathlib import Path

from nlp.errors import (
    EmptyFileError,
    ExtractionError,
    FileTooLargeError,
    SourceNotFoundError,
    TextTooLongError,
)
from nlp.extract.docx import extract_docx
from nlp.extract.html import extract_html
from nlp.extract.ocr import check_image, extract_image
from nlp.extract.ofd import extract_ofd
from nlp.extract.office import check_legacy_office, extract_legacy_office
from nlp.extract.pdf import PdfBackend, check_pdf, extract_pdf
from nlp.extract.sniff import sniff_media_type
from nlp.extract.text import decode_text
from nlp.model import ExtractedText, MediaType, ProgressCallback

DEFAULT_MAX_BYTES = 50 * 1024 * 1024
DEFAULT_MAX_TEXT_CHARS = 2_000_000  # twice a 1,000-page report


def max_text_chars() -> int:
    """The configured text limit per document: ``XUNCHA_MAX_TEXT_CHARS`` or two million characters."""
    raw = os.environ.get("XUNCHA_MAX_TEXT_CHARS")
    try:
        return int(raw) if raw else DEFAULT_MAX_TEXT_CHARS
    except ValueError:
        return DEFAULT_MAX_TEXT_CHARS


def default_max_bytes() -> int:
    """The configured upload limit: ``XUNCHA_MAX_FILE_MB`` or 50 MB."""
    raw = os.environ.get("XUNCHA_MAX_FILE_MB")
    try:
        return int(float(raw) * 1024 * 1024) if raw else DEFAULT_MAX_BYTES
    except ValueError:
        return DEFAULT_MAX_BYTES


def read_source(path: str | Path, max_bytes: int | None = None) -> bytes:
    """Read a file, refusing it before reading when it is over the limit."""
    path = Path(path)
    limit = default_max_bytes() if max_bytes is None else max_bytes
    try:
        size = path.stat().st_size
    except FileNotFoundError as exc:
        raise SourceNotFoundError(source=str(path)) from exc
    except OSError as exc:
        raise ExtractionError(f"无法读取文件：{exc.strerror}", source=str(path)) from exc
    if path.is_dir():
        raise ExtractionError("这是一个目录，不是文件", source=str(path))
    _check_size(size, limit, str(path))
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ExtractionError(f"无法读取文件：{exc.strerror}", source=str(path)) from exc


def _check_size(size: int, limit: int, source: str) -> None:
    if size > limit:
        raise FileTooLargeError(
            f"文件大小 {size / 1048576:.1f} MB 超过上限 {limit / 1048576:.1f} MB", source=source
        )


def extract_bytes(
    data: bytes,
    source: str,
    *,
    max_bytes: int | None = None,
    pdf_backend: PdfBackend | str = PdfBackend.PDFIUM,
    progress: ProgressCallback | None = None,
) -> ExtractedText:
    """The text of a report file, page by page; ``progress(done, total)`` is called per OCR'd page."""
    _check_size(len(data), default_max_bytes() if max_bytes is None else max_bytes, source)
    media_type = sniff_media_type(data, source)
    if media_type is MediaType.PDF:
        extracted = extract_pdf(data, source, pdf_backend, progress=progress)  # OCR for pages without text
    elif media_type is MediaType.DOCX:
        extracted = extract_docx(data, source)
    elif media_type is MediaType.OFD:
        extracted = extract_ofd(data, source)
    elif media_type is MediaType.IMAGE:
        extracted = extract_image(data, source, progress=progress)
    elif media_type is MediaType.DOC:
        extracted = extract_legacy_office(data, source)
    elif media_type is MediaType.HTML:
        extracted = extract_html(data, source)
    else:
        text, encoding = decode_text(data, source)
        extracted = ExtractedText(source=source, media_type=MediaType.TEXT, pages=[text], encoding=encoding, backend="text")
    if not "".join(extracted.pages).strip():
        raise EmptyFileError(f"{media_type.value.upper()} 文件中没有文字内容", source=source)
    chars, limit = sum(len(p) for p in extracted.pages), max_text_chars()
    if chars > limit:
        raise TextTooLongError(f"文件含 {chars / 10000:.0f} 万字，超过单个文档 {limit / 10000:.0f} 万字的上限", source=source)
    return extracted


def check_bytes(data: bytes, source: str, *, max_bytes: int | None = None) -> MediaType:
    """Refuse at once what ``extract_bytes`` would refuse, without its slow steps (OCR, conversion).

    Fast formats are extracted in full (pypdfium2 reads ~700 pages/s); a PDF's pages without text, an
    image's frames and a .doc are only counted and checked (page limit, converter installed), so an
    upload of a 20-page scan is answered in milliseconds and OCR'd in the background job.
    """
    _check_size(len(data), default_max_bytes() if max_bytes is None else max_bytes, source)
    media_type = sniff_media_type(data, source)
    if media_type is MediaType.PDF:
        check_pdf(data, source)
    elif media_type is MediaType.IMAGE:
        check_image(data, source)
    elif media_type is MediaType.DOC:
        check_legacy_office(data, source)
    else:
        extract_bytes(data, source, max_bytes=max_bytes)
    return media_type


def extract_file(
    path: str | Path, *, max_bytes: int | None = None, pdf_backend: PdfBackend | str = PdfBackend.PDFIUM
) -> ExtractedText:
    data = read_source(path, max_bytes)
    return extract_bytes(data, str(path), max_bytes=max_bytes, pdf_backend=pdf_backend)


__all__ = ["DEFAULT_MAX_BYTES", "PdfBackend", "check_bytes", "extract_bytes", "extract_file", "read_source"]
