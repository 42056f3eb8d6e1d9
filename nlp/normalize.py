"""Stage 2, normalise: clean extracted text while keeping every character traceable.

What it does, and why:
- full-width ASCII digits/letters (１２３ＡＢＣ) become half-width so numbers and names match;
  Chinese punctuation (，。：；（）“”) is kept because the sentence splitter relies on it;
- lines that a PDF (or a hard-wrapped TXT) broke inside a sentence are joined again;
- running headers/footers repeated on most pages and bare page numbers ("- 3 -", "第3页 共8页") are
  dropped, since they would otherwise cut findings in half;
- photo captions (（图为…）) are marked so they are never taken as findings.
Each output character records the offset of the extracted character it came from (``raw_offsets``)
and pages are re-based, so spans in the normalised text still map back to pages and to the source.
"""

from __future__ import annotations

import re
from array import array
from collections import Counter
from dataclasses import dataclass

from nlp.model import ExtractedText, MediaType, NormalizedText

# Formats whose text comes as laid-out lines of a printed page (a PDF's text layer, OCR of a scan or a
# photo, an OFD's positioned text): lines wrap at the page width inside sentences, pages repeat headers
# and footers, and leading spaces are layout, not content.
_LAID_OUT = frozenset({MediaType.PDF, MediaType.IMAGE, MediaType.OFD})

_PAGE_NUMBER = re.compile(
    r"^[\s\-—–·•_]*(第\s*)?[0-9０-９]{1,4}\s*(页)?\s*([/／]\s*[0-9０-９]{1,4}|共\s*[0-9０-９]{1,4}\s*页)?[\s\-—–·•_]*$"
    r"|^\s*[-—–]\s*[0-9０-９]{1,4}\s*[-—–]\s*$"
    r"|^\s*(page|Page|PAGE)\s*\d+(\s*(of|/)\s*\d+)?\s*$"
)
_TERMINAL = "。！？；：!?;:…"  # a closing quote or bracket ends a line only after one of these
# A line starting with one of these begins a new item even when the previous line looks unfinished.
_ITEM_START = re.compile(
    r"^\s*([一二三四五六七八九十]+[、是]|[（(][一二三四五六七八九十0-9]+[）)]|[0-9]+[.．、]|[①-⑳]|第[一二三四五六七八九十]+[条章节部]"
    r"|附件|特此|[\u4e00-\u9fff]{2,20}(存在的主要问题|主要问题)[是有]?[:：])"
)
_CAPTION = re.compile(r"[（(]\s*图为[^（）()]{0,200}[）)]|^\s*图为[^\n]{0,200}$", re.M)
_CJK = re.compile(r"[\u4e00-\u9fff]")


def fold_width(ch: str) -> str:
    """Full-width ASCII letters, digits and a few symbols to half-width; Chinese punctuation stays."""
    o = ord(ch)
    if 0xFF10 <= o <= 0xFF19 or 0xFF21 <= o <= 0xFF3A or 0xFF41 <= o <= 0xFF5A:
        return chr(o - 0xFEE0)
    if ch in "％＋＝＜＞＠＃＆＊／＿｜～":
        return chr(o - 0xFEE0)
    if ch == "\u00a0":
        return " "
    return ch


def fold_text(text: str) -> str:
    """Width-fold a whole string (used for queries and gold texts so they match normalised text)."""
    out = [fold_width(ch) for ch in text]
    # a full-width full stop between digits is a decimal point (９８．１４％)
    for i, ch in enumerate(out):
        if ch == "．" and 0 < i < len(out) - 1 and out[i - 1].isdigit() and out[i + 1].isdigit():
            out[i] = "."
    return "".join(out)


@dataclass
class _Line:
    text: str
    raw_start: int  # offset of text[0] in ExtractedText.text
    page: int


def normalize(extracted: ExtractedText) -> NormalizedText:
    pages = extracted.pages
    page_starts_raw = extracted.page_starts
    lines_per_page: list[list[_Line]] = []
    for p, page in enumerate(pages):
        pos = page_starts_raw[p]
        lines: list[_Line] = []
        for raw_line in page.split("\n"):
            lines.append(_Line(raw_line, pos, p))
            pos += len(raw_line) + 1
        lines_per_page.append(lines)

    removed: list[str] = []
    laid_out = extracted.media_type in _LAID_OUT
    if laid_out:
        lines_per_page = _drop_headers_footers(lines_per_page, removed)

    all_lines = [line for lines in lines_per_page for line in lines]
    wraps = laid_out or extracted.media_type is MediaType.TEXT
    wrap_width = _wrap_width(all_lines) if wraps else None

    chars: list[str] = []
    offsets = array("i")
    page_of_char: list[int] = []
    prev: _Line | None = None
    for line in all_lines:
        stripped = line.text.rstrip()
        lead = len(line.text) - len(line.text.lstrip())
        body = stripped[lead:] if laid_out else stripped
        body_start = line.raw_start + (lead if laid_out else 0)
        if prev is not None:
            if wraps and _joins(prev, line, wrap_width, extracted.media_type):
                if chars and _ascii_letter(chars[-1]) and body and _ascii_letter(body[0]):
                    chars.append(" ")
                    offsets.append(prev.raw_start + len(prev.text))
                    page_of_char.append(prev.page)
            else:
                chars.append("\n")
                offsets.append(prev.raw_start + len(prev.text))
                page_of_char.append(prev.page)
        for i, ch in enumerate(body):
            chars.append(fold_width(ch))
            offsets.append(body_start + i)
            page_of_char.append(line.page)
        prev = line if body or not laid_out else prev

    text = _break_inline_headings(fold_text("".join(chars)))
    page_starts = _rebase_pages(page_of_char, len(pages))
    captions = [(m.start(), m.end()) for m in _CAPTION.finditer(text)]
    return NormalizedText(text=text, page_starts=page_starts, raw_offsets=offsets, captions=captions, removed_lines=removed)


_INLINE_HEADING = re.compile(r"(?<=[。！？])(\s)(问题|建议|意见建议|整改要求|工作要求)(\s)")


def _break_inline_headings(text: str) -> str:
    """Web pages flattened to one line keep headings as " 问题 " between sentences; put them on
    their own line (a one-for-one swap of the spaces, so offsets do not move)."""
    def swap(m: re.Match[str]) -> str:
        return "\n" + m.group(2) + "\n"
    return _INLINE_HEADING.sub(swap, text)


def _ascii_letter(ch: str) -> bool:
    """A wrapped English word gets its space back; digits split by a wrap ("20⏎22年") join directly."""
    return ch.isascii() and ch.isalpha()


def _rebase_pages(page_of_char: list[int], page_count: int) -> list[int]:
    """Start offset of each page in the normalised text (a page with no text starts where the next does)."""
    starts = [-1] * page_count
    for i, p in enumerate(page_of_char):
        if starts[p] < 0:
            starts[p] = i
    nxt = len(page_of_char)
    for p in range(page_count - 1, -1, -1):
        if starts[p] < 0:
            starts[p] = nxt
        nxt = starts[p]
    starts[0] = 0
    for p in range(1, page_count):  # keep it sorted even with odd inputs
        starts[p] = max(starts[p], starts[p - 1])
    return starts


def _drop_headers_footers(pages: list[list[_Line]], removed: list[str]) -> list[list[_Line]]:
    """Drop page-number lines and lines repeated at the top/bottom of most pages."""
    def key(s: str) -> str:
        return re.sub(r"[0-9０-９]+", "#", re.sub(r"\s+", "", s))

    edge_counts: Counter[str] = Counter()
    for lines in pages:
        content = [ln for ln in lines if ln.text.strip()]
        edges = {key(ln.text) for ln in content[:2] + content[-2:]}
        edge_counts.update(edges)
    threshold = max(2, (len(pages) + 1) // 2)
    repeated = {k for k, n in edge_counts.items() if n >= threshold and k} if len(pages) >= 2 else set()
    out = []
    for lines in pages:
        content_idx = [i for i, ln in enumerate(lines) if ln.text.strip()]
        edge_idx = set(content_idx[:2] + content_idx[-2:])
        kept = []
        for i, ln in enumerate(lines):
            s = ln.text.strip()
            if s and (_PAGE_NUMBER.match(s) or (i in edge_idx and key(s) in repeated and len(s) <= 40)):
                removed.append(s)
                continue
            if not s:
                continue  # blank lines in PDFs carry no structure pdfium does not also give by wrapping
            kept.append(ln)
        out.append(kept)
    return out


def _wrap_width(lines: list[_Line]) -> int | None:
    """The width at which the text was hard-wrapped, if it was: the most common long line length."""
    lengths = [len(ln.text.strip()) for ln in lines if len(ln.text.strip()) >= 12]
    if len(lengths) < 3:
        return None
    common, count = Counter(lengths).most_common(1)[0]
    near = sum(1 for n in lengths if abs(n - common) <= 2)
    if near < max(3, 0.3 * len(lengths)):
        return None
    return common


def _wrapped_title(prev: _Line, line: _Line, a: str, b: str) -> bool:
    """A centred title wrapped onto a short second line ("…反馈专项巡" / "察情况") near the top of page 1."""
    return (
        prev.page == 0
        and prev.raw_start < 120
        and len(a) >= 12
        and len(b) <= 30
        and not re.search(r"[。！？；：:，,]", a + b)
        and bool(_CJK.search(b[0]))
        and not _TITLE_END.search(a)  # a complete title; the line under it is the issuer or a subtitle
    )


_TITLE_END = re.compile(r"(?:通报|情况|报告|综述|意见|决定|通知|方案|公告|总结|纪要|函)$")


def _broken_prose(a: str, b: str) -> bool:
    """A long prose line (it has sentence punctuation inside) that stops without ending its sentence,
    followed by a line that does not open a new item: text copied out of a PDF, broken anywhere."""
    return (
        len(a) >= 25
        and bool(re.search(r"[，。；,]", a))
        and (bool(_CJK.search(a[-1])) or a[-1] in "，,、“（(《")
        and bool(_CJK.search(b[0]) or b[0] in "“（(《")
    )


def _joins(prev: _Line, line: _Line, wrap_width: int | None, media_type: MediaType) -> bool:
    """True when the break between ``prev`` and ``line`` falls inside a sentence."""
    a = prev.text.strip()
    b = line.text.strip()
    if not a or not b:
        return False
    if a[-1] in _TERMINAL or _ITEM_START.match(b):
        return False
    if a[-1] in "”’」』）)】》" and len(a) >= 2 and a[-2] in _TERMINAL:
        return False  # "…。”" ends the sentence
    if media_type in _LAID_OUT and a[-1] in "，,、“‘（(《":
        return True  # a PDF line ending on a comma is always mid-sentence
    if media_type in _LAID_OUT and _wrapped_title(prev, line, a, b):
        return True
    if _broken_prose(a, b):
        return True
    if wrap_width is None:
        return False
    if len(a) < wrap_width - 3:
        return False  # a short line ends a paragraph or is a heading
    return bool(_CJK.search(a[-1]) or a[-1].isalnum() or a[-1] in "，,、“‘（(《”’）)》")
