"""The meaning representation of findings, computed once per finding and stored.

A finding is represented by its sentence vector (a pretrained embedder, :mod:`nlp.embedders`) and the
concepts of the thesaurus it names (:mod:`nlp.concepts`), with the concept family it leads with (what
clustering places it by: :func:`nlp.concepts.lead_family`). All depend on the finding's text alone —
never on the rest of the library — so they are computed at ingest, stored beside the finding
(versioned by ``Embedder.name`` and ``Thesaurus.version``) and read back by search and clustering.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from nlp.concepts import Thesaurus, default_thesaurus, lead_family
from nlp.embedders import Embedder, make_embedder
from nlp.script import simplified


@dataclass(frozen=True)
class Representation:
    vectors: np.ndarray  # (n, dim) float32, unit rows
    concepts: list[list[str]]  # concept keys per text, in order of first occurrence
    model: str
    thesaurus: str
    # the family each text leads with (None: it names no concept); empty when not computed
    leads: list[str | None] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.concepts)


def represent(
    texts: Sequence[str], embedder: Embedder | None = None, thesaurus: Thesaurus | None = None
) -> Representation:
    """Vectors, concepts and lead families of ``texts``."""
    emb = embedder or make_embedder()
    th = thesaurus or default_thesaurus()
    concepts, leads = concepts_and_leads(texts, th)
    return Representation(vectors=emb.embed(texts), concepts=concepts, model=emb.name, thesaurus=th.version, leads=leads)


def concepts_and_leads(texts: Sequence[str], thesaurus: Thesaurus) -> tuple[list[list[str]], list[str | None]]:
    """Each text's concept keys (in order of first occurrence) and the family it leads with, from one
    match per text. The lead family is stored rather than found again at clustering time: matching
    20k findings once more took 5–6 s of every recomputation of the common issues."""
    concepts: list[list[str]] = []
    leads: list[str | None] = []
    for text in texts:
        analysed = simplified(text)
        hits = thesaurus.match(analysed)
        concepts.append(list(dict.fromkeys(h.concept for h in hits)))
        leads.append(lead_family(hits, analysed, thesaurus))
    return concepts, leads


def vector_to_bytes(vector: np.ndarray) -> bytes:
    """A vector as stored: little-endian float32."""
    return np.asarray(vector, dtype="<f4").tobytes()


def vectors_from_bytes(blobs: Sequence[bytes], dim: int) -> np.ndarray:
    """Stored vectors back into one (n, dim) float32 matrix."""
    if not blobs:
        return np.zeros((0, dim), dtype=np.float32)
    matrix = np.frombuffer(b"".join(blobs), dtype="<f4")
    if matrix.size != len(blobs) * dim:
        raise ValueError(f"stored vectors do not have {dim} dimensions")
    return matrix.reshape(len(blobs), dim).astype(np.float32, copy=False)
