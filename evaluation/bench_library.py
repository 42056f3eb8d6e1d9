"""A library at the scale users reach, served by the real server: search, memory per worker, uploads.

    python evaluation/bench_library.py                                  # 20k and 100k findings
    python evaluation/bench_library.py --sizes 1000000 --no-analysis    # a million
    python evaluation/bench_library.py --sizes 20000 --source import    # built through `xuncha import`

Libraries (cached under ``evaluation/.cache/``, built once per size):

- ``--source synthetic`` (default): N distinct findings recombined from real gold findings' clauses
  (``bench_search.synthetic_texts``) written straight into the store with Core bulk inserts —
  documents, findings, their representation rows and the change log, as ingest leaves them. A
  finding's vector is the normalised mean of its clauses' e5 vectors (each clause embedded once): the
  same dimensions, norms and neighbourhood structure as real findings, at a cost that makes a million
  findings possible (e5 itself would take 7 hours at a million). Concepts are the thesaurus's own.
- ``--source import``: a 问题清单 CSV of N rows through ``xuncha import`` (real e5 vectors; 20k rows
  take about a quarter of an hour on 2 cores).

Printed per size, the server (``python -m service serve --workers W``) on 127.0.0.1 over HTTP:

1. cold start with no index on disk: the builder process builds the base beside the workers, which
   answer ``index_building`` (503) meanwhile — seconds until a search answers, and how many were told
   to wait; then a restart with the base on disk: seconds until a search answers;
2. steady search latency p50 / p95 / max over the analyst queries;
3. memory: PSS (shared pages counted once across processes) and RSS of each worker, with the index
   folder's size on disk;
4. one report uploaded: seconds until its finding is the top hit, searches meanwhile p95 / max;
5. (unless ``--no-analysis``) POST /clusters, the summary and the statistics;
6. in-process, on the base opened from disk: p50 / p95 with query encoding — and the baseline in the
   same run, the index built in memory as each worker did before (build seconds, memory it adds),
   for sizes up to ``--baseline-max``.

Figures: evaluation/bench_results/bench_library.txt. Before the base moved to disk (baseline in
the issue, 100k findings, SQLite): the first search 46 s, each worker held its own index built in its
own process (+5.2 GiB per process at 1M), a rebuild ran inside the searching process.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from bench_live import API, Searcher, analysis_reads, build_library, free_port, summary, timed_search
from bench_search import CACHE, analyst_queries, forget_recent, gold_texts, pct, queries
from common import REPO

UNITS = [f"县第{i}局党组" for i in range(1, 41)] + [f"第{i}镇党委" for i in range(1, 21)]
PER_DOCUMENT = 25


# --- the synthetic library -----------------------------------------------------------------------


def clause_bank() -> list[str]:
    return sorted({c.strip() for t in gold_texts() for c in re.split(r"[，,；;。]", t) if len(c.strip()) >= 5})


def clause_vectors(clauses: list[str]) -> np.ndarray:
    from nlp.embedders import make_embedder

    digest = hashlib.sha1("\n".join(clauses).encode("utf-8")).hexdigest()[:16]
    path = CACHE / f"clauses_{digest}.npy"
    if path.exists():
        return np.load(path)
    CACHE.mkdir(parents=True, exist_ok=True)
    print(f"  embedding {len(clauses)} clauses once …", file=sys.stderr, flush=True)
    vectors = np.asarray(make_embedder().embed(clauses), dtype=np.float32)
    np.save(path, vectors)
    return vectors


def synthetic_findings(n: int, seed: int = 11) -> tuple[list[str], np.ndarray]:
    """``n`` distinct findings (unit + one to three real clauses, some with an amount) and vectors."""
    clauses = clause_bank()
    vectors = clause_vectors(clauses)
    rng = random.Random(seed)
    texts: list[str] = []
    out = np.zeros((n, vectors.shape[1]), dtype=np.float32)
    seen: set[str] = set()
    while len(texts) < n:
        picked = rng.sample(range(len(clauses)), k=rng.randint(1, 3))
        text = f"{rng.choice(UNITS)}{'，'.join(clauses[i] for i in picked)}"
        if rng.random() < 0.3:
            text += f"，涉及金额{rng.randint(1, 999)}.{rng.randint(0, 9)}万元"
        if text in seen:
            continue
        seen.add(text)
        v = vectors[picked].mean(axis=0)
        out[len(texts)] = v / np.linalg.norm(v)
        texts.append(text)
    return texts, out


def write_synthetic(n: int, path: Path) -> None:
    """The library of ``n`` synthetic findings at ``path`` (SQLite), written with Core bulk inserts."""
    from sqlalchemy import insert

    from nlp.concepts import default_thesaurus
    from nlp.embedders import make_embedder
    from nlp.representation import concepts_and_leads, vector_to_bytes
    from nlp.taxonomy import default_taxonomy
    from service.store import models
    from service.store.db import get_engine
    from service.tags import single_label_schemes

    t0 = time.perf_counter()
    texts, vectors = synthetic_findings(n)
    thesaurus = default_thesaurus()
    model = make_embedder().name
    schemes = {sid: scheme.names for sid, scheme in default_taxonomy().schemes.items()
               if sid in ("focus", "livelihood", "problem_type", "four_implementations")}
    single = set(single_label_schemes())
    rng = random.Random(n)
    engine = get_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.execute(insert(models.Unit), [{"name": u, "aliases": []} for u in UNITS])
        conn.execute(insert(models.InspectionRound), [{"label": f"第{r}轮", "number": r} for r in range(1, 13)])
    fid = 0
    chunk = 20_000
    for start in range(0, n, chunk):
        part = texts[start : start + chunk]
        concepts, leads = concepts_and_leads(part, thesaurus)
        with engine.begin() as conn:
            docs, findings, reps, changes, tags = [], [], [], [], []
            for d in range(0, len(part), PER_DOCUMENT):
                doc_no = (start + d) // PER_DOCUMENT + 1
                docs.append({"id": doc_no, "sha256": hashlib.sha256(f"synthetic-{doc_no}".encode()).hexdigest(),
                             "source_name": f"合成反馈{doc_no}.txt", "stored_path": "", "size": 0, "media_type": "txt",
                             "title": f"合成巡察反馈{doc_no}", "kind": "feedback", "round_id": doc_no % 12 + 1,
                             "text": "", "page_starts": []})
                for j in range(d, min(d + PER_DOCUMENT, len(part))):
                    fid += 1
                    findings.append({"id": fid, "document_id": doc_no, "local_id": f"F{j - d + 1:03d}", "text": part[j],
                                     "start": 0, "end": len(part[j]), "page": 1, "unit_id": doc_no % len(UNITS) + 1,
                                     "round_id": doc_no % 12 + 1})
                    reps.append({"finding_id": fid, "model": model, "dim": vectors.shape[1],
                                 "vector": vector_to_bytes(vectors[start + j]), "concepts": list(concepts[j]),
                                 "thesaurus": thesaurus.version, "lead_family": leads[j]})
                    changes.append({"finding_id": fid, "change": "add", "at": models.utcnow()})
                    # automatic tags as the tagger leaves them (ranked runner-ups in the single-label
                    # schemes too), so /statistics counts a realistic number of rows
                    for scheme, names in schemes.items():
                        for rank, label in enumerate(rng.sample(names, k=min(len(names), rng.randint(1, 3)))):
                            # counted as mark_counted leaves them: a single-label scheme's best, every label otherwise
                            tags.append({"finding_id": fid, "scheme": scheme, "label": label, "score": 0.9 - 0.2 * rank,
                                         "evidence": [], "source": "auto", "counted": rank == 0 or scheme not in single})
            conn.execute(insert(models.Document), docs)
            conn.execute(insert(models.Finding), findings)
            conn.execute(insert(models.FindingRepresentation), reps)
            conn.execute(insert(models.LibraryChange), changes)
            conn.execute(insert(models.Tag), tags)
        print(f"  wrote {min(start + chunk, n)}/{n} findings ({time.perf_counter() - t0:.0f} s)", file=sys.stderr, flush=True)
    engine.dispose()


def library(n: int, source: str) -> Path:
    path = CACHE / f"library-{source}-v3-{n}.db"  # v2: with tags; v3: marked counted as ingest marks them
    if path.exists():
        return path
    CACHE.mkdir(parents=True, exist_ok=True)
    if source == "import":
        built = build_library(n, Path(tempfile.mkdtemp(prefix="xuncha-bench-import-")))
        shutil.copy2(built, path)
    else:
        partial = path.with_suffix(".partial")
        partial.unlink(missing_ok=True)
        write_synthetic(n, partial)
        partial.rename(path)
    return path


# --- memory of the server's processes ----------------------------------------------------------------


def descendants(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        parent = todo.pop()
        try:
            children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
        except OSError:
            continue
        out += [int(c) for c in children]
        todo += [int(c) for c in children]
    return out


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def memory_mb(pid: int) -> tuple[float, float]:
    """(PSS, RSS) in MB from /proc/PID/smaps_rollup."""
    values = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] in ("Pss:", "Rss:"):
            values[parts[0]] = int(parts[1]) / 1024
    return values.get("Pss:", 0.0), values.get("Rss:", 0.0)


def workers_of(server: int) -> list[int]:
    """The uvicorn worker processes (not the analysis children nor a builder)."""
    return [p for p in descendants(server) if "analysis_worker" not in cmdline(p) and "index_builder" not in cmdline(p)
            and "resource_tracker" not in cmdline(p)]


def cpu_seconds(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def wait_idle(server: int, limit_s: float = 120.0) -> float:
    """Wait until the server's processes use under 5% of a core for two seconds (the start-up warm-up:
    the query encoder, the analysis processes loading their taggers); seconds waited."""
    t0 = time.perf_counter()
    quiet = 0
    while time.perf_counter() - t0 < limit_s and quiet < 2:
        pids = [server, *descendants(server)]
        before = cpu_seconds(pids)
        time.sleep(1.0)
        quiet = quiet + 1 if cpu_seconds(pids) - before < 0.05 else 0
    return time.perf_counter() - t0


def wait_builders(data: Path, limit_s: float = 900.0) -> float:
    """Wait until no builder process (``service.index_builder`` / ``service.cluster_builder``) works on
    ``data`` — they outlive the server they were started by, and the in-process figures must not share
    the two cores with one; seconds waited."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < limit_s:
        busy = [p for p in Path("/proc").iterdir() if p.name.isdigit()
                and "_builder" in (line := cmdline(int(p.name))) and str(data) in line]
        if not busy:
            break
        time.sleep(1.0)
    return time.perf_counter() - t0


def folder_mb(folder: Path) -> float:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 1e6


# --- one size ----------------------------------------------------------------------------------------------


def serve(work: Path, data: Path, workers: int) -> tuple[subprocess.Popen[bytes], int]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("XUNCHA_")}
    env["XUNCHA_DATA_DIR"] = str(data)
    port = free_port()
    log = (work / "server.log").open("ab")
    proc = subprocess.Popen([sys.executable, "-m", "service", "serve", "--port", str(port), "--workers", str(workers),
                             "--log-level", "warning"], cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    return proc, port


def stop(proc: subprocess.Popen[bytes]) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=60)


def until_searchable(client: httpx.Client, query: str, limit_s: float = 7200) -> tuple[float, int]:
    """Seconds until a search answers 200, and how many answered 503 index_building before."""
    t0 = time.perf_counter()
    waited = 0
    while time.perf_counter() - t0 < limit_s:
        try:
            r = client.get(f"{API}/search", params={"q": query, "limit": 10})
        except httpx.TransportError:
            time.sleep(0.2)
            continue
        if r.status_code == 200:
            return time.perf_counter() - t0, waited
        if r.status_code == 503 and r.json()["error"]["code"] == "index_building":
            waited += 1
            time.sleep(1.0)
            continue
        r.raise_for_status()
    raise TimeoutError("the library never became searchable")


def in_process(data: Path, url: str, n: int, baseline_max: int) -> None:
    from threadpoolctl import threadpool_limits

    from nlp.concepts import default_thesaurus
    from service.index_snapshots import SnapshotStore, library_key
    from service.representations import configured_embedder

    embedder = configured_embedder()
    store = SnapshotStore(data / "index" / library_key(url))
    info = store.current()
    assert info is not None, "no base on disk"
    qs = analyst_queries() + queries(200)
    with threadpool_limits(limits=1, user_api="blas"):
        t0 = time.perf_counter()
        index = store.open(info, embedder, default_thesaurus())
        opened = time.perf_counter() - t0
        index.search("公车私用", 10)
        total, ranking = timed_queries(index, qs)
        print(f"6. in-process on the base opened from disk ({opened * 1000:.0f} ms to open): {len(qs)} queries with "
              f"encoding p50 {pct(total, 50):.1f} / p95 {pct(total, 95):.1f} / p99 {pct(total, 99):.1f} ms; "
              f"ranking alone p95 {pct(ranking, 95):.1f} ms")
        if n > baseline_max:
            print(f"   baseline (the index built in memory per process) skipped above {baseline_max} findings")
            return
        from sqlalchemy.orm import Session

        from service.live_index import build_view
        from service.store.db import get_engine

        rss0 = _rss_mb()
        t0 = time.perf_counter()
        with Session(get_engine(url)) as session:
            view = build_view(session, embedder)
        built = time.perf_counter() - t0
        added = _rss_mb() - rss0
        base_total, base_ranking = timed_queries(view.base, qs)
        print(f"   baseline in the same run, the base built in this process as each worker did: {built:.1f} s, "
              f"+{added:.0f} MB RSS; with encoding p95 {pct(base_total, 95):.1f} ms, ranking alone p95 "
              f"{pct(base_ranking, 95):.1f} ms (open / build time = {opened / built:.4f}x)")


def timed_queries(index: Any, qs: list[str]) -> tuple[list[float], list[float]]:
    """Milliseconds per query end to end with the query's encoding (every memo of it emptied first),
    then the ranking alone (the vectors now kept)."""
    forget_recent(index.embedder)
    index._query_cache.clear()
    total, ranking = [], []
    for q in qs:
        t0 = time.perf_counter()
        index.search(q, 10)
        total.append(1000 * (time.perf_counter() - t0))
    for q in qs:
        t0 = time.perf_counter()
        index.search(q, 10)
        ranking.append(1000 * (time.perf_counter() - t0))
    return total, ranking


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def run(n: int, a: argparse.Namespace) -> None:
    source = library(n, a.source)
    work = Path(tempfile.mkdtemp(prefix=f"xuncha-bench-library-{n}-"))
    data = work / "data"
    data.mkdir()
    shutil.copy2(source, data / "xuncha.db")
    url = f"sqlite:///{data / 'xuncha.db'}"
    from sqlalchemy import func, select

    from service.accounts import create_user
    from service.store import models
    from service.store.db import get_engine, session_factory

    if not a.no_analysis:  # as `xuncha import` leaves a library: its common issues computed and stored
        from service.cluster_cache import precompute

        t0 = time.perf_counter()
        precompute(get_engine(url))
        print(f"   common issues computed and stored after the rows, as xuncha import does: {time.perf_counter() - t0:.1f} s")
    with session_factory(url)() as session:
        _, token = create_user(session, "bench", "Ceshi-mima-2026", "admin")
        findings = session.scalar(select(func.count(models.Finding.id)))
    print(f"\n== {findings} findings ({a.source}: {source.name}), {a.workers} workers", flush=True)
    qs = analyst_queries()
    headers = {"Authorization": f"Bearer {token}"}
    proc, port = serve(work, data, a.workers)
    try:
        client = httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=300, trust_env=False)
        cold, waited = until_searchable(client, qs[0])
        print(f"1. cold start, no index on disk: searchable after {cold:.1f} s ({waited} searches told index_building meanwhile)")
    finally:
        stop(proc)
    proc, port = serve(work, data, a.workers)
    try:
        # a connection per request: the searches reach both workers, as several analysts' do (one kept-alive
        # connection sent every search to one worker, which then held every shared page it touched alone)
        client = httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=300, trust_env=False,
                              limits=httpx.Limits(max_keepalive_connections=0))
        warm, _ = until_searchable(client, qs[0])
        settled = wait_idle(proc.pid)  # the start-up warm-up (query encoder, analysis processes) runs first
        firsts = [timed_search(client, q)[0] for q in qs[: 4 * a.workers]]
        print(f"   restart with the base on disk: searchable after {warm:.1f} s (idle {settled:.0f} s later); "
              f"first searches max {max(firsts) * 1000:.0f} ms")
        steady = [timed_search(client, q)[0] for q in qs * 3]
        print("2. " + summary("steady search", steady), flush=True)
        rows = [(p, *memory_mb(p)) for p in workers_of(proc.pid)]
        workers = [(p, pss, rss) for p, pss, rss in rows if "service serve" not in cmdline(p)] or rows
        index_mb = folder_mb(data / "index")
        print("3. memory per worker (PSS / RSS MB): " + ", ".join(f"{pss:.0f} / {rss:.0f}" for _, pss, rss in workers)
              + f"; index on disk {index_mb:.0f} MB; library file {(data / 'xuncha.db').stat().st_size / 1e6:.0f} MB")
        marker = "县第九十九试点局党组食堂采购白条入账问题反复出现、台账缺失"
        report = (f"关于县委第十轮巡察县第九十九试点局党组的反馈通报\n县第九十九试点局党组存在的主要问题是：\n"
                  f"一是{marker}，涉及金额3.2万元。\n二是落实全面从严治党主体责任不到位。\n").encode()
        searcher = Searcher(httpx.Client(base_url=client.base_url, headers=headers, timeout=300, trust_env=False), qs)
        searcher.start()
        t0 = time.perf_counter()
        job = client.post(f"{API}/documents", files=[("files", ("live.txt", report))]).json()["job_id"]
        while client.get(f"{API}/jobs/{job}").json()["status"] not in ("done", "failed"):
            time.sleep(0.1)
        stored = time.perf_counter() - t0
        while True:
            _, hits = timed_search(client, marker)
            if hits and marker in hits[0]["text"]:
                break
        visible = time.perf_counter() - t0
        time.sleep(5)
        searcher.stop.set()
        searcher.join()
        print(f"4. upload: stored after {stored:.1f} s, the top hit after {visible:.1f} s; "
              + summary("searches meanwhile", searcher.latencies), flush=True)
        if not a.no_analysis:
            analysis_reads(client)
    finally:
        stop(proc)
    waited = wait_builders(data)
    if waited > 1:
        print(f"   (waited {waited:.0f} s for the builders the server started to finish)")
    in_process(data, url, int(findings or 0), a.baseline_max)
    if not a.keep:
        shutil.rmtree(work, ignore_errors=True)
    else:
        print(f"(work folder {work})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="20000,100000")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--source", choices=["synthetic", "import"], default="synthetic")
    ap.add_argument("--no-analysis", action="store_true", help="skip POST /clusters, the summary and the statistics")
    ap.add_argument("--baseline-max", type=int, default=100_000, help="build the in-memory baseline up to this size")
    ap.add_argument("--keep", action="store_true", help="keep the work folders")
    a = ap.parse_args()
    for n in (int(s) for s in a.sizes.split(",")):
        run(n, a)


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    main()
