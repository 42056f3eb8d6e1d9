"""Reading, correcting and deleting stored documents, shaped for the API and the web page."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from datetime import date as Date
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, defer, selectinload

from nlp.errors import XunchaError
from service.rounds import round_key
from service.store import models
from service.store.repository import round_for_label, unit_for_name
from service.summary import METRIC_NAMES, fmt_amount
from service.tags import finding_labels, has_effective_label, tag_groups

# The inspection kinds (巡察类型) the text analysis recognises (nlp.structure.KIND_CUES), in the order
# a form lists them. A kind given by a person must be one of these, so the documents, the filters and
# the statistics never split one kind under two spellings.
KINDS: tuple[str, ...] = ("常规", "专项", "机动", "回头看", "交叉", "提级", "联动", "延伸", "村(社区)")

EDITABLE = ("round", "unit", "kind", "date")  # what PATCH /documents/{id} may change
MAX_LENGTH = {"round": 100, "unit": 200}  # the columns' lengths
FIELD_NAMES = {"round": "轮次", "unit": "被巡察单位", "kind": "巡察类型", "date": "日期"}
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


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


UNASSIGNED_ROUND = "未标明轮次"  # the round filter's value for documents that name no round
DOCUMENT_SORTS: dict[str, str] = {  # sort key → what the list's column is called
    "created": "入库时间", "date": "日期", "round": "轮次", "unit": "被巡察单位", "kind": "类型", "title": "标题", "findings": "问题数",
}


def list_documents(
    session: Session, limit: int = 50, offset: int = 0, *, round: str | None = None, unit: str | None = None,
    kind: str | None = None, date_from: str | None = None, date_to: str | None = None,
    sort: str = "created", descending: bool = True,
) -> dict[str, Any]:
    """One page of the documents, filtered and sorted, with the values the filters can take.

    ``round`` and ``unit`` are parts of a round label / unit name (literal, as everywhere), ``round``
    :data:`UNASSIGNED_ROUND` selects the documents without one; ``kind`` is exact; the dates bound
    ``date`` (ISO strings compare as dates). Rounds sort by their number (第五轮 < 第十二轮), never
    their label; a document without the sorted value comes last either way. The sort runs over the
    selected documents' light rows (no text): a library holds thousands of documents, not millions.
    """
    D, F, U, R = models.Document, models.Finding, models.Unit, models.InspectionRound
    stmt = select(D.id, D.title, D.source_name, D.kind, D.date, D.created_at, D.round_id)
    if round == UNASSIGNED_ROUND:
        stmt = stmt.where(D.round_id.is_(None))
    elif round:
        stmt = stmt.where(D.round_id.in_(select(R.id).where(R.label.contains(round, autoescape=True))))
    if unit:
        stmt = stmt.where(D.id.in_(select(F.document_id).join(U, F.unit_id == U.id).where(U.name.contains(unit, autoescape=True))))
    if kind:
        stmt = stmt.where(D.kind == kind)
    if date_from:
        stmt = stmt.where(D.date >= date_from)
    if date_to:
        stmt = stmt.where(D.date <= date_to)
    rows = session.execute(stmt).all()
    rounds = {r.id: r for r in session.scalars(select(R))}
    counts = dict(session.execute(select(F.document_id, func.count(F.id)).group_by(F.document_id)).all())
    units: dict[int, list[str]] = {}
    for doc_id, name in session.execute(select(F.document_id, U.name).join(U, F.unit_id == U.id).distinct()):
        units.setdefault(doc_id, []).append(name)
    for names in units.values():
        names.sort()

    def value(row: Any) -> Any:
        if sort == "round":
            return round_key(rounds[row.round_id]) if row.round_id in rounds else None
        if sort == "unit":
            return units[row.id][0] if units.get(row.id) else None
        if sort == "findings":
            return counts.get(row.id, 0)
        return {"date": row.date, "kind": row.kind, "title": row.title or row.source_name, "created": row.created_at}.get(sort)

    keyed = [(value(row), row.id) for row in rows]
    present = sorted((k for k in keyed if k[0] is not None), reverse=descending)
    ordered = [doc_id for _, doc_id in present] + sorted((doc_id for v, doc_id in keyed if v is None), reverse=descending)
    page_ids = ordered[offset: offset + limit]
    docs = {
        d.id: d for d in session.scalars(
            select(D).where(D.id.in_(page_ids)).options(selectinload(D.round), defer(D.text), defer(D.page_starts))
        )
    }
    used_rounds = {rid for (rid,) in session.execute(select(D.round_id).distinct())}
    return {
        "total": len(ordered),
        "limit": limit,
        "offset": offset,
        "items": [document_summary(docs[i], counts.get(i, 0), units.get(i, [])) for i in page_ids if i in docs],
        "facets": {
            "rounds": [r.label for r in sorted((rounds[i] for i in used_rounds if i in rounds), key=round_key)]
            + ([UNASSIGNED_ROUND] if None in used_rounds else []),
            "units": sorted({n for names in units.values() for n in names}),
            "kinds": [k for k in KINDS if k in {kind for (kind,) in session.execute(select(D.kind).distinct())}],
        },
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
        "statement": f.statement,
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
                    "display": fmt_amount(s.value, s.unit),  # 12605000元 is shown as 1260.5万元
                    "qualifier": s.qualifier, "quote": s.quote, "start": s.start, "end": s.end,
                }
                for s in sorted(doc.statistics, key=lambda s: s.start)
            ],
        }
    )
    return out


# --- correcting a document's round, unit, kind and date ----------------------------------------------


class DocumentEditError(XunchaError):
    """A correction that cannot be applied; nothing was changed."""

    code = "invalid_document_edit"
    default_message = "文档信息修改无效"


class InvalidKindError(DocumentEditError):
    code = "invalid_kind"
    default_message = f"巡察类型应为：{'、'.join(KINDS)}"


class InvalidDateError(DocumentEditError):
    code = "invalid_date"
    default_message = "日期格式应为 YYYY-MM-DD，且须是真实存在的日期"


class InvalidTextError(DocumentEditError):
    code = "invalid_characters"
    default_message = "轮次和单位名称中不能含有控制字符"


class NothingToChangeError(DocumentEditError):
    code = "nothing_to_change"
    default_message = "请至少给出一项要修改的内容：轮次（round）、单位（unit）、类型（kind）或日期（date）"


def valid_iso_date(value: str) -> bool:
    """YYYY-MM-DD naming a day that exists (2023-02-30 and 2023-13-01 do not)."""
    if not _ISO_DATE.match(value):
        return False
    try:
        Date.fromisoformat(value)
    except ValueError:
        return False
    return True


def normalize_kind(value: str) -> str:
    """One of :data:`KINDS` from what a person typed: full-width brackets and a trailing 巡察 are
    accepted (村（社区）巡察 → 村(社区)), anything else is refused rather than stored as a new kind."""
    text = unicodedata.normalize("NFKC", value).strip()
    text = re.sub(r"(?:巡察|巡视)$", "", text).strip()
    if text not in KINDS:
        raise InvalidKindError(f"巡察类型“{value[:30]}”无法识别，应为：{'、'.join(KINDS)}")
    return text


def _clean_name(field: str, value: str) -> str:
    """A round label or unit name as stored: trimmed, within its column, no control characters or lone
    surrogates (PostgreSQL refuses NUL, SQLite cannot encode a surrogate: both would be a 500)."""
    text = value.strip()
    if any(unicodedata.category(ch) in ("Cc", "Cs") for ch in text):
        raise InvalidTextError(f"{FIELD_NAMES[field]}中不能含有控制字符")
    if len(text) > MAX_LENGTH[field]:
        raise DocumentEditError(f"{FIELD_NAMES[field]}不能超过 {MAX_LENGTH[field]} 个字")
    return text


def validate_edit(changes: Mapping[str, str | None]) -> dict[str, str | None]:
    """The correction as it will be stored, checked whole before anything is written: a field given as
    null or an empty string is cleared, a field not given is left as it is."""
    unknown = sorted(set(changes) - set(EDITABLE))
    if unknown:
        raise DocumentEditError(f"不能修改的字段：{'、'.join(unknown)}（可修改 round、unit、kind、date）")
    if not changes:
        raise NothingToChangeError()
    clean: dict[str, str | None] = {}
    for field, value in changes.items():
        text = (value or "").strip()
        if not text:
            clean[field] = None
        elif field == "kind":
            clean[field] = normalize_kind(text)
        elif field == "date":
            if not valid_iso_date(text):
                raise InvalidDateError(f"日期“{text[:20]}”无效：应为 YYYY-MM-DD，且须是真实存在的日期")
            clean[field] = text
        else:
            clean[field] = _clean_name(field, text)
    return clean


def _placement(doc: models.Document) -> dict[str, Any]:
    """What the audit entry records before and after: the document's fields, its findings' units."""
    return {
        "round": doc.round.label if doc.round else None,
        "unit": sorted({f.unit.name for f in doc.findings if f.unit}),
        "kind": doc.kind,
        "date": doc.date,
    }


def _move_to_round(session: Session, doc: models.Document, label: str | None) -> None:
    """Put the document in round ``label`` (found or created as at ingest, with the document's date and
    kind), and with it every finding that was in the document's round. A finding with a round of its own
    — a row of an imported 问题清单 that named its round — keeps it, as ingest gave it."""
    old = doc.round
    new = round_for_label(session, label, doc.date, doc.kind) if label else None
    for f in doc.findings:
        if f.round is old:
            f.round = new
    doc.round = new


def _move_to_unit(session: Session, doc: models.Document, name: str | None) -> None:
    """Every finding of the document in unit ``name``: the unit a person gives wins over the text, as
    a unit given at upload does (``_ingest_once``)."""
    unit = unit_for_name(session, name) if name else None
    for f in doc.findings:
        f.unit = unit


def _apply(session: Session, doc: models.Document, clean: Mapping[str, str | None]) -> None:
    # date and kind first: a round created by this correction takes the document's year and kind
    if "date" in clean:
        doc.date = clean["date"]
    if "kind" in clean:
        doc.kind = clean["kind"]
    if "round" in clean:
        _move_to_round(session, doc, clean["round"])
    if "unit" in clean:
        _move_to_unit(session, doc, clean["unit"])


EDIT_RETRIES = 3


def edit_document(
    session: Session, document_id: int, changes: Mapping[str, str | None]
) -> tuple[models.Document | None, dict[str, dict[str, Any]]]:
    """Correct a document's round, unit, kind and date and commit; its findings follow (see
    :func:`_move_to_round`, :func:`_move_to_unit`). Returns the reloaded document (None when there is
    no such document) and ``{field: {"before", "after"}}`` of what changed, for the audit log.

    Raises :class:`DocumentEditError` before writing anything when a value is refused. A unique
    violation means another request created the same new round or unit at the same moment: the
    transaction is rolled back and tried again, when the row exists.
    """
    clean = validate_edit(changes)
    for attempt in range(EDIT_RETRIES):
        doc = load_document(session, document_id)
        if doc is None:
            return None, {}
        before = _placement(doc)
        try:
            _apply(session, doc, clean)
            session.commit()
        except IntegrityError:
            session.rollback()
            if attempt == EDIT_RETRIES - 1:
                raise
            continue
        session.expire_all()
        doc = load_document(session, document_id)
        assert doc is not None
        after = _placement(doc)
        diff = {k: {"before": before[k], "after": after[k]} for k in EDITABLE if before[k] != after[k]}
        return doc, diff
    raise AssertionError("unreachable")


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
