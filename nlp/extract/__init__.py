"""Stage 1, extract: bytes of a report file -> ExtractedText, whatever the format.

The type comes from the content (see ``sniff``); the size limit is checked before anything is parsed.
"""

from __future__ import annotations

import os
from pathlib import Path

from nlp.errors import EmptyFileError, ExtractionError, FileTooLargeError, SourceNotFoundError
from nlp.extract.docx import extract_docx
from nlp.extract.html import extract_html
from nlp.extract.pdf import PdfBackend, extract_pdf
from nlp.extract.sniff import sniff_media_type
from nlp.extract.text import decode_text
from nlp.model import ExtractedText, MediaType

DEFAULT_MAX_BYTES = 50 * 1024 * 1024


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
) -> ExtractedText:
    _check_size(len(data), default_max_bytes() if max_bytes is None else max_bytes, source)
    media_type = sniff_media_type(data, source)
    if media_type is MediaType.PDF:
        extracted = extract_pdf(data, source, pdf_backend)  # a PDF without text is a scan: own error
    elif media_type is MediaType.DOCX:
        extracted = extract_docx(data, source)
    elif media_type is MediaType.HTML:
        extracted = extract_html(data, source)
    else:
        text, encoding = decode_text(data, source)
        extracted = ExtractedText(source=source, media_type=MediaType.TEXT, pages=[text], encoding=encoding, backend="text")
    if not "".join(extracted.pages).strip():
        raise EmptyFileError(f"{media_type.value.upper()} 文件中没有文字内容", source=source)
    return extracted


def extract_file(
    path: str | Path, *, max_bytes: int | None = None, pdf_backend: PdfBackend | str = PdfBackend.PDFIUM
) -> ExtractedText:
    data = read_source(path, max_bytes)
    return extract_bytes(data, str(path), max_bytes=max_bytes, pdf_backend=pdf_backend)


__all__ = ["DEFAULT_MAX_BYTES", "PdfBackend", "extract_bytes", "extract_file", "read_source"]
