"""Score common-issue clustering (nlp/cluster.py) on a real set's gold findings and groups.

    python evaluation/score_clusters.py [SET …] [--sweep]

SET defaults to ../shared/eval-dev-2 (180 findings in 29 common-issue groups). Each gold text is one
input finding with its unit, so the figures measure grouping without the finding splitter's errors;
``../shared/tools/score_real.py`` measures the whole product through ``xuncha clusters``.

Printed: ARI, NMI (scikit-learn) and pair-F1, the number of clusters, how findings were placed
(dominant concept family / attached to a family by vector / vector clusters), and, for comparison, the
same vectors clustered alone (average linkage, no concepts) and the concept families alone.
``--sweep`` prints ARI over the vector thresholds (for choosing ``ClusterConfig`` on dev sets only).
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
from collections import Counter
from pathlib import Path

from common import SHARED, read_jsonl
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from nlp.cluster import ClusterConfig, ClusterInput, _average_linkage, assign_clusters
from nlp.concepts import default_thesaurus, dominant_family
from nlp.representation import represent

DEFAULT_SETS = [SHARED / "eval-dev-2"]


def pair_f1(gold: list[str], pred: list[str]) -> float:
    def pairs(labels: list[str]) -> set[tuple[int, int]]:
        groups: dict[str, list[int]] = {}
        for i, g in enumerate(labels):
            groups.setdefault(g, []).append(i)
        return {p for ids in groups.values() for p in itertools.combinations(ids, 2)}

    g, p = pairs(gold), pairs(pred)
    if not g or not p:
        return 0.0
    tp = len(g & p)
    prec, rec = tp / len(p), tp / len(g)
    return 2 * prec * rec / (prec + rec) if prec + rec else 0.0


def report(name: str, gold: list[str], pred: list[str]) -> float:
    ari = adjusted_rand_score(gold, pred)
    print(f"{name:44s} ARI {ari:.3f}  NMI {normalized_mutual_info_score(gold, pred):.3f}  "
          f"pair-F1 {pair_f1(gold, pred):.3f}  clusters {len(set(pred))}")
    return ari


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("sets", nargs="*", type=Path, default=DEFAULT_SETS)
    ap.add_argument("--sweep", action="store_true")
    a = ap.parse_args()
    th = default_thesaurus()
    for path in a.sets:
        rows = [r for r in read_jsonl(path / "gold_findings.jsonl") if r.get("group")]
        gold = [r["group"] for r in rows]
        rep = represent([r["text"] for r in rows])
        inputs = [ClusterInput(str(i), r["text"], r.get("unit"), None, None, tuple(rep.concepts[i])) for i, r in enumerate(rows)]
        print(f"\n{path.name}: {len(rows)} findings, {len(set(gold))} gold groups")
        cfg = ClusterConfig()
        assignment = assign_clusters(inputs, rep.vectors, th, cfg)
        report("nlp.cluster (families + vectors, default)", gold, assignment.keys)
        print(f"  placed by family {assignment.counts['family']}, attached {assignment.counts['attached']}, "
              f"vector clusters {assignment.counts['vector']}")
        fams = [dominant_family(f.text, f.concepts, th, cfg.first_clause_weight) or f"none:{f.id}" for f in inputs]
        report("concept families alone (rest singletons)", gold, fams)
        for t in (0.86, 0.88, 0.90):
            report(f"vectors alone, average linkage ≥ {t}", gold, [str(x) for x in _average_linkage(rep.vectors, t)])
        missed = Counter(g for g, f in zip(gold, fams, strict=True) if f.startswith("none:"))
        print("  gold groups of findings naming no concept: " + "、".join(f"{g} {n}" for g, n in missed.most_common(8)))
        if a.sweep:
            for att, thr, fcw in itertools.product((0.86, 0.88, 0.90, 0.92, 1.01), (0.84, 0.86, 0.88, 0.90), (1.0, 2.0, 3.0)):
                c = dataclasses.replace(cfg, attach_cosine=att, threshold=thr, first_clause_weight=fcw)
                keys = assign_clusters(inputs, rep.vectors, th, c).keys
                print(f"  attach {att:.2f} threshold {thr:.2f} first-clause ×{fcw:.0f}: ARI {adjusted_rand_score(gold, keys):.3f}")


if __name__ == "__main__":
    main()
