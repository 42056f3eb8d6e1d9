"""The lexical side of search: BM25 over domain content tokens of the findings' analysis form.

A :class:`LexicalIndex` is built from token lists (the caller segments: :func:`finding_tokens`) and
answers weighted term queries with one BM25 score per indexed finding. The engine is bm25s, handed
token lists (it would otherwise split on whitespace, which Chinese lacks); another engine (tantivy,
fed the same tokens) is one more class with the same three members.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from nlp.script import simplified
from nlp.segment import Segmenter, content_tokens, make_segmenter


class LexicalIndex(Protocol):
    def __len__(self) -> int: ...

    def has_term(self, term: str) -> bool:
        """Whether any indexed finding holds ``term``."""
        ...

    def scores(self, terms: Mapping[str, float]) -> np.ndarray:
        """``Σ weight × BM25(term)`` for every indexed finding (float64, one per finding)."""
        ...


def finding_tokens(text: str, segmenter: Segmenter | None = None) -> list[str]:
    """Content tokens of a text's analysis form (Simplified; no stop words, punctuation, numbers)."""
    return content_tokens(segmenter or make_segmenter(), simplified(text))


class Bm25Index:
    """bm25s (Lucene BM25 variant, k1 = 1.5, b = 0.75) over pre-segmented token lists."""

    def __init__(self, bm25: Any, size: int) -> None:
        self._bm25 = bm25
        self._size = size

    @classmethod
    def build(cls, tokens: Sequence[Sequence[str]]) -> Bm25Index:
        import bm25s

        bm25 = bm25s.BM25()
        # bm25s cannot index an empty corpus or an empty document: a placeholder keeps positions aligned
        bm25.index([list(t) or ["\x00"] for t in tokens] or [["\x00"]], show_progress=False)
        return cls(bm25, len(tokens))

    def __len__(self) -> int:
        return self._size

    def has_term(self, term: str) -> bool:
        return term in self._bm25.vocab_dict

    def scores(self, terms: Mapping[str, float]) -> np.ndarray:
        """Read from bm25s's precomputed score matrix (one column of per-finding BM25 scores per term):
        the weighted columns are summed by one ``bincount`` over their postings, where asking bm25s term
        by term allocated and added a library-sized array per term (at a million findings, 4–5 ms each)."""
        vocab = self._bm25.vocab_dict
        matrix = self._bm25.scores
        data, indices, indptr = matrix["data"], matrix["indices"], matrix["indptr"]
        positions, values = [], []
        for term, weight in terms.items():
            token = vocab.get(term)
            if not weight or token is None:
                continue
            start, end = int(indptr[token]), int(indptr[token + 1])
            positions.append(np.asarray(indices[start:end], dtype=np.int64))
            values.append(weight * np.asarray(data[start:end], dtype=np.float64))
        if not positions:
            return np.zeros(self._size, dtype=np.float64)
        summed = np.bincount(np.concatenate(positions), weights=np.concatenate(values), minlength=self._size)
        return summed[: self._size]

    def save(self, directory: Path) -> None:
        self._bm25.save(str(directory), show_progress=False)

    @classmethod
    def load(cls, directory: Path, size: int, *, mmap: bool = False) -> Bm25Index:
        """The index saved in ``directory``; with ``mmap`` its score matrix stays in the files, shared by
        every process that maps them."""
        import bm25s

        return cls(bm25s.BM25.load(str(directory), mmap=mmap, show_progress=False), size)
