"""Number grammar: find every counted figure in a text and read its value.

A *mention* is one figure as written: an optional pre-qualifier (近/逾/约/超过…), the number in
Arabic (1832, 1,832, 2.67) or Chinese (十二, 一千八百三十二, 两万, 百分之九十八点一四) digits, an optional
range (3至5, 4到5), 万/亿 scaling, 余/多, a measure word (个/件/条/项/人/名/人次/家/所/轮/次/元/% …)
and an optional post-qualifier (以上/左右/以下). Values are normalised: 2.5万余个 → 25000,
2.67亿元 → 267000000 (money is always in 元), 300多项 → 300 (余/多 keep the base number and go to
``qualifier``), 98.14% → 98.14 with unit "%". A range keeps its lower bound as the value and the
range itself ("3-5") in ``qualifier``.

A number without a measure word is never a statistic. That alone keeps out dates and years (2024年
9月13日), durations (15天, 2周, 三个月), document numbers (〔2024〕12号), phone numbers and names
such as 十九大 or 十二届. What still looks like a count is dropped here when it is:
- an ordinal (第十二轮, 第一议题, 第57次会议) or follows a demonstrative (上一轮, 新一轮, 每一次);
- inside quotation marks or a book title (“四个一”, “三张清单”, 《…20条措施》) — those are names;
- a slogan or set phrase from ``SET_PHRASES`` (四个意识, 两个维护, 三重一大, 八项规定, 一批 …);
- a session name (十三届二次全会), or a measure word that is really the start of another word
  (一次性, 3条例, 5项目).
A one-character Chinese numeral (三个, 两项, 十个) is marked ``weak``: it is so often part of a phrase
(紧盯四个重点, 三项汇报机制) that the extractor counts it only after a count cue.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from dataclasses import dataclass
from decimal import Decimal

from nlp.numerals import CN_DIGIT_CHARS, CN_NUMERAL_CHARS, plain_number, to_decimal

_CN_START = CN_DIGIT_CHARS + "十拾"  # a Chinese number starts with a digit or 十 (not 百姓, 万人, 千方百计)
_CN = rf"[{_CN_START}][{CN_NUMERAL_CHARS}]*(?:点[{CN_DIGIT_CHARS}]+)?"
_ARABIC = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?(?!\d)|\d+(?:\.\d+)?"
# An Arabic number never starts inside another number, a Chinese one never inside a Chinese numeral.
_NUM = rf"(?:(?<![\d.])(?<!\d,){_ARABIC}|(?<![{CN_NUMERAL_CHARS}]){_CN})"

PRE_QUALIFIERS = ("将近", "接近", "大约", "超过", "不足", "不到", "多达", "近", "逾", "约", "超")
POST_QUALIFIERS = ("以上", "左右", "以下", "之多")

# Measure word as written → unit reported. Money is scaled to 元; 名/位 count people.
MEASURES: dict[str, str] = {
    "个百分点": "百分点", "百分点": "百分点", "人次": "人次", "件次": "件次", "户次": "户次", "轮次": "轮", "%": "%",
    "个": "个", "件": "件", "条": "条", "项": "项", "人": "人", "名": "人", "位": "人", "家": "家",
    "所": "所", "轮": "轮", "次": "次", "元": "元", "篇": "篇", "份": "份", "起": "起", "宗": "宗",
    "笔": "笔", "处": "处", "批": "批", "户": "户", "套": "套", "场": "场", "期": "期", "座": "座",
    "台": "台", "辆": "辆",
}
_MEASURE = "|".join(re.escape(m) for m in sorted(MEASURES, key=len, reverse=True))
_RANGE_SEP = r"至|到|-|~|～|—|–"

NUMBER_PATTERN = re.compile(
    rf"(?P<pre>{'|'.join(PRE_QUALIFIERS)})?"
    rf"(?:百分之(?P<pct>{_NUM}|百(?![分万亿]))"
    rf"|(?P<num>{_NUM})(?:[ \u3000]?(?:{_RANGE_SEP})[ \u3000]?(?P<num2>{_NUM}))?"
    rf"(?P<q1>余|多)?(?P<scale>万|亿)?(?P<q2>余|多)?[ \u3000]?(?P<measure>{_MEASURE})(?:\((?:次|个)\))?)"
    rf"(?P<post>{'|'.join(POST_QUALIFIERS)})?"
)

# A measure word followed by these is the first character of another word (一次性, 个月, 5项目 …).
_NOT_MEASURE = re.compile(
    r"(?:个多?(?:月|工作日|半天|半月|小时|星期|季度|年度)|次(?:性|全会|中全会|全体会议|党代会)|名(?:单|称|义|额|誉)|"
    r"所(?:属|辖|在|有|以|得|谓)|家(?:庭|属|长|乡|人)|项(?:目)|条(?:例|件|款|线)|期(?:间|限)|位(?:置|于)|"
    r"台(?:账|阶)|场(?:所|景)|起(?:草|来|步|点)|处(?:分|理|级|长|置)|批(?:示|准|复|次)|户(?:口|籍)|人(?:民|大|事|才|口|身|均))"
)
_DEMONSTRATIVES = "新上下每本这那该同某其数几若前后头首"  # 上一轮, 新一轮, 数十个: not a count
# Political slogans and set phrases that read like counts. Extend here, not in code.
SET_PHRASES: tuple[str, ...] = (
    "四个意识", "四个自信", "两个维护", "两个确立", "三个聚焦", "三个代表", "两个责任", "两个务必",
    "四个全面", "五位一体", "八项规定", "三重一大", "一岗双责", "三会一课", "两学一做", "三严三实",
    "四个落实", "四个紧盯", "四个一", "四个函", "三张清单", "三个说清楚", "三不一体", "四议两公开",
    "两个严于", "一把手", "一件事", "一张网", "一盘棋", "三个一批", "六个一", "八个一",
    "一批", "一些", "一项项", "一件件", "一个个", "一次次",
)


@dataclass(frozen=True)
class NumberMention:
    """One figure as written in the text."""

    start: int
    end: int
    value: int | float
    unit: str  # normalised: 个 人 元 % 轮 …
    measure: str  # as written: 名 轮次 个百分点 … ("%" for percentages)
    qualifier: str | None  # 余 / 多 / 近 / 以上 / "3-5" …; several joined by ","
    weak: bool  # a one-character Chinese numeral (三个, 两项): only counted after a count cue


class Stops:
    """Offsets of boundary characters (clause or sentence ends), for quick look-ups around a figure."""

    def __init__(self, text: str, chars: str) -> None:
        self.positions = [i for i, ch in enumerate(text) if ch in chars]
        self.length = len(text)

    def start_before(self, pos: int) -> int:
        """Start of the stretch holding ``pos``: just after the last stop before it, or 0."""
        i = bisect_left(self.positions, pos)
        return self.positions[i - 1] + 1 if i else 0

    def end_after(self, pos: int) -> int:
        """The first stop at or after ``pos`` (the end of the text when there is none)."""
        i = bisect_left(self.positions, pos)
        return self.positions[i] if i < len(self.positions) else self.length


SENTENCE_ENDS = "。；;！？!?\n"


def _inside_quotes(text: str, pos: int, sentences: Stops) -> bool:
    """True when ``pos`` sits inside “…”, "…" or 《…》 opened in the same sentence or line."""
    before = text[sentences.start_before(pos) : pos]
    if before.count("“") > before.count("”") or before.count("《") > before.count("》"):
        return True
    return before.count('"') % 2 == 1


def _rejected(text: str, m: re.Match[str], num_start: int, sentences: Stops) -> bool:
    """The non-statistics listed in the module docstring."""
    before = text[num_start - 1] if num_start > 0 else ""
    if before == "第" or (m.start() > 0 and text[m.start() - 1] == "第"):
        return True  # 第十二轮, 第一议题, 第57次会议
    first = text[num_start]
    if first in CN_NUMERAL_CHARS and before in _DEMONSTRATIVES:
        return True
    if first.isdigit() and before and before.isascii() and (before.isalpha() or before in "+-/.#"):
        return True
    after = text[m.end() : m.end() + 1]
    if after and (after == "+" or (after.isascii() and after.isalpha())):
        return True
    measure = m.group("measure")
    if measure and _NOT_MEASURE.match(text, m.start("measure")):
        return True
    if any(text.startswith(s, num_start) for s in SET_PHRASES):
        return True
    if first in CN_NUMERAL_CHARS and measure and text[m.end("measure") : m.end("measure") + 1] in (
        "“", '"', *CN_DIGIT_CHARS
    ):
        return True  # 四个“关键点”, 三个一批: a named set, not a count
    return _inside_quotes(text, num_start, sentences)


def _scale(m: re.Match[str]) -> int:
    return {"万": 10_000, "亿": 100_000_000}.get(m.group("scale") or "", 1)


def _qualifier(m: re.Match[str]) -> str | None:
    """余/多/近/以上 … as written; a range as "low-high" in the reported unit (3至5万元 → 30000-50000)."""
    parts = [m.group("pre")]
    if m.group("num2"):
        low, high = (plain_number(to_decimal(m.group(g)) * _scale(m)) for g in ("num", "num2"))
        parts.append(f"{low}-{high}")
    parts += [m.group("q1"), m.group("q2"), m.group("post")]
    kept = [p for p in parts if p]
    return ",".join(kept) if kept else None


def read_mention(m: re.Match[str]) -> tuple[Decimal, str, str]:
    """Value, unit and measure of a ``NUMBER_PATTERN`` match (a range reads as its lower bound)."""
    if m.group("pct"):
        return to_decimal(m.group("pct")), "%", "%"
    measure = m.group("measure")
    return to_decimal(m.group("num")) * _scale(m), MEASURES[measure], measure


def find_numbers(text: str) -> list[NumberMention]:
    """Every figure with a measure word in ``text``, in text order, minus the non-statistics."""
    mentions: list[NumberMention] = []
    sentences = Stops(text, SENTENCE_ENDS)
    for m in NUMBER_PATTERN.finditer(text):
        # where the number itself starts (after a pre-qualifier; 百分之 belongs to the number)
        num_start = m.end("pre") if m.group("pre") else m.start()
        if _rejected(text, m, num_start, sentences):
            continue
        try:
            value, unit, measure = read_mention(m)
        except ValueError:
            continue
        digits = m.group("pct") or m.group("num")
        weak = len(digits) == 1 and digits in CN_NUMERAL_CHARS and not m.group("num2")
        mentions.append(
            NumberMention(
                start=m.start(),
                end=m.end(),
                value=plain_number(value),
                unit=unit,
                measure=measure,
                qualifier=_qualifier(m),
                weak=weak,
            )
        )
    return mentions
