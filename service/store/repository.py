"""Repository functions: write an analysed report into the library, read it back.

``ingest_bytes`` stores one document in ONE transaction: the document, its findings, their tags
and the statistics are all committed or none is, so a crash mid-batch never leaves half a document.
The original file is written to the content-addressed store before the commit; if the commit then
fails, the orphan file is harmless (same bytes, same name) and a re-run finds it in place.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from nlp.model import ReportDoc
from nlp.numerals import parse_int
from nlp.statements import statement_ids
from service.representations import represent_texts, represent_with_vectors, representation_rows
from service.store import models
from service.store.files import sha256_of, store_bytes
from service.tags import mark_counted


@dataclass
class Overrides:
    """Metadata given by the user; each one wins over what the text says."""

    round: str | None = None
    unit: str | None = None
    kind: str | None = None
    date: str | None = None


@dataclass
class IngestResult:
    source: str
    status: str  # stored | duplicate
    document_id: int
    findings: int
    sha256: str

    def to_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def find_document(session: Session, digest: str) -> models.Document | None:
    return session.scalar(select(models.Document).where(models.Document.sha256 == digest))


def _get_or_create(session: Session, model: type[Any], key: dict[str, Any], extra: dict[str, Any]) -> Any:
    """Select by ``key`` or insert it in the document's transaction.

    No SAVEPOINT here: under pysqlite a savepoint opened before any write is its own transaction and
    its release commits, which would let a round outlive a document that then fails. A concurrent
    insert of the same key instead fails the whole transaction, and ``ingest_bytes`` retries it.
    """
    found = session.scalar(select(model).filter_by(**key))
    if found is not None:
        return found
    obj = model(**key, **extra)
    session.add(obj)
    return obj


def _round(session: Session, doc: ReportDoc, overrides: Overrides, date: str | None, kind: str | None) -> models.InspectionRound | None:
    label = overrides.round or (doc.round.label if doc.round else None)
    if not label:
        return None
    number = doc.round.number if doc.round and not overrides.round else None
    term = doc.round.term if doc.round and not overrides.round else None
    return round_for_label(session, label, date, kind, number=number, term=term)


def round_for_label(
    session: Session, label: str, date: str | None, kind: str | None, *, number: int | None = None, term: str | None = None
) -> models.InspectionRound:
    """The stored round called ``label``, created with the number and term its label states
    (第六轮 → 6; 十四届县委第五轮 → term 十四届县委) unless they are given."""
    if number is None:
        m = re.search(r"第\s*([0-9一二三四五六七八九十百]+)\s*轮", label)
        number = parse_int(m.group(1)) if m else parse_int(label)
    if term is None:  # a label given at upload names its term too: 十四届县委第五轮
        t = re.search(r"[0-9零〇一二两三四五六七八九十百]+届[^第\s]{0,8}", label)
        term = t.group(0) if t else None
    year = int(date[:4]) if date and date[:4].isdigit() else None
    found: models.InspectionRound = _get_or_create(
        session, models.InspectionRound, {"label": label}, {"term": term, "number": number, "year": year, "kind": kind}
    )
    return found


def _unit(session: Session, name: str | None, aliases: dict[str, str]) -> models.Unit | None:
    if not name:
        return None
    full = aliases.get(name, name)
    unit = session.scalar(select(models.Unit).where(models.Unit.name == full)) or _unit_with_alias(session, full)
    if unit is None:
        unit = _get_or_create(session, models.Unit, {"name": full}, {"aliases": []})
    mine = sorted(short for short, long in aliases.items() if long == full)
    if mine and not set(mine) <= set(unit.aliases or []):
        unit.aliases = sorted(set(unit.aliases or []) | set(mine))
        for short in mine:  # a unit stored earlier under the short name is the same unit: merge it
            twin = session.scalar(select(models.Unit).where(models.Unit.name == short))
            if twin is not None and twin.id != unit.id:
                session.execute(update(models.Finding).where(models.Finding.unit_id == twin.id).values(unit_id=unit.id))
                session.delete(twin)
    return unit


def unit_for_name(session: Session, name: str) -> models.Unit:
    """The stored unit called ``name`` — or the one an earlier report defined ``name`` as the short name
    of — created when new: the lookup a unit given at upload goes through, so a unit corrected after
    upload (``PATCH /documents/{id}``) lands on the same row as one given at ingest."""
    unit = _unit(session, name, {})
    assert unit is not None  # a non-empty name always gives a unit
    return unit


def _unit_with_alias(session: Session, name: str) -> models.Unit | None:
    """A unit that an earlier report defined ``name`` as a short name of (以下简称)."""
    for unit in session.scalars(select(models.Unit)):  # a short table; aliases live in a JSON column
        if name in (unit.aliases or []):
            return unit
    return None


RETRIES = 3


def ingest_bytes(
    session: Session,
    data: bytes,
    source: str,
    doc: ReportDoc,
    files_root: Path,
    overrides: Overrides | None = None,
    tagger_version: str | None = None,
    *,
    vectors: np.ndarray | None = None,
    finding_rounds: Sequence[tuple[str | None, str | None, str | None]] | None = None,
) -> IngestResult:
    """Store an analysed document (idempotent by sha256) and commit; roll back everything on error.

    ``vectors``: the findings' vectors when the caller has computed them already (an imported sheet
    of thousands of rows). ``finding_rounds``: per finding, its own round (label, kind, date), for
    documents whose findings come from many rounds (a 问题清单); otherwise every finding is in the
    document's round.

    A unique violation means another process stored the same file (→ ``duplicate``) or the same new
    round/unit at the same moment (→ roll back and try again: it now exists).
    """
    for attempt in range(RETRIES):
        try:
            return _ingest_once(
                session, data, source, doc, files_root, overrides or Overrides(), tagger_version, vectors, finding_rounds
            )
        except IntegrityError:
            session.rollback()
            again = find_document(session, sha256_of(data))
            if again is not None:
                return IngestResult(source, "duplicate", again.id, len(again.findings), again.sha256)
            if attempt == RETRIES - 1:
                raise
    raise AssertionError("unreachable")


def _ingest_once(
    session: Session,
    data: bytes,
    source: str,
    doc: ReportDoc,
    files_root: Path,
    overrides: Overrides,
    tagger_version: str | None,
    vectors: np.ndarray | None = None,
    finding_rounds: Sequence[tuple[str | None, str | None, str | None]] | None = None,
) -> IngestResult:
    digest = sha256_of(data)
    existing = find_document(session, digest)
    if existing is not None:
        return IngestResult(source, "duplicate", existing.id, len(existing.findings), digest)
    # vectors before the first write: under SQLite the write lock is held from the first INSERT on
    texts = [f.text for f in doc.findings]
    representation = representation_rows(represent_texts(texts) if vectors is None else represent_with_vectors(texts, vectors))
    if finding_rounds is not None and len(finding_rounds) != len(doc.findings):
        raise ValueError("finding_rounds must give one round per finding")
    stored = store_bytes(files_root, data, str(doc.media_type), digest)
    try:
        date = overrides.date or (doc.dates[0] if doc.dates else None)
        kind = overrides.kind or doc.kind
        inspection_round = _round(session, doc, overrides, date, kind)
        document = models.Document(
            sha256=digest,
            source_name=Path(source).name,
            stored_path=str(stored),
            size=len(data),
            media_type=str(doc.media_type),
            title=doc.title,
            kind=kind,
            date=date,
            round=inspection_round,
            text=doc.text,
            page_starts=list(doc.page_starts),
            encoding=doc.encoding,
            backend=doc.backend,
            tagger_version=tagger_version,
        )
        session.add(document)
        rounds: dict[str | None, models.InspectionRound | None] = {None: inspection_round}
        for label, row_kind, row_date in finding_rounds or []:
            if label not in rounds:
                rounds[label] = round_for_label(session, label, row_date, row_kind) if label else None
        default_unit = overrides.unit or (doc.unit_names()[0] if len(doc.unit_names()) == 1 else None)
        units: dict[str | None, models.Unit | None] = {}  # one lookup per unit name, not per finding
        statements = statement_ids(doc)
        for k, (f, rep_row) in enumerate(zip(doc.findings, representation, strict=True)):
            name = overrides.unit or f.unit or default_unit  # the user's word wins over the text
            own_round = rounds[finding_rounds[k][0]] if finding_rounds else inspection_round
            if name not in units:
                units[name] = _unit(session, name, doc.unit_aliases)
            finding = models.Finding(
                local_id=f.id,
                text=f.text,
                start=f.start,
                end=f.end,
                page=f.page,
                unit=units[name],
                round=own_round,
                section=f.section,
                marker=f.marker,
                detail=f.detail,
                statement=statements.get(f.id),
            )
            for scheme, rows in f.tags.items():
                for row in rows:
                    finding.tags.append(
                        models.Tag(scheme=scheme, label=row["label"], score=row["score"], evidence=row["evidence"], source="auto")
                    )
            mark_counted(finding)
            finding.representations.append(rep_row)
            document.findings.append(finding)
        for s in doc.statistics:
            document.statistics.append(
                models.Statistic(
                    metric=s["metric"], value=float(s["value"]), unit=s["unit"], qualifier=s["qualifier"],
                    quote=s["quote"], start=s["start"], end=s["end"], scope=s.get("scope", "total"), part_of=s.get("part_of"),
                )
            )
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return IngestResult(source, "stored", document.id, len(document.findings), digest)
