"""The stages wired together: ``analyze_file(path) -> ReportDoc``.

Kept thin on purpose: each stage lives in its own module and can be called alone; this module
only decides the order and copies results onto the ReportDoc.
"""

from __future__ import annotations

from bisect import bisect_left
from pathlib import Path

from nlp.compound import split_compound
from nlp.extract import PdfBackend, extract_bytes, read_source
from nlp.findings import split_findings
from nlp.model import ExtractedText, ProgressCallback, ReportDoc
from nlp.normalize import normalize
from nlp.script import AnalysisText, analysis_form
from nlp.stats import extract_statistics
from nlp.structure import analyse_structure
from nlp.tagging import Tagger, make_tagger

_DEFAULT = object()


def analyze_extracted(extracted: ExtractedText, tagger: Tagger | None | object = _DEFAULT) -> ReportDoc:
    """Run every stage on extracted text. ``tagger`` defaults to the bundled taxonomy and model;
    pass ``None`` to leave tags empty (pure splitting, e.g. for benchmarks)."""
    norm = normalize(extracted)
    # Every stage reads the analysis form (Simplified, pinyin glosses dropped); the document keeps
    # the text as written, and every span is mapped back onto it at the end (_to_original).
    form = analysis_form(norm.text)
    structure = analyse_structure(form.text, extracted.metadata.get("html_title"))
    doc = ReportDoc(
        source=extracted.source,
        media_type=extracted.media_type,
        text=form.text,
        page_starts=[_analysis_offset(form, p) for p in norm.page_starts],
        raw_offsets=norm.raw_offsets,
        title=structure.title,
        kind=structure.kind,
        round=structure.round,
        dates=structure.dates,
        units=structure.units,
        sections=structure.sections,
        sentences=structure.sentences,
        captions=[(_analysis_offset(form, a), _analysis_offset(form, b)) for a, b in norm.captions],
        encoding=extracted.encoding,
        backend=extracted.backend,
    )
    doc.inspected_units = structure.inspected_units
    doc.unit_aliases = structure.unit_aliases
    doc.findings = split_compound(doc, split_findings(doc))
    doc.statistics = extract_statistics(doc.text)
    active = make_tagger() if tagger is _DEFAULT else tagger
    if isinstance(active, Tagger):
        active.tag_document(doc)
    if form.text != norm.text:
        _to_original(doc, form, norm.text, norm.page_starts)
    return doc


def _analysis_offset(form: AnalysisText, original: int) -> int:
    """The analysis-form offset of an original offset (the next kept character when it was dropped)."""
    return bisect_left(form.to_original, original, 0, len(form.to_original) - 1)


def _to_original(doc: ReportDoc, form: AnalysisText, original: str, page_starts: list[int]) -> None:
    """Map every span of ``doc`` from the analysis form back onto the text as written, and put that
    text back: a Traditional-script copy with pinyin glosses is analysed in Simplified but shown,
    stored and quoted as published. Names that identify things across reports (units, rounds,
    title) stay in their analysis form, so a Traditional and a Simplified copy name one unit."""

    def span(start: int, end: int) -> tuple[int, int]:
        return form.original_span(start, end)

    doc.text = original
    doc.page_starts = list(page_starts)
    doc.captions = [span(a, b) for a, b in doc.captions]
    for f in doc.findings:
        f.start, f.end = span(f.start, f.end)
        f.text = original[f.start : f.end]
        if f.detail is not None and f.detail_start is not None and f.detail_end is not None:
            f.detail_start, f.detail_end = span(f.detail_start, f.detail_end)
            f.detail = original[f.detail_start : f.detail_end]
        for rows in f.tags.values():
            for row in rows:
                for ev in row.get("evidence", []):
                    if "start" in ev and "end" in ev:
                        ev["start"], ev["end"] = span(ev["start"], ev["end"])
                        ev["text"] = original[ev["start"] : ev["end"]]
    for stat in doc.statistics:
        if "start" in stat and "end" in stat:
            stat["start"], stat["end"] = span(stat["start"], stat["end"])
            stat["quote"] = original[stat["start"] : stat["end"]]
    for block in doc.units:
        block.start, block.end = span(block.start, block.end)
        block.body_start = span(block.body_start, block.body_start)[0]
    for sec in doc.sections:
        sec.start, sec.end = span(sec.start, sec.end)
    for sentence in doc.sentences:
        sentence.start, sentence.end = span(sentence.start, sentence.end)


def analyze_bytes(
    data: bytes,
    source: str,
    *,
    max_bytes: int | None = None,
    pdf_backend: PdfBackend | str = PdfBackend.PDFIUM,
    tagger: Tagger | None | object = _DEFAULT,
    progress: ProgressCallback | None = None,
) -> ReportDoc:
    """Analyse a report file's bytes; ``progress(done, total)`` reports OCR'd pages (see ``extract_bytes``)."""
    extracted = extract_bytes(data, source, max_bytes=max_bytes, pdf_backend=pdf_backend, progress=progress)
    return analyze_extracted(extracted, tagger)


def analyze_file(
    path: str | Path,
    *,
    max_bytes: int | None = None,
    pdf_backend: PdfBackend | str = PdfBackend.PDFIUM,
    tagger: Tagger | None | object = _DEFAULT,
    progress: ProgressCallback | None = None,
) -> ReportDoc:
    data = read_source(path, max_bytes)
    return analyze_bytes(data, str(path), max_bytes=max_bytes, pdf_backend=pdf_backend, tagger=tagger, progress=progress)
