"""PDF text extraction with two backends, and OCR for pages that have no text layer.

pypdfium2 (PDFium) is the default: measured here at ~700 pages/s against ~16 for pdfplumber, and
its text order is right for the single-column reports offices publish. pdfplumber (pdfminer) is
kept for jobs where layout matters, such as pages whose tables must be read cell by cell; pick it
with ``backend="pdfplumber"``. ``evaluation/bench_ingest.py`` measures both on the same files.

Many reports reach us as scans: every page an image, or a text document with a scanned signature
page. A page with a text layer keeps it (exact, and a thousand times faster than OCR); a page
without one is rendered by PDFium at OCR_DPI and read by OCR (``nlp.extract.ocr``), so a mixed PDF
is read page by page with whichever method the page needs. ``evaluation/bench_ocr.py`` measures it.
"""

from __future__ import annotations

import re
import threading
from enum import StrEnum
from typing import Any

import numpy as np

from nlp.errors import CorruptPdfError, EmptyFileError, EncryptedPdfError, NoTextFoundError
from nlp.extract import ocr
from nlp.model import ExtractedText, MediaType, ProgressCallback

# A page with fewer visible characters than this is treated as having no text layer.
MIN_TEXT_CHARS_PER_PAGE = 5
# Pages without text are rendered at this resolution for OCR: body text of 10.5-16 pt is then 30-45 px
# high, what the recogniser reads best; more only costs time (a page at 300 dpi takes twice as long
# to detect and reads no better). Pages larger than A4 are rendered smaller, to ocr.MAX_OCR_SIDE.
OCR_DPI = 200
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\ufffe\uffff]")
# PDFium is not thread-safe: two threads inside it at once (two uploads checked by two request threads
# of one server worker) crash the whole process with a segmentation fault. Every call into it, from
# opening a document to closing it, is made under this one process-wide lock; at ~700 pages/s the
# wait is short. OCR runs outside the lock: a page is rendered under it, then read without it.
PDFIUM_LOCK = threading.RLock()


class PdfBackend(StrEnum):
    PDFIUM = "pdfium"
    PDFPLUMBER = "pdfplumber"


def check_pdf(data: bytes, source: str) -> None:
    """The checks of ``extract_pdf`` without its slow step: the text layer is read (corrupt and
    encrypted files are refused as by ``extract_pdf``), pages without text are only counted against
    the OCR page limit, and the OCR package must be installed when there are any."""
    pages = _text_pages(data, source, PdfBackend.PDFIUM)
    textless = _textless(pages)
    if textless:
        ocr.check_ocr_page_limit(len(textless), source, "扫描页")
        ocr.require_backend(source)


def extract_pdf(
    data: bytes, source: str, backend: PdfBackend | str = PdfBackend.PDFIUM, *, progress: ProgressCallback | None = None
) -> ExtractedText:
    """The text of every page: the text layer where there is one, OCR where there is none.

    ``progress(done, total)`` is called after each OCR'd page (total = pages needing OCR). The OCR
    page limit is checked before any page is OCR'd."""
    backend = PdfBackend(backend)
    pages = _text_pages(data, source, backend)
    textless = _textless(pages)
    metadata: dict[str, Any] = {"pages_without_text": [i + 1 for i in textless]}
    if textless:
        ocr.check_ocr_page_limit(len(textless), source, "扫描页")
        read = _ocr_pages(data, source, textless, progress)
        for index, (page, _dpi) in read.items():
            pages[index] = page.text
        metadata.update(_ocr_metadata(len(pages), read))
        if len(textless) == len(pages) and not any(p.strip() for p in pages):
            raise NoTextFoundError(
                f"PDF 无文本层，文字识别（OCR）也未识别出任何文字（共 {len(pages)} 页）", source=source
            )
    return ExtractedText(
        source=source,
        media_type=MediaType.PDF,
        pages=pages,
        backend=f"{backend}+{ocr.BACKEND}" if textless else str(backend),
        metadata=metadata,
    )


def _text_pages(data: bytes, source: str, backend: PdfBackend) -> list[str]:
    """Each page's text layer, line ends normalised and control characters removed."""
    pages = _pages_pdfium(data, source) if backend is PdfBackend.PDFIUM else _pages_pdfplumber(data, source)
    if not pages:
        raise EmptyFileError("PDF 文件中没有任何页面", source=source)
    return [_CONTROL.sub("", p.replace("\r\n", "\n").replace("\r", "\n")) for p in pages]


def _textless(pages: list[str]) -> list[int]:
    """0-based indices of pages with (next to) no text layer: the pages to OCR."""
    return [i for i, p in enumerate(pages) if len(re.sub(r"\s", "", p)) < MIN_TEXT_CHARS_PER_PAGE]


def _ocr_metadata(page_count: int, read: dict[int, tuple[ocr.OcrPage, float]]) -> dict[str, Any]:
    """Where OCR'd text came from: pages, per-page lines with pixel boxes, the render resolution
    (boxes are in pixels of the page rendered at ``ocr_dpi[page - 1]``; None on text-layer pages)
    and the turn a page scanned sideways or upside down needed (``ocr.OcrPage.rotation``)."""
    return {
        "ocr_pages": [i + 1 for i in sorted(read)],
        "ocr_lines": [read[i][0].lines if i in read else [] for i in range(page_count)],
        "ocr_dpi": [round(read[i][1], 2) if i in read else None for i in range(page_count)],
        "ocr_rotation": [read[i][0].rotation if i in read else None for i in range(page_count)],
        "ocr_dropped": [d for i in sorted(read) for d in read[i][0].dropped],
    }


def _ocr_pages(
    data: bytes, source: str, indices: list[int], progress: ProgressCallback | None
) -> dict[int, tuple[ocr.OcrPage, float]]:
    """OCR the pages ``indices``: each rendered under PDFIUM_LOCK, then read with the lock released,
    so other requests can use PDFium during the seconds a page takes to OCR."""
    ocr.require_backend(source)
    out: dict[int, tuple[ocr.OcrPage, float]] = {}
    with PDFIUM_LOCK:
        pdf = _open_pdfium(data, source)
    try:
        for done, index in enumerate(indices, start=1):
            with PDFIUM_LOCK:
                image, dpi = _render_locked(pdf, index, source)
            with ocr.naming(source):
                out[index] = (ocr.ocr_image(image, page=index + 1), dpi)
            del image
            if progress is not None:
                progress(done, len(indices))
    finally:
        with PDFIUM_LOCK:
            pdf.close()
    return out


def _render_locked(pdf: Any, index: int, source: str) -> tuple[np.ndarray, float]:
    """Page ``index`` as an RGB array at OCR_DPI (less for pages too large), and the dpi used.
    Call with PDFIUM_LOCK held; the array is a copy, safe to use after the lock is released."""
    import pypdfium2 as pdfium

    try:
        page = pdf[index]
        try:
            width, height = page.get_size()
            scale = min(OCR_DPI / 72, ocr.MAX_OCR_SIDE / max(1.0, width, height))
            bitmap = page.render(scale=scale, rev_byteorder=True)
            try:
                pixels = np.array(bitmap.to_numpy(), dtype=np.uint8, copy=True)
                channels = "RGB" if getattr(bitmap, "mode", "RGB") in ("RGB", "RGBX", "RGBA") else "BGR"
            finally:
                bitmap.close()
        finally:
            page.close()
    except pdfium.PdfiumError as exc:
        raise CorruptPdfError(f"PDF 第 {index + 1} 页已损坏，无法渲染以识别文字（{_reason(str(exc))}）", source=source) from exc
    if pixels.ndim == 2:
        pixels = np.repeat(pixels[..., None], 3, axis=2)
    pixels = pixels[..., :3] if channels == "RGB" else pixels[..., 2::-1]
    return np.ascontiguousarray(pixels), scale * 72


def _open_pdfium(data: bytes, source: str) -> Any:
    """Open a document with PDFium (call with PDFIUM_LOCK held), failures as typed errors."""
    import pypdfium2 as pdfium

    try:
        return pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        raise _classify_open_error(str(exc), source) from exc


def _pages_pdfium(data: bytes, source: str) -> list[str]:
    with PDFIUM_LOCK:
        return _pages_pdfium_locked(data, source)


def _pages_pdfium_locked(data: bytes, source: str) -> list[str]:
    pdf = _open_pdfium(data, source)
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


# PDFium's error names (FPDF_ERR_*, as pypdfium2 words them) in the reader's language: the message is
# shown to an analyst, who should not meet "Data format error" in a Chinese sentence
_PDFIUM_REASONS = (
    ("data format", "文件格式错误：不是有效的 PDF，或文件不完整"),
    ("file access", "文件无法读取"),
    ("page not found", "页面内容错误"),
    ("content error", "页面内容错误"),
)


def _reason(detail: str) -> str:
    """A Chinese reason for an open/render failure: PDFium's known errors translated, anything else
    (pdfminer's exception names) summarised without the English text."""
    lowered = detail.lower()
    return next((zh for en, zh in _PDFIUM_REASONS if en in lowered), "文件结构无法解析")


def _classify_open_error(detail: str, source: str) -> CorruptPdfError | EncryptedPdfError:
    if "password" in detail.lower() or "security" in detail.lower():
        return EncryptedPdfError(source=source)
    return CorruptPdfError(f"PDF 文件已损坏，无法打开（{_reason(detail)}）", source=source)
