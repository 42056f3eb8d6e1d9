"""Common issues across the stored library: cluster the selected findings on their stored
representation and flag recurrences.

Every selected finding is in exactly one cluster (findings without a unit or a round included).
Rounds are ordered by term and number (``InspectionRound.term`` / ``number``: 十三届第九轮 before
十四届第五轮 before 十四届第七轮), never by label.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from nlp.cluster import ClusterInput, StoredLead, cluster_findings, recurrences
from service.library import EmptyLibraryError
from service.representations import load_library
from service.rounds import term_number
from service.store import models


@dataclass
class ClusterQuery:
    rounds: list[str] = field(default_factory=list)  # substrings of round labels
    units: list[str] = field(default_factory=list)  # substrings of unit names
    min_units: int = 1  # clusters spanning fewer distinct units are left out (unit-less findings count as one)
    limit: int | None = None
    include_singletons: bool = True


def common_issues(session: Session, query: ClusterQuery) -> dict[str, Any]:
    """``{"clusters": [...], "recurrences": [...], "findings": n}`` over the selected findings."""
    F, U, R = models.Finding, models.Unit, models.InspectionRound
    meta = {
        fid: (document_id, unit, label, number, term_number(term))
        for fid, document_id, unit, label, number, term in session.execute(
            select(F.id, F.document_id, U.name, R.label, R.number, R.term)
            .outerjoin(U, F.unit_id == U.id).outerjoin(R, F.round_id == R.id)
        )
    }
    library = load_library(session)
    selected = [
        i for i, fid in enumerate(library.ids)
        if fid in meta
        and (not query.rounds or (meta[fid][2] and any(r in meta[fid][2] for r in query.rounds)))
        and (not query.units or (meta[fid][1] and any(u in meta[fid][1] for u in query.units)))
    ]
    if not selected:
        raise EmptyLibraryError("所选范围内没有问题")
    inputs = []
    for i in selected:
        fid = library.ids[i]
        _, unit, label, number, term = meta[fid]
        lead = StoredLead(library.leads[i]) if library.leads else None
        inputs.append(ClusterInput(str(fid), library.texts[i], unit, label, number, tuple(library.concepts[i]), term, lead))
    vectors = library.vectors[np.asarray(selected)]
    by_id = {inp.id: inp for inp in inputs}

    def finding(fid: str) -> dict[str, Any]:
        inp = by_id[fid]
        return {
            "finding_id": int(fid),
            "document_id": meta[int(fid)][0],
            "text": inp.text,
            "unit": inp.unit,
            "round": inp.round,
        }

    clusters = []
    for c in cluster_findings(inputs, vectors):
        if max(1, len(c.units)) < query.min_units or (c.singleton and not query.include_singletons):
            continue
        row = c.to_dict()
        row["label"] = c.title  # the heading other readers (summary, web page) show
        row["representatives"] = [finding(i) for i in c.representatives]
        row["findings"] = [finding(i) for i in c.finding_ids]
        del row["finding_ids"]
        clusters.append(row)
    if query.limit:
        clusters = clusters[: query.limit]
    repeats = [
        {**r.to_dict(), "earlier": finding(r.earlier_id), "later": finding(r.later_id)}
        for r in recurrences(inputs, vectors)
    ]
    return {"clusters": clusters, "recurrences": repeats, "findings": len(inputs)}
