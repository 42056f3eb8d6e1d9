"""The whole pipeline on a real set, in process, scored with score_real.py's own matching.

    python evaluation/score_pipeline.py [SET] [--show-clusters] [--show-misses]

``../shared/tools/score_real.py`` is the measure to report (it drives the CLI in a fresh library);
this script computes the same finding recall, search nDCG@10 / recall@10 and cluster ARI with the
same functions (imported from score_real.py: overlap, ndcg_at_k, recall_at_k, cluster_scores) but
in one process, so a change can be checked in seconds. Findings come from ``analyze_bytes``, their
representation from ``nlp.representation``, search from ``SearchIndex`` and clusters from
``nlp.cluster`` exactly as the library would compute them (units as the pipeline found them, rounds
as the texts state them).
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path
from typing import Any

from common import SHARED, read_jsonl
from sklearn.metrics import f1_score
from sklearn.preprocessing import MultiLabelBinarizer

from nlp.cluster import ClusterInput, cluster_findings
from nlp.pipeline import analyze_bytes
from nlp.representation import represent
from nlp.search import SearchIndex

SCORE_REAL = SHARED / "tools" / "score_real.py"


def load_score_real():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("score_real", SCORE_REAL)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["score_real"] = module
    spec.loader.exec_module(module)
    return module


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("set", nargs="?", type=Path, default=SHARED / "eval-dev-2")
    ap.add_argument("--show-clusters", action="store_true")
    ap.add_argument("--show-misses", action="store_true")
    ap.add_argument("--show-focus", action="store_true")
    a = ap.parse_args()
    sr = load_score_real()
    docs = {p.name: sr.doc_text(p) for p in sorted((a.set / "docs").glob("*.txt"))}
    gold = list(read_jsonl(a.set / "gold_findings.jsonl"))
    queries = list(read_jsonl(a.set / "gold_search.jsonl")) if (a.set / "gold_search.jsonl").exists() else []

    findings: list[tuple[str, str, str | None, str | None, int | None]] = []  # doc, text, unit, round, number
    per_doc: dict[str, list[Any]] = {}
    for name, text in docs.items():
        doc = analyze_bytes(text.encode("utf-8"), name)
        per_doc[name] = doc.findings
        for f in doc.findings:
            findings.append((name, f.text, f.unit, doc.round.label if doc.round else None, doc.round.number if doc.round else None))
    found = 0
    gold_focus, pred_focus, gold_lv, pred_lv = [], [], [], []
    for g in gold:
        scored = [(sr.overlap(f.text, g["text"]), k) for k, f in enumerate(per_doc.get(g["doc"], []))]
        best, k = max(scored, default=(0.0, -1))
        found += best >= 0.6
        if a.show_misses and best < 0.6:
            print(f"  missed [{g['doc'][:12]}] {g['text']}")
        focus, labels = "none", set()
        if best >= 0.5:
            tags = per_doc[g["doc"]][k].tags
            focus = max(tags.get("focus") or [{"label": "none", "score": 0}], key=lambda t: t.get("score", 0))["label"]
            labels = {t["label"] for t in tags.get("livelihood") or []}
            if a.show_focus and focus != g["focus"]:
                print(f"  focus {g['focus']} → {focus}: {per_doc[g['doc']][k].text[:60]}")
        gold_focus.append(g["focus"])
        pred_focus.append(focus)
        gold_lv.append({g["livelihood"]} if g.get("livelihood") else set())
        pred_lv.append(labels)
    print(f"{a.set.name}: {len(findings)} findings from {len(docs)} documents; recall {found / len(gold):.3f} (n={len(gold)})")
    f1 = f1_score(gold_focus, pred_focus, labels=list(sr.FOCUS), average="macro", zero_division=0)
    mlb = MultiLabelBinarizer().fit(gold_lv + pred_lv)
    lv = f1_score(mlb.transform(gold_lv), mlb.transform(pred_lv), average="micro", zero_division=0)
    print(f"focus    macro-F1 {f1:.3f} (no focus {pred_focus.count('none') / len(gold):.0%}); livelihood micro-F1 {lv:.3f}")

    cache: dict[str, int | None] = {}

    def gold_id(text: str) -> int | None:
        if text not in cache:
            best = max(((sr.overlap(text, g["text"]), i) for i, g in enumerate(gold)), default=(0.0, None))
            cache[text] = best[1] if best[0] >= 0.5 else None
        return cache[text]

    rep = represent([f[1] for f in findings])
    if queries:
        index = SearchIndex([str(i) for i in range(len(findings))], [f[1] for f in findings], rep.vectors, rep.concepts,
                            __import__("nlp.embedders", fromlist=["make_embedder"]).make_embedder())
        nd, rc = [], []
        for q in queries:
            hits = index.search(q["query"], 10)
            texts = [findings[int(h.finding_id)][1] for h in hits]
            ranked = [gold_id(t) for t in texts]
            ranked = [r if r is not None else -1 - k for k, r in enumerate(ranked)]
            nd.append(sr.ndcg_at_k(ranked, q["relevant"]))
            rc.append(sr.recall_at_k(ranked, q["relevant"]))
        print(f"search   nDCG@10 {sum(nd) / len(nd):.3f} recall@10 {sum(rc) / len(rc):.3f}")
    groups = {i: g["group"] for i, g in enumerate(gold) if g.get("group")}
    if groups:
        inputs = [ClusterInput(str(i), f[1], f[2], f[3], f[4], tuple(rep.concepts[i])) for i, f in enumerate(findings)]
        clusters = cluster_findings(inputs, rep.vectors)
        pred: dict[int, object] = {}
        for c in clusters:
            for fid in c.finding_ids:
                gid = gold_id(findings[int(fid)][1])
                if gid is not None and gid not in pred:
                    pred[gid] = c.cluster_id
        cs = sr.cluster_scores(pred, groups)
        print(f"clusters ARI {cs['ari']:.3f} NMI {cs['nmi']:.3f} pair-F1 {cs['pair_f1']:.3f} ({len(pred)}/{len(groups)} placed, "
              f"{len(clusters)} clusters)")
        if a.show_clusters:
            for c in clusters:
                if c.size > 1:
                    print(f"  [{c.size}] {c.title}")
                    for fid in c.finding_ids[:6]:
                        gid = gold_id(findings[int(fid)][1])
                        print(f"      {groups.get(gid, '-') if gid is not None else '(no gold)'} | {findings[int(fid)][1][:50]}")


if __name__ == "__main__":
    main()
