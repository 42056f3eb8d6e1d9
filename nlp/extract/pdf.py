"""PDF text extraction with two backends.

pypdfium2 (PDFium) is the default: measured here at ~700 pages/s against ~16 for pdfplumber, and
its text order is right for the single-column reports offices publish. pdfplumber (pdfminer) is
kept for jobs where layout matters, such as pages whose tables must be read cell by cell; pick it
with ``backend="pdfplumber"``. ``evaluation/bench_ingest.py`` measures both on the same files.
"""

from __future__ import annotations

import re
import threading
from enum import StrEnum

from nlp.errors import CorruptPdfError, EncryptedPdfError, ScannedPdfError
from nlp.model import ExtractedText, MediaType

# A page with fewer visible characters than this is treated as having no text layer.
MIN_TEXT_CHARS_PER_PAGE = 5
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\ufffe\uffff]")
# PDFium is not thread-safe: two threads inside it at once (two uploads checked by two request threads
# of one server worker) crash the whole process with a segmentation fault. Every call into it, from
# opening a document to closing it, is made under this one process-wide lock; at ~700 pages/s the
# wait is short.
PDFIUM_LOCK = threading.RLock()


class PdfBackend(StrEnum):
    PDFIUM = "pdfium"
    PDFPLUMBER = "pdfplumber"


def extract_pdf(data: bytes, source: str, backend: PdfBackend | str = PdfBackend.PDFIUM) -> ExtractedText:
    backend = PdfBackend(backend)
    pages = _pages_pdfium(data, source) if backend is PdfBackend.PDFIUM else _pages_pdfplumber(data, source)
    pages = [_CONTROL.sub("", p.replace("\r\n", "\n").replace("\r", "\n")) for p in pages]
    visible = [len(re.sub(r"\s", "", p)) for p in pages]
    if not pages or max(visible, default=0) < MIN_TEXT_CHARS_PER_PAGE:
        raise ScannedPdfError(
            f"PDF 无文本层，需要先做 OCR（共 {len(pages)} 页，未找到可提取的文字）", source=source
        )
    empty_pages = [i + 1 for i, n in enumerate(visible) if n < MIN_TEXT_CHARS_PER_PAGE]
    return ExtractedText(
        source=source,
        media_type=MediaType.PDF,
        pages=pages,
        backend=str(backend),
        metadata={"pages_without_text": empty_pages},
    )


def _pages_pdfium(data: bytes, source: str) -> list[str]:
    with PDFIUM_LOCK:
        return _pages_pdfium_locked(data, source)


def _pages_pdfium_locked(data: bytes, source: str) -> list[str]:
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        raise _classify_open_error(str(exc), source) from exc
    try:
        out = []
        for index in range(len(pdf)):
            page = pdf[index]
            textpage = page.get_textpage()
            out.append(textpage.get_text_range())
            textpage.close()
            page.close()
        return out
    finally:
        pdf.close()


def _pages_pdfplumber(data: bytes, source: str) -> list[str]:
    import io

    import pdfplumber
    from pdfminer.pdfdocument import PDFPasswordIncorrect

    try:
        with pdfplumber.open(io.BytesIO(data)) as pdf:
            return [page.extract_text() or "" for page in pdf.pages]
    except Exception as exc:  # pdfminer raises many unrelated types for broken files
        cause = exc.__cause__ or exc.__context__ or exc
        if isinstance(exc, PDFPasswordIncorrect) or isinstance(cause, PDFPasswordIncorrect):
            raise EncryptedPdfError(source=source) from exc
        raise _classify_open_error(f"{type(exc).__name__}: {exc}", source) from exc


def _classify_open_error(detail: str, source: str) -> CorruptPdfError | EncryptedPdfError:
    if "password" in detail.lower() or "security" in detail.lower():
        return EncryptedPdfError(source=source)
    return CorruptPdfError(f"PDF 文件已损坏，无法打开（{detail}）", source=source)
