"""Stored meaning representations: written at ingest, read by search and clustering.

Each finding gets one ``finding_representations`` row per model (vector + concepts, see
:mod:`nlp.representation`), written in the document's own transaction. Readers ask
:func:`load_library` for every finding's row under the configured model; findings that lack one —
stored before this model was the default, or before representations existed — are computed then,
stored, and reported on stderr, so a library upgrades itself in place. Concepts are recomputed (cheap,
substring matching) when the thesaurus has changed since a row was written.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from nlp.concepts import default_thesaurus
from nlp.embedders import Embedder, make_embedder
from nlp.representation import (
    Representation,
    concepts_and_leads,
    represent,
    vector_to_bytes,
    vectors_from_bytes,
)
from service.store import models

log = logging.getLogger(__name__)
BACKFILL_BATCH = 256


def configured_embedder() -> Embedder:
    from service.settings import get_settings

    return make_embedder(get_settings().embedder)


def representation_rows(rep: Representation) -> list[models.FindingRepresentation]:
    """Unsaved rows for ``rep`` (one per text, in order); the caller attaches them to findings."""
    dim = int(rep.vectors.shape[1]) if rep.vectors.ndim == 2 else 0
    return [
        models.FindingRepresentation(
            model=rep.model, dim=dim, vector=vector_to_bytes(rep.vectors[i]), concepts=list(rep.concepts[i]),
            thesaurus=rep.thesaurus, lead_family=rep.leads[i] if rep.leads else None,
        )
        for i in range(len(rep))
    ]


def represent_texts(texts: Sequence[str]) -> Representation:
    """Representation of finding texts under the configured model and the bundled thesaurus."""
    return represent(texts, configured_embedder(), default_thesaurus())


def represent_with_vectors(texts: Sequence[str], vectors: np.ndarray) -> Representation:
    """Representation of finding texts whose vectors the caller computed already (under the
    configured model): only the concepts and lead families are added."""
    thesaurus = default_thesaurus()
    concepts, leads = concepts_and_leads(texts, thesaurus)
    return Representation(
        vectors=np.asarray(vectors, dtype=np.float32), concepts=concepts, model=configured_embedder().name,
        thesaurus=thesaurus.version, leads=leads,
    )


@dataclass
class LibraryVectors:
    """Every stored finding with its representation, ordered by id."""

    ids: list[int]
    texts: list[str]
    vectors: np.ndarray
    concepts: list[list[str]]
    model: str
    leads: list[str | None] = field(default_factory=list)  # the family each leads with (None: no concept)


def load_library(
    session: Session, embedder: Embedder | None = None, *, after_id: int | None = None,
    only_ids: Collection[int] | None = None,
) -> LibraryVectors:
    """All findings with their vectors and concepts under ``embedder`` (default: configured);
    missing rows are computed and committed first. ``after_id`` keeps the findings with a larger id
    and ``only_ids`` those listed (the live search index reads just what changed)."""
    emb = embedder or configured_embedder()
    thesaurus = default_thesaurus()
    F, R = models.Finding, models.FindingRepresentation
    wanted: list[Any] = []
    if after_id is not None:
        wanted.append(F.id > after_id)
    if only_ids is not None:
        wanted.append(F.id.in_(list(only_ids)))

    def read(join: Any) -> list[Any]:
        query = select(F.id, F.text, R.vector, R.concepts, R.thesaurus, R.lead_family)
        query = join(query, R, (R.finding_id == F.id) & (R.model == emb.name))
        return list(session.execute(query.where(*wanted).order_by(F.id)).all())

    if only_ids is not None and not only_ids:
        rows: list[Any] = []
    else:
        rows = read(lambda q, *on: q.outerjoin(*on))
    missing = [(fid, text) for fid, text, vector, *_ in rows if vector is None]
    if missing:
        _backfill(session, missing, emb)
        rows = read(lambda q, *on: q.join(*on))
    version = thesaurus.version
    # concepts of another thesaurus version, or a row from before lead families were stored (NULL with
    # concepts): both are recomputed from the text and stored, so the next read finds them
    stale = [(fid, text) for fid, text, _, concepts, th, lead in rows if th != version or (lead is None and concepts)]
    fresh: dict[int, tuple[list[str], str | None]] = {}
    if stale:
        concepts, leads = concepts_and_leads([t for _, t in stale], thesaurus)
        fresh = {fid: (c, lead) for (fid, _), c, lead in zip(stale, concepts, leads, strict=True)}
        _update_concepts(session, fresh, emb.name, version)
    return LibraryVectors(
        ids=[r[0] for r in rows],
        texts=[r[1] for r in rows],
        vectors=vectors_from_bytes([r[2] for r in rows], emb.dim),
        concepts=[list(fresh[r[0]][0]) if r[0] in fresh else list(r[3] or []) for r in rows],
        model=emb.name,
        leads=[fresh[r[0]][1] if r[0] in fresh else r[5] for r in rows],
    )


def _backfill(session: Session, missing: list[tuple[int, str]], embedder: Embedder) -> None:
    log.warning("为 %d 条问题计算语义表示（模型 %s）…", len(missing), embedder.name)
    thesaurus = default_thesaurus()
    for start in range(0, len(missing), BACKFILL_BATCH):
        batch = missing[start : start + BACKFILL_BATCH]
        rep = represent([t for _, t in batch], embedder, thesaurus)
        for (fid, _), row in zip(batch, representation_rows(rep), strict=True):
            row.finding_id = fid
            session.merge(row)
        session.commit()


def _update_concepts(
    session: Session, fresh: dict[int, tuple[list[str], str | None]], model: str, version: str
) -> None:
    """Store concepts and lead families recomputed under the current thesaurus version (in batches: a
    whole library may change)."""
    R = models.FindingRepresentation
    ids = list(fresh)
    for start in range(0, len(ids), BACKFILL_BATCH * 4):
        batch = ids[start : start + BACKFILL_BATCH * 4]
        for row in session.scalars(select(R).where(R.model == model, R.finding_id.in_(batch))):
            row.concepts, row.lead_family = list(fresh[row.finding_id][0]), fresh[row.finding_id][1]
            row.thesaurus = version
        session.commit()
