"""Search over the stored findings library.

The index is derived data: it is rebuilt from the database whenever the stored findings change and
cached on disk under ``XUNCHA_DATA_DIR/index/<state>``, where ``<state>`` is a fingerprint of the
findings table (count, highest id, latest document). Several processes sharing one database (e.g.
PostgreSQL) therefore each see an index that matches the database, never a stale in-memory copy.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from nlp.embedders import make_embedder
from nlp.errors import XunchaError
from nlp.search import SearchIndex
from service.store import models
from service.tags import finding_labels, has_effective_label


class EmptyLibraryError(XunchaError):
    code = "empty_library"
    default_message = "问题库为空，请先用 xuncha ingest 入库"


class UnknownFindingIdError(XunchaError):
    code = "unknown_finding"
    default_message = "没有这个问题编号"


def library_state(session: Session) -> str:
    count, top = session.execute(select(func.count(models.Finding.id), func.max(models.Finding.id))).one()
    latest = session.scalar(select(func.max(models.Document.created_at)))
    return hashlib.sha1(f"{count}:{top}:{latest}".encode()).hexdigest()[:16]


_LOADED: dict[tuple[str, str], SearchIndex] = {}  # per process: (data dir, state) → index, newest only
_LOADED_LOCK = threading.Lock()


def load_index(session: Session, data_dir: Path, embedder_name: str = "lsa") -> SearchIndex:
    """The index matching the database now: kept in memory per process, else loaded from the disk
    cache, else rebuilt and cached. A long-running server thus pays one cheap state query per search."""
    state = f"{embedder_name}-{library_state(session)}"
    key = (str(data_dir.resolve()), state)
    with _LOADED_LOCK:
        index = _LOADED.get(key)
        if index is None:
            index = _load_or_build(session, data_dir, embedder_name, state)
            for old in [k for k in _LOADED if k[0] == key[0]]:
                del _LOADED[old]
            _LOADED[key] = index
        return index


def _load_or_build(session: Session, data_dir: Path, embedder_name: str, state: str) -> SearchIndex:
    embedder = make_embedder(embedder_name)
    root = data_dir / "index"
    target = root / state
    if (target / "index.json").exists():
        return SearchIndex.load(target, embedder=embedder)
    rows = session.execute(select(models.Finding.id, models.Finding.text).order_by(models.Finding.id)).all()
    if not rows:
        raise EmptyLibraryError()
    index = SearchIndex.build(((str(fid), text) for fid, text in rows), embedder=embedder)
    tmp = root / f".building-{state}-{os.getpid()}-{threading.get_ident()}"  # concurrent builders never share one
    shutil.rmtree(tmp, ignore_errors=True)
    index.save(tmp)
    try:
        tmp.replace(target)
    except OSError:  # another process placed the same state first: theirs is identical
        shutil.rmtree(tmp, ignore_errors=True)
    for old in root.iterdir():  # keep the cache from growing without bound
        if old.name != state and not old.name.startswith("."):
            shutil.rmtree(old, ignore_errors=True)
    return index


@dataclass
class Filters:
    round: str | None = None
    unit: str | None = None
    label: str | None = None


def filtered_ids(session: Session, filters: Filters) -> set[str] | None:
    if not (filters.round or filters.unit or filters.label):
        return None
    query = select(models.Finding.id)
    if filters.round:
        query = query.join(models.InspectionRound, models.Finding.round_id == models.InspectionRound.id).where(
            models.InspectionRound.label.contains(filters.round)
        )
    if filters.unit:
        query = query.join(models.Unit, models.Finding.unit_id == models.Unit.id).where(models.Unit.name.contains(filters.unit))
    if filters.label:
        query = query.where(has_effective_label(filters.label))
    return {str(i) for i in session.scalars(query)}


def finding_rows(session: Session, ids: list[int]) -> dict[int, dict[str, Any]]:
    """Result rows for finding ids: two Core queries (findings joined with unit, round and document
    name; their tags), never whole ORM documents: a search result does not need a report's full text."""
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
    tags_of: dict[int, list[Any]] = {}
    for t in session.execute(select(T.id, T.finding_id, T.scheme, T.label, T.score, T.source).where(T.finding_id.in_(ids))):
        tags_of.setdefault(t.finding_id, []).append(t)
    out = {}
    for fid, document_id, text, page, unit, round_label, source_name in rows:
        holder = cast(models.Finding, SimpleNamespace(tags=tags_of.get(fid, [])))  # what finding_labels reads
        tags: dict[str, list[str]] = {}
        for scheme in sorted({t.scheme for t in holder.tags}):
            labels = [t.label for t in finding_labels(holder, scheme)]
            if labels:
                tags[scheme] = labels
        out[fid] = {
            "finding_id": fid,
            "document_id": document_id,
            "text": text,
            "unit": unit,
            "round": round_label,
            "document": source_name,
            "page": page,
            "tags": tags,
        }
    return out


def search_library(
    session: Session, data_dir: Path, query: str | None, filters: Filters, limit: int = 10, like: int | None = None
) -> list[dict[str, Any]]:
    """Ranked findings for a query (or like finding ``like``), with near-duplicates grouped."""
    from service.settings import get_settings

    index = load_index(session, data_dir, get_settings().embedder)
    allowed = filtered_ids(session, filters)
    if like is not None:
        if str(like) not in index.ids:
            raise UnknownFindingIdError(f"没有编号为 {like} 的问题")
        hits = index.more_like_this(str(like), limit, filter_ids=allowed)
    else:
        hits = index.search(query or "", limit, filter_ids=allowed)
    wanted = [int(h.finding_id) for h in hits] + [int(d) for h in hits for d in h.duplicates]
    rows = finding_rows(session, wanted)
    results = []
    for h in hits:
        row = dict(rows[int(h.finding_id)])
        row["score"] = round(h.score, 6)
        row["duplicates"] = [rows[int(d)] for d in h.duplicates if int(d) in rows]
        results.append(row)
    return results
