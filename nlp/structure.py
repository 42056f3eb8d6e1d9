"""Stage 3, structure: title, inspection round and kind, dates, sections, unit blocks, sentences.

Everything here reads the normalised text with patterns taken from how feedback notices are written
(see ../shared/reference/domain.md): "八届区委第七轮巡察", "区委办存在的主要问题是：一是…",
"区委政法委：对上一轮…", headings "一、…" / "（一）…" / a bare "问题" or "建议".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from nlp.model import RoundInfo, Section, Span, UnitBlock
from nlp.numerals import CN_NUMERAL_CHARS, parse_int

_CN = f"[{CN_NUMERAL_CHARS}0-9]"

# ---- round and kind -------------------------------------------------------------------------------
_ROUND = re.compile(
    rf"(?P<term>{_CN}{{1,4}}届(?:[\u4e00-\u9fff]{{1,8}}?)?[市县区州省旗盟镇]?委)?"
    rf"(?:[\u4e00-\u9fff]{{0,3}}[市县区州省旗]委)?第(?P<num>{_CN}{{1,4}})轮(?:[\u4e00-\u9fff]{{0,6}})?(?:巡察|巡视)"
)
# (kind label, cue regex); order = priority when several apply (the most specific first)
KIND_CUES: list[tuple[str, re.Pattern[str]]] = [
    ("回头看", re.compile(r"回头看")),
    ("交叉", re.compile(r"交叉巡察|交叉巡视")),
    ("提级", re.compile(r"提级巡察")),
    ("联动", re.compile(r"联动(专项)?巡察|上下联动[\u4e00-\u9fff]{0,4}巡察")),
    ("专项", re.compile(r"专项巡察|专项巡视")),
    ("机动", re.compile(r"机动(式)?巡察|机动巡视")),
    ("延伸", re.compile(r"延伸巡察")),
    ("村(社区)", re.compile(r"村[(（]社区[)）][\u4e00-\u9fff]{0,4}巡察|对村巡察|村级巡察|巡村|[0-9一二三四五六七八九十]+个村")),
    ("常规", re.compile(r"常规巡察|常规巡视")),
]

# ---- dates ---------------------------------------------------------------------------------------
_DATE_FULL = re.compile(r"(?P<y>(?:19|20)\d{2})\s*年\s*(?P<m>\d{1,2})\s*月(?:\s*(?P<d>\d{1,2})\s*日)?")
_DATE_CONT = re.compile(r"\s*[至到—\-~～]\s*(?:(?P<y>(?:19|20)\d{2})\s*年)?\s*(?P<m>\d{1,2})\s*月(?:\s*(?P<d>\d{1,2})\s*日)?")
_DATE_ISO = re.compile(r"(?<!\d)(?P<y>(?:19|20)\d{2})[-/.](?P<m>\d{1,2})[-/.](?P<d>\d{1,2})(?!\d)")

# ---- units ---------------------------------------------------------------------------------------
# Words an inspected organisation's name ends with.
ORG_SUFFIX = (
    r"(?:党组织|党组|党委|党工委|党总支|党支部|支部|委员会|机关|委|局|办|部|院|会|所|中心|镇|乡|街道|村|社区|公司|集团|"
    r"学校|小学|中学|大学|医院|厅|处|队|站|室|馆|庭|署|司|社|团|校|园|行|场|厂)"
)
_UNIT_HEADER = re.compile(
    rf"(?P<unit>[\u4e00-\u9fff（）()“”0-9、]{{2,40}}?{ORG_SUFFIX})(?:[\u4e00-\u9fff]{{0,4}}党组织)?"
    r"(?:在[\u4e00-\u9fff]{0,12}方面)?(?:还|仍|也|主要)?存在的?(?:主要|突出)?问题(?:是|有|主要是|主要有|包括)?\s*[:：]"
)
_UNIT_INLINE = re.compile(
    rf"(?:指出|发现|认为|反映出?)[，,：:]\s*(?P<unit>[\u4e00-\u9fff（）()0-9]{{2,40}}?{ORG_SUFFIX})(?:还|仍|也)?存在"
)
_UNIT_COLON = re.compile(rf"^(?P<unit>[\u4e00-\u9fff（）()0-9]{{2,30}}{ORG_SUFFIX})\s*[:：]")
_INSPECTED_LIST = re.compile(
    r"(?:分别)?对(?P<list>[^。；;\n\t]{2,300}?)(?:共\s*\d+\s*个[\u4e00-\u9fff]{0,6})?(?:开展|进行|实施)了?[^。；;\n]{0,20}?(?:巡察|巡视|回头看)"
)
_FEEDBACK_TO = re.compile(
    r"向(?P<unit>[\u4e00-\u9fff（）()0-9]{2,40}?" + ORG_SUFFIX + r")(?:及[^。，,]{0,40})?反馈"
    r"|向(?P<leader_of>[\u4e00-\u9fff]{2,12}?(?:市委|县委|区委|州委|省委|党委|党组|党工委))(?:书记|主要负责)[^。；]{0,30}?反馈"
)
_NOT_UNIT = re.compile(r"^(巡察组|巡视组|巡察办|巡察机构|区委|县委|市委|省委|党中央|中央|我们|各|本|该|其|全县|全区|全市|全省|上级|单位|问题)$")

# ---- sections ------------------------------------------------------------------------------------
_HEADING = re.compile(
    r"^\s*(?P<marker>[一二三四五六七八九十]{1,3}、|[（(][一二三四五六七八九十]{1,3}[）)]|第[一二三四五六七八九十]{1,3}部分)"
    r"(?P<title>[^\n]{0,60})$"
)
_BARE_HEADING = re.compile(r"^\s*(?P<title>(?:存在的|发现的|主要)?问题|(?:意见)?建议|整改要求|工作要求|下一步(?:工作)?(?:打算|安排)?|主要问题)\s*(?:[:：]|\s|$)")
SECTION_ROLES: list[tuple[str, re.Pattern[str]]] = [
    ("suggestions", re.compile(r"建议|要求|意见|下一步|打算|措施|做法|经验|成效|举措")),
    ("problems", re.compile(r"问题|不足|差距|短板")),
    ("rectification", re.compile(r"整改")),
]

# ---- sentences -----------------------------------------------------------------------------------
_OPEN = "“‘（(《〈【「『"
_CLOSE = "”’）)》〉】」』"
_TERMINALS = "。！？!?"


@dataclass
class Structure:
    title: str | None
    kind: str | None
    round: RoundInfo | None
    dates: list[str]
    units: list[UnitBlock]
    sections: list[Section]
    sentences: list[Span]
    inspected_units: list[str]
    unit_aliases: dict[str, str]


_ALIAS = re.compile(
    r"(?P<full>[\u4e00-\u9fff0-9]{2,40}?" + ORG_SUFFIX + r")[（(](?:以下)?简称[“\"]?(?P<short>[\u4e00-\u9fff0-9]{2,20})[”\"]?[）)]"
)


def find_unit_aliases(text: str) -> dict[str, str]:
    """Short names the report defines ("县医疗保障局党组（以下简称县医保局党组）"), short -> full."""
    aliases: dict[str, str] = {}
    for m in _ALIAS.finditer(text):
        full = clean_unit(re.sub(r"^.*?(?:对|向)", "", m.group("full")))
        aliases.setdefault(m.group("short"), full)
    return aliases


def analyse_structure(text: str, html_title: str | None = None) -> Structure:
    sections = find_sections(text)
    title = find_title(text, html_title)
    kind = find_kind(text, title)
    return Structure(
        title=title,
        kind=kind,
        round=find_round(text, title),
        dates=find_dates(text),
        units=find_unit_blocks(text),
        sections=sections,
        sentences=split_sentences(text),
        inspected_units=find_inspected_units(text),
        unit_aliases=find_unit_aliases(text),
    )


def find_title(text: str, html_title: str | None = None) -> str | None:
    """A short line near the top that names the report; else the first short line; else <title>."""
    candidates = []
    for line in text.split("\n")[:6]:
        s = line.strip()
        if not s:
            continue
        if len(s) <= 50 and not re.search(r"[。；;]|[，,：:]$", s) and re.search(r"[\u4e00-\u9fff]", s):
            if not re.match(r"^(SOURCE|DATE|来源|信息来源|发布时间)\s*[:：]", s):
                candidates.append(s)
        if len(s) > 60:
            break
    for s in candidates:
        if re.search(r"巡察|巡视|整改|反馈|通报|报告|综述|情况", s) and len(s) >= 6:
            return s
    if candidates:
        return candidates[0]
    return html_title.strip() if html_title and html_title.strip() else None


# A round named as the one being looked back at ("第五轮巡察反馈以来", "第五轮巡察反馈问题整改").
_EARLIER_ROUND_CONTEXT = re.compile(r"[^。；，,]{0,6}?(?:反馈以来|以来|反馈的|反馈问题|指出的|发现的问题)")


def find_round(text: str, title: str | None = None) -> RoundInfo | None:
    """The round the report belongs to: the one in the title, else the first one the text names
    that is not an earlier round referred back to ("第五轮巡察反馈以来", "第五轮巡察反馈的问题");
    None rather than a wrong round when the text names only earlier ones."""
    if title:
        m = _ROUND.search(title)
        if m:
            return _round_info(m)
    for m in _ROUND.finditer(text):
        if not _EARLIER_ROUND_CONTEXT.match(text, m.end()):
            return _round_info(m)
    return None


_LEADING_FUNCTION_WORDS = re.compile(r"^(?:关于|根据|按照|对于|对|在|于|据|向)+")


def _round_info(m: re.Match[str]) -> RoundInfo:
    # the optional "XX县委" prefix may swallow a preceding function word ("关于区委第九轮")
    label = _LEADING_FUNCTION_WORDS.sub("", m.group(0)[: m.group(0).index("轮") + 1])
    return RoundInfo(label=label, number=parse_int(m.group("num")), term=m.group("term"))


_KIND_ACTION = re.compile(r"(?:开展|进行|实施|启动)(?:了)?(?P<what>[^。；，,\n]{0,24}?(?:巡察|巡视|回头看))")


def find_kind(text: str, title: str | None = None) -> str | None:
    """The inspection kind: named in the title; else in the sentence saying what was carried out
    ("…开展了机动巡察"); else the kind named first in the text. A kind mentioned in passing later
    (延伸到村, 提级 for one village) does not override what the report is."""
    if title:
        for label, cue in KIND_CUES:
            if cue.search(title):
                return label
    for m in _KIND_ACTION.finditer(text[:2000]):
        for label, cue in KIND_CUES:
            if cue.search(m.group("what")):
                return label
    # the first sentence that names any kind decides; within it, the most specific kind wins
    for sentence in re.split(r"[。！？\n]", text):
        for label, cue in KIND_CUES:
            if cue.search(sentence):
                return label
    return None


def find_dates(text: str) -> list[str]:
    """ISO dates (YYYY-MM-DD, or YYYY-MM when no day is given), ranges expanded, in text order."""
    found: list[tuple[int, str]] = []
    for m in _DATE_FULL.finditer(text):
        y, mo, d = int(m.group("y")), int(m.group("m")), m.group("d")
        if not 1 <= mo <= 12:
            continue
        found.append((m.start(), _iso(y, mo, d)))
        cont = _DATE_CONT.match(text, m.end())
        if cont:
            y2 = int(cont.group("y") or y)
            mo2 = int(cont.group("m"))
            if 1 <= mo2 <= 12:
                found.append((m.end(), _iso(y2, mo2, cont.group("d"))))
    for m in _DATE_ISO.finditer(text):
        mo = int(m.group("m"))
        if 1 <= mo <= 12:
            found.append((m.start(), _iso(int(m.group("y")), mo, m.group("d"))))
    out: list[str] = []
    for _, iso in sorted(found):
        if iso not in out:
            out.append(iso)
    return out


def _iso(y: int, m: int, d: str | None) -> str:
    if d and 1 <= int(d) <= 31:
        return f"{y:04d}-{m:02d}-{int(d):02d}"
    return f"{y:04d}-{m:02d}"


def clean_unit(name: str) -> str:
    name = name.strip(" 、，,：:“”")
    name = re.sub(r"^(?:此外|同时|其中|另外|经查|巡察发现|巡察中发现|反馈指出)[，,]?", "", name)
    name = re.sub(r"^(?:对|向|在|和|及|与|其)", "", name)
    return name


def find_unit_blocks(text: str) -> list[UnitBlock]:
    """Units named as the subject of a problem block, with the span of text that block covers.

    A block starts at "X存在的主要问题是：" or at a line "X：…" where X looks like an organisation;
    it ends where the next block starts, or at the first following line that is a heading or
    does not continue the enumeration (the requirements and 表态 that follow a feedback).
    """
    headers: list[tuple[int, int, str]] = []
    for m in _UNIT_HEADER.finditer(text):
        unit = clean_unit(m.group("unit"))
        # the header must start a line or a sentence; otherwise the match ran into other words
        line_start = text.rfind("\n", 0, m.start()) + 1
        sentence_start = max(text.rfind(p, line_start, m.start()) for p in "。；;：:，,") + 1
        start = max(line_start, sentence_start)
        unit = clean_unit(text[start : m.start("unit")] + m.group("unit")) if start < m.start("unit") else unit
        if _NOT_UNIT.match(unit) or len(unit) < 2 or len(unit) > 40:
            continue
        headers.append((start, m.end(), unit))
    for m in _UNIT_INLINE.finditer(text):
        unit = clean_unit(m.group("unit"))
        if _NOT_UNIT.match(unit) or any(h[0] <= m.start("unit") < h[1] for h in headers):
            continue
        headers.append((m.start("unit"), m.start("unit"), unit))
    pos = 0
    for line in text.split("\n"):
        colon = _UNIT_COLON.match(line)
        if colon and not _NOT_UNIT.match(colon.group("unit")) and len(line) > colon.end() + 4:
            start = pos
            if not any(h[0] <= start < h[1] for h in headers):
                headers.append((start, pos + colon.end(), clean_unit(colon.group("unit"))))
        pos += len(line) + 1
    headers.sort()
    blocks: list[UnitBlock] = []
    for i, (start, body_start, unit) in enumerate(headers):
        limit = headers[i + 1][0] if i + 1 < len(headers) else len(text)
        end = _block_end(text, body_start, limit)
        blocks.append(UnitBlock(name=unit, start=start, end=end, body_start=body_start))
    return blocks


_CONTINUES = re.compile(
    r"^\s*(?:[一二三四五六七八九十]{1,3}是|[（(][一二三四五六七八九十0-9]{1,3}[）)]|\d{1,2}[.、．]|[①-⑳]|有的|此外|另外|同时|还存在|其中)"
)


def _block_end(text: str, body_start: int, limit: int) -> int:
    """End of a unit block: the end of its first line, extended over lines that continue its list."""
    end = text.find("\n", body_start)
    if end < 0 or end >= limit:
        return limit
    # header alone on its line ("X存在的主要问题是：") -> the list follows on the next lines
    first_line_empty = not text[body_start:end].strip()
    while end < limit:
        nxt = text.find("\n", end + 1)
        nxt = limit if nxt < 0 or nxt > limit else nxt
        line = text[end + 1 : nxt]
        if not line.strip():
            end = nxt
            continue
        if _CONTINUES.match(line) or first_line_empty:
            first_line_empty = False
            end = nxt
            continue
        break
    return min(end, limit)


def find_inspected_units(text: str) -> list[str]:
    """Units the background paragraph says were inspected ("对区委办、区人大机关党组…开展了常规巡察")."""
    units: list[str] = []
    for m in _INSPECTED_LIST.finditer(text[:3000]):
        raw = m.group("list")
        raw = re.sub(r"^[^，,]*[，,]", "", raw) if re.search(r"巡察组[，,]", raw) else raw
        group = re.search(r"等\s*\d+\s*(?:个|家|所)", raw) and not re.search(r"[、，,]", raw)
        parts = [raw] if group else _split_unit_list(raw)  # "团圆村等23个村(社区)党组织" is one group
        for part in parts:
            part = re.sub(r"[（(](?:以下简称|简称)[^）)]*[）)]", "", part)
            name = clean_unit(part if group else re.sub(r"等\s*\d*\s*(家|个)?[\u4e00-\u9fff]{0,8}$", "", part))
            if re.search(ORG_SUFFIX + r"$", name) and not _NOT_UNIT.match(name) and 2 <= len(name) <= 40:
                if name not in units:
                    units.append(name)
    if units:
        return units  # the inspected units; a feedback recipient is often only their parent body
    for m in _FEEDBACK_TO.finditer(text[:3000]):
        name = clean_unit(m.group("unit") or m.group("leader_of"))
        if not _NOT_UNIT.match(name) and name not in units:
            units.append(name)
    return units


def _split_unit_list(raw: str) -> list[str]:
    """Split "区委办、区人大机关党组和双塔街道党工委" at 、，and at 和/及 only between two names
    ("县住房和城乡建设局党组" stays whole)."""
    out: list[str] = []
    for part in re.split(r"[、，,]", raw):
        start = 0
        for m in re.finditer(r"以及|和|及", part):
            if _ENDS_WITH_ORG.search(part[start : m.start()]) and len(part) - m.end() >= 2:
                out.append(part[start : m.start()])
                start = m.end()
        out.append(part[start:])
    return out


_ENDS_WITH_ORG = re.compile(ORG_SUFFIX + r"$")


_HEADING_UNIT = re.compile(
    r"向(?P<to>[\u4e00-\u9fff（）()0-9]{2,40}?" + ORG_SUFFIX + r")反馈"
    r"|^(?:[一二三四五六七八九十]{1,3}、|[（(][一二三四五六七八九十]{1,3}[）)])(?P<name>[\u4e00-\u9fff（）()0-9]{2,30}" + ORG_SUFFIX + r")$"
)


def find_sections(text: str) -> list[Section]:
    """Headings ("一、…", "（二）…", bare "问题"/"建议") and the text they govern, with a role."""
    marks: list[tuple[int, str, int]] = []  # (start, title, level)
    pos = 0
    for line in text.split("\n"):
        m = _HEADING.match(line)
        if m and _is_heading_line(line):
            level = 1 if "、" in m.group("marker") or "部分" in m.group("marker") else 2
            marks.append((pos, line.strip(), level))
        else:
            b = _BARE_HEADING.match(line)
            if b:
                marks.append((pos, b.group("title"), 1))
        pos += len(line) + 1
    sections: list[Section] = []
    for i, (start, title, level) in enumerate(marks):
        end = len(text)
        for later_start, _, later_level in marks[i + 1 :]:
            if later_level <= level:
                end = later_start
                break
        named = _HEADING_UNIT.search(title)
        unit = clean_unit(named.group("to") or named.group("name")) if named else None
        sections.append(Section(title=title, start=start, end=end, role=section_role(title), unit=unit))
    return sections


def _is_heading_line(line: str) -> bool:
    """Short, and not a sentence: a line ending in 。 states something ("（七）关于“X”问题。")."""
    s = line.strip()
    if s.endswith(("。", "；", ";")):
        return False
    return len(s) <= 40 or (len(s) <= 60 and not re.search(r"[。；;]", s))


def section_role(title: str) -> str:
    for role, cue in SECTION_ROLES:
        if cue.search(title):
            if role == "suggestions" and re.search(r"问题", title) and not re.search(r"建议|要求", title):
                return "problems"
            return role
    return "body"


def split_sentences(text: str) -> list[Span]:
    """Sentences ending at 。！？ outside quotes/brackets, or at a line break.

    A terminal mark right before a closing quote ends the sentence after the quote ("…”。" and "…。”").
    Unbalanced brackets never swallow more than one line.
    """
    spans: list[Span] = []
    start = 0
    depth = 0
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == "\n":
            if text[start:i].strip():
                spans.append(_trimmed(text, start, i))
            start, depth = i + 1, 0
        elif ch in _OPEN:
            depth += 1
        elif ch in _CLOSE:
            depth = max(0, depth - 1)
        elif ch in _TERMINALS:
            j = i + 1
            while j < n and text[j] in _TERMINALS:
                j += 1
            # "…。”" ends the sentence after the quote; "（…。）" is a parenthesis inside the sentence
            while j < n and text[j] in "”’」』" and depth > 0:
                depth -= 1
                j += 1
            if depth == 0:
                spans.append(_trimmed(text, start, j))
                start = j
            i = j - 1
        i += 1
    if text[start:].strip():
        spans.append(_trimmed(text, start, n))
    return [s for s in spans if s.end > s.start]


def _trimmed(text: str, start: int, end: int) -> Span:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return Span(start, end)
