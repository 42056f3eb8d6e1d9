"""Data carried between pipeline stages.

Data flows one way: file bytes -> ExtractedText -> NormalizedText -> ReportDoc (with Findings).
All character offsets in a ReportDoc refer to ``ReportDoc.text`` (the normalised text); every
offset maps back to its page through ``page_starts`` and to the extracted text through
``raw_offsets``, so a finding can always be shown where it came from.
"""

from __future__ import annotations

from array import array
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

# ``progress(done, total)``: pages read so far out of the pages a slow step (OCR) has to read.
ProgressCallback = Callable[[int, int], None]


class MediaType(StrEnum):
    PDF = "pdf"
    DOCX = "docx"
    TEXT = "text"
    HTML = "html"
    OFD = "ofd"  # GB/T 33190 layout documents
    IMAGE = "image"  # PNG/JPEG/TIFF page photos and scans, read by OCR
    DOC = "doc"  # Word 97 .doc, WPS .wps, RTF: converted to DOCX by LibreOffice


def page_of(page_starts: list[int], offset: int) -> int:
    """1-based page holding ``offset``, given the sorted start offset of every page."""
    if not page_starts:
        return 1
    return max(1, bisect_right(page_starts, offset))


@dataclass
class ExtractedText:
    """Text as a reader produced it, page by page (one page for formats without pages)."""

    source: str
    media_type: MediaType
    pages: list[str]
    encoding: str | None = None
    backend: str = ""
    # Offsets (in the joined pages) of paragraphs that the format itself marks, e.g. DOCX paragraphs.
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def text(self) -> str:
        """Pages joined by a newline, the coordinate system of ``NormalizedText.raw_offsets``."""
        return "\n".join(self.pages)

    @property
    def page_starts(self) -> list[int]:
        starts, pos = [], 0
        for page in self.pages:
            starts.append(pos)
            pos += len(page) + 1
        return starts


@dataclass
class NormalizedText:
    """Cleaned text plus the maps that tie each character back to the source."""

    text: str
    page_starts: list[int]
    raw_offsets: array  # raw_offsets[i] = offset in ExtractedText.text of normalised char i
    captions: list[tuple[int, int]] = field(default_factory=list)  # photo captions, not findings
    removed_lines: list[str] = field(default_factory=list)  # headers/footers/page numbers dropped

    def page_at(self, offset: int) -> int:
        return page_of(self.page_starts, offset)


@dataclass
class Span:
    start: int
    end: int

    def overlaps(self, start: int, end: int) -> bool:
        return self.start < end and start < self.end


@dataclass
class UnitBlock:
    """An inspected unit (被巡察单位) and the stretch of text that reports on it."""

    name: str
    start: int  # where the header naming the unit starts
    end: int  # where the unit's block ends
    body_start: int  # first character after the header ("区委办存在的主要问题是：" ends here)


@dataclass
class Section:
    """A heading-delimited part of the document (一、… / （一）… / 问题 / 建议)."""

    title: str
    start: int
    end: int
    role: str = "body"  # "problems", "suggestions", "rectification", "body"
    unit: str | None = None  # the unit a heading names ("二、县委第五巡察组向河口镇党委反馈情况")


@dataclass
class Finding:
    """One problem statement (问题) found in a report."""

    id: str
    text: str
    start: int
    end: int
    page: int
    unit: str | None = None
    section: str | None = None
    marker: str | None = None  # the enumeration marker that introduced it: 一是, （二）, ③ …
    tags: dict[str, Any] = field(default_factory=dict)
    detail: str | None = None  # 问题表现: the lines under a numbered problem title
    detail_start: int | None = None
    detail_end: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "text": self.text,
            "start": self.start,
            "end": self.end,
            "page": self.page,
            "unit": self.unit,
            "section": self.section,
            "marker": self.marker,
            "tags": self.tags,
            "detail": (
                {"text": self.detail, "start": self.detail_start, "end": self.detail_end} if self.detail else None
            ),
        }


@dataclass
class RoundInfo:
    """Inspection round as written (八届区委第七轮) and its parsed parts."""

    label: str
    number: int | None = None
    term: str | None = None  # 八届区委, 十一届市委 …

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "number": self.number, "term": self.term}


@dataclass
class ReportDoc:
    source: str
    media_type: MediaType
    text: str
    page_starts: list[int]
    raw_offsets: array = field(default_factory=lambda: array("i"))
    title: str | None = None
    kind: str | None = None
    round: RoundInfo | None = None
    dates: list[str] = field(default_factory=list)
    units: list[UnitBlock] = field(default_factory=list)
    inspected_units: list[str] = field(default_factory=list)  # named in the background paragraph
    unit_aliases: dict[str, str] = field(default_factory=dict)  # short name -> full name (以下简称)
    sections: list[Section] = field(default_factory=list)
    sentences: list[Span] = field(default_factory=list)
    captions: list[tuple[int, int]] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    statistics: list[dict[str, Any]] = field(default_factory=list)
    encoding: str | None = None
    backend: str = ""

    @property
    def page_count(self) -> int:
        return len(self.page_starts)

    def page_at(self, offset: int) -> int:
        return page_of(self.page_starts, offset)

    def unit_at(self, offset: int) -> str | None:
        for block in self.units:
            if block.start <= offset < block.end:
                return block.name
        return None

    def statistics_summary(self) -> dict[str, Any]:
        """Per metric: values, total where summing is meaningful, max, unit and the quotes."""
        from nlp.stats import aggregate_statistics

        return aggregate_statistics(self.statistics)

    def unit_names(self) -> list[str]:
        """Units with a problem block, then units the text says were inspected, without repeats."""
        names: list[str] = []
        for name in [u.name for u in self.units] + self.inspected_units:
            if name not in names and not any(name != n and (name in n or n in name) for n in names):
                names.append(name)
        return names

    def section_at(self, offset: int) -> Section | None:
        found = None
        for sec in self.sections:
            if sec.start <= offset < sec.end:
                found = sec  # innermost (latest-starting) wins
        return found

    def to_dict(self, include_text: bool = True) -> dict[str, Any]:
        """The analysis as JSON. ``findings`` are the report's problem statements (:mod:`nlp.statements`:
        a run of one sentence's items sharing a focus is one), each listing its ``items``."""
        from nlp.statements import statements_of

        out: dict[str, Any] = {
            "source": self.source,
            "media_type": str(self.media_type),
            "title": self.title,
            "kind": self.kind,
            "round": self.round.label if self.round else None,
            "round_info": self.round.to_dict() if self.round else None,
            "dates": self.dates,
            "pages": self.page_count,
            "units": self.unit_names(),
            "unit_aliases": self.unit_aliases,
            "unit_blocks": [
                {"name": u.name, "start": u.start, "end": u.end} for u in self.units
            ],
            "findings": [s.to_dict() for s in statements_of(self)],
            "statistics": self.statistics,
            "statistics_summary": self.statistics_summary(),
            "encoding": self.encoding,
            "backend": self.backend,
        }
        if include_text:
            out["text"] = self.text
        return out
