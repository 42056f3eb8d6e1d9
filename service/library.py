"""Search over the stored findings library.

The index is derived data built from the stored representation of every finding (vectors and
concepts, :mod:`service.representations`): nothing is re-embedded or refitted to build it. It is
kept in memory per process and caught up from the library's change log (:mod:`service.live_index`);
several processes sharing one database (PostgreSQL) therefore each search an index that matches the
database.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from nlp.concepts import default_thesaurus
from nlp.errors import XunchaError
from nlp.script import analysis_form
from nlp.search import Hit
from service.live_index import LiveView, current_view
from service.store import models
from service.tags import has_effective_label


class EmptyLibraryError(XunchaError):
    code = "empty_library"
    default_message = "问题库为空，请先用 xuncha ingest 入库"


class UnknownFindingIdError(XunchaError):
    code = "unknown_finding"
    default_message = "没有这个问题编号"


def library_state(session: Session) -> str:
    """A fingerprint of the findings table (count, highest id, latest document): what the clusters
    cache is keyed by."""
    count, top = session.execute(select(func.count(models.Finding.id), func.max(models.Finding.id))).one()
    latest = session.scalar(select(func.max(models.Document.created_at)))
    return hashlib.sha1(f"{count}:{top}:{latest}".encode()).hexdigest()[:16]


def load_index(session: Session) -> LiveView:
    """The library's search index as of its latest change (see :mod:`service.live_index`): kept per
    process and caught up from the change log, so a long-running server pays one cheap query per search
    and a few milliseconds after an upload, never a rebuild on the request."""
    view = current_view(session)
    if not view.size:
        raise EmptyLibraryError()
    return view


@dataclass
class Filters:
    round: str | None = None
    unit: str | None = None
    label: str | None = None
    #: more rounds, any of which may match (the CLI's repeatable ``--round``), beside ``round``
    rounds: tuple[str, ...] = ()


def filtered_ids(session: Session, filters: Filters) -> set[str] | None:
    rounds = [r for r in (filters.round, *filters.rounds) if r]
    if not (rounds or filters.unit or filters.label):
        return None
    query = select(models.Finding.id)
    if rounds:
        query = query.join(models.InspectionRound, models.Finding.round_id == models.InspectionRound.id).where(
            or_(*(models.InspectionRound.label.contains(r, autoescape=True) for r in rounds))
        )
    if filters.unit:
        query = query.join(models.Unit, models.Finding.unit_id == models.Unit.id).where(models.Unit.name.contains(filters.unit, autoescape=True))
    if filters.label:
        query = query.where(has_effective_label(filters.label))
    return {str(i) for i in session.scalars(query)}


def finding_rows(session: Session, ids: list[int]) -> dict[int, dict[str, Any]]:
    """Result rows for finding ids: two Core queries (findings joined with unit, round and document
    name; their labels), never whole ORM documents: a search result does not need a report's full text.

    A finding's labels are its tags marked ``counted`` (:func:`service.tags.mark_counted` keeps them
    where tags are written: confirmed over automatic, a single-label scheme's best only), read in
    the order :func:`service.tags.effective_tags` ranks them — the rule is not re-applied per row
    (a search with its near-duplicates lists a hundred findings and six hundred tags)."""
    if not ids:
        return {}
    F, U, R, D, T = models.Finding, models.Unit, models.InspectionRound, models.Document, models.Tag
    rows = session.execute(
        select(F.id, F.document_id, F.text, F.page, U.name, R.label, D.source_name)
        .join(D, F.document_id == D.id)
        .outerjoin(U, F.unit_id == U.id)
        .outerjoin(R, F.round_id == R.id)
        .where(F.id.in_(ids))
    ).all()
    labels_of: dict[int, dict[str, list[str]]] = {}
    # ``counted`` is tested here, not in SQL: with it in the WHERE clause SQLite's planner chose the
    # (counted, scheme) index over the finding-id one and read every counted tag of the library
    # (350 ms a search at 100k findings instead of 3)
    tags = select(T.finding_id, T.scheme, T.label, T.counted).where(T.finding_id.in_(ids)).order_by(
        T.finding_id, T.scheme, T.score.desc(), T.id
    )
    for finding_id, scheme, label, counted in session.execute(tags):
        if counted:
            labels_of.setdefault(finding_id, {}).setdefault(scheme, []).append(label)
    return {
        fid: {
            "finding_id": fid,
            "document_id": document_id,
            "text": text,
            "unit": unit,
            "round": round_label,
            "document": source_name,
            "page": page,
            "tags": labels_of.get(fid, {}),
        }
        for fid, document_id, text, page, unit, round_label, source_name in rows
    }


def search_library(
    session: Session, query: str | None, filters: Filters, limit: int = 10, like: int | None = None
) -> list[dict[str, Any]]:
    """Ranked findings for a query (or like finding ``like``) above the relevance floor, with
    near-duplicates grouped and, for each, why it matched."""
    index = load_index(session)
    allowed = filtered_ids(session, filters)
    if like is not None:
        if not index.holds(str(like)):
            raise UnknownFindingIdError(f"没有编号为 {like} 的问题")
        hits = index.more_like_this(str(like), limit, filter_ids=allowed)
    else:
        hits = index.search(query or "", limit, filter_ids=allowed)
    wanted = [int(h.finding_id) for h in hits] + [int(d) for h in hits for d in h.duplicates]
    rows = finding_rows(session, wanted)
    results = []
    for h in hits:
        row = dict(rows[int(h.finding_id)])
        row.update(hit_explanation(h, row["text"]))
        row["duplicates"] = [rows[int(d)] for d in h.duplicates if int(d) in rows]
        results.append(row)
    return results


def hit_explanation(hit: Hit, text: str) -> dict[str, Any]:
    """Score, grade, signals and why the hit matched: the query terms it holds and the concepts it
    shares with the query, each with its spans in the finding's own text (for highlighting)."""
    thesaurus = default_thesaurus()
    analysed = analysis_form(text)
    spans: list[tuple[int, int, str]] = []
    for term in hit.matched_terms:
        pos = analysed.text.find(term)
        while pos != -1:
            start, end = analysed.original_span(pos, pos + len(term))
            spans.append((start, end, "term"))
            pos = analysed.text.find(term, pos + len(term))
    shared = set(hit.concepts)
    concepts = []
    for key in hit.concepts:
        concept = thesaurus.concepts[key]
        concepts.append({"key": key, "name": concept.name, "family": thesaurus.families[concept.family].title})
    for found in thesaurus.match(analysed.text):
        if found.concept in shared:
            start, end = analysed.original_span(found.start, found.end)
            spans.append((start, end, "concept"))
    return {
        "score": hit.score,
        "relevance": hit.relevance,
        "signals": hit.signals,
        "matched_terms": hit.matched_terms,
        "matched_concepts": concepts,
        "highlights": [{"start": a, "end": b, "kind": k} for a, b, k in sorted(set(spans))],
    }
