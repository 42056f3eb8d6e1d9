"""Common issues across the stored library: cluster the selected findings and flag recurrences.

Rounds are passed to the clusterer as their labels (十四届县委第六轮) ordered by their number, so
``per_round`` reads as a trend; findings without a round stay in the clusters but add no round.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from nlp.cluster import ClusterInput, cluster_findings, recurrences
from nlp.vectors import embed
from service.library import EmptyLibraryError
from service.store import models


@dataclass
class ClusterQuery:
    rounds: list[str] = field(default_factory=list)  # substrings of round labels
    units: list[str] = field(default_factory=list)  # substrings of unit names
    min_units: int = 1
    limit: int | None = None
    include_singletons: bool = True


def common_issues(session: Session, query: ClusterQuery) -> dict[str, Any]:
    stmt = select(models.Finding).options(selectinload(models.Finding.unit), selectinload(models.Finding.round))
    findings = [
        f for f in session.scalars(stmt.order_by(models.Finding.id))
        if (not query.rounds or (f.round and any(r in f.round.label for r in query.rounds)))
        and (not query.units or (f.unit and any(u in f.unit.name for u in query.units)))
    ]
    if not findings:
        raise EmptyLibraryError("所选范围内没有问题")
    order = {f.round.label: (f.round.number or 0) for f in findings if f.round}
    inputs = [
        ClusterInput(str(f.id), f.text, f.unit.name if f.unit else None, f.round.label if f.round else None)
        for f in findings
    ]
    by_id = {str(f.id): f for f in findings}
    _, vectors = embed([f.text for f in findings], dim=min(128, max(2, len(findings) - 1)))
    clusters = []
    for c in cluster_findings(inputs, vectors):
        if len(c.units) < query.min_units or (c.singleton and not query.include_singletons):
            continue
        row = c.to_dict()
        row["rounds"] = sorted(c.rounds, key=lambda r: order.get(r, 0))
        row["per_round"] = {r: c.per_round[r] for r in row["rounds"] if r in c.per_round}
        row["representatives"] = [_finding(by_id[i]) for i in c.representatives]
        row["findings"] = [_finding(by_id[i]) for i in c.finding_ids]
        del row["finding_ids"]
        clusters.append(row)
    if query.limit:
        clusters = clusters[: query.limit]
    repeats = [
        {**r.to_dict(), "earlier": _finding(by_id[r.earlier_id]), "later": _finding(by_id[r.later_id])}
        for r in recurrences(inputs, vectors)
        if order.get(r.earlier_round, 0) <= order.get(r.later_round, 0)
    ]
    return {"clusters": clusters, "recurrences": repeats, "findings": len(findings)}


def _finding(f: models.Finding) -> dict[str, Any]:
    return {
        "finding_id": f.id,
        "document_id": f.document_id,
        "text": f.text,
        "unit": f.unit.name if f.unit else None,
        "round": f.round.label if f.round else None,
    }
