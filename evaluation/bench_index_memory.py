"""Workers sharing one base index on disk: memory per worker (PSS) and in-process latency.

    python evaluation/bench_index_memory.py DATA_DIR/index/<library> [--workers 2]

Each worker is a process that maps the current base (``service.index_snapshots``) as a server
worker does, loads the query encoder, then answers the analyst queries and the long queries of
``bench_search`` (all of them, in every worker, one worker at a time, so each touches the pages searches touch). While all
are alive, each reports its PSS (shared pages counted once across the processes that map them), RSS
and private memory from /proc/self/smaps_rollup, and its latencies: end to end with the query's
encoding (the encoder's memo emptied first) and the ranking alone. The baseline in the same run: the
memory a process has before it opens the base (interpreter, libraries, e5).

A base is built with ``XUNCHA_DATABASE_URL=... python -m service.index_builder FOLDER``;
``bench_library.py`` builds the synthetic libraries. Figures: evaluation/bench_results/bench_library.txt.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import sys
import time
from pathlib import Path

from bench_search import analyst_queries, forget_recent, pct, queries
from common import REPO


def smaps() -> dict[str, float]:
    out: dict[str, float] = {}
    for line in Path("/proc/self/smaps_rollup").read_text().splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0].endswith(":") and parts[1].isdigit():
            out[parts[0][:-1]] = int(parts[1]) / 1024
    return out


def worker(folder: str, ready: mp.Barrier, turn: mp.Lock, done: mp.Barrier, results: mp.Queue) -> None:
    sys.path.insert(0, str(REPO))
    from threadpoolctl import threadpool_limits

    from nlp.concepts import default_thesaurus
    from service.index_snapshots import SnapshotStore
    from service.representations import configured_embedder

    embedder = configured_embedder()
    embedder.embed(["巡察发现问题整改不到位"])
    before = smaps()
    store = SnapshotStore(Path(folder))
    info = store.current()
    assert info is not None, f"no base in {folder}"
    t0 = time.perf_counter()
    index = store.open(info, embedder, default_thesaurus())
    opened = time.perf_counter() - t0
    qs = analyst_queries() + queries(200)
    with threadpool_limits(limits=1, user_api="blas"):
        index.search("公车私用", 10)
        ready.wait()
        turn.acquire()  # one worker searches at a time, as one analyst's requests reach one worker at a time
        forget_recent(embedder)
        index._query_cache.clear()
        total, ranking = [], []
        for q in qs:
            s = time.perf_counter()
            index.search(q, 10)
            total.append(1000 * (time.perf_counter() - s))
        for q in qs:
            s = time.perf_counter()
            index.search(q, 10)
            ranking.append(1000 * (time.perf_counter() - s))
        turn.release()
    done.wait()  # all have searched: their shared pages are counted across all of them now
    after = smaps()
    results.put({"count": info.count, "opened_s": opened, "before": before, "after": after,
                 "p50": pct(total, 50), "p95": pct(total, 95), "p99": pct(total, 99), "ranking_p95": pct(ranking, 95),
                 "queries": len(qs)})
    done.wait()  # stay alive until every worker has read its figures


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("folder", type=Path)
    ap.add_argument("--workers", type=int, default=2)
    a = ap.parse_args()
    ctx = mp.get_context("spawn")
    ready, turn, done, results = ctx.Barrier(a.workers), ctx.Lock(), ctx.Barrier(a.workers), ctx.Queue()
    procs = [ctx.Process(target=worker, args=(str(a.folder), ready, turn, done, results)) for _ in range(a.workers)]
    for p in procs:
        p.start()
    rows = [results.get(timeout=3600) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    size = sum(f.stat().st_size for f in a.folder.rglob("*") if f.is_file()) / 1e6
    print(f"base of {rows[0]['count']} findings, {size:.0f} MB on disk, {a.workers} workers mapping it")
    for i, r in enumerate(rows, 1):
        b, f = r["before"], r["after"]
        print(f"worker {i}: opened in {r['opened_s'] * 1000:.0f} ms; PSS {f['Pss']:.0f} MB (RSS {f['Rss']:.0f}, private "
              f"{f.get('Private_Clean', 0) + f.get('Private_Dirty', 0):.0f}, shared {f.get('Shared_Clean', 0) + f.get('Shared_Dirty', 0):.0f}); "
              f"baseline before opening: PSS {b['Pss']:.0f} MB; {r['queries']} queries with encoding p50 {r['p50']:.1f} / "
              f"p95 {r['p95']:.1f} / p99 {r['p99']:.1f} ms, ranking alone p95 {r['ranking_p95']:.1f} ms")
    print(json.dumps({"pss_mb": [round(r["after"]["Pss"]) for r in rows]}))


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    main()
