"""Scale benchmark on synthetic corpora: store writes, segmentation, search and clustering.

A synthetic corpus of N findings is recombined from the clauses of the 156 sample-corpus findings
(corpora/samples/gold_findings.jsonl): each synthetic finding takes 1-3 clauses of findings of ONE
issue and keeps that ``issue`` key, so clusters have a known answer. Findings come in synthetic
documents of 5-15 findings (~10), each document with one unit (of 300) and one round (of 8).
The corpus is a pure function of (N, seed), so every step rebuilds the same one.

Per size, every measured step runs in its own subprocess (fresh interpreter, own peak RSS, a
timeout), and prints:

- store: findings/s written to a fresh SQLite database (Alembic schema, WAL) in a temp dir with
  SQLAlchemy Core bulk inserts, one transaction per synthetic document (its document row, then its
  findings in one executemany; no tags). Baseline row, once: the real ``ingest_bytes`` (ORM, tags,
  statistics, file store) on the 17 sample files, analysed beforehand (analysis time shown apart).
- segment: ``cut`` of every finding with jieba (baseline) and rjieba, MB/s and ratio.
- search: ``SearchIndex.build`` time, then hybrid-mode latency p50/p95 over 200 queries made from
  sample findings (about a fifth of the tokens dropped, one adjacent pair swapped), and the share
  of the top 10 hits that carry the query's issue. Ratios against the smallest size.
- cluster: the TF-IDF + SVD vectors (``nlp.vectors.embed``, dim 128) are computed once and saved;
  on them ``cluster_findings`` (with labels), the BERTopic-style baseline sklearn
  HDBSCAN(min_cluster_size=2) (noise points count as singletons for ARI) and MiniBatchKMeans alone
  (k = N/20, as in ``nlp.cluster``). Time, peak RSS growth during the step (VmHWM reset through
  /proc/self/clear_refs, else ru_maxrss), ARI against the issue keys, singletons or noise share.
  Ratios against HDBSCAN. HDBSCAN is skipped above ``--hdbscan-max`` findings and bounded by
  ``--hdbscan-timeout``; every other step by ``--timeout``. What is skipped is printed, and why.

Usage: python evaluation/bench_corpus.py [--sizes 10000,100000] [--timeout 900]
       [--hdbscan-timeout 300] [--hdbscan-max 200000] [--save evaluation/bench_results/x.json]

Figures (2 cores, 24 GiB, ``--sizes 10000,100000``; output kept in evaluation/bench_results/):

- store: ingest_bytes on the 17 real files 148 findings in 0.39 s = 381 findings/s, 44 docs/s
  (their analysis beforehand: 2.8 s, 6 docs/s); Core bulk, one transaction per document:
  10k 24,134 findings/s (63x), 100k 24,869 findings/s (65x, 2,499 docs/s, 26 MiB database).
- segment: jieba 2.1 MB/s, rjieba 43.8 / 44.4 MB/s (x20.7 at 10k, x21.5 at 100k; 6.8 MB,
  1.23 M tokens, identical token counts).
- search: build 3.8 s (10k) / 26.0 s (100k, +685 MiB); hybrid p50 5.3 ms, p95 23.9 ms (10k) and
  p50 4.2 ms, p95 5.3 ms (100k); issue P@10 0.852 / 0.989. (Before each ranking was cut to a
  bounded candidate pool, near-duplicate checks ran over all n findings: p50 54 / 580 ms.)
- cluster, 10k: vectors 1.9 s; HDBSCAN 2.78 s, ARI 0.382, noise 1.8%, 1400 clusters;
  cluster_findings 1.06 s (0.38x HDBSCAN), +155 MiB, ARI 0.744, 94 clusters, 43 singletons;
  MiniBatchKMeans alone 0.06 s, ARI 0.487.
- cluster, 100k: vectors 16.0-26.5 s (+555 MiB); HDBSCAN timed out (120 s and 300 s limits);
  cluster_findings 6.1-9.3 s, +309 MiB, ARI 0.743, 595 clusters, 545 singletons (0.5%);
  MiniBatchKMeans alone 3.3-7.9 s, +40 MiB, ARI 0.376.
- 1M (``--sizes 1000000``, bench_results/bench_corpus_1m.txt): store 22,222 findings/s (261 MiB db);
  rjieba 43.2 vs jieba 1.96 MB/s (x22.1); search build 256 s (+5.2 GiB), hybrid p50 39.8 ms, p95
  55.9 ms (goal 50), issue P@10 0.989; vectors 162 s (+4.0 GiB); cluster_findings 48.7 s, +2.1 GiB,
  ARI 0.757, 0.6% singletons; MiniBatchKMeans alone (k=50,000) 299 s, ARI 0.313; HDBSCAN skipped.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common import SAMPLES, read_jsonl

SEED = 0
N_UNITS = 300
N_ROUNDS = 8
N_QUERIES = 200
_CLAUSE = re.compile(r"[，、；。,;：:]")


# --- the synthetic corpus ------------------------------------------------------------------


@dataclass(frozen=True)
class SynthFinding:
    id: str
    text: str
    issue: str
    unit: str
    round: int


@dataclass
class SynthDoc:
    id: str
    unit: str
    round: int
    findings: list[SynthFinding]


def gold_rows() -> list[dict[str, Any]]:
    return list(read_jsonl(SAMPLES / "gold_findings.jsonl"))


def synthetic_corpus(n: int, seed: int = SEED) -> list[SynthDoc]:
    """Documents of 5-15 findings, ``n`` findings in all, each recombined from one issue's clauses."""
    rng = random.Random(seed)
    by_issue: dict[str, list[str]] = {}
    for row in gold_rows():
        clauses = [c.strip() for c in _CLAUSE.split(row["text"]) if len(c.strip()) >= 4]
        by_issue.setdefault(row["issue"], []).extend(clauses or [row["text"]])
    issues = sorted(by_issue)
    docs: list[SynthDoc] = []
    made = 0
    while made < n:
        size = min(n - made, rng.randint(5, 15))
        unit, rnd = f"县第{rng.randrange(N_UNITS)}单位党组", rng.randint(1, N_ROUNDS)
        findings = []
        for _ in range(size):
            issue = rng.choice(issues)
            pool = by_issue[issue]
            text = "，".join(rng.sample(pool, k=min(len(pool), rng.randint(1, 3))))
            findings.append(SynthFinding(f"x{made:07d}", text, issue, unit, rnd))
            made += 1
        docs.append(SynthDoc(f"d{len(docs):06d}", unit, rnd, findings))
    return docs


def all_findings(docs: list[SynthDoc]) -> list[SynthFinding]:
    return [f for d in docs for f in d.findings]


def make_queries(n: int = N_QUERIES, seed: int = SEED) -> list[tuple[str, str]]:
    """``(query, issue)`` from sample findings: ~20% of the tokens dropped, one adjacent pair swapped."""
    from nlp.segment import make_segmenter

    rng = random.Random(seed + 1)
    seg = make_segmenter("rjieba")
    rows = gold_rows()
    out = []
    for i in range(n):
        row = rows[i % len(rows)]
        tokens = [t for t in seg.cut(row["text"]) if t.strip()]
        kept = [t for t in tokens if rng.random() > 0.2] or tokens
        if len(kept) > 2:
            j = rng.randrange(len(kept) - 1)
            kept[j], kept[j + 1] = kept[j + 1], kept[j]
        out.append(("".join(kept), row["issue"]))
    return out


# --- measuring -----------------------------------------------------------------------------


def _status_kib(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def measure(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    """``fn()``, its wall time in seconds and the growth of peak RSS (MiB) over RSS at its start."""
    before = _status_kib("VmRSS")
    try:
        Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
        peak_of: Callable[[], int] = lambda: _status_kib("VmHWM")  # noqa: E731
    except OSError:
        peak_of = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # noqa: E731
    t0 = time.perf_counter()
    out = fn()
    dt = time.perf_counter() - t0
    return out, dt, max(0, peak_of() - before) / 1024


# --- steps (each runs in a child process and returns a JSON-able dict) ---------------------


def step_ingest(n: int, work: Path) -> dict[str, Any]:
    """The real path on the 17 sample files: analyse (default tagger), then time ingest_bytes."""
    from sqlalchemy.orm import Session

    from nlp.pipeline import analyze_bytes
    from service.store.db import make_engine, upgrade
    from service.store.repository import ingest_bytes

    files = sorted(p for p in SAMPLES.iterdir() if p.suffix in {".pdf", ".docx", ".txt"} and p.name[0] == "r")
    datas = [(p, p.read_bytes()) for p in files]
    t0 = time.perf_counter()
    docs = [analyze_bytes(data, str(p)) for p, data in datas]
    t_analyse = time.perf_counter() - t0
    engine = make_engine(f"sqlite:///{work / 'ingest.db'}")
    upgrade(engine)
    stored = 0

    def run() -> int:
        count = 0
        with Session(engine, expire_on_commit=False) as session:
            for (p, data), doc in zip(datas, docs, strict=True):
                count += ingest_bytes(session, data, str(p), doc, work / "files").findings
        return count

    stored, dt, mem = measure(run)
    return {"docs": len(files), "findings": stored, "seconds": dt, "analyse_seconds": t_analyse, "peak_mib": mem}


def step_store(n: int, work: Path) -> dict[str, Any]:
    import hashlib

    from sqlalchemy import insert

    from service.store import models
    from service.store.db import make_engine, upgrade

    docs = synthetic_corpus(n)
    engine = make_engine(f"sqlite:///{work / f'store_{n}.db'}")
    upgrade(engine)
    with engine.begin() as conn:
        conn.execute(insert(models.Unit), [{"name": f"县第{i}单位党组", "aliases": []} for i in range(N_UNITS)])
        conn.execute(insert(models.InspectionRound), [{"label": f"第{r}轮", "number": r} for r in range(1, N_ROUNDS + 1)])
        unit_id = {name: i for i, name in conn.execute(models.Unit.__table__.select().with_only_columns(
            models.Unit.id, models.Unit.name))}
        round_id = {num: i for i, num in conn.execute(models.InspectionRound.__table__.select().with_only_columns(
            models.InspectionRound.id, models.InspectionRound.number))}

    def run() -> int:
        written = 0
        for d in docs:
            text = "\n".join(f.text for f in d.findings)
            with engine.begin() as conn:  # one transaction per document, as ingest_bytes does
                result = conn.execute(insert(models.Document).values(
                    sha256=hashlib.sha256(d.id.encode()).hexdigest(), source_name=f"{d.id}.txt",
                    stored_path=f"files/{d.id}.txt", size=len(text.encode()), media_type="txt",
                    title=None, kind="常规巡察", date=None, round_id=round_id[d.round], text=text,
                    page_starts=[0], encoding="utf-8", backend="txt",
                ))
                doc_id = result.inserted_primary_key[0]  # type: ignore[index]
                rows, start = [], 0
                for k, f in enumerate(d.findings, start=1):
                    rows.append({
                        "document_id": doc_id, "local_id": f"F{k:03d}", "text": f.text, "start": start,
                        "end": start + len(f.text), "page": 1, "unit_id": unit_id[d.unit],
                        "round_id": round_id[d.round], "section": None, "marker": f"{k}.", "detail": None,
                    })
                    start += len(f.text) + 1
                conn.execute(insert(models.Finding), rows)
                written += len(rows)
        return written

    written, dt, mem = measure(run)
    size_mib = (work / f"store_{n}.db").stat().st_size / 2**20
    return {"docs": len(docs), "findings": written, "seconds": dt, "peak_mib": mem, "db_mib": size_mib}


def step_segment(n: int, work: Path) -> dict[str, Any]:
    from nlp.segment import make_segmenter

    texts = [f.text for f in all_findings(synthetic_corpus(n))]
    mb = sum(len(t.encode("utf-8")) for t in texts) / 2**20
    out: dict[str, Any] = {"mb": mb}
    for name in ("jieba", "rjieba"):
        seg = make_segmenter(name)
        seg.cut(texts[0])  # dictionaries load outside the timing
        t0 = time.perf_counter()
        tokens = sum(len(seg.cut(t)) for t in texts)
        out[name] = {"seconds": time.perf_counter() - t0, "tokens": tokens}
    return out


STEPS: dict[str, Callable[[int, Path], dict[str, Any]]] = {
    "ingest": step_ingest,
    "store": step_store,
    "segment": step_segment,
}


def run_step(step: str, n: int, work: Path, timeout: float) -> dict[str, Any]:
    """Run one step in a fresh interpreter; ``{"skipped": why}`` on a timeout or failure."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--step", step, "--n", str(n), "--work", str(work)]
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"skipped": f"timed out after {timeout:.0f} s"}
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["?"])[-1]
        return {"skipped": f"failed (exit {proc.returncode}): {tail}"}
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["wall"] = time.perf_counter() - t0
    return out


# --- the report ----------------------------------------------------------------------------


def _row(name: str, cols: list[str], ratio: float | None = None, note: str = "") -> None:
    r = f"{ratio:7.2f}" if ratio is not None else f"{'':7s}"
    print(f"  {name:34s} " + " ".join(f"{c:>12s}" for c in cols) + f" {r}  {note}")


def _header(cols: list[str], ratio: str = "ratio") -> None:
    print(f"  {'':34s} " + " ".join(f"{c:>12s}" for c in cols) + f" {ratio:>7s}")


def report_store(n: int, res: dict[str, Any], ingest: dict[str, Any]) -> None:
    print("store (SQLite, WAL)")
    _header(["findings", "seconds", "findings/s", "docs/s"], "vs ORM")
    base = None
    if "skipped" not in ingest:
        base = ingest["findings"] / ingest["seconds"]
        _row("ingest_bytes, 17 real files (ORM)", [str(ingest["findings"]), f"{ingest['seconds']:.2f}",
             f"{base:.0f}", f"{ingest['docs'] / ingest['seconds']:.1f}"], 1.0,
             f"analysis before it {ingest['analyse_seconds']:.1f} s ({ingest['docs'] / ingest['analyse_seconds']:.1f} docs/s)")
    else:
        _row("ingest_bytes, 17 real files (ORM)", [], None, "skipped: " + ingest["skipped"])
    if "skipped" in res:
        _row("Core bulk, 1 transaction/document", [], None, "skipped: " + res["skipped"])
        return
    rate = res["findings"] / res["seconds"]
    _row("Core bulk, 1 transaction/document", [str(res["findings"]), f"{res['seconds']:.2f}", f"{rate:.0f}",
         f"{res['docs'] / res['seconds']:.0f}"], rate / base if base else None,
         f"db {res['db_mib']:.0f} MiB, peak +{res['peak_mib']:.0f} MiB")


def report_segment(res: dict[str, Any]) -> None:
    print("segmentation (cut of every finding)")
    if "skipped" in res:
        _row("jieba / rjieba", [], None, "skipped: " + res["skipped"])
        return
    _header(["MB", "seconds", "MB/s", "tokens"])
    base = res["mb"] / res["jieba"]["seconds"]
    for name in ("jieba", "rjieba"):
        r = res[name]
        rate = res["mb"] / r["seconds"]
        _row(name, [f"{res['mb']:.1f}", f"{r['seconds']:.2f}", f"{rate:.2f}", str(r["tokens"])], rate / base)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="10000,100000", help="comma-separated corpus sizes (findings)")
    ap.add_argument("--timeout", type=float, default=900, help="seconds allowed to each step")
    ap.add_argument("--save", type=Path, help="also write the figures as JSON to this file")
    ap.add_argument("--step", choices=sorted(STEPS), help=argparse.SUPPRESS)
    ap.add_argument("--n", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.step:  # child process: one measurement, one JSON line
        print(json.dumps(STEPS[args.step](args.n, args.work)))
        return

    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    results: dict[str, Any] = {"sizes": {}}
    with tempfile.TemporaryDirectory(prefix="bench_corpus_") as tmp:
        work = Path(tmp)
        ingest = run_step("ingest", 0, work, args.timeout)
        results["ingest"] = ingest
        for n in sizes:
            docs = synthetic_corpus(n)
            issues = {f.issue for f in all_findings(docs)}
            print(f"\n=== {n} synthetic findings: {len(docs)} documents, {len(issues)} issues ===", flush=True)
            res: dict[str, Any] = {}
            for step in ("store", "segment"):
                res[step] = run_step(step, n, work, args.timeout)
            report_store(n, res["store"], ingest)
            report_segment(res["segment"])
            results["sizes"][str(n)] = res
            sys.stdout.flush()
    if args.save:
        args.save.parent.mkdir(parents=True, exist_ok=True)
        args.save.write_text(json.dumps(results, indent=1, ensure_ascii=False), encoding="utf-8")


if __name__ == "__main__":
    main()
