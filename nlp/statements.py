"""Problem statements: the findings of one sentence read back as the inspectors wrote them.

The splitter cuts 存在A、B、C、D等问题 into one finding per item (具体表现), because similar-finding
search and common issues (共性问题) match one problem at a time: 公务接待不规范 recurs across units
whatever it was listed with. The three focuses, though, are a reading of the report's own statements.
A feedback notice lists a unit's problems in the order of the three focuses (党的领导 → 党的建设 →
全面从严治党), so a run of one sentence's items that share a focus is one statement of that focus
(议事决策机制不够科学、选人用人不够严格: 党的建设), and a sentence that mixes focuses is several
statements, cut where the focus changes. This is also how an office's 问题清单 records a notice: a
problem per row, its 具体表现 under it.

`xuncha analyze` reports statements, each with the items it holds (``items``); the library stores
the items, each knowing its statement (``statement``), so both views count the same problems.

Items join only when the text between them is a list separator (、，), they lie in one unit's part,
neither opens an enumerated item of its own (一是…, （二）…, 有的…) or carries 问题表现 lines, and
the tagger gives both the same focus. Pure: a tagged document in, statements out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from nlp.model import Finding, ReportDoc
from nlp.script import PINYIN_GLOSS
from nlp.tagging.combine import REVIEW_BELOW
from nlp.taxonomy import TaxonomyError, default_taxonomy

# what may stand between two items of one statement: the list's own separators, nothing else
# (…整改力度不够，存在A、B… has 存在 between: the lead is a statement of its own)
ITEM_GAP = frozenset("、，, \t\u3000")


@dataclass
class Statement:
    """One problem statement of a report: its text as written and the items it was split into."""

    id: str
    text: str
    start: int
    end: int
    page: int
    items: list[Finding]
    tags: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The shape of a finding (so a one-item statement reads exactly as its finding), plus ``items``."""
        first = self.items[0]
        if len(self.items) == 1:
            return {**first.to_dict(), "statement": self.id, "items": [first.id]}
        return {
            "id": first.id,
            "statement": self.id,
            "text": self.text,
            "start": self.start,
            "end": self.end,
            "page": self.page,
            "unit": first.unit,
            "section": first.section,
            "marker": first.marker,
            "tags": self.tags,
            "detail": None,
            "items": [f.id for f in self.items],
            "item_findings": [f.to_dict() for f in self.items],
        }


def top_focus(finding: Finding) -> str | None:
    """The label of a finding's best focus tag (None when it has none)."""
    rows = finding.tags.get("focus") or []
    return max(rows, key=lambda r: r.get("score", 0.0)).get("label") if rows else None


def _joins(text: str, before: Finding, after: Finding) -> bool:
    if after.marker or before.detail or after.detail or before.unit != after.unit:
        return False
    # a mirror copy's gloss may close an item (嚴(yán)、): read with the item's last character, which the
    # gloss pattern looks behind to
    gap = PINYIN_GLOSS.sub("", text[max(before.end - 1, 0) : after.start])[1:] if before.end else text[: after.start]
    if after.start < before.end or not set(gap) <= ITEM_GAP:
        return False
    focus = top_focus(before)
    return focus is not None and focus == top_focus(after) and _areas(before) == _areas(after)


def _areas(finding: Finding) -> set[str]:
    """The livelihood areas a finding is about: items of different areas are different problems even
    under one focus (教育 and 医疗卫生 findings of one sentence stay apart)."""
    return {r.get("label") for r in finding.tags.get("livelihood") or []}


def group_items(text: str, findings: Sequence[Finding]) -> list[list[Finding]]:
    """Findings in order, gathered into runs that form one statement each."""
    runs: list[list[Finding]] = []
    for f in findings:
        if runs and _joins(text, runs[-1][-1], f):
            runs[-1].append(f)
        else:
            runs.append([f])
    return runs


def _single_label(scheme: str) -> bool:
    """Whether a scheme gives at most one label (三个聚焦, 四个落实); unknown schemes are multi-label."""
    try:
        return not default_taxonomy().scheme(scheme).multi_label
    except TaxonomyError:
        return False


def _merged_tags(items: Sequence[Finding]) -> dict[str, Any]:
    """A statement's tags from its items'. A single-label scheme (the focus) keeps the one label with
    the best mean probability over the items (an item without it counts 0), at that mean, with
    ``review`` when the mean is below the tagger's review line — so a statement is as sure as its items
    are on average. A multi-label scheme keeps every label an item carries (a statement is about each
    area its items are about) at its best score. Evidence comes from every item."""
    out: dict[str, Any] = {}
    schemes: list[str] = []
    for f in items:
        schemes.extend(s for s in f.tags if s not in schemes)
    for scheme in schemes:
        rows_by_label: dict[str, dict[str, Any]] = {}
        sums: dict[str, float] = {}
        for f in items:
            for row in f.tags.get(scheme) or []:
                label = row.get("label")
                sums[label] = sums.get(label, 0.0) + float(row.get("score", 0.0))
                kept = rows_by_label.setdefault(label, {**row, "evidence": []})
                kept["evidence"].extend(row.get("evidence", []))
                kept["score"] = max(float(kept.get("score", 0.0)), float(row.get("score", 0.0)))
        if not rows_by_label:
            continue
        if _single_label(scheme):
            label = max(sums, key=lambda k: (sums[k], k))
            row = {**rows_by_label[label], "score": round(sums[label] / len(items), 4)}
            row.pop("review", None)
            if row["score"] < REVIEW_BELOW:
                row["review"] = True
            out[scheme] = [row]
        else:
            for row in rows_by_label.values():
                row.pop("review", None)
            out[scheme] = sorted(rows_by_label.values(), key=lambda r: (-r["score"], r["label"]))
    return out


def statements_of(doc: ReportDoc) -> list[Statement]:
    """The document's problem statements, ids S001…, in order."""
    out: list[Statement] = []
    for k, run in enumerate(group_items(doc.text, doc.findings), 1):
        first, last = run[0], run[-1]
        tags = first.tags if len(run) == 1 else _merged_tags(run)
        out.append(
            Statement(
                id=f"S{k:03d}", text=doc.text[first.start : last.end], start=first.start, end=last.end,
                page=first.page, items=list(run), tags=tags,
            )
        )
    return out


def statement_ids(doc: ReportDoc) -> dict[str, str]:
    """Finding id → the id of the statement it belongs to."""
    return {f.id: s.id for s in statements_of(doc) for f in s.items}
