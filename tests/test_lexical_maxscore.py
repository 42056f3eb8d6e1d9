"""BM25 top-k by MaxScore (nlp/lexical.py) returns what summing every posting list returns."""

from __future__ import annotations

import numpy as np
import pytest

import nlp.lexical as lexical
from nlp.lexical import Bm25Index

COMMON = ["党组", "落实", "不到位", "制度", "规范", "学习"]


def _library(n: int, seed: int) -> list[list[str]]:
    """Findings of Zipf-distributed tokens: a few in most findings (as 党组, 落实), many rare."""
    rng = np.random.default_rng(seed)
    vocab = COMMON + [f"词{i}" for i in range(2000)]
    weights = 1.0 / np.arange(1, len(vocab) + 1) ** 1.1
    weights /= weights.sum()
    return [list(rng.choice(vocab, size=int(rng.integers(4, 14)), p=weights)) for _ in range(n)]


@pytest.fixture()
def small_cuts(monkeypatch: pytest.MonkeyPatch) -> None:
    # the same code path as at a million findings, on a library a test can build in a second
    monkeypatch.setattr(lexical, "MAXSCORE_MIN_POSTINGS", 2_000)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_maxscore_top_equals_the_full_sum(small_cuts: None, seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    docs = _library(4000, seed)
    index = Bm25Index.build(docs)
    left_out_calls: list[int] = []
    real_scores_at = Bm25Index._scores_at

    def spy(self: Bm25Index, lists, positions):  # type: ignore[no-untyped-def]
        left_out_calls.append(len(lists))
        return real_scores_at(self, lists, positions)

    monkeypatch.setattr(Bm25Index, "_scores_at", spy)
    rng = np.random.default_rng(seed)
    queries = [
        {"党组": 1.0, "落实": 1.0, "词40": 1.0, "词300": 1.0, "不到位": 0.4},
        {"学习": 1.0, "制度": 1.0, "规范": 0.4, "词7": 1.0, "词900": 1.0, "词1500": 1.0},
        {"党组": 1.0, "落实": 1.0, "不到位": 1.0, "制度": 1.0},  # common terms only
    ]
    for terms in queries:
        for allowed in (None, rng.random(len(docs)) < 0.5):
            full = index.scores(terms)
            got = index.top(terms, 50, allowed)
            eligible = np.flatnonzero((full > 0) & (allowed if allowed is not None else True))
            want = np.sort(full[eligible])[::-1][:50]
            assert len(got.positions) == len(want) == 50
            assert np.allclose(np.sort(full[got.positions])[::-1], want)
            probe = rng.integers(0, len(docs), 200)
            assert np.allclose(got.score_at(probe), full[probe])
            assert np.allclose(got.score_at(got.positions), full[got.positions])
    assert any(n > 0 for n in left_out_calls), "no query left a long list out: the MaxScore path was not taken"


def test_small_queries_sum_every_list() -> None:
    docs = _library(300, 9)
    index = Bm25Index.build(docs)
    terms = {"党组": 1.0, "词3": 1.0}
    full = index.scores(terms)
    got = index.top(terms, 20)
    assert set(got.positions.tolist()) <= set(np.flatnonzero(full > 0).tolist())
    assert np.allclose(np.sort(full[got.positions])[::-1], np.sort(full[full > 0])[::-1][:20])
    assert index.top({"没有这个词": 1.0}, 20).positions.size == 0
