"""Aggregates over the library: by metric, round, unit and label (and labels per round, for charts).

Metric totals reuse ``aggregate_documents`` so a figure repeated inside one report is counted once
and percentages are never summed across reports.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from service.rounds import round_key
from service.store import models
from service.summary import aggregate_documents, fmt_amount
from service.tags import finding_labels

SCHEMES = ("focus", "livelihood", "problem_type", "four_implementations")


def library_statistics(session: Session) -> dict[str, Any]:
    documents = list(session.scalars(select(models.Document).options(selectinload(models.Document.statistics))))
    findings = list(
        session.scalars(
            select(models.Finding).options(
                selectinload(models.Finding.tags), selectinload(models.Finding.unit), selectinload(models.Finding.round)
            )
        )
    )
    rounds = {r.label: r for r in session.scalars(select(models.InspectionRound))}
    order = sorted(rounds, key=lambda label: round_key(rounds[label]))
    docs_per_round = dict(
        session.execute(
            select(models.InspectionRound.label, func.count(models.Document.id))
            .join(models.Document, models.Document.round_id == models.InspectionRound.id)
            .group_by(models.InspectionRound.label)
        ).all()
    )
    findings_per_round: Counter[str] = Counter(f.round.label for f in findings if f.round)
    # a round stays in its table after its last document is deleted: list only rounds still in use
    order = [label for label in order if docs_per_round.get(label) or findings_per_round.get(label)]
    findings_per_unit: Counter[str] = Counter(f.unit.name for f in findings if f.unit)
    by_label: dict[str, Counter[str]] = {s: Counter() for s in SCHEMES}
    label_by_round: dict[str, dict[str, Counter[str]]] = {s: defaultdict(Counter) for s in SCHEMES}
    for f in findings:
        for scheme in SCHEMES:
            for t in finding_labels(f, scheme):
                by_label[scheme][t.label] += 1
                if f.round:
                    label_by_round[scheme][f.round.label][t.label] += 1
    metrics = aggregate_documents(documents)
    return {
        "documents": len(documents),
        "findings": len(findings),
        "rounds": order,
        "by_metric": [
            {
                "metric": m["metric"], "name": m["name"], "total": m.get("total"), "unit": m.get("unit"),
                "display": fmt_amount(m["total"], m.get("unit")) if m.get("total") is not None else None,
                "why": m.get("why"),
                "documents": len(m["documents"]),
                "per_document": [
                    {"document_id": d["document_id"], "document": d["document"], "total": d["total"], "values": d["values"],
                     "unit": d["unit"], "why": d.get("why"),
                     "display": fmt_amount(d["total"], d["unit"]) if d["total"] is not None
                     else "、".join(fmt_amount(v, d["unit"]) for v in d["values"])}
                    for d in m["documents"]
                ],
            }
            for m in metrics
        ],
        "by_round": [
            {"round": label, "documents": docs_per_round.get(label, 0), "findings": findings_per_round.get(label, 0)}
            for label in order
        ],
        "by_unit": [{"unit": u, "findings": n} for u, n in findings_per_unit.most_common()],
        "by_label": {s: [{"label": label, "count": n} for label, n in c.most_common()] for s, c in by_label.items()},
        "label_by_round": {
            s: {r: dict(label_by_round[s][r].most_common()) for r in order if r in label_by_round[s]} for s in SCHEMES
        },
    }
