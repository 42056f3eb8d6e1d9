"""Collect the labelled findings of the real dev sets into ``real_labels.jsonl`` (training data of the
focus model, ``nlp/tagging/focus_model.py``).

The sources are the project's two sets of real public texts, ``../shared/eval-dev`` (9 texts, 43
findings) and ``../shared/eval-dev-2`` (18 texts, 180 findings), labelled there with 三个聚焦 and 民生领域
(see their README.md for the conventions). Each row keeps where it came from (``set``, ``doc``, the
finding's ``unit``) so training can hold whole documents out and a reader can trace a label back.

    python corpora/training/build_real_labels.py           # write real_labels.jsonl
    python corpora/training/build_real_labels.py --check   # fail if the file is out of date
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SHARED = HERE.parents[2] / "shared"
SETS = ("eval-dev", "eval-dev-2")
OUTPUT = HERE / "real_labels.jsonl"


def collect() -> list[dict]:
    rows = []
    for name in SETS:
        path = SHARED / name / "gold_findings.jsonl"
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            gold = json.loads(line)
            rows.append({
                "set": name,
                "doc": gold["doc"],
                "unit": gold.get("unit"),
                "text": gold["text"],
                "focus": gold["focus"],
                "livelihood": [gold["livelihood"]] if gold.get("livelihood") else [],
            })
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in collect())
    if args.check:
        same = OUTPUT.exists() and OUTPUT.read_text(encoding="utf-8") == text
        print("real_labels.jsonl is up to date" if same else "real_labels.jsonl is out of date", file=sys.stderr)
        return 0 if same else 1
    OUTPUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUTPUT} ({text.count(chr(10))} rows)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
