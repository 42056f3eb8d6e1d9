"""Score finding clustering against the gold grouping, next to a BERTopic-style HDBSCAN baseline.

Gold grouping: the 156 sample-corpus findings (corpora/samples/gold_findings.jsonl, group =
``issue``, round from the manifest) plus the 43 eval-dev findings with hand-assigned groups
(evaluation/gold/cluster_groups.jsonl). Each gold text is one input finding.

Printed: ARI and NMI (sklearn.metrics), number of clusters and singletons, and time, for
``nlp.cluster`` and for sklearn HDBSCAN(min_cluster_size=2) on the same SVD vectors (its noise
points each count as their own singleton for ARI/NMI; the share of noise is printed).

``--sweep`` prints the scores over a range of thresholds (the sample corpus is the dev set for
tuning). ``--scale N`` adds a synthetic run on N findings recombined from sample-corpus phrases:
clustering time and peak traced memory for nlp.cluster (partition alone and with labels) and for
MiniBatchKMeans alone (k = N / 20).

Usage: python evaluation/score_clusters.py [--threshold 0.35] [--sweep] [--scale 100000]
"""

from __future__ import annotations

import argparse
import random
import re
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy as np
from common import REPO, SAMPLES, read_jsonl
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from nlp.cluster import ClusterConfig, ClusterInput, cluster_findings, partition
from nlp.vectors import embed

GOLD_GROUPS = REPO / "evaluation" / "gold" / "cluster_groups.jsonl"


def load_gold() -> tuple[list[ClusterInput], list[str]]:
    rounds = {r["file"]: r["round_number"] for r in read_jsonl(SAMPLES / "manifest.jsonl")}
    findings: list[ClusterInput] = []
    groups: list[str] = []
    for i, row in enumerate(read_jsonl(SAMPLES / "gold_findings.jsonl")):
        findings.append(ClusterInput(f"s{i:04d}", row["text"], row.get("unit"), rounds.get(row["file"])))
        groups.append(row["issue"])
    for i, row in enumerate(read_jsonl(GOLD_GROUPS)):
        findings.append(ClusterInput(f"e{i:04d}", row["text"], row.get("unit"), row["doc"]))
        groups.append(row["group"])
    return findings, groups


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def scores(gold: list[str], pred: np.ndarray) -> tuple[float, float]:
    return adjusted_rand_score(gold, pred), normalized_mutual_info_score(gold, pred)


def hdbscan_labels(V: np.ndarray) -> tuple[np.ndarray, float]:
    """HDBSCAN(min_cluster_size=2) labels with each noise point made its own cluster; noise share."""
    from sklearn.cluster import HDBSCAN

    labels = HDBSCAN(min_cluster_size=2, copy=True).fit_predict(V).copy()
    noise = labels < 0
    labels[noise] = labels.max() + 1 + np.arange(int(noise.sum()))
    return labels, float(noise.mean())


def run_gold(threshold: float, sweep: bool) -> None:
    findings, gold = load_gold()
    texts = [f.text for f in findings]
    (_, V), t_vec = timed(lambda: embed(texts, 128))
    n_gold = len(set(gold))
    print(f"gold: {len(findings)} findings, {n_gold} groups, "
          f"{sum(1 for g in set(gold) if gold.count(g) == 1)} singleton groups")
    print(f"vectors (TF-IDF words 1-2 + chars 2-3, SVD {V.shape[1]}): {t_vec:.2f} s")

    cfg = ClusterConfig(threshold=threshold)
    clusters, t_ours = timed(lambda: cluster_findings(findings, V, cfg))
    label_of = {fid: k for k, cl in enumerate(clusters) for fid in cl.finding_ids}
    pred = np.array([label_of[f.id] for f in findings])
    ari, nmi = scores(gold, pred)
    n_single = sum(cl.singleton for cl in clusters)
    print(f"nlp.cluster (threshold {threshold}): ARI {ari:.3f}  NMI {nmi:.3f}  "
          f"clusters {len(clusters)}  singletons {n_single}  time {t_ours:.2f} s (with labels)")

    (hl, noise), t_h = timed(lambda: hdbscan_labels(V))
    ari_h, nmi_h = scores(gold, hl)
    print(f"HDBSCAN baseline (min_cluster_size=2): ARI {ari_h:.3f}  NMI {nmi_h:.3f}  "
          f"clusters {len(set(hl))}  noise {noise:.1%}  time {t_h:.2f} s")

    samples = [i for i, f in enumerate(findings) if f.id.startswith("s")]
    ari_s, nmi_s = scores([gold[i] for i in samples], pred[samples])
    print(f"  samples only ({len(samples)}): ARI {ari_s:.3f}  NMI {nmi_s:.3f}")

    print("top clusters by systemic score:")
    for cl in clusters[:8]:
        print(f"  {cl.systemic_score:6.2f}  size {cl.size:2d}  units {len(cl.units)}  rounds {cl.rounds}  {cl.label}")

    if sweep:
        print("threshold sweep (exact path):")
        for t in np.arange(0.15, 0.61, 0.05):
            p = partition(V, ClusterConfig(threshold=float(t))).labels
            a, m = scores(gold, p)
            print(f"  {t:.2f}: ARI {a:.3f}  NMI {m:.3f}  clusters {len(set(p))}")


# --- synthetic scale run ---------------------------------------------------------------------

_CLAUSE = re.compile(r"[，、；。,;]")


def synthetic_findings(n: int, seed: int = 0) -> list[ClusterInput]:
    """``n`` findings recombined from sample-corpus clauses of one issue, spread over units and rounds."""
    rng = random.Random(seed)
    by_issue: dict[str, list[str]] = {}
    for row in read_jsonl(SAMPLES / "gold_findings.jsonl"):
        clauses = [c for c in _CLAUSE.split(row["text"]) if len(c) >= 4]
        by_issue.setdefault(row["issue"], []).extend(clauses)
    issues = sorted(by_issue)
    units = [f"单位{i}" for i in range(300)]
    out = []
    for i in range(n):
        pool = by_issue[rng.choice(issues)]
        text = "，".join(rng.sample(pool, k=min(len(pool), rng.randint(1, 3))))
        out.append(ClusterInput(f"x{i:07d}", text, rng.choice(units), rng.randint(1, 8)))
    return out


def measure(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    tracemalloc.start()
    t0 = time.perf_counter()
    out = fn()
    dt = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return out, dt, peak / 2**20


def run_scale(n: int, threshold: float) -> None:
    from sklearn.cluster import MiniBatchKMeans

    findings = synthetic_findings(n)
    (_, V), t_vec = timed(lambda: embed([f.text for f in findings], 128))
    print(f"\nscale: {n} synthetic findings, vectors {V.shape} in {t_vec:.1f} s")
    cfg = ClusterConfig(threshold=threshold)
    part, dt, mem = measure(lambda: partition(V, cfg))
    print(f"  nlp.cluster partition ({part.method}, {part.extra}): {dt:.2f} s, peak {mem:.0f} MiB, "
          f"clusters {len(set(part.labels.tolist()))}")
    clusters, dt, mem = measure(lambda: cluster_findings(findings, V, cfg))
    print(f"  nlp.cluster with labels/representatives: {dt:.2f} s, peak {mem:.0f} MiB, "
          f"clusters {len(clusters)}, singletons {sum(c.singleton for c in clusters)}")
    k = max(2, n // 20)
    km = MiniBatchKMeans(n_clusters=k, init="random", n_init=1, random_state=0, max_iter=cfg.kmeans_epochs,
                         batch_size=max(1024, min(8192, n // 10)), reassignment_ratio=0.0)
    _, dt, mem = measure(lambda: km.fit_predict(V))
    print(f"  MiniBatchKMeans alone (k={k}): {dt:.2f} s, peak {mem:.0f} MiB")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threshold", type=float, default=ClusterConfig().threshold)
    ap.add_argument("--sweep", action="store_true", help="print scores over a range of thresholds")
    ap.add_argument("--scale", type=int, default=0, help="also cluster N synthetic findings (e.g. 100000)")
    args = ap.parse_args()
    run_gold(args.threshold, args.sweep)
    if args.scale:
        run_scale(args.scale, args.threshold)


if __name__ == "__main__":
    main()
