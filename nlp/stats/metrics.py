"""Which metric a figure counts, read from the words around it.

The data is ``CUES``: one row per cue, the metric it signals, the units it can count, on which side
of the number it stands and, for some, a word that must also be there. The window rules, applied in
this order, are:

1. **Left cue** — the cue words end right before the number, with at most filler words between
   (共, 累计, 达到了, 为 …): 发现问题1832个, 移送问题线索126件, 整改率达到了94%, 清退违规资金66.57万元.
   The window is the clause (up to ，。；：or a line break) and never reaches back past the previous
   figure, so in 党纪政务处分47人，组织处理65人 each figure has its own cue. The first row in table
   order whose pattern matches and whose units fit wins. 完成率 and a bare 已完成 need a
   rectification word (整改/销号/问题) in the sentence (项目完成率85% is not a rectification rate).
2. **Right cue** — the number comes first and the noun it counts follows: 移交96个问题线索,
   6轮常规巡察, 5次教育领域巡察, 6项主体责任制度, 1名…党委书记给予党内警告处分. Some rows also need a
   word earlier in the clause (反馈的697个问题 is found problems only after 发现/反馈; N项…制度 is
   established only after 建立/完善/形成 …).
3. **Inspected units** — N个/家/所 + an organisation noun (党组织, 单位, 村(社区), 镇, 部门, 企业,
   院校 …), when the clause says they were inspected: 对/向/进驻…N个X开展/进行…巡察, …的巡视,
   覆盖N个X, 巡察了…N个X, N个X巡察全覆盖, N个X接受巡察 (strength 3); 向…N个X…反馈巡察情况
   (strength 2); N个被巡察X (strength 1). The strength decides which mention to keep when a text
   restates the same count (``nlp/stats/extract.py``).
4. **轮** counts rounds when the sentence is about 巡察/巡视/回头看.
5. **其中** — a figure without a cue, after 其中 in the sentence of a named statistic with the same
   unit, is a part of it and takes its metric (the caller passes ``part_of``).
6. Anything else with a measure word is ``other`` (meetings, teams, coverage %, 人次 trained …).

Then context can turn a named metric into ``other``:
- an average or typical value (平均, 年均, 普遍, 每轮 … earlier in the clause);
- figures of a team that supervises inspection work rather than inspects (指导督导, 督导组);
- the inspection body's own rules (自身建设, 规范化建设, 队伍建设 in the sentence) for
  systems_established — README convention;
- work not done (持续/正在/尚未/未/需 整改, 未追回), people already under discipline (受处分人员),
  clues that were disposed of rather than transferred (处置/办结/核查).
A goal (确保整改率100%) is not a statistic at all, and a one-character Chinese numeral (三个, 两项)
counts only after a cue: 一 never does on its own (一个, 一项 are mostly the article "a").

Labelling conventions followed (../shared/eval-dev/README.md): 追责问责 → people_disciplined,
诫勉 → people_org_handled, 留置 → other, 发现问题线索 → clues_transferred, 立行立改 and
推动/牵头解决问题 → problems_rectified, averages → other.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from nlp.stats.numbers import NumberMention


class Metric(StrEnum):
    ROUNDS = "rounds"
    UNITS_INSPECTED = "units_inspected"
    PROBLEMS_FOUND = "problems_found"
    CLUES_TRANSFERRED = "clues_transferred"
    PROBLEMS_RECTIFIED = "problems_rectified"
    RECTIFICATION_RATE = "rectification_rate"
    SYSTEMS_ESTABLISHED = "systems_established"
    PEOPLE_DISCIPLINED = "people_disciplined"
    PEOPLE_ORG_HANDLED = "people_org_handled"
    TRANSFERRED_JUDICIAL = "transferred_judicial"
    FUNDS_RECOVERED = "funds_recovered"
    OTHER = "other"


NAMED_METRICS: tuple[Metric, ...] = tuple(m for m in Metric if m is not Metric.OTHER)


class Side(StrEnum):
    LEFT = "left"  # cue words before the number: 发现问题1832个
    RIGHT = "right"  # the counted noun after the number: 96个问题线索


COUNT_UNITS = frozenset({"个", "项", "条", "件", "处", "起", "宗"})
PEOPLE = frozenset({"人", "人次"})
UNIT_UNITS = frozenset({"个", "家", "所"})  # how inspected organisations are counted


@dataclass(frozen=True)
class Cue:
    metric: Metric
    pattern: str
    units: frozenset[str]
    side: Side = Side.LEFT
    requires: str | None = None  # must also occur: in the sentence (left cues), earlier in the clause (right)
    scope: str = "total"  # "subset": the cue names a field of the metric (…方面问题30个), a part of a total


# Between a left cue and its number: 共, 累计, 达到了, 为, 已 … (发现问题共997个, 整改率达到了94%).
FILLER = r"(?:共计?|总计|合计|累计|计|达到?了?|为|有|已经?|分别|总体|都在|在|是|了)*"
_NO_STOP = r"[^，,。；;：:、\n\d]"  # a character inside one clause that is not a figure

CUES: tuple[Cue, ...] = (
    # ---- left cues (table order = priority)
    Cue(Metric.RECTIFICATION_RATE, r"整改(?:完成)?率|销号率", frozenset({"%"})),
    Cue(Metric.RECTIFICATION_RATE, r"完成率", frozenset({"%"}), requires=r"整改|销号|问题"),  # not 项目完成率
    Cue(
        Metric.CLUES_TRANSFERRED,
        rf"(?:(?:移送|移交|发现|转交|交办){_NO_STOP}{{0,12}}?)?线索",
        frozenset({"件", "条", "个"}),
    ),
    Cue(Metric.TRANSFERRED_JUDICIAL, rf"(?:移送|移交)(?:司法机关|司法|检察机关|检察院){_NO_STOP}{{0,8}}?", PEOPLE),
    Cue(
        Metric.PEOPLE_DISCIPLINED,
        rf"(?:(?:给予|予以)?(?:党纪政务|党纪政纪|党纪|政务|政纪|纪律|党内[\u4e00-\u9fff]{{0,4}})?处分|追责问责|问责追责|问责|追责"
        rf"|党内(?:严重)?警告|严重警告|撤销党内职务|留党察看|开除党籍|开除公职|记大?过|降级|撤职)"
        rf"{_NO_STOP}{{0,6}}?",
        PEOPLE,
    ),
    Cue(Metric.PEOPLE_ORG_HANDLED, rf"(?:给予|予以)?(?:组织处理|诫勉(?:谈话|处理)?){_NO_STOP}{{0,6}}?", PEOPLE),
    Cue(
        Metric.FUNDS_RECOVERED,
        r"(?:挽回|收缴|清退|追回|追缴|退缴|退赔|退还|收回|返还|清收|挽损)[^，,。；;：:\n\d]{0,20}",
        frozenset({"元"}),
    ),
    Cue(
        Metric.PROBLEMS_RECTIFIED,
        r"整改(?:完成|完毕|到位|销号|落实)?(?:[^不未没难，,。；;：:、\n\d]{0,2}问题)?|解决[^，,。；;：:\n\d]{0,20}?问题|销号|立行立改(?:问题)?|立改立行",
        COUNT_UNITS,
    ),
    # 反馈问题共8项，已完成5项: a bare 完成 counts rectified problems in a rectification sentence
    Cue(Metric.PROBLEMS_RECTIFIED, r"(?:已|全部|均已)完成", COUNT_UNITS, requires=r"整改|销号|问题"),
    Cue(Metric.PROBLEMS_FOUND, rf"(?:发现|反馈|查找|查摆|查出|指出|查实)了?{_NO_STOP}{{0,4}}?问题", COUNT_UNITS),
    # a field of the problems found: 党的建设方面问题45个, 扶贫领域问题8条, 作风类问题12个
    Cue(Metric.PROBLEMS_FOUND, r"(?:方面|领域|类|环节)(?:的|存在的)?(?:突出|具体)?问题", COUNT_UNITS, scope="subset"),
    Cue(
        Metric.SYSTEMS_ESTABLISHED,
        r"(?:建立|完善|新建|健全|制定|出台|修订|修订完善|形成|建章立制)[^，,。；;\n]{0,40}?(?:制度|机制|办法|规定|规章)(?:机制|体系|文件)?"
        r"|建章立制",
        frozenset({"项", "个", "条", "套", "件"}),
    ),
    Cue(Metric.ROUNDS, r"(?:巡察|巡视|回头看)”?", frozenset({"轮", "次"})),
    Cue(
        Metric.UNITS_INSPECTED,
        rf"(?:巡察|巡视|覆盖)了?{_NO_STOP}{{0,8}}?(?:党组织|单位|村(?:\(社区\)|（社区）)?|社区|乡镇|部门|企业|学校)",
        UNIT_UNITS,
    ),
    # ---- right cues
    Cue(Metric.CLUES_TRANSFERRED, rf"{_NO_STOP}{{0,4}}?线索", frozenset({"件", "条", "个"}), Side.RIGHT),
    Cue(
        Metric.PROBLEMS_FOUND,
        r"(?:各类|具体|突出|主要|共性)?问题(?!线索|清单|整改|台账|导向)",
        COUNT_UNITS,
        Side.RIGHT,
        requires=r"发现|反馈|查找|查摆|梳理|指出",
    ),
    Cue(
        Metric.ROUNDS,
        r"(?:[\u4e00-\u9fff]{0,6}?(?:领域|专项|常规|机动|交叉|提级|联动|延伸|村级|乡镇|政治))?(?:巡察|巡视)"
        r"(?!工作|组|办|机构|干部|人员|文件|精神|反馈|情况|汇报|动员|会|整改|报告|成果|意见)",
        frozenset({"轮", "次"}),
        Side.RIGHT,
    ),
    Cue(
        Metric.SYSTEMS_ESTABLISHED,
        rf"{_NO_STOP}{{0,10}}?(?:制度|机制|办法|规定|规章)",
        frozenset({"项", "个", "条", "套", "件"}),
        Side.RIGHT,
        requires=r"建立|新建|完善|健全|制定|出台|修订|形成|印发|新增|建章立制",
    ),
    Cue(Metric.PEOPLE_DISCIPLINED, rf"{_NO_STOP}{{0,20}}?(?:给予|予以|受到)[^，,。；;\n\d]{{0,10}}?处分", PEOPLE, Side.RIGHT),
    Cue(Metric.PEOPLE_ORG_HANDLED, rf"{_NO_STOP}{{0,20}}?(?:给予|予以|受到)?(?:诫勉|组织处理)", PEOPLE, Side.RIGHT),
    Cue(Metric.TRANSFERRED_JUDICIAL, rf"{_NO_STOP}{{0,10}}?被?移送(?:司法|检察)", PEOPLE, Side.RIGHT),
)


@dataclass(frozen=True)
class _Compiled:
    cue: Cue
    regex: re.Pattern[str]
    requires: re.Pattern[str] | None


_COMPILED: tuple[_Compiled, ...] = tuple(
    _Compiled(
        c,
        re.compile(rf"(?:{c.pattern}){FILLER}$" if c.side is Side.LEFT else rf"^(?:{c.pattern})"),
        re.compile(c.requires) if c.requires else None,
    )
    for c in CUES
)

# ---- context rules -------------------------------------------------------------------------------
AVERAGE = re.compile(r"平均|年均|人均|均达|普遍|每年|每轮|每个")  # in the clause before the number
SUPERVISES_INSPECTION = re.compile(r"指导督导|督导组|督查组")  # in the sentence before the number
# The inspection body's own rules: 自身建设, or 规范化/队伍建设 in a sentence naming the inspection body.
OWN_BUILDING = re.compile(r"自身建设")
BODY_BUILDING = re.compile(r"规范化建设|队伍建设|队伍管理")
INSPECTION_BODY = re.compile(r"巡察(?:机构|办|组|干部|工作领导小组)")
DISPOSED = re.compile(r"处置|办结|核查|核实|初核|了结|查结")  # clues handled, not transferred or found
CLUE_SENT = re.compile(r"移交|移送|发现|转交|交办")
NOT_DONE = re.compile(r"(?:持续|正在|尚未|未|待|仍需|继续|需要|需|应|拒不|没有)$")  # right before a done-cue
PASSIVE = re.compile(r"(?:受到?|被)[^，,。；;]{0,4}$")  # 受处分人员3人: people under discipline, not a result
DONE_CUES = frozenset({Metric.PROBLEMS_RECTIFIED, Metric.FUNDS_RECOVERED})
TARGET = re.compile(r"(?:确保|力争|争取|目标)[^，,。；;]{0,8}$")  # a goal, not a result
# A one-character Chinese numeral counts only after one of these (开展了三轮巡察, 对三个镇, 等十个方面).
COUNT_CUE = re.compile(
    r"(?:共计?|累计|合计|总计|先后|开展了?|进行了?|组织了?|完成了?|发现了?|移交了?|移送了?|建立了?|完善了?|"
    r"新建了?|制定了?|出台了?|覆盖了?|对|等|达到?了?|(?<![作成])为|有)$"
)
INSPECTED = re.compile(r"巡察|巡视|回头看")
ORDINAL_ROUND = re.compile(r"[新上下本每这该同第]$")  # 新一轮巡察, 上一轮巡察: which round, not how many
PART_OF = re.compile(r"其中|包括")
# a figure over several rounds or years, not one round's (累计发现问题2.5万余个, 十八大以来…, 先后…)
CUMULATIVE = re.compile(r"累计|以来|历年|先后|总共|近[一二三四五六七八九十两0-9]+年|[一二三四五六七八九十两0-9]+年来")

# ---- inspected units -----------------------------------------------------------------------------
ORG_NOUN = re.compile(
    r"党组织|党委|党组|党工委|党支部|支部|单位|部门|机关|企业|国企|公司|院校|高校|学校|医院|团体|协会|"
    r"村|社区|乡镇|乡|镇|街道|县|市|区|局"
)
_NOT_ORG = re.compile(r"组(?!织)|项目|问题|方面|环节|领域|人员|干部|专班")
_INSPECTION_ACT = re.compile(
    r"^[^，,。；;\n]*?(?:开展|进行|实施|完成)了?[^，,。；;\n]{0,16}?(?:巡察|巡视)(?!工作|组|办|机构|干部)"
    r"|^[^，,。；;\n]*?的[^，,。；;\n]{0,6}?(?:巡察|巡视)(?!工作|组|办|机构|干部)"
)
_COVERED_AFTER = re.compile(r"^[^，,。；;\n]{0,16}?(?:巡察|巡视)“?全覆盖|^[^，,。；;\n]{0,16}?接受了?[^，,。；;\n]{0,6}?(?:巡察|巡视)")
_FEEDBACK = re.compile(r"反馈")
_COVERED_BEFORE = re.compile(
    r"(?:巡察|巡视)了?$|覆盖了?[^，,。；;\n\d]{0,8}$|(?:巡察|巡视)了[^，,。；;\n]{0,40}$"
)
_NP_STOP = "，,。；;：:、和及与以的在0123456789"
# Where the counted noun ends and the rest of the clause begins (for quotes): 7个社区党组织|共14个…
_NP_END = re.compile(r"(?<=.)(?:[对向在把将被给从由于就共等参已正仍未均]|开展|进行|实施|全面|反馈|分别|陆续|主要|巡察|巡视)")


@dataclass(frozen=True)
class Context:
    """The windows around one figure (all strings cut from the same text)."""

    near_left: str  # clause text before the figure, not reaching back past the previous figure
    near_left_start: int  # offset of near_left[0]
    clause_left: str  # whole clause before the figure
    right: str  # clause text after the figure
    sentence_left: str  # sentence text before the figure
    sentence: str  # the whole sentence


@dataclass(frozen=True)
class Assignment:
    metric: Metric
    quote_start: int
    quote_end: int
    strength: int = 2  # how explicit the cue is (used to pick one of several restatements)
    key: str = ""  # what is counted, for spotting restatements (村, 巡视 …)
    by_cue: bool = False  # a cue word stood right before the number
    scope: str = "total"  # total | part (of another figure) | subset (a field of the metric) | cumulative
    part_of: int | None = None  # position, among the figures found so far, of the figure this one breaks down


def noun_phrase(right: str, limit: int = 14) -> str:
    """The words after a figure up to the first separator (parentheses such as 县(市、区) kept whole)."""
    depth = 0
    for i, ch in enumerate(right[:limit]):
        if ch in "(（":
            depth += 1
        elif ch in ")）":
            depth = max(0, depth - 1)
        elif depth == 0 and ch in _NP_STOP:
            return right[:i]
    return right[:limit]


def counted_noun(right: str, limit: int = 16) -> str:
    """The noun a figure counts, for its quote: 3个巡察组(对…), 7个社区党组织(共…)."""
    np = noun_phrase(right, limit)
    head = re.match(r"被(?:巡察|巡视)", np)
    skip = head.end() if head else 0
    cut = _NP_END.search(np, skip + 1)
    return np[: cut.start()] if cut else np


def counted_organisation(mention: NumberMention, ctx: Context) -> tuple[str, int] | None:
    """The organisation noun a figure counts and its quote length (12个单位, 8所学校, 6个镇(街道)), or None."""
    if mention.unit not in UNIT_UNITS:
        return None
    np = noun_phrase(ctx.right)
    body = re.sub(r"^被(?:巡察|巡视)", "", np)
    org = ORG_NOUN.search(body)
    if not org or _NOT_ORG.search(body[: org.start()]):
        return None
    return org.group(), len(counted_noun(ctx.right))


def _units_inspected(mention: NumberMention, ctx: Context) -> tuple[int, str, int] | None:
    """Strength (1-3), organisation noun and noun-phrase length when the figure counts inspected units."""
    counted = counted_organisation(mention, ctx)
    if counted is None:
        return None
    np = noun_phrase(ctx.right)
    strength = 0
    if _COVERED_BEFORE.search(ctx.near_left) or _COVERED_AFTER.search(ctx.right):
        strength = 3  # 覆盖312个党组织, 120个村(社区)巡察全覆盖
    elif re.search("对|向|进驻", ctx.clause_left) and _INSPECTION_ACT.search(ctx.right):
        strength = 3  # 对…23个村(社区)党组织进行了巡察, 完成了对11个设区市…的巡视
    elif "向" in ctx.clause_left and _FEEDBACK.search(ctx.clause_left + ctx.right) and (
        INSPECTED.search(ctx.clause_left + ctx.right)
    ):
        strength = 2  # 向…23个村(社区)党组织反馈巡察情况
    elif np.startswith(("被巡察", "被巡视")):
        strength = 1  # 18个被巡察党组织
    if not strength:
        return None
    return strength, counted[0], counted[1]


def classify(
    mention: NumberMention, ctx: Context, part_of: tuple[Metric, str] | None = None
) -> Assignment | None:
    """The metric of one figure, with the span of its quote; ``None`` when it is not a statistic.

    ``part_of`` is the metric and unit of a statistic this figure breaks down (the caller finds it:
    the last named statistic of the sentence with 其中 in between). A figure without a cue of its
    own takes that metric (发现问题135个，其中党的建设方面问题45个 → problems_found 45).
    """
    if TARGET.search(ctx.near_left):
        return None
    found = _by_cues(mention, ctx)
    if found is None:
        units = _units_inspected(mention, ctx)
        if units:
            strength, org, np_len = units
            found = Assignment(Metric.UNITS_INSPECTED, mention.start, mention.end + np_len, strength, org)
        elif mention.unit == "轮" and INSPECTED.search(ctx.sentence):
            found = Assignment(Metric.ROUNDS, mention.start, mention.end, 1)
        elif part_of is not None and part_of[1] == mention.unit:
            found = _other(mention, ctx, part_of[0])  # 处分31人，其中县处级干部5人
    if mention.weak and not (found and found.by_cue):
        # 一个/一项 is mostly the article "a"; other one-character numerals need a count cue — but
        # 一轮 before an inspection (两轮专项巡察和一轮机动巡察) counts a round, unless it is 新一轮/上一轮
        one_round = (
            found is not None and found.metric is Metric.ROUNDS and mention.measure == "轮"
            and not ORDINAL_ROUND.search(ctx.near_left)
        )
        if not one_round and (mention.value == 1 or not COUNT_CUE.search(ctx.near_left)):
            return None
    if found is None:
        return _other(mention, ctx)
    if _demoted(found, ctx):
        return Assignment(Metric.OTHER, found.quote_start, found.quote_end, found.strength, found.key)
    return found


def _by_cues(mention: NumberMention, ctx: Context) -> Assignment | None:
    for c in _COMPILED:
        if mention.unit not in c.cue.units:
            continue
        if c.cue.side is Side.LEFT:
            m = c.regex.search(ctx.near_left)
            if m:
                start = ctx.near_left_start + m.start()
                if c.requires and not c.requires.search(ctx.sentence):
                    continue
                before = ctx.near_left[: m.start()]
                if (c.cue.metric in DONE_CUES and NOT_DONE.search(before)) or (
                    c.cue.metric is Metric.PEOPLE_DISCIPLINED and PASSIVE.search(before)
                ):
                    return Assignment(Metric.OTHER, start, mention.end, 1, by_cue=True)
                return Assignment(c.cue.metric, start, mention.end, 2, m.group(0), by_cue=True, scope=c.cue.scope)
        else:
            if c.requires and not c.requires.search(ctx.clause_left):
                continue
            m = c.regex.search(ctx.right)
            if m:
                return Assignment(c.cue.metric, mention.start, mention.end + m.end(), 2, noun_phrase(ctx.right, 10))
    return None


def _demoted(found: Assignment, ctx: Context) -> bool:
    if found.metric is Metric.OTHER:
        return False
    if AVERAGE.search(ctx.clause_left):
        return True
    if SUPERVISES_INSPECTION.search(ctx.sentence_left):
        return True
    if found.metric is Metric.CLUES_TRANSFERRED and DISPOSED.search(ctx.clause_left):
        return not CLUE_SENT.search(ctx.clause_left)
    if found.metric is not Metric.SYSTEMS_ESTABLISHED:
        return False
    sentence = ctx.sentence
    return bool(OWN_BUILDING.search(sentence) or (BODY_BUILDING.search(sentence) and INSPECTION_BODY.search(sentence)))


# Measure words that end their phrase (会议5次, 处分3人, 覆盖率83%): quote the words before them.
_PHRASE_FINAL = frozenset({"人", "人次", "次", "元", "%", "百分点", "个百分点", "轮", "轮次"})


def _other(mention: NumberMention, ctx: Context, metric: Metric = Metric.OTHER) -> Assignment:
    """A figure without its own cue, quoted with the noun it counts (派出3个巡察组 → 3个巡察组) or,
    when the measure word ends the phrase, with the words before it (领导小组会议8次)."""
    np = counted_noun(ctx.right, 8)
    if mention.measure not in _PHRASE_FINAL and np and re.match(r"[\u4e00-\u9fff(（]", np):
        return Assignment(metric, mention.start, mention.end + len(np), 1, np)
    words = re.search(r"[\u4e00-\u9fff“”()（）]{1,8}$", ctx.near_left)
    if not words:
        return Assignment(metric, mention.start, mention.end, 1)
    return Assignment(metric, ctx.near_left_start + _word_start(ctx.near_left, words.start()), mention.end, 1)


def _word_start(left: str, start: int) -> int:
    """Move a quote's start back to the beginning of the word it cuts (规发放… → 违规发放…), so a
    quote never opens in the middle of a word; at most four characters further back."""
    from nlp.segment import make_segmenter

    for _, a, b in make_segmenter("auto").tokens(left):
        if a <= start < b:
            return a if start - a <= 4 else start
    return start
