"""The stages wired together: ``analyze_file(path) -> ReportDoc``.

Kept thin on purpose: each stage lives in its own module and can be called alone; this module
only decides the order and copies results onto the ReportDoc.
"""

from __future__ import annotations

from pathlib import Path

from nlp.extract import PdfBackend, extract_bytes, read_source
from nlp.findings import split_findings
from nlp.model import ExtractedText, ReportDoc
from nlp.normalize import normalize
from nlp.stats import extract_statistics
from nlp.structure import analyse_structure
from nlp.tagging import Tagger, make_tagger

_DEFAULT = object()


def analyze_extracted(extracted: ExtractedText, tagger: Tagger | None | object = _DEFAULT) -> ReportDoc:
    """Run every stage on extracted text. ``tagger`` defaults to the bundled taxonomy and model;
    pass ``None`` to leave tags empty (pure splitting, e.g. for benchmarks)."""
    norm = normalize(extracted)
    structure = analyse_structure(norm.text, extracted.metadata.get("html_title"))
    doc = ReportDoc(
        source=extracted.source,
        media_type=extracted.media_type,
        text=norm.text,
        page_starts=norm.page_starts,
        raw_offsets=norm.raw_offsets,
        title=structure.title,
        kind=structure.kind,
        round=structure.round,
        dates=structure.dates,
        units=structure.units,
        sections=structure.sections,
        sentences=structure.sentences,
        captions=norm.captions,
        encoding=extracted.encoding,
        backend=extracted.backend,
    )
    doc.inspected_units = structure.inspected_units
    doc.unit_aliases = structure.unit_aliases
    doc.findings = split_findings(doc)
    doc.statistics = extract_statistics(doc.text)
    active = make_tagger() if tagger is _DEFAULT else tagger
    if isinstance(active, Tagger):
        active.tag_document(doc)
    return doc


def analyze_bytes(
    data: bytes,
    source: str,
    *,
    max_bytes: int | None = None,
    pdf_backend: PdfBackend | str = PdfBackend.PDFIUM,
    tagger: Tagger | None | object = _DEFAULT,
) -> ReportDoc:
    return analyze_extracted(extract_bytes(data, source, max_bytes=max_bytes, pdf_backend=pdf_backend), tagger)


def analyze_file(
    path: str | Path,
    *,
    max_bytes: int | None = None,
    pdf_backend: PdfBackend | str = PdfBackend.PDFIUM,
    tagger: Tagger | None | object = _DEFAULT,
) -> ReportDoc:
    data = read_source(path, max_bytes)
    return analyze_bytes(data, str(path), max_bytes=max_bytes, pdf_backend=pdf_backend, tagger=tagger)
