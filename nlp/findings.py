"""Stage 4, findings: split problem statements into one finding each.

How a feedback notice states its problems decides how we split:
- enumerations: 一是…二是…, （一）（二）, 1. 2., ①②, 有的…；有的…: one item per marker;
- lists inside a sentence: "存在A、B、C等问题", "主要是A、B等十个方面", "此外，还发现A、B等问题":
  one item per list member that states a problem (members without a problem word are joined to the
  next one, so "初三、高中挤占小课现象严重" stays whole);
- free sentences (…不到位, …不力, …有差距, 违规…): one item per sentence, split at ；when every
  clause states a problem on its own.
An item becomes a finding when it states a deficiency (``PROBLEM_CUE``) and is not a requirement,
a piece of praise, an action taken, a list header or a statistics-only sentence. Inside a unit's
problem block or a "问题" section, the context itself says the items are problems, so the test is
looser there than for a free sentence in a work summary.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from nlp.cues import LIST_HEADER, gives_advice, non_finding_reason, states_problem
from nlp.model import Finding, ReportDoc
from nlp.nesting import top_level

# Enumeration markers that start an item.
_MARKER = re.compile(
    r"(?P<m>[一二三四五六七八九十]{1,3}是|[（(][一二三四五六七八九十]{1,3}[）)]|[（(]\d{1,2}[）)]|(?<![\d.])\d{1,2}[.、．](?!\d)"
    r"|[①-⑳]|[一二三四五六七八九十]{1,2}、|其[一二三四五六七八九十]|有的(?=[\u4e00-\u9fff“])|有些(?=[\u4e00-\u9fff“]))"
)
_MARKER_BOUNDARY = "。；;：:！？!?\n “”\t"
_CLAUSE_MARKERS = ("有的", "有些")  # clause-level markers: they also follow a comma and end at ；/。
_LEAD_IN_HEADER = re.compile(r"(?:发现|存在|反映|暴露)[^。；]{0,60}问题[，,:：]?\s*$")
_LIST_WRAPPERS = [
    # 等 may be followed by a short label of the list, quoted or not: 等“五有”问题, 等四个方面问题
    re.compile(r"(?P<lead>(?:还)?存在(?:着)?)(?P<list>(?:(?!存在)[^。；;]){4,400}?)等(?:[“”\"\u4e00-\u9fff]{0,6})?(?:问题|方面问题|情况|现象)"),
    # a reporting sentence carrying the list: 此外还发现A、B等问题 / 对发现的A、B等问题进行了反馈 / 反馈了A、B等N个方面问题
    re.compile(r"(?P<lead>(?:此外|另外|同时|还|对|将)?[，,]?(?:还)?(?:发现|反馈|指出|梳理出|查找出)(?:的|了|出)?)"
               r"(?P<list>[^。；;]{4,400}?)等(?:[“”\"\u4e00-\u9fff0-9]{0,10})?问题"),
    re.compile(r"(?P<lead>主要(?:是|有|表现为|包括)[:：]?)(?P<list>[^。；;]{4,400}?)等(?:[^。；;，,]{0,8})?(?:方面|问题)"),
]


@dataclass
class _Item:
    start: int
    end: int
    marker: str | None = None
    in_context: bool = False  # inside a problem block/section/list: the context says it is a problem
    in_suggestions: bool = False  # inside a 建议/要求 section: requirements, not findings
    by_position: bool = False  # a 问题 table cell or a quoted 关于“X”问题: a problem by where it stands


def split_findings(doc: ReportDoc) -> list[Finding]:
    """Findings of ``doc`` in text order, ids ``F001``…; fills nothing else on the doc."""
    text = doc.text
    items: list[_Item] = []
    table: list[tuple[int, str]] = []  # consecutive table rows (offset, line)
    paragraphs = _paragraphs(doc)
    for start, end, _ in paragraphs:
        line = text[start:end]
        if _is_table_row(line):
            table.append((start, line))
            continue
        if table:
            items.extend(_table_items(table))
            table = []
        items.extend(_items_in_paragraph(doc, start, end))
    if table:
        items.extend(_table_items(table))
    headings = [(sec.start, sec.start + len(sec.title)) for sec in doc.sections]
    findings: list[Finding] = []
    for item in items:
        start, end = _trim(text, item.start, item.end)
        lead = _CATEGORY_LEAD.match(text, start, end)
        if lead and end - lead.end() >= 4:  # "一、聚焦党的领导方面，贯彻…有差距": the problem is after the lead
            start = lead.end()
        if end - start < 4 or _in_caption(doc, start, end):
            continue
        if not item.by_position and _is_heading(text, start, end, headings):
            continue
        snippet = text[start:end]
        section = doc.section_at(start)
        item.in_suggestions = section is not None and section.role == "suggestions" and doc.unit_at(start) is None
        if not _accept(snippet, item):
            continue
        section = doc.section_at(start)
        findings.append(
            Finding(
                id=f"F{len(findings) + 1:03d}",
                text=snippet,
                start=start,
                end=end,
                page=doc.page_at(start),
                unit=doc.unit_at(start) or (section.unit if section else None) or _section_unit(doc, start) or _single_unit(doc),
                section=section.title if section else None,
                marker=item.marker,
            )
        )
    return findings


# A numbered problem title on its own line; its text must be Chinese (two CJK characters at least), so
# a wrapped URL or file name ("1.html", "0.5") is never taken for a title swallowing the lines below it.
_TITLE_LINE = re.compile(
    r"^\s*(?:\d{1,2}[.、．]|[（(]\d{1,2}[）)]|[①-⑳]|[一二三四五六七八九十]{1,3}是)"
    r"(?=[^\u4e00-\u9fff]*[\u4e00-\u9fff][^\u4e00-\u9fff]*[\u4e00-\u9fff])[^。；;！？!?]{2,40}$"
)


Paragraph = tuple[int, int, tuple[int, int] | None]  # start, end, and the span of its 问题表现 detail


def _paragraphs(doc: ReportDoc) -> list[Paragraph]:
    """Non-empty lines. A numbered problem title on its own line ("1.政治理论学习不深入") takes the
    plain lines under it as its detail (问题表现), and so does any line opened by "问题表现：";
    the finding is the title, the detail is kept beside it."""
    text = doc.text
    lines: list[tuple[int, int]] = []
    pos = 0
    for line in text.split("\n"):
        if line.strip():
            lines.append((pos, pos + len(line)))
        pos += len(line) + 1
    heading_starts = {sec.start for sec in doc.sections}
    out: list[Paragraph] = []
    i = 0
    while i < len(lines):
        start, end = lines[i]
        if out and _DETAIL_LINE.match(text[start:end]):  # "问题表现：…" details the finding above it
            p_start, p_end, detail = out[-1]
            out[-1] = (p_start, p_end, (detail[0] if detail else start, end))
            i += 1
            continue
        if _TITLE_LINE.match(text[start:end]) and not _is_table_row(text[start:end]):
            j = i + 1
            while j < len(lines):
                nxt = text[lines[j][0] : lines[j][1]]
                if lines[j][0] in heading_starts or _TITLE_LINE.match(nxt) or _MARKER_AT_START.match(nxt) or _is_table_row(nxt):
                    break
                j += 1
            out.append((start, end, (lines[i + 1][0], lines[j - 1][1]) if j > i + 1 else None))
            i = j
        else:
            out.append((start, end, None))
            i += 1
    return out


# A category lead before the problem on the same line: 聚焦党的领导方面，… / 在党的建设方面存在的问题：…
_CATEGORY_LEAD = re.compile(
    r"\s*(?:\d{1,2}[.、．]|[（(][一二三四五六七八九十\d]{1,3}[）)]|[一二三四五六七八九十]{1,3}[是、])?\s*"
    r"(?:聚焦|关于|在)[^，,：:。；;]{2,24}方面(?:存在的问题|的问题|问题|主要是|主要有)?[，,：:]\s*"
)
_DETAIL_LINE = re.compile(r"^\s*(?:问题表现|具体表现|主要表现|表现为|问题描述|具体问题)\s*[:：]")
_MARKER_AT_START = re.compile(r"^\s*(?:\d{1,2}[.、．]|[（(][一二三四五六七八九十\d]{1,3}[）)]|[①-⑳]|[一二三四五六七八九十]{1,3}[是、])")


def _is_heading(text: str, start: int, end: int, headings: list[tuple[int, int]]) -> bool:
    """Whether an item is a section heading that names a topic ("三、存在的主要问题", "（一）党的领导
    方面", "问题：" before a list on the same line) rather than a problem. A heading that is itself a
    problem statement ("二、全面从严治党主体责任落实不到位", "（一）党的领导弱化") is a finding; so is the
    list after a label on the same line."""
    for h_start, h_end in headings:
        if h_start <= start < h_end and end <= h_end + 1:
            title = text[h_start:h_end]
            body = _MARKER_AT_START.sub("", title).strip()
            return not (states_problem(body) and non_finding_reason(title, body, in_context=True, enumerated=True) is None)
    return False


_CELL_GAP = re.compile(r"\t+| {2,}|\u3000{2,}")


def _is_table_row(line: str) -> bool:
    """A table row: cells joined by tabs (DOCX/HTML), by runs of two or more spaces (plain-text
    ledgers), or a |a|b|c| row."""
    if line.lstrip().startswith("|") and line.count("|") >= 3:
        return True
    return len(_CELL_GAP.findall(line.strip())) >= 2


def _cells(offset: int, line: str) -> list[tuple[int, int]]:
    if line.lstrip().startswith("|") and line.count("|") >= 3:
        cells, start = [], offset
        for i, ch in enumerate(line + "|"):
            if ch == "|":
                cells.append((start, offset + i))
                start = offset + i + 1
        return cells[1:]
    cells = []
    pos = len(line) - len(line.lstrip())
    for gap in _CELL_GAP.finditer(line, pos):
        if gap.start() > pos:
            cells.append((offset + pos, offset + gap.start()))
        pos = gap.end()
    if line.rstrip()[pos:]:
        cells.append((offset + pos, offset + len(line.rstrip())))
    return cells


def _table_items(rows: list[tuple[int, str]]) -> list[_Item]:
    """Rows of a 问题清单/整改台账: the cell under a "问题" header is the finding; other columns
    (整改措施, 完成情况) describe the rectification, not the problem. Tables without such a column
    (statistics tables) give no findings."""
    header_offset, header_line = rows[0]
    headers = [header_line[a - header_offset : b - header_offset].strip() for a, b in _cells(header_offset, header_line)]
    candidates = [
        i for i, h in enumerate(headers)
        if re.search(r"问题|事项", h) and not re.search(r"整改|措施|时限|责任|类别|类型|分类|来源|序号|编号|数", h)
    ]
    column = candidates[0] if candidates else None
    if column is None:
        return []
    items = []
    for offset, line in rows[1:]:
        cells = _cells(offset, line)
        if column < len(cells):
            a, b = cells[column]
            items.append(_Item(a, b, None, True, by_position=True))
    return items


def _section_unit(doc: ReportDoc, offset: int) -> str | None:
    """The unit named by any enclosing heading (a （一） sub-section inside "二、…向河口镇党委反馈情况")."""
    for sec in reversed(doc.sections):
        if sec.start <= offset < sec.end and sec.unit:
            return sec.unit
    return None


def _single_unit(doc: ReportDoc) -> str | None:
    names = doc.unit_names()
    return names[0] if len(names) == 1 else None


def _in_caption(doc: ReportDoc, start: int, end: int) -> bool:
    return any(cs <= start and end <= ce + 1 for cs, ce in doc.captions)


def _problem_context(doc: ReportDoc, offset: int) -> bool:
    for block in doc.units:
        if block.body_start <= offset < block.end:
            return True
    section = doc.section_at(offset)
    return section is not None and section.role == "problems"


def _items_in_paragraph(doc: ReportDoc, start: int, end: int) -> list[_Item]:
    text = doc.text
    # skip a unit header ("区委办存在的主要问题是：") at the start of the paragraph
    for block in doc.units:
        if start <= block.start < end and block.body_start <= end:
            start = max(start, block.body_start)
    context = _problem_context(doc, start)
    markers = _markers(text, start, end)
    items: list[_Item] = []
    if markers:
        # the lead-in before the first marker ("巡察发现的主要问题：") is an item only if it states a problem
        lead_in = text[start : markers[0][0]]
        header = _LEAD_IN_HEADER.search(lead_in) or re.search(r"[:：]\s*$", lead_in)
        if markers[0][0] > start and not header:
            items.extend(_sentence_items(text, start, markers[0][0], context))
        list_context = context or bool(LIST_HEADER.search(lead_in[-60:]) or _LEAD_IN_HEADER.search(lead_in))
        for i, (m_start, marker) in enumerate(markers):
            m_end = markers[i + 1][0] if i + 1 < len(markers) else end
            if marker in _CLAUSE_MARKERS:
                clause_end = _clause_end(text, m_start, m_end)
                items.extend(_list_items(text, m_start, clause_end, marker, True))
                if m_end - clause_end > 4:
                    items.extend(_sentence_items(text, clause_end, m_end, context))
                continue
            items.extend(_list_items(text, m_start, m_end, marker, list_context))
    else:
        items.extend(_sentence_items(text, start, end, context))
    return items


def _clause_end(text: str, start: int, end: int) -> int:
    """End of the clause a 有的/有些 item opens: the first ；or sentence end outside quotes."""
    return next((i + 1 for i in _top_level(text, start, end, "；;。！？!?")), end)


def _markers(text: str, start: int, end: int) -> list[tuple[int, str]]:
    """Enumeration markers at clause starts; 有的/有些 count only when they repeat."""
    found: list[tuple[int, str]] = []
    for m in _MARKER.finditer(text, start, end):
        prev = text[m.start() - 1] if m.start() > start else "\n"
        comma_ok = m.group("m") in _CLAUSE_MARKERS or m.group("m").endswith("是")
        if prev not in _MARKER_BOUNDARY and not (comma_ok and prev in "，,"):
            continue
        found.append((m.start(), m.group("m")))
    youde = [f for f in found if f[1] in _CLAUSE_MARKERS]
    if len(youde) < 2:
        found = [f for f in found if f[1] not in _CLAUSE_MARKERS]
    else:
        found = youde if len(youde) >= len(found) - len(youde) else found
    return _consistent(found)


def _consistent(found: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """Keep markers of a family that occurs at least twice, or once at the very start (a numbered line)."""
    def family(m: str) -> str:
        if m.endswith("是") and len(m) <= 4 and m[0] in "一二三四五六七八九十":
            return "shi"
        if m[0] in "（(":
            return "paren-" + ("cn" if m[1] in "一二三四五六七八九十" else "num")
        if m[0].isdigit():
            return "num"
        if "①" <= m[0] <= "⑳":
            return "circle"
        if m.endswith("、"):
            return "cn-dun"
        if m.startswith("其"):
            return "qi"
        return m
    counts: dict[str, int] = {}
    for _, m in found:
        counts[family(m)] = counts.get(family(m), 0) + 1
    starts = ("1.", "1、", "1．", "一是", "（一）", "(一)", "①", "（1）", "(1)", "其一")
    return [f for i, f in enumerate(found) if counts[family(f[1])] >= 2 or i == 0 or f[1] in starts]


def _sentence_items(text: str, start: int, end: int, context: bool) -> list[_Item]:
    """Items of free text: list members, else sentences (split at ；when each clause states a problem)."""
    items: list[_Item] = []
    for r_start, r_end in _quote_regions(text, start, end):
        for s_start, s_end in _sentences(text, r_start, r_end):
            colon = _HEADER_COLON.search(text, s_start, s_end)
            if colon:  # "…但也存在一些问题：A；B；C" — the header goes, the list after it is in context
                items.extend(_list_items(text, colon.end(), s_end, None, True))
            else:
                items.extend(_list_items(text, s_start, s_end, None, context))
    return items


# what announces a list of problems: 存在以下问题： / 一些突出问题，主要是： / 主要表现在：
_HEADER_COLON = re.compile(
    r"(?:问题|不足|差距|短板|方面)[，,]?(?:是|有|如下|主要是|主要有|主要表现为|表现在)?[:：]"
    r"|(?:主要|具体)?表现(?:在|为)[:：]"
)


_LONG_QUOTE = re.compile(r"“([^“”]{20,600}?[，,；;。][^“”]{4,600}?)”")


def _quote_regions(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Cut a paragraph around long quotations that hold several clauses (a quoted problem list),
    so the clauses inside the quote are split like free text instead of hidden inside one sentence."""
    regions = []
    pos = start
    for m in _LONG_QUOTE.finditer(text, start, end):
        if m.start() > pos:
            regions.append((pos, m.start()))
        regions.append((m.start(1), m.end(1)))
        pos = m.end()
    if pos < end:
        regions.append((pos, end))
    return regions


def _sentences(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Sentences ending at 。！？ outside quotes and brackets, the terminal mark kept."""
    out = []
    s = start
    for i in _top_level(text, start, end, "。！？!?"):
        out.append((s, i + 1))
        s = i + 1
    if s < end:
        out.append((s, end))
    return out


_RECTIFIED_PROBLEM = re.compile(
    r"^\s*(?:[（(][一二三四五六七八九十0-9]{1,3}[）)]|[一二三四五六七八九十]{1,3}[是、]|\d{1,2}[.、．])?\s*"
    r"(?:关于|针对|对)(?:巡察)?(?:反馈|指出|发现)?(?:的)?“(?P<problem>[^”]*(?:“[^”]*”[^”]*)*)”(?:的)?问题"
)


def _list_items(text: str, start: int, end: int, marker: str | None, context: bool) -> list[_Item]:
    """Split one marker item or sentence at problem lists and at ；, keeping the marker on the first piece."""
    segment = text[start:end]
    quoted = _RECTIFIED_PROBLEM.match(segment)
    if quoted:  # 整改报告: "（一）关于“X”问题。整改措施…" — the problem is X; the rest is the rectification
        return [_Item(start + quoted.start("problem"), start + quoted.end("problem"), marker, True, by_position=True)]
    for wrapper in _LIST_WRAPPERS:
        m = wrapper.search(segment)
        if not m:
            continue
        members = _members(text, start + m.start("list"), start + m.end("list"))
        lead_end = start + m.start("lead")
        lead_states_problem = lead_end > start and states_problem(text[start:lead_end])
        if len(members) < 2 or (lead_states_problem and len(members) < 3):
            continue  # "公车管理不严，存在公车私用、未封存等问题": the list details the lead; keep it whole
        out: list[_Item] = []
        if lead_states_problem:
            out.append(_Item(start, lead_end, marker, context))
        # in a list of three or more, the wrapper ("存在A、B、C等问题") says each member is a problem
        out.extend(
            _Item(a, b, marker if not out and i == 0 else None, True, by_position=len(members) >= 3)
            for i, (a, b) in enumerate(members)
        )
        tail = start + m.end()
        if end - tail > 6:
            out.extend(_list_items(text, tail, end, None, context))
        return out
    pieces = _problem_pieces(text, _sentences(text, start, end), detail=_DETAIL_LINE) if marker else [(start, end)]
    clauses: list[tuple[int, int]] = []
    for a, b in pieces:
        clauses.extend(_problem_pieces(text, _split_on(text, a, b, "；;")))
    return [_Item(a, b, marker if i == 0 else None, context) for i, (a, b) in enumerate(clauses)]


def _problem_pieces(
    text: str, parts: list[tuple[int, int]], detail: re.Pattern[str] | None = None
) -> list[tuple[int, int]]:
    """Keep sentences/clauses apart when at least two of them state a problem; a part that states
    none belongs to the one before it (its detail: "违规发放津补贴。2022年以来…共计12.3万元。"),
    or to the next one when it comes first. Parts matching ``detail`` ("问题表现：…") always
    belong to the part before them."""
    def own(a: int, b: int) -> bool:
        return states_problem(text[a:b]) and not (detail and detail.match(text[a:b].lstrip("\n")))

    # "…镇村财务管理不规范。巡察组建议，…要进一步提高政治站位…": where the inspectors turn to what they
    # ask, the problem statement has ended; the requirement is not its detail
    advice = next((i for i, (a, b) in enumerate(parts) if i > 0 and gives_advice(text[a:b])), None)
    if advice is not None:
        parts = parts[:advice]
    if len(parts) < 2 or sum(1 for a, b in parts if own(a, b)) < 2:
        return [(parts[0][0], parts[-1][1])] if parts else []
    merged: list[tuple[int, int]] = []
    pending: int | None = None
    for a, b in parts:
        if own(a, b):
            merged.append((pending if pending is not None else a, b))
            pending = None
        elif merged:
            merged[-1] = (merged[-1][0], b)
        else:
            pending = a
    return merged


def _members(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """List members split at 、 (outside quotes). In a list of three or more the wrapper ("存在…等问题")
    already says each member is a problem; in a shorter one, and for fragments of a few characters
    ("初三、高中…"), a member with no problem word joins the next one."""
    parts = _split_on(text, start, end, "、")
    if len(parts) < 3:  # 存在：A，B，C等问题 — a list written with commas
        by_comma = _split_on(text, start, end, "，,、")
        if len(by_comma) >= 3 and sum(1 for a, b in by_comma if states_problem(text[a:b])) >= 2:
            parts = by_comma
    long_list = len(parts) >= 3
    merged: list[tuple[int, int]] = []
    pending: int | None = None
    for a, b in parts:
        a0 = pending if pending is not None else a
        if states_problem(text[a:b]) or (long_list and b - a > 4):
            merged.append((a0, b))
            pending = None
        else:
            pending = a0
    if pending is not None:
        if merged:
            merged[-1] = (merged[-1][0], end)
        else:
            merged.append((pending, end))
    return merged


def _top_level(text: str, start: int, end: int, seps: str) -> Iterator[int]:
    """Offsets of separator characters that stand outside quotes and brackets (see :mod:`nlp.nesting`)."""
    return top_level(text, start, end, seps)


def _split_on(text: str, start: int, end: int, seps: str) -> list[tuple[int, int]]:
    """Non-empty stretches between top-level separators (the separators dropped)."""
    out = []
    s = start
    for i in _top_level(text, start, end, seps):
        if i > s:
            out.append((s, i))
        s = i + 1
    if end > s:
        out.append((s, end))
    return out


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    """Drop surrounding spaces, dangling commas and unmatched quotes around an item."""
    lead = " \t\n\u3000，,、：:；;"
    trail = " \t\n\u3000，,、：:；;"
    while start < end and text[start] in lead:
        start += 1
    while end > start and text[end - 1] in trail:
        end -= 1
    if start < end and text[start] in "“‘" and text.count("”", start, end) < text.count("“", start, end):
        start += 1
    if end > start and text[end - 1] in "”’" and text.count("“", start, end) < text.count("”", start, end):
        end -= 1
    while end > start and text[end - 1] in trail:
        end -= 1
    return start, end


def _accept(snippet: str, item: _Item) -> bool:
    """Whether an item states a problem (see the module docstring for the rules)."""
    body = re.sub(r"^\s*(?:[一二三四五六七八九十]{1,3}是|[（(][一二三四五六七八九十0-9]{1,3}[）)]|\d{1,2}[.、．]|[①-⑳]|有的|有些)", "", snippet)
    # An enumerated, complete sentence inside a unit's problem block is a problem by position (so is a
    # 问题 table cell); elsewhere an item needs a cue. Headings and truncated text never end with 。/；.
    enumerated_in_block = item.in_context and item.marker and len(body) >= 6 and snippet[-1] in "。；;！!"
    if not states_problem(body) and not (enumerated_in_block or item.by_position):
        return False
    if item.in_suggestions:
        return False
    return non_finding_reason(snippet, body, in_context=item.in_context, enumerated=bool(item.marker)) is None
