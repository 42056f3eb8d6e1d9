"""Score the finding splitter against gold findings.

Three gold sets:
- dev: ../shared/eval-dev (real public texts). The splitter's rules were developed looking at these.
- samples: corpora/samples/gold_findings.jsonl (the project's sample corpus, labelled by another
  author). Held out for the first measurement (recall 0.852, precision 0.784, F1 0.817); its errors
  were then studied, so it is a development set too now.
- heldout: evaluation/heldout/ (written blind, without reading the splitter). Its first score is kept
  in the report label; its errors were studied afterwards, so for findings it is no longer blind.
  (Its statistics and tag labels, scored in score_stats.py / score_tags.py, are still blind.)

Measures (printed per set and per document):
- recall (the issue's rule): a gold finding is found when ONE predicted finding covers more than half
  of its characters;
- precision: a predicted finding is correct when more than half of its characters lie inside gold
  findings of the same document (documents without gold findings count every prediction as wrong);
- strict F1: one-to-one, both directions more than half (a predicted finding that merges two gold
  findings, or covers only a sliver of one, does not count);
- unit accuracy: among found gold findings that name a unit, the share whose predicted unit matches
  (one name containing the other, as 高要区委政法委 / 区委政法委).

Usage: python evaluation/score_findings.py [--set dev|samples|heldout|all] [--verbose]
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from dataclasses import dataclass, field

from common import EVAL_DEV, HELDOUT, SAMPLES, eval_dev_text, read_jsonl

from nlp.normalize import fold_text
from nlp.pipeline import analyze_bytes, analyze_file


@dataclass
class DocScore:
    gold: int = 0
    found: int = 0
    predicted: int = 0
    correct_pred: int = 0
    strict: int = 0
    unit_total: int = 0
    unit_ok: int = 0
    missed: list[str] = field(default_factory=list)
    spurious: list[str] = field(default_factory=list)


def _overlap(a: tuple[int, int], b: tuple[int, int]) -> int:
    return max(0, min(a[1], b[1]) - max(a[0], b[0]))


def _locate(doc_text: str, gold_text: str) -> tuple[int, int] | None:
    needle = fold_text(gold_text)
    i = doc_text.find(needle)
    if i < 0:
        # tolerate a line break the normaliser joined or kept
        compact = needle.replace("\n", "")
        i = doc_text.replace("\n", "").find(compact)
        if i < 0:
            return None
        # map back: count characters including newlines
        seen = -1
        for j, ch in enumerate(doc_text):
            if ch != "\n":
                seen += 1
            if seen == i:
                return j, j + len(needle) + doc_text[j : j + len(needle) * 2].count("\n")
        return None
    return i, i + len(needle)


def _unit_match(pred: str | None, gold: str | None) -> bool:
    if not pred or not gold:
        return False
    return pred in gold or gold in pred or any(p in gold for p in pred.split("、") if len(p) >= 3)


def score(docs: dict[str, object], gold_rows: list[dict], verbose: bool) -> dict[str, DocScore]:
    by_doc: dict[str, list[dict]] = defaultdict(list)
    for row in gold_rows:
        by_doc[row.get("doc") or row["file"]].append(row)
    scores: dict[str, DocScore] = {}
    for name, doc in docs.items():
        s = DocScore()
        preds = [(f.start, f.end, f) for f in doc.findings]  # type: ignore[attr-defined]
        spans = []
        for row in by_doc.get(name, []):
            span = _locate(doc.text, row["text"])  # type: ignore[attr-defined]
            if span is None:
                print(f"  ! gold text not found in {name}: {row['text'][:30]}")
                continue
            spans.append((span, row))
        s.gold, s.predicted = len(spans), len(preds)
        for span, row in spans:
            glen = span[1] - span[0]
            best = max(preds, key=lambda p: _overlap(span, (p[0], p[1])), default=None)
            if best and _overlap(span, (best[0], best[1])) * 2 > glen:
                s.found += 1
                if row.get("unit"):
                    s.unit_total += 1
                    s.unit_ok += _unit_match(best[2].unit, row["unit"])
                if _overlap(span, (best[0], best[1])) * 2 > best[1] - best[0]:
                    s.strict += 1
            else:
                s.missed.append(row["text"])
        for p in preds:
            inside = sum(_overlap((p[0], p[1]), span) for span, _ in spans)
            if inside * 2 > p[1] - p[0]:
                s.correct_pred += 1
            else:
                s.spurious.append(p[2].text)
        scores[name] = s
    return scores


def report(title: str, scores: dict[str, DocScore], verbose: bool) -> None:
    tot = DocScore()
    print(f"\n== {title}")
    print(f"{'document':52s} gold found  pred  ok  recall  precision")
    for name, s in sorted(scores.items()):
        for attr in ("gold", "found", "predicted", "correct_pred", "strict", "unit_total", "unit_ok"):
            setattr(tot, attr, getattr(tot, attr) + getattr(s, attr))
        r = s.found / s.gold if s.gold else float("nan")
        p = s.correct_pred / s.predicted if s.predicted else float("nan")
        print(f"{name[:52]:52s} {s.gold:4d} {s.found:5d} {s.predicted:5d} {s.correct_pred:3d}  {r:6.3f}  {p:9.3f}")
        if verbose:
            for m in s.missed:
                print(f"     MISSED   {m}")
            for m in s.spurious:
                print(f"     SPURIOUS {m[:90]}")
    recall = tot.found / tot.gold if tot.gold else 0.0
    precision = tot.correct_pred / tot.predicted if tot.predicted else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    sp = tot.strict / tot.predicted if tot.predicted else 0.0
    sr = tot.strict / tot.gold if tot.gold else 0.0
    sf1 = 2 * sp * sr / (sp + sr) if sp + sr else 0.0
    unit = tot.unit_ok / tot.unit_total if tot.unit_total else 0.0
    print(f"TOTAL gold={tot.gold} predicted={tot.predicted}")
    print(f"  recall={recall:.3f}  precision={precision:.3f}  F1={f1:.3f}")
    print(f"  strict one-to-one: P={sp:.3f} R={sr:.3f} F1={sf1:.3f}   unit accuracy={unit:.3f} ({tot.unit_ok}/{tot.unit_total})")


def dev_docs() -> dict[str, object]:
    return {
        p.name: analyze_bytes(eval_dev_text(p).encode("utf-8"), p.name, tagger=None)
        for p in sorted((EVAL_DEV / "docs").glob("*.txt"))
    }


def heldout_docs() -> dict[str, object]:
    return {p.name: analyze_file(p, tagger=None) for p in sorted((HELDOUT / "docs").glob("*.txt"))}


def samples_docs() -> dict[str, object]:
    manifest = list(read_jsonl(SAMPLES / "manifest.jsonl"))
    return {row["file"]: analyze_file(SAMPLES / row["file"], tagger=None) for row in manifest}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--set", choices=["dev", "samples", "heldout", "all"], default="all")
    ap.add_argument("--verbose", "-v", action="store_true")
    args = ap.parse_args()
    if args.set in ("dev", "all") and (EVAL_DEV / "gold_findings.jsonl").exists():
        gold = list(read_jsonl(EVAL_DEV / "gold_findings.jsonl"))
        report("dev: ../shared/eval-dev (rules developed on it)", score(dev_docs(), gold, args.verbose), args.verbose)
    if args.set in ("samples", "all") and (SAMPLES / "gold_findings.jsonl").exists():
        gold = list(read_jsonl(SAMPLES / "gold_findings.jsonl"))
        report("samples: corpora/samples (development set after its first measurement)", score(samples_docs(), gold, args.verbose), args.verbose)
    if args.set in ("heldout", "all") and (HELDOUT / "gold_findings.jsonl").exists():
        gold = list(read_jsonl(HELDOUT / "gold_findings.jsonl"))
        report("heldout: evaluation/heldout (written blind; first score recall 0.826 P 0.885 F1 0.855, strict F1 0.675; errors studied since)", score(heldout_docs(), gold, args.verbose), args.verbose)


if __name__ == "__main__":
    main()
