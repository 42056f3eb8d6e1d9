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

from common import EVAL_DEV, HELDOUT, SHARED, eval_dev_text, read_jsonl
from sklearn.metrics import accuracy_score, precision_recall_fscore_support
from sklearn.preprocessing import MultiLabelBinarizer

from nlp.concepts import default_thesaurus
from nlp.normalize import fold_text
from nlp.pipeline import analyze_bytes
from nlp.tagging.classifier import TagClassifier, examples_from_rows
from nlp.tagging.combine import Tagger, default_model_dir
from nlp.tagging.focus_model import FocusModel
from nlp.tagging.training import BUNDLED_LABELS, is_dev, read_label_rows, score_tagger
from nlp.taxonomy import default_taxonomy

FOCUS = ["党的领导", "党的建设", "全面从严治党"]


def report(title: str, gold: list[dict], predicted: list[dict], verbose: bool) -> dict[str, float]:
    """Focus per label and macro (single-label; a missing focus counts against recall) and livelihood
    micro and per label (multi-label through MultiLabelBinarizer), with scikit-learn's metrics."""
    print(f"\n== {title}  ({len(gold)} findings)")
    g_focus = [g["focus"] or "none" for g in gold]
    p_focus = [p["focus"] or "none" for p in predicted]
    prec, rec, f1, support = precision_recall_fscore_support(g_focus, p_focus, labels=list(FOCUS), zero_division=0)
    print(f"{'focus label':14s} {'P':>6s} {'R':>6s} {'F1':>6s} support")
    for label, p_, r_, f_, n in zip(FOCUS, prec, rec, f1, support, strict=True):
        print(f"{label:14s} {p_:6.3f} {r_:6.3f} {f_:6.3f} {n:7d}")
    macro = float(f1.mean())
    print(f"focus macro-F1={macro:.3f}  accuracy={accuracy_score(g_focus, p_focus):.3f}  "
          f"no focus {p_focus.count('none') / len(gold):.0%}")
    g_live = [{g["livelihood"]} if g["livelihood"] else set() for g in gold]
    p_live = [set(p["livelihood"]) for p in predicted]
    mlb = MultiLabelBinarizer().fit(g_live + p_live)
    G, P = mlb.transform(g_live), mlb.transform(p_live)
    lp, lr, lf, _ = precision_recall_fscore_support(G, P, average="micro", zero_division=0)
    for label, pp, rr, ff, n in zip(mlb.classes_, *precision_recall_fscore_support(G, P, average=None, zero_division=0), strict=True):
        print(f"  livelihood {label:10s} P={pp:.3f} R={rr:.3f} F1={ff:.3f} (support {n})")
    print(f"livelihood micro P={lp:.3f} R={lr:.3f} F1={lf:.3f}")
    if verbose:
        for g, p, gl in zip(gold, predicted, g_live, strict=True):
            if g["focus"] != p["focus"] or gl != set(p["livelihood"]):
                print(f"   gold={g['focus']}/{sorted(gl)} pred={p['focus']}/{sorted(p['livelihood'])}  {g['text'][:60]}")
                if p.get("evidence"):
                    print(f"      evidence: {p['evidence']}")
    return {"focus_macro_f1": macro, "livelihood_micro_f1": float(lf)}


def summarize(tags: dict) -> dict:
    focus = tags.get("focus", [])
    return {
        "focus": focus[0]["label"] if focus else None,
        "livelihood": [row["label"] for row in tags.get("livelihood", [])],
        "evidence": [(row["label"], [e["text"] for e in row["evidence"]]) for row in focus[:2]],
    }


def with_units(rows: list[dict], units: dict[tuple[str, str], str | None], tagger: Tagger) -> list[dict]:
    """Tag gold spans as findings of their document with their gold unit (``Tagger.tag_document``), so
    the livelihood rules that read the unit take part, as they do in the pipeline."""
    from nlp.model import Finding, MediaType, ReportDoc

    out = []
    for row in rows:
        text = fold_text(row["text"])
        doc = ReportDoc(source=row["doc"], media_type=MediaType.TEXT, text=text, page_starts=[0])
        doc.findings.append(Finding(id="F001", text=text, start=0, end=len(text), page=1, unit=units.get((row["doc"], row["text"]))))
        tagger.tag_document(doc)
        out.append(summarize(doc.findings[0].tags))
    return out


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
    ap.add_argument("--no-model", action="store_true", help="ignore the stored classifier")
    ap.add_argument("--no-concepts", action="store_true", help="leave the concept families' votes out")
    ap.add_argument("--no-focus-model", action="store_true", help="the rule scores decide the focus")
    args = ap.parse_args()
    taxonomy = default_taxonomy()
    classifier = None if args.no_model else TagClassifier.load(default_model_dir())
    focus_model = None if args.no_focus_model else FocusModel.load(default_model_dir())
    tagger = Tagger(taxonomy, classifier, thesaurus=None if args.no_concepts else default_thesaurus(), focus_model=focus_model)
    print(f"tagger: lexicon{'' if args.no_concepts else ' + concepts'} + "
          f"{'classifier ' + classifier.meta.get('version', '?') if classifier else 'no classifier'}"
          f"{' + focus model ' + focus_model.meta.get('version', '?') if focus_model else ''}")
    if focus_model:
        cv, held = focus_model.meta.get("grouped_cv", {}), focus_model.meta.get("heldout", {})
        print(f"focus model: trained on {focus_model.meta.get('n_rows')} real findings of {focus_model.meta.get('n_documents')} "
              f"documents (eval-dev and eval-dev-2: the figures below on those sets are in-sample for focus).\n"
              f"  document-grouped {6}-fold CV: macro-F1 {cv.get('macro_f1', 0):.3f} (rules alone "
              f"{focus_model.meta.get('rules_grouped_cv', {}).get('macro_f1', 0):.3f}), ECE {cv.get('ece', 0):.3f}, "
              f"review flag on {cv.get('review_share', 0):.0%} (accuracy {cv.get('accuracy_flagged', 0):.0%} flagged / "
              f"{cv.get('accuracy_unflagged', 0):.0%} not)\n"
              f"  blind held-out set: macro-F1 {held.get('macro_f1', 0):.3f} (rules alone {held.get('rules_macro_f1', 0):.3f})")
    gold = list(read_jsonl(EVAL_DEV / "gold_findings.jsonl"))
    on_gold = [summarize(t) for t in tagger.tag_texts([fold_text(g["text"]) for g in gold])]
    report("eval-dev, tagger on gold spans", gold, on_gold, args.verbose)
    report("eval-dev, end to end (splitter + tagger)", gold, end_to_end(gold, tagger), False)
    dev2 = SHARED / "eval-dev-2" / "gold_findings.jsonl"
    if dev2.exists():
        rows = list(read_jsonl(dev2))
        tagged = [summarize(t) for t in tagger.tag_texts([fold_text(r["text"]) for r in rows])]
        report("eval-dev-2, tagger on gold spans (no unit context)", rows, tagged, args.verbose)
        units = {(r["doc"], r["text"]): r.get("unit") for r in rows}
        report("eval-dev-2, gold spans with their gold unit", rows, with_units(rows, units, tagger), False)
    heldout = HELDOUT / "gold_tags.jsonl"
    if heldout.exists():
        rows = list(read_jsonl(heldout))
        tagged = [summarize(t) for t in tagger.tag_texts([fold_text(r["text"]) for r in rows])]
        report("heldout (labelled blind, never trained on; its livelihood misses were read on 2026-12-03), tagger on gold spans", rows, tagged, args.verbose)
        units = {(r["doc"], r["text"]): r.get("unit") for r in read_jsonl(HELDOUT / "gold_findings.jsonl")}
        report("heldout, gold spans with their gold unit", rows, with_units(rows, units, tagger), False)
    if BUNDLED_LABELS.exists():
        rows = read_label_rows(BUNDLED_LABELS, taxonomy)
        dev = [e for e in examples_from_rows(rows, list(taxonomy.schemes)) if is_dev(e.text)]
        scores = score_tagger(tagger, dev)
        print(f"\n== corpora/training dev split ({len(dev)} findings, never fitted on)")
        print("  " + "  ".join(f"{k}={v:.3f}" for k, v in scores.items()))


if __name__ == "__main__":
    main()
