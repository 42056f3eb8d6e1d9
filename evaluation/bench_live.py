"""A library that grows while it is searched: the real server over HTTP, before, during and after uploads.

    python evaluation/bench_live.py --library /path/to/xuncha.db [--workers 2]
    python evaluation/bench_live.py --rows 20000            # builds the library first with `xuncha import`

The library (a copy; the original is never written) is served by ``python -m service serve`` on
127.0.0.1. Printed, all over HTTP with the analyst queries of eval-dev-2:

1. start-up: seconds until the first search answers (the index is warmed on a background thread);
2. steady search latency p50 / p95 / max;
3. one report uploaded: seconds until its finding is the top hit, and the latency of every search
   meanwhile (the index catches up from the change log: no rebuild on the request);
4. a 问题清单 of ``--batch`` rows imported through POST /imports, enough to make a worker rebuild its
   base on a background thread: search latency p95 / max while that runs, and when the rebuild is done;
6. POST /clusters (first, kept, right after an upload), the summary and the statistics, with sizes;
7. the baseline in the same run: what the first search after any change cost before the live index —
   a full rebuild from the stored representations (``rebuild_now`` in-process on the same library) —
   and the ratio of the slowest search in 3–4 to it.
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
from bench_search import analyst_queries, pct, synthetic_texts
from common import REPO

API = "/api/v1"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def build_library(rows: int, work: Path) -> Path:
    texts = synthetic_texts(rows, seed=7)
    sheet = work / "问题清单.csv"
    with sheet.open("w", encoding="utf-8-sig", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["序号", "被巡察单位", "问题描述"])
        for i, text in enumerate(texts, 1):
            out.writerow([i, f"县第{i % 40 + 1}局党组", text])
    env = {**os.environ, "XUNCHA_DATA_DIR": str(work / "built")}
    env.pop("XUNCHA_DATABASE_URL", None)
    print(f"building a library of {rows} findings with `xuncha import` (minutes) …", file=sys.stderr, flush=True)
    subprocess.run([sys.executable, "-m", "service", "import", str(sheet), "--format", "json"], env=env, check=True,
                   capture_output=True, timeout=3600)
    return work / "built" / "xuncha.db"


def timed_search(client: httpx.Client, query: str) -> tuple[float, list[dict]]:
    t0 = time.perf_counter()
    response = client.get(f"{API}/search", params={"q": query, "limit": 10})
    elapsed = time.perf_counter() - t0
    response.raise_for_status()
    return elapsed, response.json()["results"]


def summary(name: str, seconds: list[float]) -> str:
    ms = sorted(1000 * s for s in seconds)
    return f"{name}: n={len(ms)} p50 {pct(ms, 50):.1f} ms, p95 {pct(ms, 95):.1f} ms, max {ms[-1]:.1f} ms" if ms else f"{name}: none"


class Searcher(threading.Thread):
    """Searches back to back (the analyst queries in turn) until stopped, keeping every latency."""

    def __init__(self, client: httpx.Client, queries: list[str]) -> None:
        super().__init__(daemon=True)
        self.client, self.queries, self.latencies = client, queries, []
        self.stop = threading.Event()

    def run(self) -> None:
        k = 0
        while not self.stop.is_set():
            elapsed, _ = timed_search(self.client, self.queries[k % len(self.queries)])
            self.latencies.append(elapsed)
            k += 1


def timed(client: httpx.Client, method: str, path: str, **kwargs: object) -> tuple[float, httpx.Response]:
    t0 = time.perf_counter()
    response = client.request(method, path, **kwargs)  # type: ignore[arg-type]
    elapsed = time.perf_counter() - t0
    response.raise_for_status()
    return elapsed, response


def analysis_reads(client: httpx.Client) -> None:
    """6. POST /clusters (default page) the first time, again (kept), and after one more upload (stale,
    served at once), with response sizes; the summary and the statistics."""
    first, r1 = timed(client, "POST", f"{API}/clusters", json={})
    again = [timed(client, "POST", f"{API}/clusters", json={}) for _ in range(3)]
    body = r1.json()
    print(f"6. POST /clusters (default page: {len(body['clusters'])} of {body['clusters_total']} clusters, "
          f"{len(body['recurrences'])} of {body['recurrences_total']} recurrences): first {first:.1f} s "
          f"({len(r1.content) / 1e6:.2f} MB); kept {max(t for t, _ in again):.2f} s at most "
          f"({len(again[0][1].content) / 1e6:.2f} MB; each worker computes its first)")
    report = ("关于县委第十轮巡察县第九十八试点局党组的反馈通报\n县第九十八试点局党组存在的主要问题是：\n"
              "一是公务接待超标准，白条入账7笔。\n").encode()
    job = client.post(f"{API}/documents", files=[("files", ("stale.txt", report))]).json()["job_id"]
    while client.get(f"{API}/jobs/{job}").json()["status"] not in ("done", "failed"):
        time.sleep(0.1)
    stale, r3 = timed(client, "POST", f"{API}/clusters", json={})
    print(f"   after an upload: {stale:.2f} s, stale={r3.json()['stale']} (reclustered beside the request)")
    summary, r4 = timed(client, "GET", f"{API}/summaries/common-issues")
    print(f"   GET /summaries/common-issues: {summary:.1f} s ({len(r4.content) / 1e3:.0f} kB)")
    stats = [timed(client, "GET", f"{API}/statistics")[0] for _ in range(3)]
    print(f"   GET /statistics: {min(stats):.2f}–{max(stats):.2f} s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--library", type=Path, help="an existing xuncha.db (copied)")
    ap.add_argument("--rows", type=int, default=20000, help="findings to build when no --library is given")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--batch", type=int, default=1500, help="rows imported in step 4")
    a = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="xuncha-bench-live-"))
    source = a.library or build_library(a.rows, work)
    data = work / "data"
    data.mkdir()
    shutil.copy2(source, data / "xuncha.db")
    url = f"sqlite:///{data / 'xuncha.db'}"

    from sqlalchemy import func, select

    from service.accounts import create_user
    from service.live_index import rebuild_now
    from service.store import models
    from service.store.db import session_factory

    with session_factory(url)() as session:
        _, token = create_user(session, "bench", "Ceshi-mima-2026", "admin")
        findings = session.scalar(select(func.count(models.Finding.id)))
    print(f"library: {findings} findings ({source}), {a.workers} workers")
    queries = analyst_queries()

    env = {k: v for k, v in os.environ.items() if not k.startswith("XUNCHA_")}
    env["XUNCHA_DATA_DIR"] = str(data)
    port = free_port()
    log = (work / "server.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "service", "serve", "--port", str(port), "--workers", str(a.workers),
                             "--log-level", "warning"], cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        client = httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {token}"},
                              timeout=120, trust_env=False)
        t0 = time.perf_counter()
        while True:
            try:
                if client.get(f"{API}/health").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        up = time.perf_counter() - t0
        time.sleep(max(0.0, 15 - up))  # give the start-up warm-up its time, as a real restart would
        first = [timed_search(client, queries[0])[0] for _ in range(2 * a.workers)]
        print(f"1. start-up: healthy after {up:.1f} s; first searches (one per worker) {max(first):.2f} s at most")

        steady = [timed_search(client, q)[0] for q in queries * 2]
        print("2. " + summary("steady search", steady))

        marker = "县第九十九试点局党组食堂采购白条入账问题反复出现、台账缺失"
        report = (f"关于县委第十轮巡察县第九十九试点局党组的反馈通报\n县第九十九试点局党组存在的主要问题是：\n"
                  f"一是{marker}，涉及金额3.2万元。\n二是落实全面从严治党主体责任不到位。\n").encode()
        searcher = Searcher(httpx.Client(base_url=client.base_url, headers=client.headers, timeout=120, trust_env=False), queries)
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
        time.sleep(3)
        searcher.stop.set()
        searcher.join()
        after_upload = searcher.latencies
        print(f"3. upload: stored after {stored:.1f} s, its finding the top hit after {visible:.1f} s; "
              + summary("searches meanwhile", after_upload))

        sheet = "\n".join(["序号,被巡察单位,问题描述"] + [f"{i},县第{i % 7 + 1}镇党委,{t}" for i, t in
                                                 enumerate(synthetic_texts(a.batch, seed=99), 1)]).encode("utf-8-sig")
        searcher = Searcher(httpx.Client(base_url=client.base_url, headers=client.headers, timeout=120, trust_env=False), queries)
        searcher.start()
        t0 = time.perf_counter()
        job = client.post(f"{API}/imports", files=[("file", ("batch.csv", sheet))]).json()["job_id"]
        while client.get(f"{API}/jobs/{job}").json()["status"] not in ("done", "failed"):
            time.sleep(0.5)
        imported = time.perf_counter() - t0
        time.sleep(60)  # the rebuilds the import triggered run now, beside the searches
        searcher.stop.set()
        searcher.join()
        print(f"4. import of {a.batch} rows: {imported:.0f} s ({a.batch / imported:.1f} rows/s) with searches running; "
              + summary("searches during the import and the rebuilds after it", searcher.latencies))
        slowest = max(after_upload + searcher.latencies)
        analysis_reads(client)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    with session_factory(url)() as session:
        t0 = time.perf_counter()
        view = rebuild_now(session)
        rebuild = time.perf_counter() - t0
    print(f"7. baseline: a full rebuild over {view.size} findings (what the first search after any change cost "
          f"before) {rebuild:.1f} s; slowest search in 3–4 / rebuild = {slowest / rebuild:.3f}x")
    print(f"(work folder {work}; server log {work / 'server.log'})")


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    main()
