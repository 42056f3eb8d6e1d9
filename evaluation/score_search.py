"""Score the ranking of search (nlp/search.py) on a real set's gold findings, each signal alone and fused.

    python evaluation/score_search.py [SET …] [--grid] [--verbose]

SET defaults to ../shared/eval-dev-2 (real county/district feedback texts with 30 analyst queries,
graded relevance judged against every finding). The index holds the set's gold finding texts, so
these figures measure ranking without the finding splitter's errors; ``../shared/tools/score_real.py``
measures the whole product through its CLI with the same nDCG@10 (gain 2^grade - 1) and recall@10.

Printed per configuration, by query kind (keyword / paraphrase) and overall: dense alone, BM25 alone
(with and without concept expansion), concepts alone, and the fused default; also how often
near-duplicate grouping folds two gold-distinct findings at the default cosine. ``--grid`` searches the
fusion weights on the given sets and prints the best settings (for choosing ``RankingConfig``, on dev
sets only: the unseen sets decide whether they hold).
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import math
import time
from pathlib import Path

import numpy as np
from common import SHARED, read_jsonl

from nlp.fusion import RankingConfig
from nlp.search import Hit, SearchIndex, SearchMode

K = 10
DEFAULT_SETS = [SHARED / "eval-dev-2"]


def ndcg(ranked: list[int], relevant: dict[int, int], k: int = K) -> float:
    dcg = sum((2 ** relevant.get(r, 0) - 1) / math.log2(i + 2) for i, r in enumerate(ranked[:k]))
    ideal = sorted(relevant.values(), reverse=True)[:k]
    idcg = sum((2**g - 1) / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def recall(ranked: list[int], relevant: dict[int, int], k: int = K) -> float:
    rel = {i for i, g in relevant.items() if g > 0}
    return len(set(ranked[:k]) & rel) / len(rel) if rel else 0.0


@dataclasses.dataclass
class RealSet:
    name: str
    texts: list[str]
    queries: list[dict]


def load_set(path: Path) -> RealSet:
    gold = list(read_jsonl(path / "gold_findings.jsonl"))
    queries = list(read_jsonl(path / "gold_search.jsonl"))
    for q in queries:
        q["relevant"] = {int(a): int(b) for a, b in q["relevant"].items()}
    return RealSet(path.name, [g["text"] for g in gold], queries)


def flatten(hits: list[Hit]) -> list[int]:
    """Ranked gold ids as an analyst reads them: each hit, then the near-duplicates grouped under it."""
    out: list[int] = []
    for h in hits:
        out.append(int(h.finding_id))
        out.extend(int(d) for d in h.duplicates)
    return out


def score(index: SearchIndex, queries: list[dict], mode: SearchMode, expand: bool = True) -> dict[str, float]:
    by_kind: dict[str, list[tuple[float, float]]] = {}
    for q in queries:
        ranked = flatten(index.search(q["query"], K, mode=mode, expand=expand))
        by_kind.setdefault(q.get("kind", "all"), []).append((ndcg(ranked, q["relevant"]), recall(ranked, q["relevant"])))
    out = {}
    every = [v for vs in by_kind.values() for v in vs]
    out["ndcg"] = float(np.mean([v[0] for v in every]))
    out["recall"] = float(np.mean([v[1] for v in every]))
    for kind, vs in by_kind.items():
        out[f"ndcg_{kind}"] = float(np.mean([v[0] for v in vs]))
    return out


def fold_rate(index: SearchIndex, threshold: float) -> tuple[int, int]:
    """Gold-distinct pairs (different normalised texts) at cosine ≥ threshold, and all pairs."""
    V = index.vectors.rows(np.arange(len(index)))
    S = V @ V.T
    n = len(index)
    iu = np.triu_indices(n, 1)
    return int((S[iu] >= threshold).sum()), len(iu[0])


def build(real: RealSet, config: RankingConfig) -> SearchIndex:
    return SearchIndex.from_texts([(str(i), t) for i, t in enumerate(real.texts)], config=config)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("sets", nargs="*", type=Path, default=DEFAULT_SETS)
    ap.add_argument("--grid", action="store_true", help="search the fusion weights and print the best")
    a = ap.parse_args()
    cfg = RankingConfig()
    for path in a.sets:
        real = load_set(path)
        t0 = time.perf_counter()
        index = build(real, cfg)
        print(f"\n{real.name}: {len(real.texts)} gold findings, {len(real.queries)} queries "
              f"(representation {len(real.texts) / (time.perf_counter() - t0):.0f} findings/s)")
        print(f"{'configuration':34s} {'nDCG@10':>8s} {'recall@10':>9s} {'keyword':>8s} {'paraphr.':>8s}")
        rows = [
            ("dense alone (e5)", SearchMode.SEMANTIC, False),
            ("BM25 alone", SearchMode.LEXICAL, False),
            ("BM25 + concept expansion", SearchMode.LEXICAL, True),
            ("concepts alone", SearchMode.CONCEPT, True),
            ("fused (default)", SearchMode.HYBRID, True),
        ]
        for name, mode, expand in rows:
            s = score(index, real.queries, mode, expand)
            print(f"{name:34s} {s['ndcg']:8.3f} {s['recall']:9.3f} {s.get('ndcg_keyword', 0):8.3f} {s.get('ndcg_paraphrase', 0):8.3f}")
        folded, pairs = fold_rate(index, cfg.duplicate_cosine)
        print(f"near-duplicate grouping at cosine ≥ {cfg.duplicate_cosine}: folds {folded} of {pairs} gold-distinct pairs")
        latencies = []
        for q in real.queries * 3:
            t = time.perf_counter()
            index.search(q["query"], K)
            latencies.append((time.perf_counter() - t) * 1000)
        print(f"query latency on {len(real.texts)} findings, query vectors cached after the first pass (the ranking; "
              f"encoding and library scale: bench_search.py): p50 {np.percentile(latencies, 50):.1f} ms, "
              f"p95 {np.percentile(latencies, 95):.1f} ms")
        if a.grid:
            grid(index, real.queries)


def grid(index: SearchIndex, queries: list[dict]) -> None:
    results = []
    for wd, wl, wc, floor_cos, lk, ew, fc in itertools.product(
        (0.4, 0.5, 0.6, 0.7), (0.1, 0.2, 0.3), (0.1, 0.2, 0.3, 0.4), (0.7, 0.75, 0.8), (3.0, 6.0, 12.0), (0.3, 0.5), (0.3, 0.6)
    ):
        index.config = RankingConfig(dense_weight=wd, lexical_weight=wl, concept_weight=wc, dense_floor=floor_cos,
                                     lexical_k=lk, expansion_weight=ew, family_credit=fc, floor=0.0)
        s = score(index, queries, SearchMode.HYBRID)
        results.append((s["ndcg"], s, (wd, wl, wc, floor_cos, lk, ew, fc)))
    results.sort(key=lambda r: -r[0])
    print("best fusion settings (dense, lexical, concept, dense_floor, lexical_k, expansion, family_credit):")
    for nd, s, params in results[:12]:
        print(f"  {nd:.3f} (kw {s.get('ndcg_keyword', 0):.3f}, para {s.get('ndcg_paraphrase', 0):.3f}) {params}")
    index.config = RankingConfig()


if __name__ == "__main__":
    main()
