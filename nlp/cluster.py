"""Common issues (共性问题): group findings by the problem they state, title each group, rank by spread.

Pure functions over findings' stored representation — unit vectors (a pretrained embedder) and the
thesaurus concepts each finding names (:mod:`nlp.concepts`). Every finding is placed in exactly one
cluster; having no unit or no round is no reason to leave one out.

Method (:func:`assign_clusters`):

1. **Concept family first.** A finding that names thesaurus concepts belongs to its *dominant
   family* (:func:`dominant_family`): the family of the problem the statement leads with, a concrete
   topic (三资, 八项规定, 扶贫: specificity 3) outranking a generic one (作风, 党建, 主体责任: 1).
   Families are what an analyst reports as one common issue, so they give the cluster its title and
   a stable id (``f:<family id>``).
2. **Vectors for the rest.** A finding that names no concept joins the family cluster whose centroid
   it is closest to when the cosine clears ``attach_cosine``; the remaining ones are grouped among
   themselves by average-linkage on their vectors (``threshold``), above ``exact_max`` findings by
   MiniBatchKMeans over-clustering whose centroids are then merged by the same rule. Such a cluster is
   titled by its central finding, and its id is a hash of its smallest finding id (stable while the
   library grows, as long as that finding stays in it).

Systemic score: :func:`systemic_score`. Recurrences (:func:`recurrences`): the same unit stating a
similar problem in a later round, rounds ordered by term and number (十四届第五轮 < 十四届第七轮), never by label.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from typing import Any, NamedTuple

import numpy as np

from nlp.concepts import FIRST_CLAUSE_WEIGHT, LEAD_MARKER, Thesaurus, default_thesaurus, dominant_family

_CLAUSE = re.compile(r"[，,；;。：:！？!?\n]")
# The lead family of a finding depends only on its text, its stored concepts and the thesaurus, yet
# matching the thesaurus over every finding is most of a re-clustering (5 of 10 s at 20k findings).
# Kept per process, keyed by thesaurus version and a digest of text and concepts, so re-clustering
# after an upload matches only the findings it has not seen; bounded, and cleared when full.
_LEAD_FAMILIES: dict[tuple[str, bytes], str | None] = {}
_LEAD_FAMILIES_MAX = 2_000_000


class StoredLead(NamedTuple):
    """The lead family stored with a finding's representation (``family`` None: it names no concept)."""

    family: str | None


@dataclass(frozen=True)
class ClusterInput:
    """One finding as clustering sees it: its text, unit, round (label and number) and concepts."""

    id: str
    text: str
    unit: str | None = None
    round: str | None = None
    round_number: int | None = None
    concepts: tuple[str, ...] = ()
    round_term: int | None = None  # the committee's term (十四届 → 14): 十三届第九轮 comes before 十四届第一轮
    # the family it leads with as stored at ingest (nlp.representation), under the default first-clause
    # weight; None when not given, so it is worked out from the text
    lead: StoredLead | None = None

    @property
    def round_key(self) -> tuple[int, int] | None:
        """Where the round stands in time: (term, number); None when the round has no number."""
        return None if self.round_number is None else (self.round_term or 0, self.round_number)


@dataclass
class ClusterConfig:
    """Thresholds, chosen on the real dev set (evaluation/score_clusters.py prints ARI over a sweep)."""

    attach_cosine: float = 0.93  # a concept-less finding joins a family cluster at this cosine to its centroid
    threshold: float = 0.91  # average cosine at which concept-less findings group among themselves (e5)
    exact_max: int = 3000  # above this many: MiniBatchKMeans over-clustering + centroid merge
    kmeans_ratio: int = 20
    max_centroids: int = 4000
    kmeans_epochs: int = 3
    first_clause_weight: float = FIRST_CLAUSE_WEIGHT  # a concept in the statement's first clause counts this much more
    n_representatives: int = 3
    title_chars: int = 28
    seed: int = 0


@dataclass
class Cluster:
    cluster_id: str
    title: str  # the common issue as an analyst would title it
    family: str | None  # thesaurus family id, when the cluster is one
    size: int
    units: list[str]
    rounds: list[str]  # labels, in round-number order
    per_round: dict[str, int]  # label (or 未标明轮次) → findings, in round order
    systemic_score: float
    representatives: list[str]  # most central first
    finding_ids: list[str]  # input order
    concepts: list[str]  # most frequent concept keys of the cluster
    singleton: bool

    def to_dict(self) -> dict[str, Any]:
        """A shallow dict with copied lists (``asdict`` deep-copies every id: 1 s at 20k findings)."""
        return {
            f.name: (list(v) if isinstance(v, list) else dict(v) if isinstance(v, dict) else v)
            for f in fields(self) for v in (getattr(self, f.name),)
        }


@dataclass
class Recurrence:
    """The same unit states a similar problem in a later round (整改不到位 / 问题反弹)."""

    unit: str
    earlier_id: str
    later_id: str
    earlier_round: str
    later_round: str
    similarity: float

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass
class Assignment:
    """Cluster key per finding (``f:<family>`` or ``v:<n>``) and how many came from each route."""

    keys: list[str]
    counts: dict[str, int] = field(default_factory=dict)


NO_ROUND = "未标明轮次"


# --- scoring, ids, rounds -----------------------------------------------------------------------


def systemic_score(size: int, n_units: int, n_rounds: int) -> float:
    """How systemic a problem is: ``units × rounds × (1 + log10(size))``.

    Spread dominates (distinct units and distinct rounds multiply), size adds a damped bonus: 5 units
    over 3 rounds with 5 findings score 15 × 1.70 = 25.5, 20 findings of one unit in one round 2.3.
    Unknown units/rounds count as one.
    """
    return round(max(1, n_units) * max(1, n_rounds) * (1.0 + math.log10(max(1, size))), 4)


def stable_cluster_id(finding_ids: Sequence[str]) -> str:
    """``c`` + 12 hex digits of a hash of the smallest finding id."""
    return "c" + hashlib.blake2b(min(finding_ids).encode("utf-8"), digest_size=6).hexdigest()


def round_order(label: str | None, number: int | None, term: int | None = None) -> tuple[int, int, int, str]:
    """Sort key of a round: by term then number (十三届第九轮 < 十四届第五轮 < 十四届第七轮 < 十四届第十二轮),
    unnumbered rounds after them by label, no round last."""
    if label is None:
        return (2, 0, 0, "")
    if number is None:
        return (1, 0, 0, label)
    return (0, term or 0, number, label)


# --- assignment ---------------------------------------------------------------------------------


def _unit_rows(vectors: np.ndarray) -> np.ndarray:
    V = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(V, axis=1, keepdims=True)
    return V / np.where(norms == 0, 1.0, norms)


def _average_linkage(V: np.ndarray, threshold: float) -> np.ndarray:
    """Average-linkage clusters of unit rows, merged while the mean cosine ≥ threshold."""
    n = V.shape[0]
    if n < 2:
        return np.zeros(n, dtype=np.int64)
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import pdist

    dist = np.clip(pdist(V.astype(np.float64), metric="cosine"), 0.0, 2.0)
    tree = linkage(dist, method="average")
    return np.asarray(fcluster(tree, t=1.0 - threshold, criterion="distance"), dtype=np.int64) - 1


def partition(V: np.ndarray, cfg: ClusterConfig) -> np.ndarray:
    """A cluster label per unit row: exact average linkage, or above ``exact_max`` rows MiniBatchKMeans
    over-clustering whose centroids are merged by the same rule (linear in n)."""
    n = V.shape[0]
    if n <= cfg.exact_max:
        return _average_linkage(V, cfg.threshold)
    from sklearn.cluster import MiniBatchKMeans

    k = int(min(cfg.max_centroids, max(2, n // cfg.kmeans_ratio)))
    km = MiniBatchKMeans(
        n_clusters=k, init="random", n_init=1, batch_size=max(1024, min(8192, n // 10)), max_iter=cfg.kmeans_epochs,
        max_no_improvement=3, reassignment_ratio=0.0, random_state=cfg.seed,
    )
    cell = km.fit_predict(V)
    used = np.unique(cell)
    C = np.zeros((k, V.shape[1]), dtype=np.float64)
    np.add.at(C, cell, V)
    C = C[used]
    C /= np.maximum(np.linalg.norm(C, axis=1, keepdims=True), 1e-12)
    merged = np.full(k, -1, dtype=np.int64)
    merged[used] = _average_linkage(C.astype(np.float32), cfg.threshold)
    return merged[cell]


def _lead_family(finding: ClusterInput, thesaurus: Thesaurus, first_clause_weight: float) -> str | None:
    """:func:`nlp.concepts.dominant_family` of ``finding``: the stored one, else remembered (see
    ``_LEAD_FAMILIES``)."""
    if not finding.concepts:
        return None
    if finding.lead is not None and first_clause_weight == FIRST_CLAUSE_WEIGHT:
        return finding.lead.family
    digest = hashlib.blake2b(
        "\x1f".join((finding.text, *finding.concepts, repr(first_clause_weight))).encode(), digest_size=16
    ).digest()
    key = (thesaurus.version, digest)
    if key in _LEAD_FAMILIES:
        return _LEAD_FAMILIES[key]
    family = dominant_family(finding.text, finding.concepts, thesaurus, first_clause_weight)
    if len(_LEAD_FAMILIES) >= _LEAD_FAMILIES_MAX:
        _LEAD_FAMILIES.clear()
    _LEAD_FAMILIES[key] = family
    return family


def assign_clusters(
    findings: Sequence[ClusterInput], vectors: np.ndarray, thesaurus: Thesaurus | None = None, config: ClusterConfig | None = None
) -> Assignment:
    """A cluster key for every finding: its dominant family, else the nearest family (by centroid) or a
    vector cluster of the concept-less findings."""
    cfg = config or ClusterConfig()
    th = thesaurus or default_thesaurus()
    V = _unit_rows(vectors)
    if V.shape[0] != len(findings):
        raise ValueError(f"{V.shape[0]} vectors for {len(findings)} findings")
    keys: list[str | None] = []
    for f in findings:
        fam = _lead_family(f, th, cfg.first_clause_weight)
        keys.append(f"f:{fam}" if fam else None)
    counts = {"family": sum(1 for k in keys if k), "attached": 0, "vector": 0}
    rest = [i for i, k in enumerate(keys) if k is None]
    families = sorted({k for k in keys if k})
    if rest and families:
        C = np.zeros((len(families), V.shape[1]), dtype=np.float64)
        at = {k: j for j, k in enumerate(families)}
        for i, k in enumerate(keys):
            if k:
                C[at[k]] += V[i]
        C /= np.maximum(np.linalg.norm(C, axis=1, keepdims=True), 1e-12)
        sims = V[rest] @ C.T.astype(np.float32)
        best = sims.argmax(axis=1)
        still = []
        for i, j, s in zip(rest, best, sims[np.arange(len(rest)), best], strict=True):
            if s >= cfg.attach_cosine:
                keys[i] = families[j]
                counts["attached"] += 1
            else:
                still.append(i)
        rest = still
    if rest:
        labels = partition(V[rest], cfg)
        for i, label in zip(rest, labels, strict=True):
            keys[i] = f"v:{int(label)}"
        counts["vector"] = len(rest)
    return Assignment([k or "" for k in keys], counts)


# --- clusters -----------------------------------------------------------------------------------


def cluster_findings(
    findings: Sequence[ClusterInput],
    vectors: np.ndarray,
    thesaurus: Thesaurus | None = None,
    config: ClusterConfig | None = None,
) -> list[Cluster]:
    """Every finding in exactly one cluster; clusters ordered by systemic score, then size."""
    cfg = config or ClusterConfig()
    th = thesaurus or default_thesaurus()
    if not findings:
        return []
    ids = [f.id for f in findings]
    if len(set(ids)) != len(ids):
        raise ValueError("finding ids must be unique")
    V = _unit_rows(vectors)
    assignment = assign_clusters(findings, V, th, cfg)
    members: dict[str, list[int]] = defaultdict(list)
    for i, key in enumerate(assignment.keys):
        members[key].append(i)
    numbers: dict[str, tuple[int | None, int | None]] = {f.round: (f.round_number, f.round_term) for f in findings if f.round}
    clusters = []
    for key, idx in members.items():
        centroid = V[idx].mean(axis=0)
        centroid /= max(float(np.linalg.norm(centroid)), 1e-12)
        central = sorted(idx, key=lambda i: (-float(V[i] @ centroid), ids[i]))
        units = sorted({u for i in idx if (u := findings[i].unit)})
        labels = sorted({r for i in idx if (r := findings[i].round)}, key=lambda r: round_order(r, *numbers[r]))
        per_round = Counter(findings[i].round or NO_ROUND for i in idx)
        ordered_rounds = [*labels, *([NO_ROUND] if NO_ROUND in per_round else [])]
        concept_counts = Counter(c for i in idx for c in findings[i].concepts)
        family = key[2:] if key.startswith("f:") else None
        clusters.append(
            Cluster(
                cluster_id=f"f:{family}" if family else stable_cluster_id([ids[i] for i in idx]),
                title=th.families[family].title if family else central_title(findings[central[0]].text, cfg.title_chars),
                family=family,
                size=len(idx),
                units=units,
                rounds=labels,
                per_round={r: per_round[r] for r in ordered_rounds},
                systemic_score=systemic_score(len(idx), len(units), len(labels)),
                representatives=[ids[i] for i in central[: cfg.n_representatives]],
                finding_ids=[ids[i] for i in idx],
                concepts=[c for c, _ in concept_counts.most_common(5)],
                singleton=len(idx) == 1,
            )
        )
    clusters.sort(key=lambda cl: (-cl.systemic_score, -cl.size, cl.cluster_id))
    return clusters




def central_title(text: str, limit: int = 28) -> str:
    """A heading made from a cluster's central finding: its first clause without the list marker
    (一是、（二）、部分), cut at ``limit`` characters."""
    body = LEAD_MARKER.sub("", text.strip()).strip()
    first = _CLAUSE.split(body, maxsplit=1)[0].strip() or body
    return first if len(first) <= limit else first[: limit - 1] + "…"


# --- recurrence ---------------------------------------------------------------------------------


RECURRENCE_BLOCK = 1024  # later findings compared at a time (bounds the similarity block's memory)


def _concept_matrix(concept_sets: list[set[str]], vocabulary: dict[str, int]) -> Any:
    """A sparse 0/1 matrix (findings × concepts); ``vocabulary`` grows as new concepts appear."""
    from scipy.sparse import csr_matrix

    rows, cols = [], []
    for r, concepts in enumerate(concept_sets):
        for c in concepts:
            rows.append(r)
            cols.append(vocabulary.setdefault(c, len(vocabulary)))
    return csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(len(concept_sets), max(1, len(vocabulary))))


def recurrences(findings: Sequence[ClusterInput], vectors: np.ndarray, threshold: float = 0.9) -> list[Recurrence]:
    """For each finding of a unit, the earlier-round finding of the same unit it repeats, if any: the
    most similar one among those with cosine ≥ ``threshold``, or with a shared thesaurus concept and
    cosine ≥ ``threshold`` less 0.04 (the concept says the problem is the same where the wording moved).

    One recurrence per later finding at most — the earlier statement it repeats — so a library of many
    rounds reports each repeat once rather than every pair of similar findings (which grows with the
    square of a unit's findings: 130,000 pairs among 2,000 findings of four units). Computed in blocks
    with matrix products, never a Python loop over pairs. Only findings with a unit and a numbered
    round take part. Sorted by similarity, most similar first.
    """
    V = _unit_rows(vectors)
    if V.shape[0] != len(findings):
        raise ValueError(f"{V.shape[0]} vectors for {len(findings)} findings")
    by_unit: dict[str, list[int]] = defaultdict(list)
    for i, f in enumerate(findings):
        if f.unit and f.round and f.round_key is not None:
            by_unit[f.unit].append(i)
    keys = sorted({f.round_key for f in findings if f.round_key is not None})
    rank = {k: r for r, k in enumerate(keys)}
    vocabulary: dict[str, int] = {}
    out: list[Recurrence] = []
    for unit, members in by_unit.items():
        # in round order: a later finding is compared only with the findings of earlier rounds, a
        # prefix of the unit's list (half the products of comparing every pair)
        idx = sorted(members, key=lambda i: rank[findings[i].round_key])  # type: ignore[index]
        ranks = np.array([rank[findings[i].round_key] for i in idx])  # type: ignore[index]
        if ranks[0] == ranks[-1]:
            continue
        before = np.searchsorted(ranks, ranks, side="left")  # findings of strictly earlier rounds: idx[:before[j]]
        concept_sets = [set(findings[i].concepts) for i in idx]
        C = _concept_matrix(concept_sets, vocabulary)
        U = V[idx]
        first_later = int(np.argmax(before > 0))  # the first finding of the second round
        for start in range(first_later, len(idx), RECURRENCE_BLOCK):
            block = slice(start, min(start + RECURRENCE_BLOCK, len(idx)))
            width = int(before[block.stop - 1])  # the block's candidates: everything before its last round
            sim = U[block] @ U[:width].T  # (later block, earlier findings)
            earlier = np.arange(width)[None, :] < before[block][:, None]
            shared = (C[block] @ C[:width].T).toarray() > 0
            ok = earlier & ((sim >= threshold) | (shared & (sim >= threshold - 0.04)))
            rows = np.flatnonzero(ok.any(axis=1))
            if rows.size == 0:
                continue
            best = np.where(ok[rows], sim[rows], -np.inf).argmax(axis=1)
            for r, b in zip(rows, best, strict=True):
                early, late = findings[idx[int(b)]], findings[idx[start + int(r)]]
                out.append(Recurrence(unit, early.id, late.id, str(early.round), str(late.round), round(float(sim[r, b]), 4)))
    out.sort(key=lambda r: (-r.similarity, r.unit, r.earlier_id, r.later_id))
    return out
