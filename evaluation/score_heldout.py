"""Score the product on the project's own held-out set with the official black-box scorer.

``evaluation/heldout`` keeps its gold in three files written by two blind annotators (findings, then
their tags and the statistics), so ``../shared/tools/score_real.py`` cannot read it as it stands. This
assembles a set in its format in a temporary folder — the docs, each gold finding with its focus and
livelihood from ``gold_tags.jsonl`` (same order, same text), the statistics — and runs the scorer on it
through the CLI, so the held-out figures come from the same matching as the dev sets'.

    python evaluation/score_heldout.py [--xuncha .venv/bin/xuncha] [--json]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from common import HELDOUT, REPO, SHARED, read_jsonl

SCORER = SHARED / "tools" / "score_real.py"


def assemble(target: Path) -> Path:
    """Write the held-out set in score_real's format under ``target``; return the set folder."""
    findings = list(read_jsonl(HELDOUT / "gold_findings.jsonl"))
    tags = list(read_jsonl(HELDOUT / "gold_tags.jsonl"))
    if len(findings) != len(tags) or any(f["text"] != t["text"] or f["doc"] != t["doc"] for f, t in zip(findings, tags, strict=True)):
        sys.exit("evaluation/heldout: gold_tags.jsonl no longer lines up with gold_findings.jsonl (same order, same text)")
    folder = target / "heldout"
    shutil.copytree(HELDOUT / "docs", folder / "docs")
    shutil.copy(HELDOUT / "gold_stats.jsonl", folder / "gold_stats.jsonl")
    with (folder / "gold_findings.jsonl").open("w", encoding="utf-8") as out:
        for f, t in zip(findings, tags, strict=True):
            out.write(json.dumps({**f, "focus": t["focus"], "livelihood": t["livelihood"]}, ensure_ascii=False) + "\n")
    return folder


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--xuncha", default=str(REPO / ".venv" / "bin" / "xuncha"))
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    if not SCORER.exists():
        sys.exit(f"no scorer at {SCORER}")
    with tempfile.TemporaryDirectory(prefix="heldout_set_") as tmp:
        folder = assemble(Path(tmp))
        cmd = [sys.executable, str(SCORER), str(folder), "--xuncha", a.xuncha] + (["--json"] if a.json else [])
        sys.exit(subprocess.run(cmd).returncode)


if __name__ == "__main__":
    main()
