"""The domain concept layer: a thesaurus of 巡察 problem concepts and a fast matcher over it.

Inspection findings and the way analysts ask about them rarely share words: 大事小事一个人拍板 and
“三重一大”事项未经集体研究 are one problem. The thesaurus (``corpora/concepts/*.yaml``, format in
``corpora/concepts/README.md``) names each problem **concept** with its official wording and the
surface forms it takes in reports and in speech (official, colloquial, abbreviated), and groups
concepts into **families** — the common issues (共性问题) an analyst would report, each with a
readable title, a focus (三个聚焦), a people's-livelihood area where the substance is one, and a
specificity (a concrete topic such as 三资 or 八项规定 outranks a generic one such as 作风).

It was written from domain knowledge and public typologies (中央八项规定及其实施细则, 四风 and the
形式主义官僚主义 manifestations, 侵害群众利益不正之风, 选人用人 and 三重一大 rules, 问题清单 categories),
never from evaluation queries; each family records its source.

Matching (:meth:`Thesaurus.match`) is substring matching over the *analysis form* of a text
(Simplified script, see :mod:`nlp.script`): every substring of a form's length is looked up in one
dict, so the cost is linear in the text. A form may hold gaps — ``帮扶…走形式`` matches 帮扶 followed,
within :data:`GAP_CHARS` characters of the same clause, by 走形式 — which is how colloquial patterns
(垃圾…没人管) are written without listing every filler. A hit that overlaps one of its concept's
``negative`` phrases is dropped (主体责任 inside 党建主体责任 is not a 两个责任 problem).

Topic anchors are derived, not written: a form that ends in an evaluative predicate (意识形态工作落实
有差距) also matches by its topic (意识形态) whatever predicate follows it (:func:`topic_of`), unless
two families share that topic.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from nlp.cues import TOPIC_HEAD, TOPIC_TAIL, TRAILING_PREDICATE
from nlp.errors import XunchaError
from nlp.script import simplified
from nlp.yamldata import line_of, read_yaml, string_list

CONCEPTS_DIR = Path(__file__).resolve().parents[1] / "corpora" / "concepts"
FOCUSES = ("党的领导", "党的建设", "全面从严治党")
GAP = "…"
GAP_CHARS = 10
CLAUSE_BREAK = re.compile(r"[。；;！？!?\n]")
FAMILY_ID = re.compile(r"^[a-z][a-z0-9_]{1,60}$")
FAMILY_FIELDS = {"id", "title", "focus", "livelihood", "specificity", "source", "concepts", "work"}
CONCEPT_FIELDS = {"name", "forms", "negative", "source"}


class ThesaurusError(XunchaError):
    code = "bad_thesaurus"
    default_message = "概念词表文件有误"


@dataclass(frozen=True)
class Concept:
    """One problem concept: its official wording (``name``) and the forms it is written in."""

    key: str  # family id + "/" + name: unique, stable while the name is
    family: str
    name: str
    forms: tuple[str, ...]
    negative: tuple[str, ...] = ()
    source: str = ""


@dataclass(frozen=True)
class Family:
    """A common issue (共性问题): the concepts an analyst reports together under one title."""

    id: str
    title: str
    focus: str
    livelihood: str | None
    specificity: int
    source: str
    area: str  # the file's area (党的领导 / 党的建设 / …)
    concepts: tuple[str, ...]  # concept keys
    work: bool = False  # about how a unit does its own work (履职, 监管, 服务): judged in its service's area


@dataclass(frozen=True)
class ConceptHit:
    """A concept found in a text: ``text[start:end]`` is what matched (gaps included)."""

    concept: str
    family: str
    start: int
    end: int
    form: str


@dataclass(frozen=True)
class _Form:
    concept: str
    parts: tuple[str, ...]  # one part, or the parts of a gapped form
    raw: str


@dataclass
class Thesaurus:
    families: dict[str, Family]
    concepts: dict[str, Concept]
    paths: tuple[str, ...] = ()
    _by_head: dict[str, list[_Form]] = field(default_factory=dict, repr=False)
    _head_lengths: tuple[int, ...] = field(default=(), repr=False)
    _automaton: Any = field(default=None, repr=False)
    _negatives: dict[str, tuple[str, ...]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        by_head: dict[str, list[_Form]] = {}
        written = {f for c in self.concepts.values() for f in (c.name, *c.forms)}
        topics: dict[str, set[str]] = {}
        for concept in self.concepts.values():
            for raw in dict.fromkeys((concept.name, *concept.forms)):
                parts = tuple(p for p in raw.split(GAP) if p)
                if parts:
                    by_head.setdefault(parts[0], []).append(_Form(concept.key, parts, raw))
                topic = topic_of(raw)
                if topic and topic not in written:
                    topics.setdefault(topic, set()).add(concept.key)
        for topic, keys in topics.items():
            if len({self.concepts[k].family for k in keys}) == 1:  # an anchor two families share decides nothing
                for key in sorted(keys):
                    by_head.setdefault(topic, []).append(_Form(key, (topic,), topic))
        self._by_head = by_head
        self._head_lengths = tuple(sorted({len(h) for h in by_head}, reverse=True))
        self._automaton = _head_automaton(by_head)
        self._negatives = {c.key: c.negative for c in self.concepts.values() if c.negative}

    @property
    def version(self) -> str:
        """A short hash of the content: what stored concept matches were computed with (hashed once:
        every search asks for it)."""
        cached: str | None = self.__dict__.get("_version")
        if cached is None:
            cached = self.__dict__["_version"] = self._content_hash()
        return cached

    def _content_hash(self) -> str:
        h = hashlib.blake2b(digest_size=6)
        for key in sorted(self.concepts):
            c = self.concepts[key]
            h.update("\x1f".join((key, *c.forms, "|", *c.negative)).encode("utf-8"))
        for fid in sorted(self.families):
            f = self.families[fid]
            h.update(f"{fid}\x1f{f.title}\x1f{f.focus}\x1f{f.livelihood}\x1f{f.specificity}\x1f{f.work}".encode())
        return h.hexdigest()

    def family_of(self, concept_key: str) -> Family:
        return self.families[self.concepts[concept_key].family]

    def match(self, text: str) -> list[ConceptHit]:
        """Every concept occurrence in ``text`` (its analysis form), leftmost first; per concept and
        start only the longest form counts, and hits inside a negative phrase are dropped.

        Quotation marks and spaces are skipped (“三重一大”决策 matches 三重一大决策); offsets index ``text``.
        """
        compact, where = _compact(text)
        return [
            ConceptHit(h.concept, h.family, where[h.start], where[h.end - 1] + 1, h.form)
            for h in self._match_compact(compact)
        ]

    def _match_compact(self, text: str) -> list[ConceptHit]:
        hits: dict[tuple[str, int], ConceptHit] = {}
        # every head occurring in the text, in one C pass (Aho–Corasick), visited as a scan would:
        # by start, longer heads first (which form of equal reach is reported depends on it)
        found = sorted((last - len(head) + 1, -len(head), head) for last, head in self._automaton.iter(text)) \
            if self._automaton is not None else []
        for i, minus_length, head in found:
            for form in self._by_head[head]:
                end = _match_rest(text, i - minus_length, form.parts[1:])
                if end is None:
                    continue
                key = (form.concept, i)
                old = hits.get(key)
                if old is None or end > old.end:
                    hits[key] = ConceptHit(form.concept, self.concepts[form.concept].family, i, end, form.raw)
        out = [h for h in hits.values() if not self._negated(text, h)]
        out.sort(key=lambda h: (h.start, -h.end, h.concept))
        # the same concept found again inside a longer hit of itself adds nothing
        kept: list[ConceptHit] = []
        last_end: dict[str, int] = {}
        for h in out:
            if last_end.get(h.concept, -1) >= h.end:
                continue
            kept.append(h)
            last_end[h.concept] = max(last_end.get(h.concept, -1), h.end)
        return kept

    def concepts_in(self, text: str) -> list[str]:
        """The distinct concept keys found in ``text``, in order of first occurrence."""
        return list(dict.fromkeys(h.concept for h in self.match(text)))

    def _negated(self, text: str, hit: ConceptHit) -> bool:
        for phrase in self._negatives.get(hit.concept, ()):
            start = max(0, hit.start - len(phrase) + 1)
            stop = min(len(text), hit.end + len(phrase) - 1)
            pos = text.find(phrase, start, stop)
            while pos != -1:
                if pos < hit.end and pos + len(phrase) > hit.start:
                    return True
                pos = text.find(phrase, pos + 1, stop)
        return False


def _head_automaton(by_head: dict[str, list[_Form]]) -> Any:
    """An Aho–Corasick automaton over the forms' heads (pyahocorasick): matching a finding against
    15k surface forms position by position cost most of the clustering of a large library."""
    if not by_head:
        return None
    import ahocorasick

    automaton = ahocorasick.Automaton()
    for head in by_head:
        automaton.add_word(head, head)
    automaton.make_automaton()
    return automaton


_SKIPPED = frozenset("“”‘’\"'「」『』《》〈〉 \u3000\t")


def _compact(text: str) -> tuple[str, list[int]]:
    """``text`` without quotation marks and spaces, and each kept character's offset in ``text``."""
    where = [i for i, ch in enumerate(text) if ch not in _SKIPPED]
    return "".join(text[i] for i in where), where


GENERIC_TOPICS = frozenset({"工作", "管理", "制度", "建设", "责任", "监督", "落实", "执行", "服务", "作用", "程序", "意识"})


def topic_of(form: str) -> str | None:
    """The topic of a written form that ends in an evaluative predicate, or None.

    意识形态工作落实有差距 → 意识形态; 服务群众意识不强 → 服务群众意识: a problem statement is a topic and a
    predicate, and the predicate is interchangeable (不到位 / 有差距 / 不力), so the topic alone identifies
    the concept. Topics shorter than three characters or generic (工作, 管理) are not used.
    """
    if GAP in form:
        return None
    m = TRAILING_PREDICATE.search(form)
    if not m:
        return None
    topic = TOPIC_HEAD.sub("", TOPIC_TAIL.sub("", form[: m.start()]))
    return topic if len(topic) >= 3 and topic not in GENERIC_TOPICS else None


def _match_rest(text: str, pos: int, parts: Sequence[str]) -> int | None:
    """End of a gapped form's remaining ``parts`` from ``pos`` (each within GAP_CHARS of the
    previous one, no clause break between), or None."""
    for part in parts:
        window = text[pos : pos + GAP_CHARS + len(part)]
        found = window.find(part)
        if found == -1 or CLAUSE_BREAK.search(window, 0, found):
            return None
        pos += found + len(part)
    return pos


# --- the problem a statement leads with -----------------------------------------------------------

# a list marker or quantifier a finding starts with: 一是、（二）、3.、其一、有的、部分、个别
LEAD_MARKER = re.compile(r"^\s*(?:[（(]?[一二三四五六七八九十0-9]+[）).、．]|[一二三四五六七八九十]+是|其[一二三四五六七八九十]|有的|部分|个别)\s*")
_CLAUSE_END = re.compile(r"[，,；;。：:！？!?\n]")
FIRST_CLAUSE_WEIGHT = 2.0


def first_clause_end(text: str) -> int:
    """Where the first clause of a statement ends (after any list marker)."""
    lead = LEAD_MARKER.match(text)
    m = _CLAUSE_END.search(text, lead.end() if lead else 0)
    return m.start() if m else len(text)


def lead_family(
    hits: Sequence[ConceptHit], text: str, thesaurus: Thesaurus, first_clause_weight: float = FIRST_CLAUSE_WEIGHT
) -> str | None:
    """The family of the problem a statement leads with, from its concept ``hits`` (in ``text``).

    Each family scores ``specificity × (first_clause_weight if the hit is in the first clause else 1)``
    for its best hit, plus a tenth for each further one — a concrete topic (三资, 八项规定: specificity 3)
    outranks a generic one (作风, 主体责任: 1), and what a statement leads with outranks what it adds.
    Ties go to the family found first.
    """
    if not hits:
        return None
    first_end = first_clause_end(text)
    weights: dict[str, list[float]] = {}
    first_seen: dict[str, int] = {}
    for h in hits:
        family = thesaurus.families[h.family]
        weights.setdefault(h.family, []).append(family.specificity * (first_clause_weight if h.start < first_end else 1.0))
        first_seen.setdefault(h.family, h.start)

    def score(f: str) -> tuple[float, int]:
        ws = sorted(weights[f], reverse=True)
        return (ws[0] + 0.1 * sum(ws[1:]), -first_seen[f])

    return max(weights, key=score)


def dominant_family(
    text: str, concepts: Sequence[str], thesaurus: Thesaurus, first_clause_weight: float = FIRST_CLAUSE_WEIGHT
) -> str | None:
    """:func:`lead_family` of a finding whose stored concept keys are ``concepts`` (None if none).

    When the stored keys are not found in the text any more (another thesaurus version), the most
    specific of their families is taken.
    """
    known = [c for c in concepts if c in thesaurus.concepts]
    if not known:
        return None
    analysed = simplified(text)
    wanted = set(known)
    found = lead_family([h for h in thesaurus.match(analysed) if h.concept in wanted], analysed, thesaurus, first_clause_weight)
    if found is None:
        return max(dict.fromkeys(thesaurus.concepts[c].family for c in known), key=lambda f: thesaurus.families[f].specificity)
    return found


# --- loading ------------------------------------------------------------------------------------


def load_thesaurus(paths: Iterable[str | Path] | str | Path | None = None) -> Thesaurus:
    """Parse and validate thesaurus files (default: every ``corpora/concepts/*.yaml``).

    Raises :class:`ThesaurusError` naming the file and line of the first problem.
    """
    if paths is None:
        files = sorted(CONCEPTS_DIR.glob("*.yaml"))
    elif isinstance(paths, str | Path):
        p = Path(paths)
        files = sorted(p.glob("*.yaml")) if p.is_dir() else [p]
    else:
        files = [Path(p) for p in paths]
    if not files:
        where = paths if isinstance(paths, str | Path) else CONCEPTS_DIR
        raise ThesaurusError(f"没有找到概念词表文件（{where}/*.yaml）")
    families: dict[str, Family] = {}
    concepts: dict[str, Concept] = {}
    for path in files:
        data, root = read_yaml(path, ThesaurusError, "概念词表文件")
        _build_file(data, root, path, families, concepts)
    return Thesaurus(families, concepts, tuple(str(p) for p in files))


_DEFAULT_LOCK = threading.Lock()


def default_thesaurus() -> Thesaurus:
    """The bundled thesaurus, parsed once per process (the first requests of a server arrive
    together: one parses, the others wait for it rather than parsing it again beside it)."""
    with _DEFAULT_LOCK:
        return _bundled_thesaurus()


@lru_cache(maxsize=1)
def _bundled_thesaurus() -> Thesaurus:
    return load_thesaurus()


def _build_file(
    data: Any, root: Any, path: Path, families: dict[str, Family], concepts: dict[str, Concept]
) -> None:
    def fail(message: str, *keys: str | int) -> ThesaurusError:
        return ThesaurusError(f"{path}：{line_of(root, *keys)} {message}")

    if not isinstance(data, dict):
        raise fail("顶层应为映射（包含 area、source、families）")
    area = data.get("area")
    if not isinstance(area, str) or not area.strip():
        raise fail("缺少 area（本文件的领域，如 党的建设）", "area")
    raw_families = data.get("families")
    if not isinstance(raw_families, list) or not raw_families:
        raise fail("缺少 families，或 families 不是非空列表", "families")
    for i, item in enumerate(raw_families):
        keys: tuple[str | int, ...] = ("families", i)
        if not isinstance(item, dict):
            raise fail(f"第 {i + 1} 个问题类别应为映射", *keys)
        unknown = set(item) - FAMILY_FIELDS
        if unknown:
            raise fail(f"问题类别有未知字段：{', '.join(sorted(map(str, unknown)))}", *keys, sorted(map(str, unknown))[0])
        fid = item.get("id")
        if not isinstance(fid, str) or not FAMILY_ID.match(fid):
            raise fail(f"问题类别的 id {fid!r} 应为小写英文标识符（如 eight_rules）", *keys, "id")
        if fid in families:
            raise fail(f"问题类别 id {fid!r} 重复（已在 {families[fid].area} 中定义）", *keys, "id")
        title = item.get("title")
        if not isinstance(title, str) or not title.strip():
            raise fail(f"问题类别 {fid} 缺少 title", *keys)
        focus = item.get("focus")
        if focus not in FOCUSES:
            raise fail(f"问题类别 {fid} 的 focus {focus!r} 应为 {'、'.join(FOCUSES)} 之一", *keys, "focus")
        livelihood = item.get("livelihood")
        if livelihood is not None and (not isinstance(livelihood, str) or not livelihood.strip()):
            raise fail(f"问题类别 {fid} 的 livelihood 应为民生领域名称或 null", *keys, "livelihood")
        specificity = item.get("specificity", 2)
        if not isinstance(specificity, int) or isinstance(specificity, bool) or not 1 <= specificity <= 3:
            raise fail(f"问题类别 {fid} 的 specificity 应为 1、2 或 3", *keys, "specificity")
        source = item.get("source")
        if not isinstance(source, str) or not source.strip():
            raise fail(f"问题类别 {fid} 缺少 source（出处）", *keys)
        work = item.get("work", False)
        if not isinstance(work, bool):
            raise fail(f"问题类别 {fid} 的 work 应为 true 或 false", *keys, "work")
        raw_concepts = item.get("concepts")
        if not isinstance(raw_concepts, list) or not raw_concepts:
            raise fail(f"问题类别 {fid} 缺少 concepts 列表", *keys, "concepts")
        keys_of_family: list[str] = []
        for j, c in enumerate(raw_concepts):
            ckeys = (*keys, "concepts", j)
            if not isinstance(c, dict) or not isinstance(c.get("name"), str) or not c["name"].strip():
                raise fail(f"问题类别 {fid} 的第 {j + 1} 个概念缺少 name", *ckeys)
            name = c["name"].strip()
            unknown = set(c) - CONCEPT_FIELDS
            if unknown:
                raise fail(f"概念 {name} 有未知字段：{', '.join(sorted(map(str, unknown)))}", *ckeys)
            lists: dict[str, list[str]] = {}
            for field_name in ("forms", "negative"):
                try:
                    lists[field_name] = string_list(c.get(field_name, []))
                except ValueError as exc:
                    raise fail(f"概念 {name} 的 {field_name} {exc}", *ckeys, field_name) from None
            for form in (name, *lists["forms"]):
                problem = _form_problem(form)
                if problem:
                    raise fail(f"概念 {name} 的词形 {form!r} {problem}", *ckeys, "forms")
            key = f"{fid}/{name}"
            if key in concepts:
                raise fail(f"问题类别 {fid} 中概念 {name!r} 重复", *ckeys)
            concepts[key] = Concept(
                key, fid, name, tuple(dict.fromkeys(lists["forms"])), tuple(lists["negative"]), str(c.get("source", ""))
            )
            keys_of_family.append(key)
        families[fid] = Family(
            fid, title.strip(), focus, livelihood.strip() if livelihood else None, specificity, source.strip(),
            area.strip(), tuple(keys_of_family), work,
        )


def _form_problem(form: str) -> str | None:
    """Why a surface form cannot be matched well, or None."""
    parts = form.split(GAP)
    if any(not p for p in parts):
        return f"的“{GAP}”两侧都要有文字"
    if len(parts) == 1 and len(form) < 2:
        return "太短（至少两个字）"
    if CLAUSE_BREAK.search(form):
        return "含有句读标点（。；！？），无法在一个分句内匹配"
    return None


def _main(argv: Sequence[str]) -> int:
    """``python -m nlp.concepts [FILE|DIR …]``: validate thesaurus files and print their size."""
    try:
        thesaurus = load_thesaurus(argv or None)
    except ThesaurusError as exc:
        print(f"错误：{exc.message}")
        return 1
    forms = sum(1 + len(c.forms) for c in thesaurus.concepts.values())
    print(f"{len(thesaurus.families)} 个问题类别，{len(thesaurus.concepts)} 个概念，{forms} 个词形（{', '.join(thesaurus.paths)}）")
    return 0


if __name__ == "__main__":
    import sys

    raise SystemExit(_main(sys.argv[1:]))
