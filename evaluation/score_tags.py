"""Score the category tagger against the gold focus and livelihood labels of ../shared/eval-dev.

Two views, printed one after the other:
- on gold spans: the tagger reads exactly the gold finding text (isolates tagging from splitting);
- end to end: each gold finding is matched to the predicted finding covering most of it (as in
  score_findings.py) and that finding's tags are scored (a missed finding counts as untagged).
Focus is single-label: the first (best) focus tag is the prediction; per-label P/R/F1 and macro-F1.
Livelihood is multi-label: a gold ``null`` is the empty set; micro P/R/F1 over (finding, label) pairs.
Also printed: the classifier's held-out dev split of corpora/training/sample_labels.jsonl (the
project's own labels; every scheme), so the model's figure is reported on data it was not fitted on.

The eval-dev set is a development set (the taxonomy's cues were written with its conventions in
mind); a hidden set of the same kind checks generality.

Usage: python evaluation/score_tags.py [--verbose] [--no-model]
"""

from __future__ import annotations

import argparse
from collections import defaultdict

from common import EVAL_DEV, HELDOUT, eval_dev_text, read_jsonl

from nlp.normalize import fold_text
from nlp.pipeline import analyze_bytes
from nlp.tagging.classifier import TagClassifier, examples_from_rows
from nlp.tagging.combine import Tagger, default_model_dir
from nlp.tagging.training import BUNDLED_LABELS, is_dev, read_label_rows, score_tagger
from nlp.taxonomy import default_taxonomy

FOCUS = ["党的领导", "党的建设", "全面从严治党"]


def prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def report(title: str, gold: list[dict], predicted: list[dict], verbose: bool) -> dict[str, float]:
    print(f"\n== {title}  ({len(gold)} findings)")
    # focus
    f1s = []
    print(f"{'focus label':14s} {'P':>6s} {'R':>6s} {'F1':>6s} support")
    for label in FOCUS:
        tp = sum(1 for g, p in zip(gold, predicted, strict=True) if g["focus"] == label and p["focus"] == label)
        fp = sum(1 for g, p in zip(gold, predicted, strict=True) if g["focus"] != label and p["focus"] == label)
        fn = sum(1 for g, p in zip(gold, predicted, strict=True) if g["focus"] == label and p["focus"] != label)
        p_, r_, f_ = prf(tp, fp, fn)
        f1s.append(f_)
        print(f"{label:14s} {p_:6.3f} {r_:6.3f} {f_:6.3f} {tp + fn:7d}")
    macro = sum(f1s) / len(f1s)
    accuracy = sum(1 for g, p in zip(gold, predicted, strict=True) if g["focus"] == p["focus"]) / len(gold)
    print(f"focus macro-F1={macro:.3f}  accuracy={accuracy:.3f}")
    # livelihood
    tp = fp = fn = 0
    per: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for g, p in zip(gold, predicted, strict=True):
        gs = {g["livelihood"]} if g["livelihood"] else set()
        ps = set(p["livelihood"])
        for label in gs & ps:
            per[label][0] += 1
        for label in ps - gs:
            per[label][1] += 1
        for label in gs - ps:
            per[label][2] += 1
        tp, fp, fn = tp + len(gs & ps), fp + len(ps - gs), fn + len(gs - ps)
    lp, lr, lf = prf(tp, fp, fn)
    for label, (a, b, c) in sorted(per.items()):
        pp, rr, ff = prf(a, b, c)
        print(f"  livelihood {label:10s} P={pp:.3f} R={rr:.3f} F1={ff:.3f} (tp={a} fp={b} fn={c})")
    print(f"livelihood micro P={lp:.3f} R={lr:.3f} F1={lf:.3f}")
    if verbose:
        for g, p in zip(gold, predicted, strict=True):
            gl = {g["livelihood"]} if g["livelihood"] else set()
            if g["focus"] != p["focus"] or gl != set(p["livelihood"]):
                print(f"   gold={g['focus']}/{sorted(gl)} pred={p['focus']}/{sorted(p['livelihood'])}  {g['text'][:60]}")
                if p.get("evidence"):
                    print(f"      evidence: {p['evidence']}")
    return {"focus_macro_f1": macro, "livelihood_micro_f1": lf}


def summarize(tags: dict) -> dict:
    focus = tags.get("focus", [])
    return {
        "focus": focus[0]["label"] if focus else None,
        "livelihood": [row["label"] for row in tags.get("livelihood", [])],
        "evidence": [(row["label"], [e["text"] for e in row["evidence"]]) for row in focus[:2]],
    }


def end_to_end(gold: list[dict], tagger: Tagger) -> list[dict]:
    docs = {}
    out = []
    for row in gold:
        if row["doc"] not in docs:
            path = EVAL_DEV / "docs" / row["doc"]
            doc = analyze_bytes(eval_dev_text(path).encode("utf-8"), row["doc"], tagger=tagger)
            docs[row["doc"]] = doc
        doc = docs[row["doc"]]
        needle = fold_text(row["text"])
        start = doc.text.find(needle)
        end = start + len(needle)
        best = max(doc.findings, key=lambda f: min(end, f.end) - max(start, f.start), default=None)
        if start >= 0 and best and 2 * (min(end, best.end) - max(start, best.start)) > end - start:
            out.append(summarize(best.tags))
        else:
            out.append({"focus": None, "livelihood": []})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--verbose", "-v", action="store_true")
    ap.add_argument("--no-model", action="store_true", help="lexicon only, ignoring the stored classifier")
    args = ap.parse_args()
    taxonomy = default_taxonomy()
    classifier = None if args.no_model else TagClassifier.load(default_model_dir())
    tagger = Tagger(taxonomy, classifier)
    print(f"tagger: lexicon + {'classifier ' + classifier.meta.get('version', '?') if classifier else 'no classifier'}")
    gold = list(read_jsonl(EVAL_DEV / "gold_findings.jsonl"))
    on_gold = [summarize(t) for t in tagger.tag_texts([fold_text(g["text"]) for g in gold])]
    report("eval-dev, tagger on gold spans", gold, on_gold, args.verbose)
    report("eval-dev, end to end (splitter + tagger)", gold, end_to_end(gold, tagger), False)
    heldout = HELDOUT / "gold_tags.jsonl"
    if heldout.exists():
        rows = list(read_jsonl(heldout))
        tagged = [summarize(t) for t in tagger.tag_texts([fold_text(r["text"]) for r in rows])]
        report("heldout (labelled blind, never tuned on), tagger on gold spans", rows, tagged, args.verbose)
    if BUNDLED_LABELS.exists():
        rows = read_label_rows(BUNDLED_LABELS, taxonomy)
        dev = [e for e in examples_from_rows(rows, list(taxonomy.schemes)) if is_dev(e.text)]
        scores = score_tagger(tagger, dev)
        print(f"\n== corpora/training dev split ({len(dev)} findings, never fitted on)")
        print("  " + "  ".join(f"{k}={v:.3f}" for k, v in scores.items()))


if __name__ == "__main__":
    main()
