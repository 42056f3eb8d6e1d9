"""The meaning representation of findings, computed once per finding and stored.

A finding is represented by its sentence vector (a pretrained embedder, :mod:`nlp.embedders`) and the
concepts of the thesaurus it names (:mod:`nlp.concepts`). Both depend on the finding's text alone —
never on the rest of the library — so they are computed at ingest, stored beside the finding
(versioned by ``Embedder.name`` and ``Thesaurus.version``) and read back by search and clustering.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from nlp.concepts import Thesaurus, default_thesaurus
from nlp.embedders import Embedder, make_embedder
from nlp.script import simplified


@dataclass(frozen=True)
class Representation:
    vectors: np.ndarray  # (n, dim) float32, unit rows
    concepts: list[list[str]]  # concept keys per text, in order of first occurrence
    model: str
    thesaurus: str

    def __len__(self) -> int:
        return len(self.concepts)


def represent(
    texts: Sequence[str], embedder: Embedder | None = None, thesaurus: Thesaurus | None = None
) -> Representation:
    """Vectors and concepts of ``texts``."""
    emb = embedder or make_embedder()
    th = thesaurus or default_thesaurus()
    return Representation(
        vectors=emb.embed(texts),
        concepts=[th.concepts_in(simplified(t)) for t in texts],
        model=emb.name,
        thesaurus=th.version,
    )


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
