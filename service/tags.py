"""Automatic and confirmed tags of a finding.

The tagger's tags (``source='auto'``) are never edited. An analyst's correction is stored beside
them as ``source='confirmed'`` tags of the same scheme, which then take precedence everywhere
(search results, summaries, exports) and are what ``xuncha train`` learns from. "None of these
labels" is kept as one confirmed tag with an empty label, so a wrong automatic tag can be removed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, exists, select
from sqlalchemy.orm import Session, selectinload

from nlp.errors import XunchaError
from nlp.taxonomy import Taxonomy, default_taxonomy
from service.store import models


class InvalidTagsError(XunchaError):
    code = "invalid_tags"
    default_message = "标签不在分类体系中"


def single_label_schemes() -> list[str]:
    """Schemes whose findings have at most one label (三个聚焦, 四个落实): the tagger still ranks
    runner-up labels there, but only the top one is the finding's label."""
    return [sid for sid, s in default_taxonomy().schemes.items() if not s.multi_label]


def finding_labels(finding: models.Finding, scheme: str) -> list[models.Tag]:
    """The finding's tags in ``scheme``, best first (only the best in a single-label scheme);
    confirmed tags, when there are any, replace auto ones."""
    return effective_tags([t for t in finding.tags if t.scheme == scheme], scheme)


def effective_tags(tags: Sequence[Any], scheme: str, single: bool | None = None) -> list[Any]:
    """Of one finding's tags in ``scheme`` (ORM tags or rows with ``label``, ``score``, ``id`` and
    ``source``), those that count, best first: confirmed ones replace auto ones, and a single-label
    scheme (``single``; looked up when not given) keeps its best only."""
    confirmed = [t for t in tags if t.source == "confirmed"]
    ranked = sorted((t for t in (confirmed or tags) if t.label), key=lambda t: (-t.score, t.id or 0))
    if single is None:
        single = scheme in single_label_schemes()
    return ranked[:1] if single else ranked


def has_effective_label(label: str) -> ColumnElement[bool]:
    """SQL condition on ``Finding``: ``label`` is one of its effective labels, as ``finding_labels``
    sees them (an automatic tag of a scheme the analyst has confirmed no longer counts, nor a
    runner-up in a single-label scheme): a tag with that label marked ``counted`` (:func:`mark_counted`)."""
    tag = models.Tag
    return exists().where(tag.finding_id == models.Finding.id, tag.label == label, tag.counted.is_(True))


def mark_counted(finding: models.Finding) -> None:
    """Set ``Tag.counted`` on ``finding``'s tags to what :func:`effective_tags` keeps in each scheme.
    Called wherever a finding's tags are written, so statistics count them with one aggregate."""
    single = set(single_label_schemes())
    by_scheme: dict[str, list[models.Tag]] = {}
    for tag in finding.tags:
        by_scheme.setdefault(tag.scheme, []).append(tag)
    for scheme, tags in by_scheme.items():
        chosen = {id(t) for t in effective_tags(tags, scheme, scheme in single)}
        for tag in tags:
            tag.counted = id(tag) in chosen


def tag_groups(finding: models.Finding) -> dict[str, Any]:
    """``auto``: scheme → [{label, score, evidence}]; ``confirmed``: scheme → [labels] (may be empty)."""
    auto: dict[str, list[dict[str, Any]]] = {}
    confirmed: dict[str, list[str]] = {}
    for t in sorted(finding.tags, key=lambda t: (t.scheme, -t.score)):
        if t.source == "confirmed":
            confirmed.setdefault(t.scheme, [])
            if t.label:
                confirmed[t.scheme].append(t.label)
        else:
            auto.setdefault(t.scheme, []).append({"label": t.label, "score": round(t.score, 4), "evidence": t.evidence or []})
    return {"auto": auto, "confirmed": confirmed}


def set_confirmed_tags(
    session: Session, finding: models.Finding, tags: dict[str, list[str]], taxonomy: Taxonomy, user: str | None
) -> dict[str, dict[str, list[str]]]:
    """Replace the confirmed tags of each scheme named in ``tags``; returns {scheme: {before, after}}."""
    for scheme_id, labels in tags.items():
        if scheme_id not in taxonomy.schemes:
            raise InvalidTagsError(f"没有分类方案 {scheme_id}（可选：{'、'.join(taxonomy.schemes)}）")
        scheme = taxonomy.schemes[scheme_id]
        unknown = [label for label in labels if label not in scheme.names]
        if unknown:
            raise InvalidTagsError(f"方案“{scheme.title}”中没有标签：{'、'.join(unknown)}")
        if not scheme.multi_label and len(labels) > 1:
            raise InvalidTagsError(f"方案“{scheme.title}”只能选一个标签")
    changes: dict[str, dict[str, list[str]]] = {}
    for scheme_id, labels in tags.items():
        before = [t.label for t in finding_labels(finding, scheme_id)]
        for t in [t for t in finding.tags if t.scheme == scheme_id and t.source == "confirmed"]:
            finding.tags.remove(t)
        wanted = list(dict.fromkeys(labels))
        auto = {t.label: t for t in finding.tags if t.scheme == scheme_id}
        for label in wanted or [""]:
            evidence = auto[label].evidence if label in auto else []
            finding.tags.append(
                models.Tag(scheme=scheme_id, label=label, score=1.0, evidence=evidence, source="confirmed", created_by=user)
            )
        changes[scheme_id] = {"before": before, "after": wanted}
    mark_counted(finding)
    session.commit()
    return changes


def confirmed_label_rows(session: Session) -> list[dict[str, Any]]:
    """Training rows (``xuncha train`` JSONL format) from every finding an analyst has confirmed."""
    stmt = (
        select(models.Finding)
        .where(models.Finding.tags.any(models.Tag.source == "confirmed"))
        .options(selectinload(models.Finding.tags))
        .order_by(models.Finding.id)
    )
    rows = []
    for f in session.scalars(stmt):
        row: dict[str, Any] = {"text": f.text, "source": f"finding:{f.id}"}
        for scheme in sorted({t.scheme for t in f.tags if t.source == "confirmed"}):
            row[scheme] = [t.label for t in f.tags if t.scheme == scheme and t.source == "confirmed" and t.label]
        rows.append(row)
    return rows
