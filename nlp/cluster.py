"""Group findings into recurring problems, label them, rank them by spread, flag recurrences.

Pure functions: a list of :class:`ClusterInput` (and optionally their vectors) in, a list of
:class:`Cluster` out. Nothing is dropped as noise: a finding that joins no group is a cluster of
its own with ``singleton=True``.

Method (:func:`partition`), on unit-length vectors (cosine = dot product):

- up to ``ClusterConfig.exact_max`` findings: average-linkage agglomerative clustering, cut where
  the average cosine similarity between two groups falls below ``threshold``;
- above it: MiniBatchKMeans over-clustering (k ≈ n / ``kmeans_ratio``, capped at ``max_centroids``),
  then the centroids are merged by the same average-linkage rule (cosine of centroids ≥
  ``threshold``), and a finding whose cosine to its merged group's centroid is below
  ``threshold`` leaves the group as a singleton. This is linear in n (the centroid merge is
  quadratic in k only).

Cluster ids (:func:`stable_cluster_id`) are derived from content: a short hash of the *smallest
finding id* in the cluster. A cluster keeps its id while the corpus grows as long as its
smallest member stays in it: adding unrelated findings, or new findings with larger ids (ids
that grow with ingestion), never renames it. (A hash of the three most central members would
change whenever a new paraphrase became more central, so it was not used.)

Labels are class-based TF-IDF (c-TF-IDF, as in BERTopic) over domain content tokens of each
cluster's texts, with unit names removed first: keywords are at least two characters and hold
no digit. Systemic score: see :func:`systemic_score`.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from nlp.segment import AUTO

RoundKey = int | str | None


@dataclass(frozen=True)
class ClusterInput:
    """One finding as clustering sees it."""

    id: str
    text: str
    unit: str | None = None
    round: RoundKey = None


@dataclass
class ClusterConfig:
    """Thresholds (tuned on the sample-corpus grouping, see evaluation/score_clusters.py)."""

    # Average cosine similarity at which groups merge. On the gold grouping (199 findings,
    # TF-IDF words/chars/concepts with concept weight 0.5, SVD 128) ARI is ≥ 0.60 from 0.25 to
    # 0.40 and peaks near 0.30-0.35.
    threshold: float = 0.30
    exact_max: int = 3000  # above this many findings: MiniBatchKMeans over-clustering + merge
    kmeans_ratio: int = 20  # k ≈ n / kmeans_ratio
    max_centroids: int = 4000
    kmeans_epochs: int = 3
    dim: int = 128  # SVD dimension when vectors are not given
    concept_weight: float = 0.5  # share of taxonomy-concept features in those vectors
    n_keywords: int = 5
    n_representatives: int = 3
    seed: int = 0
    segmenter: str = AUTO


@dataclass
class Cluster:
    cluster_id: str
    label: str
    keywords: list[str]
    size: int
    units: list[str]
    rounds: list[str]
    per_round: dict[str, int]
    systemic_score: float
    representatives: list[str]  # most central first
    finding_ids: list[str]  # input order
    singleton: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Recurrence:
    """The same unit shows a near-duplicate problem in a later round (整改不到位 / 问题反弹)."""

    unit: str
    earlier_id: str
    later_id: str
    earlier_round: str
    later_round: str
    similarity: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Partition:
    """Cluster label per finding and how it was found (``"exact"`` or ``"kmeans+merge"``)."""

    labels: np.ndarray
    method: str
    extra: dict[str, Any] = field(default_factory=dict)


# --- scoring and ids -------------------------------------------------------------------------


def systemic_score(size: int, n_units: int, n_rounds: int) -> float:
    """How systemic a problem is: ``units × rounds × (1 + log10(size))``.

    Spread dominates (distinct units and distinct rounds multiply), size only adds a damped
    bonus: 5 units over 3 rounds with 5 findings scores 15 × 1.70 = 25.5, while 20 findings from
    one unit in one round score 1 × 1 × 2.30 = 2.3. Unknown units/rounds count as one.
    """
    return round(max(1, n_units) * max(1, n_rounds) * (1.0 + math.log10(max(1, size))), 4)


def stable_cluster_id(finding_ids: Sequence[str]) -> str:
    """``c`` + 12 hex digits of a hash of the smallest finding id (see the module docstring)."""
    return "c" + hashlib.blake2b(min(finding_ids).encode("utf-8"), digest_size=6).hexdigest()


def round_sort_key(value: RoundKey) -> tuple[int, float, str]:
    """Rounds order numerically when they are numbers (5 < 12), else by text; unknown last."""
    if value is None:
        return (2, 0.0, "")
    if isinstance(value, int) or (isinstance(value, str) and value.strip().isdigit()):
        return (0, float(value), "")
    return (1, 0.0, str(value))


# --- vectors and partition ---------------------------------------------------------------------


def _vectors(findings: Sequence[ClusterInput], vectors: np.ndarray | None, cfg: ClusterConfig) -> np.ndarray:
    if vectors is None and len(findings) == 1:
        vectors = np.ones((1, 1), dtype=np.float32)
    if vectors is None:
        from nlp.vectors import embed

        _, vectors = embed(
            [f.text for f in findings], cfg.dim, segmenter=cfg.segmenter, concept_weight=cfg.concept_weight
        )
    V = np.asarray(vectors, dtype=np.float32)
    if V.shape[0] != len(findings):
        raise ValueError(f"{V.shape[0]} vectors for {len(findings)} findings")
    norms = np.linalg.norm(V, axis=1, keepdims=True)
    return V / np.where(norms == 0, 1.0, norms)


def _average_linkage(V: np.ndarray, threshold: float) -> np.ndarray:
    """Average-linkage agglomerative clusters of unit rows, merged while mean cosine ≥ threshold."""
    n = V.shape[0]
    if n < 2:
        return np.zeros(n, dtype=np.int64)
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import pdist

    dist = np.clip(pdist(V.astype(np.float64), metric="cosine"), 0.0, 2.0)
    tree = linkage(dist, method="average")
    return np.asarray(fcluster(tree, t=1.0 - threshold, criterion="distance"), dtype=np.int64) - 1


def partition(V: np.ndarray, cfg: ClusterConfig | None = None) -> Partition:
    """Cluster label per row of the unit-length matrix ``V`` (every row gets a label)."""
    cfg = cfg or ClusterConfig()
    n = V.shape[0]
    if n <= cfg.exact_max:
        return Partition(_average_linkage(V, cfg.threshold), "exact")

    from sklearn.cluster import MiniBatchKMeans

    k = int(min(cfg.max_centroids, max(2, n // cfg.kmeans_ratio)))
    km = MiniBatchKMeans(
        n_clusters=k,
        init="random",
        n_init=1,
        batch_size=max(1024, min(8192, n // 10)),
        max_iter=cfg.kmeans_epochs,
        max_no_improvement=3,
        reassignment_ratio=0.0,
        random_state=cfg.seed,
    )
    cell = km.fit_predict(V)
    # Centroids of the cells that are used, merged by average linkage on their directions.
    used = np.unique(cell)
    C = np.zeros((k, V.shape[1]), dtype=np.float64)
    np.add.at(C, cell, V)
    C = C[used]
    C /= np.maximum(np.linalg.norm(C, axis=1, keepdims=True), 1e-12)
    merged_of_cell = np.full(k, -1, dtype=np.int64)
    merged_of_cell[used] = _average_linkage(C, cfg.threshold)
    labels = merged_of_cell[cell]
    # Members far from their merged group's centroid leave it as singletons.
    G = np.zeros((int(labels.max()) + 1, V.shape[1]), dtype=np.float64)
    np.add.at(G, labels, V)
    G /= np.maximum(np.linalg.norm(G, axis=1, keepdims=True), 1e-12)
    sims = np.einsum("ij,ij->i", V, G[labels].astype(np.float32))
    sizes = np.bincount(labels)
    loose = (sims < cfg.threshold) & (sizes[labels] > 1)
    labels = labels.copy()
    labels[loose] = labels.max() + 1 + np.arange(int(loose.sum()))
    return Partition(labels, "kmeans+merge", {"k": k, "merged": int(merged_of_cell.max()) + 1, "loose": int(loose.sum())})


# --- labels ------------------------------------------------------------------------------------

_UNIT_SUFFIX = re.compile(r"(机关党组|党组|党委|党总支|党支部|党工委)$")
_ASCII_DIGIT = re.compile(r"[0-9０-９]")


def _unit_variants(unit: str | None) -> list[str]:
    """A unit name and its short forms: 县教育局党组 → 县教育局党组, 县教育局, 教育局."""
    if not unit:
        return []
    out = {unit}
    core = _UNIT_SUFFIX.sub("", unit)
    if len(core) >= 2:
        out.add(core)
        if core[0] in "县区市镇乡省" and len(core) >= 3:
            out.add(core[1:])
    return sorted(out, key=len, reverse=True)


def _label_text(f: ClusterInput) -> str:
    text = f.text
    for name in _unit_variants(f.unit):
        text = text.replace(name, " ")
    return text


def _keyword_ok(token: str) -> bool:
    return len(token) >= 2 and not _ASCII_DIGIT.search(token)


def ctfidf_keywords(
    texts: Sequence[str], labels: np.ndarray, n_keywords: int = 5, segmenter: str = AUTO
) -> dict[int, list[str]]:
    """Top keywords per cluster label by c-TF-IDF: ``tf(t, c) · log(1 + A / f(t))``.

    ``tf`` is the term's share of the cluster's tokens, ``A`` the average number of tokens per
    cluster and ``f(t)`` the term's frequency over all clusters (BERTopic's ClassTfidfTransformer).
    Tokens are domain content tokens (no numbers, punctuation or stop words), two characters or
    longer and without digits.
    """
    from sklearn.feature_extraction.text import CountVectorizer

    from nlp.vectors import ContentTokenizer

    tokenizer = ContentTokenizer(segmenter)

    def analyze(text: str) -> list[str]:
        return [t for t in tokenizer(text) if _keyword_ok(t)]

    cv = CountVectorizer(analyzer=analyze)
    try:
        counts = cv.fit_transform(texts)
    except ValueError:  # no token at all
        return {int(c): [] for c in np.unique(labels)}
    uniq, inverse = np.unique(labels, return_inverse=True)
    M = sp.csr_matrix((np.ones(len(labels)), (inverse, np.arange(len(labels)))), shape=(len(uniq), len(labels)))
    T = sp.csr_matrix(M @ counts, dtype=np.float64)
    per_class = np.asarray(T.sum(axis=1)).ravel()
    f = np.asarray(T.sum(axis=0)).ravel()
    A = per_class.mean() if len(per_class) else 0.0
    idf = np.log1p(A / np.maximum(f, 1.0))
    tf = sp.diags(1.0 / np.maximum(per_class, 1.0)) @ T
    W = sp.csr_matrix(tf @ sp.diags(idf))
    vocab = cv.get_feature_names_out()
    out: dict[int, list[str]] = {}
    for row, c in enumerate(uniq):
        start, end = W.indptr[row], W.indptr[row + 1]
        idx, vals = W.indices[start:end], W.data[start:end]
        # score desc, then term frequency desc, then the term itself: deterministic
        order = sorted(range(len(idx)), key=lambda i: (-vals[i], vocab[idx[i]]))
        out[int(c)] = [str(vocab[idx[i]]) for i in order[:n_keywords]]
    return out


def make_label(keywords: Sequence[str]) -> str:
    """Top two or three keywords joined with "、"."""
    return "、".join(keywords[:3]) if len(keywords) >= 3 else "、".join(keywords)


# --- clusters ----------------------------------------------------------------------------------


def cluster_findings(
    findings: Sequence[ClusterInput],
    vectors: np.ndarray | None = None,
    config: ClusterConfig | None = None,
) -> list[Cluster]:
    """Cluster ``findings`` (vectors: one unit row per finding, or computed with TF-IDF + SVD).

    Returns every finding in exactly one cluster, clusters ordered by ``systemic_score`` then size.
    """
    cfg = config or ClusterConfig()
    if not findings:
        return []
    ids = [f.id for f in findings]
    if len(set(ids)) != len(ids):
        raise ValueError("finding ids must be unique")
    V = _vectors(findings, vectors, cfg)
    labels = partition(V, cfg).labels
    keywords = ctfidf_keywords([_label_text(f) for f in findings], labels, cfg.n_keywords, cfg.segmenter)

    members: dict[int, list[int]] = defaultdict(list)
    for i, c in enumerate(labels):
        members[int(c)].append(i)
    clusters = []
    for c, idx in members.items():
        centroid = V[idx].mean(axis=0)
        centroid /= max(float(np.linalg.norm(centroid)), 1e-12)
        central = sorted(idx, key=lambda i: (-float(V[i] @ centroid), ids[i]))
        units = sorted({u for i in idx if (u := findings[i].unit)})
        round_values = sorted({findings[i].round for i in idx}, key=round_sort_key)
        per_round = Counter(findings[i].round for i in idx)
        kws = keywords.get(c, [])
        clusters.append(
            Cluster(
                cluster_id=stable_cluster_id([ids[i] for i in idx]),
                label=make_label(kws),
                keywords=kws,
                size=len(idx),
                units=units,
                rounds=[_round_str(r) for r in round_values if r is not None],
                per_round={_round_str(r): per_round[r] for r in round_values},
                systemic_score=systemic_score(
                    len(idx), len(units), len([r for r in round_values if r is not None])
                ),
                representatives=[ids[i] for i in central[: cfg.n_representatives]],
                finding_ids=[ids[i] for i in idx],
                singleton=len(idx) == 1,
            )
        )
    clusters.sort(key=lambda cl: (-cl.systemic_score, -cl.size, cl.cluster_id))
    return clusters


def _round_str(value: RoundKey) -> str:
    return "unknown" if value is None else str(value)


# --- recurrence --------------------------------------------------------------------------------


def recurrences(
    findings: Sequence[ClusterInput], vectors: np.ndarray, threshold: float = 0.6
) -> list[Recurrence]:
    """Pairs (earlier, later) of one unit's findings in different rounds with cosine ≥ threshold.

    Only findings with a unit and a round take part; units must match exactly. Sorted by
    similarity, most similar first.
    """
    V = np.asarray(vectors, dtype=np.float32)
    if V.shape[0] != len(findings):
        raise ValueError(f"{V.shape[0]} vectors for {len(findings)} findings")
    V = V / np.maximum(np.linalg.norm(V, axis=1, keepdims=True), 1e-12)
    by_unit: dict[str, list[int]] = defaultdict(list)
    for i, f in enumerate(findings):
        if f.unit and f.round is not None:
            by_unit[f.unit].append(i)
    out: list[Recurrence] = []
    for unit, idx in by_unit.items():
        if len({findings[i].round for i in idx}) < 2:
            continue
        S = V[idx] @ V[idx].T
        for a in range(len(idx)):
            for b in range(a + 1, len(idx)):
                if S[a, b] < threshold:
                    continue
                fa, fb = findings[idx[a]], findings[idx[b]]
                ka, kb = round_sort_key(fa.round), round_sort_key(fb.round)
                if ka == kb:
                    continue
                early, late = (fa, fb) if ka < kb else (fb, fa)
                out.append(
                    Recurrence(unit, early.id, late.id, _round_str(early.round), _round_str(late.round), round(float(S[a, b]), 4))
                )
    out.sort(key=lambda r: (-r.similarity, r.unit, r.earlier_id, r.later_id))
    return out
