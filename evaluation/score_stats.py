"""Score the statistics extractor (``nlp.stats.extract_statistics``) against the dev gold.

Gold (../shared/eval-dev):
- ``gold_stats.jsonl``: every statistic of the 11 named metrics in docs/ and seeds 000, 002, 003,
  004 (seed 001 has none, so it is scored too: anything predicted there is a false positive);
- ``gold_stats_other.jsonl``: metric ``other`` only and NOT exhaustive, so only its recall is
  reported (a predicted ``other`` that is not in it may well be right).

Texts: eval-dev docs minus their SOURCE/DATE lines (``common.eval_dev_text``), seeds as they are,
both width-folded with ``nlp.normalize.fold_text`` (what the pipeline's normaliser does to digits);
the extractor runs on that text and gold quotes are located in the same text, so offsets agree.

A prediction matches a gold statistic when the metric agrees, the value agrees (floats within 0.005
relative) and the spans overlap; matching is one-to-one. Named-metric precision counts only
predictions of the 11 named metrics (a predicted ``other`` is never a named false positive).

Dev score (the cue table and window rules were developed reading these very texts, so this is a
training score, not an estimate for new reports):
    named metrics micro P=1.000 R=1.000 F1=1.000 (93 gold, 93 predicted), every metric 1.000;
    other recall 1.000 (36/36).

Usage: python evaluation/score_stats.py [--verbose]
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from common import EVAL_DEV, HELDOUT, SEEDS, eval_dev_text, read_jsonl

from nlp.normalize import fold_text
from nlp.stats import NAMED_METRICS, extract_statistics

OTHER = "other"


@dataclass
class Tally:
    gold: int = 0
    predicted: int = 0
    correct: int = 0

    @property
    def precision(self) -> float:
        return self.correct / self.predicted if self.predicted else 0.0

    @property
    def recall(self) -> float:
        return self.correct / self.gold if self.gold else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


@dataclass
class Result:
    per_metric: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    missed: list[tuple[str, dict]] = field(default_factory=list)
    spurious: list[tuple[str, dict]] = field(default_factory=list)
    other_missed: list[tuple[str, dict]] = field(default_factory=list)
    other_gold: int = 0
    other_found: int = 0


def texts() -> dict[str, str]:
    """Every scored document, by the name gold rows use, as the extractor sees it."""
    docs = {p.name: fold_text(eval_dev_text(p)) for p in sorted((EVAL_DEV / "docs").glob("*.txt"))}
    for p in sorted(Path(SEEDS).glob("*.txt")):
        docs[p.name] = fold_text(p.read_text(encoding="utf-8"))
    return docs


def _locate(text: str, quote: str, taken: set[tuple[int, int]]) -> tuple[int, int] | None:
    """The first not yet used occurrence of a gold quote."""
    needle = fold_text(quote)
    i = text.find(needle)
    while i >= 0:
        span = (i, i + len(needle))
        if span not in taken:
            return span
        i = text.find(needle, i + 1)
    return None


def _same_value(a: float, b: float) -> bool:
    return a == b or abs(a - b) <= 0.005 * max(abs(a), abs(b))


def _matches(pred: dict, gold: dict, span: tuple[int, int]) -> bool:
    return (
        pred["metric"] == gold["metric"]
        and _same_value(float(pred["value"]), float(gold["value"]))
        and pred["start"] < span[1]
        and span[0] < pred["end"]
    )


def score(docs: dict[str, str], gold: list[dict], gold_other: list[dict]) -> Result:
    res = Result()
    gold_by_doc: dict[str, list[dict]] = defaultdict(list)
    for row in gold:
        gold_by_doc[row["doc"]].append(row)
    other_by_doc: dict[str, list[dict]] = defaultdict(list)
    for row in gold_other:
        other_by_doc[row["doc"]].append(row)
    for name, text in docs.items():
        preds = extract_statistics(text)
        used: set[int] = set()
        taken: set[tuple[int, int]] = set()
        for row in gold_by_doc.get(name, []):
            span = _locate(text, row["quote"], taken)
            if span is None:
                print(f"  ! gold quote not found in {name}: {row['quote']}")
                continue
            taken.add(span)
            res.per_metric[row["metric"]].gold += 1
            hit = next((i for i, p in enumerate(preds) if i not in used and _matches(p, row, span)), None)
            if hit is None:
                res.missed.append((name, row))
            else:
                used.add(hit)
                res.per_metric[row["metric"]].correct += 1
        for i, p in enumerate(preds):
            if p["metric"] == OTHER:
                continue
            res.per_metric[p["metric"]].predicted += 1
            if i not in used:
                res.spurious.append((name, p))
        other_taken: set[tuple[int, int]] = set()
        for row in other_by_doc.get(name, []):
            span = _locate(text, row["quote"], other_taken)
            if span is None:
                print(f"  ! other quote not found in {name}: {row['quote']}")
                continue
            other_taken.add(span)
            res.other_gold += 1
            hit = next((i for i, p in enumerate(preds) if i not in used and _matches(p, row, span)), None)
            if hit is None:
                res.other_missed.append((name, row))
            else:
                used.add(hit)
                res.other_found += 1
    return res


def report(res: Result, verbose: bool) -> None:
    print(f"{'metric':22s} {'P':>6s} {'R':>6s} {'F1':>6s} {'gold':>5s} {'pred':>5s}")
    micro = Tally()
    for metric in NAMED_METRICS:
        t = res.per_metric[str(metric)]
        micro.gold += t.gold
        micro.predicted += t.predicted
        micro.correct += t.correct
        print(f"{metric:22s} {t.precision:6.3f} {t.recall:6.3f} {t.f1:6.3f} {t.gold:5d} {t.predicted:5d}")
    print(f"{'micro (11 named)':22s} {micro.precision:6.3f} {micro.recall:6.3f} {micro.f1:6.3f} "
          f"{micro.gold:5d} {micro.predicted:5d}")
    recall = res.other_found / res.other_gold if res.other_gold else 0.0
    print(f"other: recall {recall:.3f} ({res.other_found}/{res.other_gold}; gold not exhaustive, no precision)")
    if verbose:
        for name, row in res.missed:
            print(f"  MISSED   {name}: {row['metric']} {row['value']} 「{row['quote']}」")
        for name, p in res.spurious:
            print(f"  SPURIOUS {name}: {p['metric']} {p['value']} 「{p['quote']}」")
        for name, row in res.other_missed:
            print(f"  MISSED other {name}: {row['value']} 「{row['quote']}」")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--verbose", "-v", action="store_true", help="list every miss and false positive")
    ap.add_argument("--set", choices=["dev", "heldout", "all"], default="all")
    args = ap.parse_args()
    if args.set in ("dev", "all"):
        print("== dev: ../shared/eval-dev docs + seeds (rules written while reading them)")
        gold = list(read_jsonl(EVAL_DEV / "gold_stats.jsonl"))
        gold_other = list(read_jsonl(EVAL_DEV / "gold_stats_other.jsonl"))
        report(score(texts(), gold, gold_other), args.verbose)
    if args.set in ("heldout", "all") and (HELDOUT / "gold_stats.jsonl").exists():
        print("\n== heldout: evaluation/heldout (annotated blind, never tuned on; first score: P 0.968 R 1.000 F1 0.984)")
        docs = {p.name: fold_text(p.read_text(encoding="utf-8")) for p in sorted((HELDOUT / "docs").glob("*.txt"))}
        report(score(docs, list(read_jsonl(HELDOUT / "gold_stats.jsonl")), []), args.verbose)


if __name__ == "__main__":
    main()
