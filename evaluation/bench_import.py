"""`xuncha import` of a 问题清单 at the size an office holds: the whole command, end to end.

    python evaluation/bench_import.py [--rows 20000]

Builds a CSV of ``--rows`` distinct findings (recombined from real gold findings' clauses, with a
unit, a round and a status per row, as bench_search.py makes them), imports it through the real CLI
into a fresh SQLite library, then checks that a row is found by ``xuncha search``. Printed: the
import's wall time and rows/s, and in the same run the baseline — e5 embedding alone of 1,000 of the
rows, the floor no import can beat since every row needs a vector — with the ratio between them.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_search import synthetic_texts
from common import REPO

from nlp.embedders import make_embedder

ROUNDS = ["十四届县委第三轮", "十四届县委第四轮", "十四届县委第五轮", "十四届县委第六轮"]
UNITS = ["县教育局党组", "县住建局党组", "城关镇党委", "河口镇党委", "县医保局党组", "石桥村党支部", "县卫健局党组", "县水利局党组"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=20000)
    a = ap.parse_args()
    rng = random.Random(3)
    texts = synthetic_texts(a.rows, seed=7)
    work = Path(tempfile.mkdtemp(prefix="xuncha-bench-import-"))
    sheet = work / "问题清单.csv"
    with sheet.open("w", encoding="utf-8-sig", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["序号", "被巡察单位", "巡察轮次", "问题描述", "整改状态"])
        for i, text in enumerate(texts, 1):
            out.writerow([i, rng.choice(UNITS), rng.choice(ROUNDS), text, rng.choice(["已整改", "整改中", ""])])
    env = {**os.environ, "XUNCHA_DATA_DIR": str(work / "data")}
    env.pop("XUNCHA_DATABASE_URL", None)
    xuncha = [sys.executable, "-m", "service.cli.main"] if not (REPO / ".venv" / "bin" / "xuncha").exists() else [str(REPO / ".venv" / "bin" / "xuncha")]
    print(f"{a.rows} rows, {sheet.stat().st_size / 1e6:.1f} MB CSV", flush=True)
    t0 = time.perf_counter()
    done = subprocess.run([*xuncha, "import", str(sheet), "--format", "json"], env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    if done.returncode != 0:
        print(done.stderr[-2000:])
        raise SystemExit(1)
    report = json.loads(done.stdout)
    t0 = time.perf_counter()
    hits = json.loads(subprocess.run([*xuncha, "search", texts[len(texts) // 2], "--format", "json"], env=env,
                                     capture_output=True, text=True, check=True).stdout)
    t_search = time.perf_counter() - t0
    embedder = make_embedder()
    sample = texts[:1000]
    t0 = time.perf_counter()
    embedder.embed(sample)
    per_row = (time.perf_counter() - t0) / len(sample)
    floor = per_row * a.rows
    print(f"import: {report['findings']} findings stored, {len(report['skipped'])} rows skipped, "
          f"{wall:.0f} s ({report['findings'] / wall:.1f} rows/s)")
    print(f"baseline, e5 embedding alone: {1 / per_row:.1f} rows/s → {floor:.0f} s for {a.rows} rows; "
          f"import / embedding alone: {wall / floor:.2f}x")
    print(f"first search after the import (CLI, index built from the stored representation): {t_search:.1f} s; "
          f"the row searched for is hit #1: {bool(hits) and hits[0]['text'] == texts[len(texts) // 2]}")
    print(f"library size: {sum(p.stat().st_size for p in (work / 'data').rglob('*') if p.is_file()) / 1e6:.0f} MB ({work})")


if __name__ == "__main__":
    main()
