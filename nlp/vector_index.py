"""The dense side of search: nearest stored finding vectors to a query vector.

Rows are unit vectors (cosine = dot product). :class:`ExactVectorIndex` keeps them in one float32
matrix and answers by a matrix-vector product and ``argpartition``: exact, and linear in the library
(at 100k findings × 384 dimensions one product reads 150 MB). An ANN engine (usearch, hnswlib) is
one more class with the same members; restricting a search to a filtered subset is always done
exactly over that subset.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np


class VectorIndex(Protocol):
    def __len__(self) -> int: ...

    def top(self, query: np.ndarray, k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Positions and cosines of the ``k`` rows most similar to ``query``, best first; with
        ``allowed`` (a boolean mask) only among those rows."""
        ...

    def similarity(self, query: np.ndarray, positions: np.ndarray) -> np.ndarray:
        """Cosines of ``query`` to the rows at ``positions``."""
        ...

    def rows(self, positions: np.ndarray) -> np.ndarray:
        """The stored vectors at ``positions``."""
        ...


class ExactVectorIndex:
    def __init__(self, vectors: np.ndarray) -> None:
        V = np.ascontiguousarray(vectors, dtype=np.float32)
        if V.ndim != 2:
            raise ValueError("vectors must be a 2-d array")
        self.vectors = V

    def __len__(self) -> int:
        return int(self.vectors.shape[0])

    def top(self, query: np.ndarray, k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        q = np.asarray(query, dtype=np.float32)
        if allowed is None:
            candidates = None
            sims = self.vectors @ q
        else:
            candidates = np.flatnonzero(allowed)
            sims = self.vectors[candidates] @ q
        k = min(k, sims.shape[0])
        if k <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        best = np.argpartition(-sims, k - 1)[:k] if k < sims.shape[0] else np.arange(sims.shape[0])
        best = best[np.argsort(-sims[best], kind="stable")]
        positions = best if candidates is None else candidates[best]
        return positions.astype(np.int64), sims[best]

    def similarity(self, query: np.ndarray, positions: np.ndarray) -> np.ndarray:
        return self.vectors[positions] @ np.asarray(query, dtype=np.float32)

    def rows(self, positions: np.ndarray) -> np.ndarray:
        return self.vectors[positions]
