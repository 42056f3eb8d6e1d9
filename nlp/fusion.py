"""Fusing the three signals of search into one relevance score, with a floor and a grade.

For each candidate finding three signals are computed, each in [0, 1]:

- **dense** — the cosine of query and finding vectors, rescaled from the embedder's typical range
  (e5 cosines of unrelated Chinese sentences sit near 0.75, so ``(cos - floor) / (1 - floor)``);
- **lexical** — BM25 of the query's terms (and, at a lower weight, the official wording of the
  concepts the query names), saturated as ``s / (s + k)`` so it stays comparable across queries;
- **concept** — agreement of the query's concepts with the finding's: the share of the query's
  concept weight (:func:`concept_weights`, idf) the finding holds, each query concept it lacks but
  whose family it holds earning ``family_credit`` of its weight (computed over all candidates at
  once from the concept and family postings, ``SearchIndex._concept_signal``).

``score = Σ weight × signal`` over the signals the query has (a query naming no concept is scored on
dense and lexical alone, their weights renormalised). The weights were chosen on the real dev sets
(``evaluation/score_search.py`` prints each signal alone and fused). Results scoring below
``floor`` are not shown; the others are graded 高/中/低 by fixed cut points.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class RankingConfig:
    dense_weight: float = 0.5
    lexical_weight: float = 0.25
    concept_weight: float = 0.25
    dense_floor: float = 0.80  # cosine that counts as "no similarity" (e5-small: unrelated findings sit at 0.80-0.88)
    lexical_k: float = 6.0  # BM25 score at which the lexical signal is 0.5
    expansion_weight: float = 0.4  # BM25 weight of terms from the query's concepts' official wording
    family_credit: float = 0.5  # concept agreement for another concept of the same family
    floor: float = 0.15  # results below this fused score are not shown
    high: float = 0.45  # 高 at or above
    medium: float = 0.30  # 中 at or above, else 低
    duplicate_cosine: float = 0.985  # near-duplicates grouped under the best hit


def dense_signal(cosines: np.ndarray, cfg: RankingConfig) -> np.ndarray:
    return np.clip((np.asarray(cosines, dtype=np.float64) - cfg.dense_floor) / (1.0 - cfg.dense_floor), 0.0, 1.0)


def lexical_signal(bm25: np.ndarray, cfg: RankingConfig) -> np.ndarray:
    s = np.maximum(np.asarray(bm25, dtype=np.float64), 0.0)
    return s / (s + cfg.lexical_k)


def concept_weights(query_concepts: Iterable[str], document_frequency: Mapping[str, int], n_docs: int) -> dict[str, float]:
    """idf weight of each of the query's concepts: rare concepts say more (log((N+1)/(df+1)) + 1)."""
    return {c: math.log((n_docs + 1) / (document_frequency.get(c, 0) + 1)) + 1.0 for c in dict.fromkeys(query_concepts)}


def fuse(dense: np.ndarray, lexical: np.ndarray, concept: np.ndarray | None, cfg: RankingConfig) -> np.ndarray:
    """The weighted sum of the signals present, weights renormalised to sum to one."""
    parts = [(cfg.dense_weight, dense), (cfg.lexical_weight, lexical)]
    if concept is not None:
        parts.append((cfg.concept_weight, concept))
    total = sum(w for w, _ in parts) or 1.0
    return sum((w / total) * np.asarray(s, dtype=np.float64) for w, s in parts)  # type: ignore[return-value]


def grade(score: float, cfg: RankingConfig) -> str:
    """高 / 中 / 低 for a fused score at or above the floor."""
    if score >= cfg.high:
        return "高"
    if score >= cfg.medium:
        return "中"
    return "低"
