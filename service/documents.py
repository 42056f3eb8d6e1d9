"""Reading and deleting stored documents, shaped for the API and the web page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from service.store import models
from service.summary import METRIC_NAMES
from service.tags import finding_labels, has_effective_label, tag_groups


def document_summary(doc: models.Document, findings: int, units: list[str]) -> dict[str, Any]:
    return {
        "id": doc.id,
        "title": doc.title,
        "source_name": doc.source_name,
        "kind": doc.kind,
        "date": doc.date,
        "round": doc.round.label if doc.round else None,
        "units": units,
        "findings": findings,
        "media_type": doc.media_type,
        "size": doc.size,
        "sha256": doc.sha256,
        "created_at": doc.created_at.isoformat() if doc.created_at else None,
    }


def list_documents(session: Session, limit: int = 50, offset: int = 0) -> dict[str, Any]:
    total = session.scalar(select(func.count(models.Document.id))) or 0
    docs = list(
        session.scalars(
            select(models.Document).options(selectinload(models.Document.round))
            .order_by(models.Document.id.desc()).limit(limit).offset(offset)
        )
    )
    ids = [d.id for d in docs]
    counts = dict(
        session.execute(
            select(models.Finding.document_id, func.count(models.Finding.id))
            .where(models.Finding.document_id.in_(ids)).group_by(models.Finding.document_id)
        ).all()
    )
    units: dict[int, list[str]] = {}
    for doc_id, name in session.execute(
        select(models.Finding.document_id, models.Unit.name).join(models.Unit, models.Finding.unit_id == models.Unit.id)
        .where(models.Finding.document_id.in_(ids)).distinct()
    ):
        units.setdefault(doc_id, []).append(name)
    return {
        "total": total,
        "limit": limit,
        "offset": offset,
        "items": [document_summary(d, counts.get(d.id, 0), sorted(units.get(d.id, []))) for d in docs],
    }


def finding_dict(f: models.Finding) -> dict[str, Any]:
    return {
        "id": f.id,
        "document_id": f.document_id,
        "local_id": f.local_id,
        "text": f.text,
        "start": f.start,
        "end": f.end,
        "page": f.page,
        "unit": f.unit.name if f.unit else None,
        "round": f.round.label if f.round else None,
        "section": f.section,
        "marker": f.marker,
        "detail": f.detail,
        "tags": tag_groups(f),
        "labels": {scheme: [t.label for t in finding_labels(f, scheme)] for scheme in sorted({t.scheme for t in f.tags})},
    }


def load_finding(session: Session, finding_id: int) -> models.Finding | None:
    return session.scalar(
        select(models.Finding).where(models.Finding.id == finding_id)
        .options(selectinload(models.Finding.tags), selectinload(models.Finding.unit), selectinload(models.Finding.round))
    )


def load_document(session: Session, document_id: int) -> models.Document | None:
    return session.scalar(
        select(models.Document).where(models.Document.id == document_id).options(
            selectinload(models.Document.round),
            selectinload(models.Document.statistics),
            selectinload(models.Document.findings).selectinload(models.Finding.tags),
            selectinload(models.Document.findings).selectinload(models.Finding.unit),
            selectinload(models.Document.findings).selectinload(models.Finding.round),
        )
    )


def document_detail(doc: models.Document) -> dict[str, Any]:
    units = sorted({f.unit.name for f in doc.findings if f.unit})
    out = document_summary(doc, len(doc.findings), units)
    out.update(
        {
            "text": doc.text,
            "page_starts": doc.page_starts,
            "encoding": doc.encoding,
            "backend": doc.backend,
            "tagger_version": doc.tagger_version,
            "findings": [finding_dict(f) for f in doc.findings],
            "statistics": [
                {
                    "metric": s.metric, "name": METRIC_NAMES.get(s.metric, "其他数字"), "value": s.value, "unit": s.unit,
                    "qualifier": s.qualifier, "quote": s.quote, "start": s.start, "end": s.end,
                }
                for s in sorted(doc.statistics, key=lambda s: s.start)
            ],
        }
    )
    return out


def delete_document(session: Session, doc: models.Document, files_dir: Path) -> None:
    """Delete the document with its findings, tags and statistics, then its stored file."""
    stored = Path(doc.stored_path)
    if not stored.is_absolute():  # the file store records paths relative to its root
        stored = files_dir / stored
    session.delete(doc)
    session.commit()
    try:
        if stored.resolve().is_relative_to(files_dir.resolve()):
            stored.unlink(missing_ok=True)
    except OSError:
        pass  # the rows are gone; a file left behind is harmless and content-addressed


def list_findings(
    session: Session, round: str | None, unit: str | None, label: str | None, text: str | None, limit: int, offset: int
) -> dict[str, Any]:
    stmt = select(models.Finding)
    if round:
        stmt = stmt.join(models.InspectionRound, models.Finding.round_id == models.InspectionRound.id).where(
            models.InspectionRound.label.contains(round, autoescape=True)
        )
    if unit:
        stmt = stmt.join(models.Unit, models.Finding.unit_id == models.Unit.id).where(models.Unit.name.contains(unit, autoescape=True))
    if label:
        stmt = stmt.where(has_effective_label(label))
    if text:
        stmt = stmt.where(models.Finding.text.contains(text, autoescape=True))
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(
        stmt.options(selectinload(models.Finding.tags), selectinload(models.Finding.unit), selectinload(models.Finding.round))
        .order_by(models.Finding.id).limit(limit).offset(offset)
    )
    return {"total": total, "limit": limit, "offset": offset, "items": [finding_dict(f) for f in rows]}
