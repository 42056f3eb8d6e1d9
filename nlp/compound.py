"""Split compound findings into one finding per problem topic.

Feedback notices often run several problems into one sentence: 政治敏锐性不强，“四个意识”模糊不清，
党支部核心作用发挥不充分，贯彻上级决策部署不力。 An analyst tags, searches and counts these as separate
findings, while a clause that elaborates the one before (对基层财务监督指导不力，部分下属单位财务管理混乱;
设备闲置，资产浪费较为突出) belongs with it. Two kinds of evidence tell them apart. Each top-level clause (split at ，；, never inside
quotes or brackets) is matched against the concept thesaurus, and in a run of at least three problem
clauses (two are usually one statement), a new finding starts where a clause that states a problem
names concepts of other families only than the clauses gathered so far. A clause naming no concept is
read by its grammar: a problem statement is a subject and an evaluative predicate (意识形态工作 + 落实有差距),
so a clause whose subject shares no word with the group's (工会组织管理不规范 after “三定方案”落实不到位)
starts a new finding, while one that is only a predicate (…，不担当、不作为) or takes up the group's subject
again (…帮扶不到位，帮扶成效不明显) stays. Measured through the product on eval-dev-2, this grammar reading
placed 160 of 180 gold findings in clusters (151 before; ARI 0.340 → 0.385) at the same recall.

Two problem clauses are one statement inside an item the author enumerated (一是…，…): the marker is the
author's own segmentation. In running text the same grammar applies to a pair, so 干部作风不实，服务群众
意识淡薄 is two findings, unless the second clause is short or existential (…采购不规范，账目混乱;
…，存在白条入账现象), which describe the first. On eval-dev-2 this moved ARI 0.385 → 0.420 and search
nDCG@10 0.681 → 0.688, recall 0.972 → 0.961; on eval-dev, whose gold keeps 群众观念和民生意识淡薄，解决
大班额、入园难问题不到位 whole, recall 0.907 → 0.884.

Pure: a document and its findings in, findings out (spans inside the original ones, ids renumbered).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

from nlp.concepts import Thesaurus, default_thesaurus
from nlp.cues import PROBLEM_CUE, non_finding_reason
from nlp.cues import states_problem as _states_problem
from nlp.lexical import finding_tokens
from nlp.model import Finding, ReportDoc
from nlp.nesting import top_level
from nlp.script import simplified
from nlp.segment import load_stopwords

CLAUSE_SEPARATORS = "，,；;"
MIN_CLAUSE_CHARS = 4
# Two problem clauses are usually one statement (a problem and its consequence, or two sides of it:
# 领导班子建设不到位，党建工作抓得不实); a run of three or more is a list.
MIN_LIST_CLAUSES = 3
# ...but outside an author's enumerated item (一是…, （二）…), two statements with subjects of their own
# are two findings (农村发展活力不足，贯彻五大发展理念不力) when the second is long enough to stand alone
PAIR_MIN_CHARS = 6
ITEM_MARKERS = frozenset({"有的", "有些"})
_EDGE = " \t\n\u3000，,、；;：:。"


def clause_spans(text: str, start: int, end: int, separators: str = CLAUSE_SEPARATORS) -> list[tuple[int, int]]:
    """Top-level clauses of ``text[start:end]`` (separators dropped, quotes and brackets respected,
    an opening mark never closed ignored: :mod:`nlp.nesting`)."""
    spans: list[tuple[int, int]] = []
    s = start
    for i in top_level(text, start, end, separators):
        if i > s:
            spans.append((s, i))
        s = i + 1
    if end > s:
        spans.append((s, end))
    return spans


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start] in _EDGE:
        start += 1
    while end > start and text[end - 1] in _EDGE:
        end -= 1
    return start, end


def topic_groups(text: str, start: int, end: int, thesaurus: Thesaurus, min_clauses: int = MIN_LIST_CLAUSES) -> list[tuple[int, int]]:
    """Spans of ``text[start:end]``, one per problem topic (the whole span when it is one).

    Semicolons separate items outright after a problem statement (unless what follows is only an
    example or a consequence); within each piece, commas separate topics as the module docstring says.
    """
    pieces = clause_spans(text, start, end, "；;")
    if len(pieces) > 1 and _is_problem(text[pieces[0][0] : pieces[0][1]], thesaurus) and all(
        _is_item(text[a:b]) for a, b in pieces[1:]
    ):
        return [g for a, b in pieces for g in _comma_groups(text, *_trim(text, a, b), thesaurus, min_clauses)]
    return _comma_groups(text, start, end, thesaurus, min_clauses)


# a clause that states what the problem before it leads to, not a problem of its own
_CONSEQUENCE = re.compile(r"^\s*(?:存在|带来|形成|埋下|增加了?)[^，,；;。]{0,12}(?:风险|隐患|漏洞)|^\s*(?:导致|造成|致使|影响)")
_NOT_AN_ITEM = re.compile(r"^\s*(?:如|例如|比如|其中|特别是|尤其是|主要是|包括|即|导致|造成|致使)")


def states_problem(piece: str) -> bool:
    """The cue lexicon is Simplified: a Traditional-script copy (規范, 不夠) is read through OpenCC."""
    return _states_problem(simplified(piece))


def _is_item(piece: str) -> bool:
    """A ；-separated piece after a problem is another item unless it only gives an example or a
    consequence (；如…, ；其中…, ；导致…) or is a fragment."""
    return len(piece.strip(_EDGE)) >= 6 and not _NOT_AN_ITEM.match(piece)


def _is_problem(piece: str, thesaurus: Thesaurus) -> bool:
    return len(piece.strip(_EDGE)) >= MIN_CLAUSE_CHARS and (states_problem(piece) or bool(thesaurus.match(simplified(piece))))


# verbs of governance that any clause of a report may carry: sharing one is no sign of a shared subject
_GENERIC_VERBS = frozenset({"落实", "执行", "管理", "建设", "问题", "贯彻", "履行", "加强", "存在"})


def _subject_words(text: str) -> set[str]:
    """Content words and CJK character pairs of a clause's subject: 财务管理 and 财务监督 share 财务."""
    words = {t for t in finding_tokens(text) if len(t) >= 2}
    cjk = "".join(ch for ch in simplified(text) if "\u4e00" <= ch <= "\u9fff")
    return (words | {cjk[i : i + 2] for i in range(len(cjk) - 1)}) - _GENERIC_VERBS - load_stopwords()


def _own_subject(piece: str, group: str) -> bool:
    """Whether a clause names a subject of its own (…工会组织管理不规范 after 意识形态工作落实有差距), not
    only a predicate (…，不担当、不作为) or the group's subject again (…帮扶不到位，帮扶成效不明显)."""
    m = PROBLEM_CUE.search(simplified(piece))  # OpenCC maps character for character: offsets hold
    head = piece[: m.start()] if m else ""
    words = _subject_words(head)
    return bool(words) and not (words & _subject_words(group))


def _stands_alone(piece: str) -> bool:
    """Whether the second of two statements is a problem of its own rather than the first one's
    manifestation: a short clause (…采购不规范，账目混乱), one saying what exists (…，存在白条入账现象)
    or one pointing back (…，相关制度未真正落实) describes the problem before it."""
    core = "".join(ch for ch in simplified(piece) if "\u4e00" <= ch <= "\u9fff")
    return len(core) >= PAIR_MIN_CHARS and not core.startswith(_REFERS_BACK)


# a second clause opening with what exists or with a word pointing back (相关制度未真正落实 after
# …整改不到位: the rules of that rectification) continues the statement before it
_REFERS_BACK = ("存在", "相关", "有关", "上述", "该", "其", "此", "这些", "这个", "对此", "为此")


def _comma_groups(text: str, start: int, end: int, thesaurus: Thesaurus, min_clauses: int = MIN_LIST_CLAUSES) -> list[tuple[int, int]]:
    clauses = clause_spans(text, start, end)
    if len(clauses) < 2:
        return [(start, end)]
    families = [{h.family for h in thesaurus.match(simplified(text[a:b]))} for a, b in clauses]
    problems = sum(1 for (a, b), f in zip(clauses, families, strict=True) if f or states_problem(text[a:b]))
    if problems < min_clauses:
        return [(start, end)]
    pair = problems < MIN_LIST_CLAUSES  # two statements, outside an enumerated item
    groups: list[list[int]] = [[0]]
    held = set(families[0])
    for i in range(1, len(clauses)):
        a, b = clauses[i]
        piece = text[a:b]
        new_topic = (
            (
                (families[i] and held and not (families[i] & held))  # the thesaurus: a concept of another family
                or (not families[i] and _own_subject(piece, text[clauses[groups[-1][0]][0] : clauses[groups[-1][-1]][1]]))
            )
            and len(piece.strip(_EDGE)) >= MIN_CLAUSE_CHARS and states_problem(piece)
            and not _CONSEQUENCE.match(piece)
            and (not pair or _stands_alone(piece))
        )
        if new_topic:
            groups.append([i])
            held = set(families[i])
        else:
            groups[-1].append(i)
            held |= families[i]
    return [_trim(text, clauses[g[0]][0], clauses[g[-1]][1]) for g in groups]


def split_compound(doc: ReportDoc, findings: Sequence[Finding], thesaurus: Thesaurus | None = None) -> list[Finding]:
    """Findings with compound ones split by topic; ids renumbered F001…, order kept. A titled problem
    with its 问题表现 lines (``detail``) is one finding whatever its title says, and so is an item the
    author opened with 有的/有些 (each such item describes one problem: 有的…，…；有的…)."""
    th = thesaurus or default_thesaurus()
    text = doc.text
    out: list[Finding] = []
    for f in findings:
        whole = bool(f.detail) or f.marker in ITEM_MARKERS
        groups = [(f.start, f.end)] if whole else topic_groups(text, f.start, f.end, th, MIN_LIST_CLAUSES if f.marker else 2)
        if len(groups) == 1:
            out.append(f)
            continue
        for k, (a, b) in enumerate(groups):
            piece = text[a:b]
            if k and non_finding_reason(piece, piece, in_context=True, enumerated=False):
                continue  # a requirement or an action the sentence went on to (…，进一步加强…)
            out.append(replace(f, text=piece, start=a, end=b, page=doc.page_at(a), marker=f.marker if k == 0 else None))
    return [replace(f, id=f"F{i:03d}") for i, f in enumerate(out, 1)]
