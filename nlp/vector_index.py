"""The dense side of search: nearest stored finding vectors to a query vector.

Rows are unit vectors (cosine = dot product). :class:`ExactVectorIndex` keeps them in one float32
matrix and answers by a matrix-vector product and ``argpartition``: exact, and linear in the library
(at 100k findings × 384 dimensions one product reads 150 MB). :class:`HnswVectorIndex` adds
usearch's graph for the unfiltered top-k of a large library. Restricting a search to a filtered
subset is always done exactly over that subset.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

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


class HnswVectorIndex(ExactVectorIndex):
    """usearch's HNSW graph (half-precision, cosine) for the unfiltered nearest neighbours, with the
    rows beside it in half precision too, read back as float32 for candidate similarities, row reads
    and filtered searches.

    At 100k findings an exact product reads 150 MB per query; the graph answers in well under a
    millisecond with the best few hundred candidates, which the fusion then re-scores. Half-precision
    rows (cosine error around 1e-3, below the score's rounding after fusion) halve what each search
    touches: at a million findings the rows are 0.77 GB instead of 1.5 GB, pages that every worker
    mapping the base shares, and which the graph's file already holds once more.
    """

    def __init__(self, vectors: np.ndarray, connectivity: int = 16, expansion_search: int = 128, graph: Any = None) -> None:
        from usearch.index import Index

        if vectors.ndim != 2:
            raise ValueError("vectors must be a 2-d array")
        self.vectors = np.ascontiguousarray(vectors, dtype=np.float16)
        if graph is not None:
            self._index = graph
            return
        self._index = Index(ndim=self.vectors.shape[1], metric="cos", dtype="f16", connectivity=connectivity,
                            expansion_search=expansion_search)
        if len(self):
            self._index.add(np.arange(len(self), dtype=np.uint64), np.asarray(vectors, dtype=np.float32), threads=0)

    def similarity(self, query: np.ndarray, positions: np.ndarray) -> np.ndarray:
        return self.vectors[positions].astype(np.float32) @ np.asarray(query, dtype=np.float32)

    def rows(self, positions: np.ndarray) -> np.ndarray:
        return self.vectors[positions].astype(np.float32)

    def save(self, path: Path) -> None:
        """Write the graph to ``path`` (the rows are saved by the caller, beside it)."""
        self._index.save(str(path))

    @classmethod
    def viewed(cls, vectors: np.ndarray, path: Path, expansion_search: int = 128) -> HnswVectorIndex:
        """The graph saved at ``path``, memory-mapped read-only (``Index.restore(view=True)``): every
        process that views one file shares its pages."""
        from usearch.index import Index

        graph = Index(ndim=vectors.shape[1], metric="cos", dtype="f16", expansion_search=expansion_search)
        graph.view(str(path))
        if len(graph) != vectors.shape[0]:
            raise ValueError(f"HNSW graph at {path} does not fit its rows")
        return cls(vectors, graph=graph)

    def top(self, query: np.ndarray, k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        if allowed is not None or k <= 0 or not len(self):
            return super().top(query, k, allowed)
        found = self._index.search(np.asarray(query, dtype=np.float32), min(k, len(self)))
        positions = np.asarray(found.keys, dtype=np.int64)
        return positions, self.similarity(query, positions)


EXACT_MAX = 20_000  # up to this many findings an exact product is fast enough and exact


def make_vector_index(vectors: np.ndarray) -> VectorIndex:
    """Exact search for a small library, the HNSW graph for a large one."""
    if vectors.shape[0] <= EXACT_MAX:
        return ExactVectorIndex(vectors)
    return HnswVectorIndex(vectors)
