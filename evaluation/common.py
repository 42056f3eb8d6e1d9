"""Shared helpers for the scoring and benchmark scripts: where the data sets live, how to load them."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
EVAL_DEV = SHARED / "eval-dev"
SEEDS = SHARED / "seeds"
SAMPLES = REPO / "corpora" / "samples"
HELDOUT = REPO / "evaluation" / "heldout"

if str(REPO) not in sys.path:  # allow `python evaluation/x.py` from a checkout without install
    sys.path.insert(0, str(REPO))


def read_jsonl(path: Path) -> Iterator[dict]:
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)


def eval_dev_text(path: Path) -> str:
    """The article text of an eval-dev file: lines 1-2 are SOURCE:/DATE: metadata, not report text."""
    lines = path.read_text(encoding="utf-8").split("\n")
    if lines and lines[0].startswith("SOURCE:"):
        lines = lines[2:] if len(lines) > 1 and lines[1].startswith("DATE:") else lines[1:]
    return "\n".join(lines)
