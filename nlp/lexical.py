"""The lexical side of search: BM25 over domain content tokens of the findings' analysis form.

A :class:`LexicalIndex` is built from token lists (the caller segments: :func:`finding_tokens`) and
answers weighted term queries with one BM25 score per indexed finding. The engine is bm25s, handed
token lists (it would otherwise split on whitespace, which Chinese lacks); another engine (tantivy,
fed the same tokens) is one more class with the same three members.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple, Protocol

import numpy as np

from nlp.script import simplified
from nlp.segment import Segmenter, content_tokens, make_segmenter


class LexicalTop(NamedTuple):
    """The best findings of a term query: ``positions`` (at most ``pool``, score > 0, in no order) and
    ``score_at``, the exact score of any positions (those of other rankings' candidates too)."""

    positions: np.ndarray
    score_at: Callable[[np.ndarray], np.ndarray]


class LexicalIndex(Protocol):
    def __len__(self) -> int: ...

    def top(self, terms: Mapping[str, float], pool: int, allowed: np.ndarray | None = None) -> LexicalTop:
        """The ``pool`` best-scoring findings among ``allowed`` (a mask; None: all) and their scores."""
        ...

    def has_term(self, term: str) -> bool:
        """Whether any indexed finding holds ``term``."""
        ...

    def scores(self, terms: Mapping[str, float]) -> np.ndarray:
        """``Σ weight × BM25(term)`` for every indexed finding (float64, one per finding)."""
        ...


def finding_tokens(text: str, segmenter: Segmenter | None = None) -> list[str]:
    """Content tokens of a text's analysis form (Simplified; no stop words, punctuation, numbers)."""
    return content_tokens(segmenter or make_segmenter(), simplified(text))


# MaxScore only pays when a query's postings are long: below this many it sums them all, so libraries
# of up to some ten thousand findings rank exactly as by summing every term.
MAXSCORE_MIN_POSTINGS = 200_000
MAXSCORE_LONG_SHARE = 0.02  # a posting list longer than this share of the library is a candidate to leave out


def _kth_largest(values: np.ndarray, k: int) -> float:
    """The ``k``-th largest of ``values`` (which holds at least ``k``)."""
    return float(np.partition(values, values.size - k)[values.size - k])


def _best(scores: np.ndarray, nonzero: np.ndarray, pool: int, allowed: np.ndarray | None) -> np.ndarray:
    """Of the positions ``nonzero`` (scores > 0), those in ``allowed``, the ``pool`` best by score."""
    if allowed is not None:
        nonzero = nonzero[allowed[nonzero]]
    if len(nonzero) > pool:
        nonzero = nonzero[np.argpartition(-scores[nonzero], pool - 1)[:pool]]
    return nonzero


class Bm25Index:
    """bm25s (Lucene BM25 variant, k1 = 1.5, b = 0.75) over pre-segmented token lists."""

    def __init__(self, bm25: Any, size: int) -> None:
        self._bm25 = bm25
        self._size = size
        self._term_max: dict[int, float] = {}  # a term's highest BM25 score in any finding (MaxScore bounds)

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

    def top(self, terms: Mapping[str, float], pool: int, allowed: np.ndarray | None = None) -> LexicalTop:
        """The ``pool`` best findings, exactly as from :meth:`scores`, without reading the longest
        postings in full when they cannot change which findings those are (MaxScore, Turtle & Flood 1995).

        At a million findings a query's common terms (党组, 落实, 不到位) hold hundreds of thousands of
        postings each, most of a search's time, while their low idf caps what they can add. The rare
        ("essential") terms are summed first; a long list is left out for as long as the sum of the
        bounds of the lists left out stays below the ``pool``-th best partial score — a finding in none
        of the summed lists then cannot reach the pool — and is added otherwise. The findings whose
        partial score plus those bounds can still reach the pool get the left-out terms' exact scores by
        binary search in their (sorted) postings, as does every position ``score_at`` is asked about."""
        lists = self._lists(terms)
        total = sum(end - start for _, start, end, _ in lists)
        if total <= MAXSCORE_MIN_POSTINGS or len(lists) < 2:
            full = self._sum(lists)
            return LexicalTop(_best(full, np.flatnonzero(full > 0), pool, allowed), full.__getitem__)
        long_cut = max(MAXSCORE_MIN_POSTINGS // 4, int(MAXSCORE_LONG_SHARE * self._size))
        summed = [item for item in lists if item[2] - item[1] <= long_cut]
        longest = sorted((item for item in lists if item[2] - item[1] > long_cut), key=self._bound)
        partial = self._sum(summed)
        nonzero = np.flatnonzero(partial > 0)
        if allowed is not None:
            nonzero = nonzero[allowed[nonzero]]
        threshold = _kth_largest(partial[nonzero], pool) if nonzero.size >= pool else 0.0
        # leave out the lists of lowest bound while their bounds sum below the pool-th partial score;
        # adding the others only raises that score, so what was left out stays unable to reach the pool
        left_out: list[tuple[float, int, int, int]] = []
        bound = 0.0
        for item in longest:
            if bound + self._bound(item) >= threshold:
                break
            bound += self._bound(item)
            left_out.append(item)
        added = longest[len(left_out) :]
        if added:
            partial += self._sum(added)
        if not left_out:
            return LexicalTop(_best(partial, np.flatnonzero(partial > 0), pool, allowed), partial.__getitem__)
        if added:
            nonzero = np.flatnonzero(partial > 0)
            if allowed is not None:
                nonzero = nonzero[allowed[nonzero]]
            threshold = _kth_largest(partial[nonzero], pool)
        reach = nonzero[partial[nonzero] >= threshold - bound]

        def score_at(positions: np.ndarray) -> np.ndarray:
            positions = np.asarray(positions, dtype=np.int64)
            return partial[positions] + self._scores_at(left_out, positions)

        exact = score_at(reach)
        if reach.size > pool:
            reach = reach[np.argpartition(-exact, pool - 1)[:pool]]
        return LexicalTop(reach, score_at)

    def _lists(self, terms: Mapping[str, float]) -> list[tuple[float, int, int, int]]:
        """(weight, start, end, token) of each weighted query term the index holds, in query order."""
        vocab = self._bm25.vocab_dict
        indptr = self._bm25.scores["indptr"]
        out = []
        for term, weight in terms.items():
            token = vocab.get(term)
            if weight and token is not None:
                out.append((float(weight), int(indptr[token]), int(indptr[token + 1]), int(token)))
        return out

    def _bound(self, item: tuple[float, int, int, int]) -> float:
        """The most one posting list can add to a finding's score: weight × the term's top score."""
        weight, start, end, token = item
        top = self._term_max.get(token)
        if top is None:
            data = self._bm25.scores["data"]
            top = float(np.max(data[start:end])) if end > start else 0.0
            self._term_max[token] = top
        return weight * top

    def _sum(self, lists: Sequence[tuple[float, int, int, int]]) -> np.ndarray:
        """Σ weight × BM25 of ``lists`` for every finding, by one ``bincount`` over their postings."""
        matrix = self._bm25.scores
        data, indices = matrix["data"], matrix["indices"]
        if not lists:
            return np.zeros(self._size, dtype=np.float64)
        positions = [np.asarray(indices[a:b], dtype=np.int64) for _, a, b, _ in lists]
        values = [w * np.asarray(data[a:b], dtype=np.float64) for w, a, b, _ in lists]
        summed = np.bincount(np.concatenate(positions), weights=np.concatenate(values), minlength=self._size)
        return summed[: self._size]

    def _scores_at(self, lists: Sequence[tuple[float, int, int, int]], positions: np.ndarray) -> np.ndarray:
        """Σ weight × BM25 of ``lists`` at ``positions`` only: binary search in each sorted posting list."""
        matrix = self._bm25.scores
        data, indices = matrix["data"], matrix["indices"]
        got = np.zeros(positions.size, dtype=np.float64)
        for weight, a, b, _ in lists:
            if b <= a or positions.size == 0:
                continue
            postings = indices[a:b]
            at = np.minimum(np.searchsorted(postings, positions), b - a - 1)
            hit = np.asarray(postings[at], dtype=np.int64) == positions
            got[hit] += weight * np.asarray(data[a:b][at[hit]], dtype=np.float64)
        return got

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
