"""Service benchmark: GET /api/v1/search over HTTP against the real server, with in-process baseline.

Set-up, in a temp data dir (``XUNCHA_DATA_DIR``): the 17 sample reports (corpora/samples/r*.pdf,
.docx, .txt) go in through ``xuncha ingest`` (a subprocess); ``--synthetic N`` adds N synthetic
findings made by ``bench_corpus.synthetic_corpus`` (SQLAlchemy Core, one transaction per synthetic
document, no tags; units 县第k单位党组, rounds 十三届县委第一..八轮); ``xuncha user add`` makes a
viewer and its API token. Then the real server starts as a subprocess
(``python -m service serve --host 127.0.0.1 --port <free> --log-level warning``, one worker) and
one untimed search builds its in-memory index, and every query is sent once more to warm it.

Load: for each concurrency level a SECOND process (this script with ``--client``) opens one
``httpx.Client`` (keep-alive) per thread, sends one untimed request per connection, then all
threads issue requests until ``--requests`` have been issued or ``--seconds`` have passed
(whichever comes first; requests in flight then finish). Requests cycle through
``QUERIES``: 24 realistic Chinese queries, half with filters (round / unit / label) and limits
10-50. Latency is measured per request in the client (send to full body read). Errors: non-200
answers plus transport failures. CPU: the server's (``/proc/<pid>/stat``) and the client's own
CPU time over the measured window, in % of one core (2 cores = 200%); on a small machine the
client competes with the server for the same cores, so read RPS with the CPU columns.

Baseline, same command: the same queries through ``service.library.search_library`` called
directly (a third process, ``--baseline``; no HTTP, no auth, no audit write, one session per call,
single-threaded, same index on disk), and ``GET /api/v1/health`` (no auth, ``SELECT 1``) at the
same concurrency levels as the framework floor. The overhead ratio is HTTP p50 / in-process p50.

Results: a table on stdout and JSON at ``--output`` (default evaluation/bench_results/service.json).
Only 127.0.0.1 is used; the server is stopped in ``finally``; every subprocess has a timeout.

Usage: python evaluation/bench_service.py [--synthetic 10000] [--concurrency 1,4,16]
       [--requests 2000] [--seconds 30] [--output PATH] [--quick]

Figures (2 cores shared with other work, load average 0.8 -> 2.1; defaults: 148 sample + 10,000
synthetic findings; run output in bench_results/service.txt, figures in bench_results/service.json):

- search over HTTP, c=1: 49.5 RPS, p50 15.1 / p95 31.1 / p99 168 ms; c=4: 40.1 RPS, p50 79.3 /
  p95 245 / p99 291 ms. No gain from concurrency: at c=1 the one worker already uses 181% CPU
  (about half of it OpenBLAS threads); with one BLAS thread it uses 95% at c=1 and 115% at c=4 for
  the same RPS, i.e. one process's Python work (GIL) is the limit, not the cores.
- c=16: every request stalls ~30 s, then fails (client timeout / 500): each search request holds a
  pooled connection while ``audit.record`` checks out a second one, and the SQLAlchemy pool
  (5 + 10 overflow) deadlocks once ~15 requests run at once ("QueuePool limit ... timed out").
- in-process search_library: 72.3 calls/s, p50 10.1 / p95 27.1 / p99 87 ms. HTTP p50 / in-process
  p50 = 1.50x at c=1 (+5.0 ms); server CPU per request / in-process CPU per call = 1.33x.
- health (framework floor): 670 / 717 / 637 RPS at c=1/4/16, p50 1.5 / 5.4 / 23.5 ms; the best
  search RPS is 6.9% of the best health RPS.
- CPU figures include OpenBLAS worker threads: with OPENBLAS_NUM_THREADS=1 a run used half the
  server CPU (18.8 vs 36.3 ms per search request) for the same RPS and latency.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from common import REPO, SAMPLES

DEFAULT_OUTPUT = REPO / "evaluation" / "bench_results" / "service.json"
USER, PASSWORD = "bench", "Ceshi-mima-2026"
CN_NUM = "一二三四五六七八九十"
SYNTH_TERM = "十三届县委"

# (q, filters and limit): what a 巡察办 analyst types; filters use values present in the sample corpus.
QUERIES: list[dict[str, Any]] = [
    {"q": "公务接待超标准"},
    {"q": "违规发放津补贴", "label": "违规发放津补贴"},
    {"q": "村集体资金管理不规范"},
    {"q": "选人用人", "round": "第六轮"},
    {"q": "形式主义官僚主义", "limit": 20},
    {"q": "整改不到位", "label": "整改不到位"},
    {"q": "三重一大事项未经集体决策", "unit": "教育局"},
    {"q": "医保基金违规使用", "round": "第六轮", "limit": 20},
    {"q": "工程项目未公开招标"},
    {"q": "党组会议研究党风廉政建设次数偏少", "limit": 50},
    {"q": "白条入账", "unit": "城关镇"},
    {"q": "第一议题学习走过场"},
    {"q": "年轻干部培养力度不够", "label": "干部队伍建设薄弱"},
    {"q": "上轮巡察反馈问题未整改到位", "round": "第七轮"},
    {"q": "征地拆迁补偿款发放不及时"},
    {"q": "低保审核把关不严优亲厚友", "limit": 20},
    {"q": "政府采购程序不规范", "label": "政府采购不规范"},
    {"q": "意识形态工作责任制落实不到位"},
    {"q": "基层党组织软弱涣散", "unit": "石桥村"},
    {"q": "公车私用"},
    {"q": "食堂食品安全监管缺位", "round": "第六轮", "label": "食品药品"},
    {"q": "乡村振兴项目资金闲置", "round": "第七轮"},
    {"q": "三资管理混乱合同未入账"},
    {"q": "主体责任落实不力", "limit": 50},
]


# --- small helpers -------------------------------------------------------------------------


def percentile(sorted_values: list[float], p: float) -> float:
    """Linear interpolation between closest ranks (``p`` in 0..100); NaN for no values."""
    if not sorted_values:
        return float("nan")
    k = (len(sorted_values) - 1) * p / 100
    lo = int(k)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (k - lo)


def latency_summary(seconds: list[float]) -> dict[str, float]:
    ms = sorted(s * 1000 for s in seconds)
    return {"p50_ms": percentile(ms, 50), "p95_ms": percentile(ms, 95), "p99_ms": percentile(ms, 99),
            "max_ms": ms[-1] if ms else float("nan"), "mean_ms": sum(ms) / len(ms) if ms else float("nan")}


def finite(value: Any) -> Any:
    """``value`` with NaN and infinities replaced by None, so the JSON is strict."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [finite(v) for v in value]
    return value


def proc_cpu_seconds(pid: int) -> float | None:
    """utime + stime of a process from /proc (Linux), else None."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def search_params(query: dict[str, Any]) -> dict[str, Any]:
    return {"limit": 10, **query}


def run_json(cmd: list[str], env: dict[str, str], timeout: float, what: str) -> dict[str, Any]:
    """Run a helper process of this script; its last stdout line is a JSON object."""
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"{what} failed (exit {proc.returncode}): {proc.stderr.strip()[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# --- client mode (the second process) ------------------------------------------------------


def client_main(spec: dict[str, Any]) -> dict[str, Any]:
    """Issue requests from ``spec["concurrency"]`` threads; returns counts, latencies, CPU."""
    import httpx

    base, path = spec["base_url"], spec["path"]
    headers = {"Authorization": f"Bearer {spec['token']}"} if spec.get("token") else {}
    params_list: list[dict[str, Any] | None] = spec.get("params") or [None]
    concurrency, max_requests, max_seconds = spec["concurrency"], spec["requests"], spec["seconds"]
    timeout = httpx.Timeout(spec.get("request_timeout", 30.0))
    lock = threading.Lock()
    issued = 0
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    failures: list[str] = []
    ready = threading.Barrier(concurrency + 1)
    deadline = [0.0]

    def take() -> int | None:
        nonlocal issued
        with lock:
            if issued >= max_requests or time.perf_counter() >= deadline[0]:
                return None
            issued += 1
            return issued - 1

    def worker() -> None:
        own: list[float] = []
        own_status: dict[str, int] = {}
        own_fail: list[str] = []
        with httpx.Client(base_url=base, headers=headers, timeout=timeout, trust_env=False) as client:
            try:
                client.get("/api/v1/health")  # open the keep-alive connection outside the timing
            except httpx.HTTPError:
                pass
            ready.wait()
            while (i := take()) is not None:
                params = params_list[i % len(params_list)]
                t0 = time.perf_counter()
                try:
                    r = client.get(path, params=params)
                    r.read()
                    if r.status_code == 200:  # latencies of successful requests only; the rest count as errors
                        own.append(time.perf_counter() - t0)
                    own_status[str(r.status_code)] = own_status.get(str(r.status_code), 0) + 1
                except httpx.HTTPError as exc:
                    own_fail.append(f"{type(exc).__name__}: {exc}"[:200])
        with lock:
            latencies.extend(own)
            failures.extend(own_fail)
            for k, v in own_status.items():
                statuses[k] = statuses.get(k, 0) + v

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    for t in threads:
        t.start()
    deadline[0] = time.perf_counter() + 3600  # set properly once every connection is open
    ready.wait(timeout=60)
    server_cpu0, client_cpu0 = proc_cpu_seconds(spec["server_pid"]), time.process_time()
    t_start = time.perf_counter()
    deadline[0] = t_start + max_seconds
    for t in threads:
        t.join(timeout=max_seconds + spec.get("request_timeout", 30.0) + 10)
    wall = time.perf_counter() - t_start
    server_cpu1, client_cpu1 = proc_cpu_seconds(spec["server_pid"]), time.process_time()
    with lock:
        done = sum(statuses.values())
        non200 = sum(v for k, v in statuses.items() if k != "200")
        out: dict[str, Any] = {
            "concurrency": concurrency, "requests": done + len(failures), "ok": statuses.get("200", 0),
            "errors": non200 + len(failures), "non_200": non200, "transport_errors": len(failures),
            "statuses": statuses, "failure_examples": failures[:3], "seconds": wall,
            "stopped_by": "requests" if issued >= max_requests else "seconds",
            "rps": statuses.get("200", 0) / wall if wall > 0 else 0.0,  # successful requests per second
            **latency_summary(latencies),
            "client_cpu_pct": 100 * (client_cpu1 - client_cpu0) / wall if wall > 0 else None,
            "server_cpu_pct": None, "server_cpu_ms_per_request": None,
        }
        if server_cpu0 is not None and server_cpu1 is not None and wall > 0:
            out["server_cpu_pct"] = 100 * (server_cpu1 - server_cpu0) / wall
            out["server_cpu_ms_per_request"] = 1000 * (server_cpu1 - server_cpu0) / done if done else None
    return out


# --- baseline mode (in-process, no HTTP) ---------------------------------------------------


def baseline_main(spec: dict[str, Any]) -> dict[str, Any]:
    """The same queries through ``search_library`` in this process, one after another."""
    from service.library import Filters, search_library
    from service.store.db import session_factory

    make_session = session_factory()

    def one(query: dict[str, Any]) -> int:
        p = search_params(query)
        with make_session() as session:
            return len(search_library(session, p["q"], Filters(p.get("round"), p.get("unit"), p.get("label")), p["limit"]))

    t0 = time.perf_counter()
    one(QUERIES[0])  # loads the index the server built (disk cache)
    load_seconds = time.perf_counter() - t0
    for q in QUERIES:  # warm, as the server was
        one(q)
    latencies: list[float] = []
    per_query: dict[str, list[float]] = {}
    hits = 0
    cpu0 = time.process_time()
    t_start = time.perf_counter()
    deadline = t_start + spec["seconds"]
    i = 0
    while i < spec["requests"] and time.perf_counter() < deadline:
        query = QUERIES[i % len(QUERIES)]
        t0 = time.perf_counter()
        hits += one(query)
        latencies.append(time.perf_counter() - t0)
        per_query.setdefault(json.dumps(query, ensure_ascii=False), []).append(latencies[-1])
        i += 1
    wall = time.perf_counter() - t_start
    medians = {k: round(percentile(sorted(v), 50) * 1000, 3) for k, v in per_query.items()}
    cpu = time.process_time() - cpu0
    return {"requests": i, "seconds": wall, "qps": i / wall if wall > 0 else 0.0, "index_load_seconds": load_seconds,
            "mean_results": hits / max(1, i), "cpu_pct": 100 * cpu / wall if wall > 0 else None,
            "cpu_ms_per_call": 1000 * cpu / i if i else None,
            "stopped_by": "requests" if i >= spec["requests"] else "seconds", **latency_summary(latencies),
            "per_query_p50_ms": dict(sorted(medians.items(), key=lambda kv: -kv[1]))}


# --- set-up: data dir, synthetic findings, user, server ------------------------------------


def sample_files() -> list[Path]:
    return sorted(p for p in SAMPLES.iterdir() if p.suffix in {".pdf", ".docx", ".txt"} and p.name[0] == "r")


def add_synthetic(database_url: str, n: int) -> dict[str, Any]:
    """``n`` findings of ``bench_corpus.synthetic_corpus`` in synthetic documents (Core, no tags)."""
    import hashlib

    from bench_corpus import N_ROUNDS, N_UNITS, synthetic_corpus
    from sqlalchemy import insert, select

    from service.store import models
    from service.store.db import make_engine

    docs = synthetic_corpus(n)
    engine = make_engine(database_url)
    round_label = {r: f"{SYNTH_TERM}第{CN_NUM[r - 1]}轮" for r in range(1, N_ROUNDS + 1)}
    t0 = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(insert(models.Unit), [{"name": f"县第{i}单位党组", "aliases": []} for i in range(N_UNITS)])
        conn.execute(insert(models.InspectionRound), [{"label": label, "term": SYNTH_TERM, "number": r}
                                                      for r, label in round_label.items()])
        unit_id = {name: i for name, i in conn.execute(select(models.Unit.name, models.Unit.id))}
        round_id = {label: i for label, i in conn.execute(select(models.InspectionRound.label, models.InspectionRound.id))}
    written = 0
    for d in docs:
        text = "\n".join(f.text for f in d.findings)
        with engine.begin() as conn:
            doc_id = conn.execute(insert(models.Document).values(
                sha256=hashlib.sha256(f"bench-service-{d.id}".encode()).hexdigest(), source_name=f"synthetic_{d.id}.txt",
                stored_path=f"files/synthetic_{d.id}.txt", size=len(text.encode()), media_type="txt", title=None,
                kind="常规巡察", date=None, round_id=round_id[round_label[d.round]], text=text, page_starts=[0],
                encoding="utf-8", backend="txt",
            )).inserted_primary_key[0]  # type: ignore[index]
            rows, start = [], 0
            for k, f in enumerate(d.findings, start=1):
                rows.append({"document_id": doc_id, "local_id": f"F{k:03d}", "text": f.text, "start": start,
                             "end": start + len(f.text), "page": 1, "unit_id": unit_id[d.unit],
                             "round_id": round_id[round_label[d.round]], "section": None, "marker": f"{k}.",
                             "detail": None})
                start += len(f.text) + 1
            conn.execute(insert(models.Finding), rows)
            written += len(rows)
    represented = add_representations(engine)
    engine.dispose()
    return {"documents": len(docs), "findings": written, "seconds": time.perf_counter() - t0, "represented": represented}


def add_representations(engine: Any) -> int:
    """Store the meaning representation of every finding that lacks one, as ingest would have (vectors
    of each distinct text computed once: the synthetic corpus repeats texts)."""
    from sqlalchemy import insert, select

    from nlp.representation import vector_to_bytes
    from service.representations import represent_texts
    from service.store import models

    F, R = models.Finding, models.FindingRepresentation
    with engine.begin() as conn:
        rows = conn.execute(select(F.id, F.text).where(~select(R.finding_id).where(R.finding_id == F.id).exists())).all()
    distinct = sorted({text for _, text in rows})
    if not distinct:
        return 0
    rep = represent_texts(distinct)
    at = {text: i for i, text in enumerate(distinct)}
    with engine.begin() as conn:
        conn.execute(insert(R), [
            {"finding_id": fid, "model": rep.model, "dim": int(rep.vectors.shape[1]), "vector": vector_to_bytes(rep.vectors[at[t]]),
             "concepts": rep.concepts[at[t]], "thesaurus": rep.thesaurus}
            for fid, t in rows
        ])
    return len(rows)


def xuncha(args: list[str], env: dict[str, str], timeout: float, stdin: str | None = None) -> str:
    cmd = [sys.executable, "-m", "service", *args]
    proc = subprocess.run(cmd, input=stdin, capture_output=True, text=True, env=env, timeout=timeout, cwd=env["XUNCHA_DATA_DIR"])
    if proc.returncode != 0:
        raise RuntimeError(f"xuncha {args[0]} failed (exit {proc.returncode}): {proc.stderr.strip()[-2000:]}")
    return proc.stdout


def wait_healthy(base_url: str, server: subprocess.Popen[bytes], timeout: float) -> float:
    import httpx

    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        if server.poll() is not None:
            raise RuntimeError(f"the server exited with code {server.returncode} before it was ready")
        try:
            if httpx.get(f"{base_url}/api/v1/health", timeout=2, trust_env=False).status_code == 200:
                return time.perf_counter() - t0
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"the server did not answer /api/v1/health within {timeout:.0f} s")


def stop(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is None:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)


# --- the report ----------------------------------------------------------------------------


def _fmt(v: float | None, spec: str = ".1f") -> str:
    return "-" if v is None or v != v else format(v, spec)


def print_table(title: str, rows: list[dict[str, Any]], base_p50: float | None = None) -> None:
    print(f"\n{title}")
    cols = ["conc", "requests", "errors", "RPS", "p50 ms", "p95 ms", "p99 ms", "max ms", "srv CPU%", "srv CPUms", "cli CPU%"]
    if base_p50:
        cols.append("p50/inproc")
    print("  " + " ".join(f"{c:>10s}" for c in cols))
    for r in rows:
        cells = [str(r["concurrency"]), str(r["requests"]), str(r["errors"]), _fmt(r["rps"]), _fmt(r["p50_ms"], ".2f"),
                 _fmt(r["p95_ms"], ".2f"), _fmt(r["p99_ms"], ".2f"), _fmt(r["max_ms"], ".1f"),
                 _fmt(r["server_cpu_pct"], ".0f"), _fmt(r["server_cpu_ms_per_request"], ".2f"), _fmt(r["client_cpu_pct"], ".0f")]
        if base_p50:
            ratio = _fmt(r["p50_ms"] / base_p50, ".2f")
            cells.append(ratio + "x" if ratio != "-" else ratio)
        print("  " + " ".join(f"{c:>10s}" for c in cells) + ("" if r["stopped_by"] == "requests" else "  (time bound)"))


def run(args: argparse.Namespace) -> dict[str, Any]:
    levels = [int(c) for c in args.concurrency.split(",") if c.strip()]
    me = str(Path(__file__).resolve())
    results: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
                    "loadavg_start": list(os.getloadavg())},
        "config": {"synthetic": args.synthetic, "concurrency": levels, "requests": args.requests, "seconds": args.seconds,
                   "health_requests": args.health_requests, "health_seconds": args.health_seconds,
                   "baseline_seconds": args.baseline_seconds,
                   "queries": len(QUERIES), "workers": args.workers, "quick": args.quick},
    }
    with tempfile.TemporaryDirectory(prefix="bench_service_") as tmp:
        work = Path(tmp)
        data = work / "data"
        data.mkdir()
        env = {**os.environ, "XUNCHA_DATA_DIR": str(data), "PYTHONUNBUFFERED": "1"}
        env.pop("XUNCHA_DATABASE_URL", None)  # always the temp SQLite database
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
        database_url = f"sqlite:///{(data / 'xuncha.db').as_posix()}"

        t0 = time.perf_counter()
        files = sample_files()
        xuncha(["ingest", *map(str, files)], env, timeout=600)
        setup: dict[str, Any] = {"sample_files": len(files), "ingest_seconds": time.perf_counter() - t0}
        if args.synthetic > 0:
            setup["synthetic"] = add_synthetic(database_url, args.synthetic)
        out = xuncha(["user", "add", USER, "--role", "viewer"], env, timeout=120, stdin=f"{PASSWORD}\n{PASSWORD}\n")
        token = out.split()[-1]
        print(f"set-up: {len(files)} sample files ingested in {setup['ingest_seconds']:.1f} s"
              + (f"; {setup['synthetic']['findings']} synthetic findings in {setup['synthetic']['seconds']:.1f} s"
                 if "synthetic" in setup else ""), flush=True)

        port = free_port()
        base_url = f"http://127.0.0.1:{port}"
        log_path = work / "server.log"
        with log_path.open("wb") as log:
            server = subprocess.Popen(
                [sys.executable, "-m", "service", "serve", "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
                 "--workers", str(args.workers)],
                env=env, cwd=work, stdout=log, stderr=subprocess.STDOUT,
            )
        try:
            setup["server_ready_seconds"] = wait_healthy(base_url, server, timeout=60)
            import httpx

            with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=600,
                              trust_env=False) as client:
                t0 = time.perf_counter()
                first = client.get("/api/v1/search", params=search_params(QUERIES[0]))
                first.raise_for_status()
                setup["first_search_seconds"] = time.perf_counter() - t0  # builds the server's index
                counts = {}
                for q in QUERIES:
                    r = client.get("/api/v1/search", params=search_params(q))
                    r.raise_for_status()
                    counts[q["q"]] = len(r.json()["results"])
                findings = client.get("/api/v1/findings", params={"limit": 1}).json().get("total")
            setup["findings_in_library"] = findings
            setup["results_per_query"] = counts
            print(f"server ready in {setup['server_ready_seconds']:.1f} s (pid {server.pid}, port {port}); first search "
                  f"(index build) {setup['first_search_seconds']:.1f} s; library {findings} findings; "
                  f"{len(QUERIES)} queries, {sum(1 for c in counts.values() if c)} with results", flush=True)
            results["setup"] = setup

            spec_path = work / "spec.json"

            def client_run(path: str, params: list[dict[str, Any]] | None, conc: int, n: int, secs: float) -> dict[str, Any]:
                spec = {"base_url": base_url, "path": path, "token": token if params else None, "params": params,
                        "concurrency": conc, "requests": n, "seconds": secs, "server_pid": server.pid,
                        "request_timeout": args.request_timeout}
                spec_path.write_text(json.dumps(spec, ensure_ascii=False), encoding="utf-8")
                return run_json([sys.executable, me, "--client", str(spec_path)], env, secs + args.request_timeout + 90,
                                f"client c={conc}")

            spec_path.write_text(json.dumps({"requests": args.requests, "seconds": args.baseline_seconds}), encoding="utf-8")
            baseline = run_json([sys.executable, me, "--baseline", str(spec_path)], env, args.baseline_seconds + 600,
                                "baseline")  # just before the HTTP levels, so both see similar machine load
            print(f"  in-process: {baseline['requests']} calls, p50 {baseline['p50_ms']:.2f} ms", flush=True)
            search_rows, health_rows = [], []
            for conc in levels:
                r = client_run("/api/v1/search", [search_params(q) for q in QUERIES], conc, args.requests, args.seconds)
                search_rows.append(r)
                print(f"  search c={conc}: {r['requests']} requests, {r['rps']:.1f} RPS, p50 {r['p50_ms']:.2f} ms", flush=True)
            for conc in levels:
                r = client_run("/api/v1/health", None, conc, args.health_requests, args.health_seconds)
                health_rows.append(r)
                print(f"  health c={conc}: {r['requests']} requests, {r['rps']:.1f} RPS", flush=True)
            if server.poll() is not None:
                raise RuntimeError(f"the server exited (code {server.returncode}) during the run")
            if any(r["errors"] for r in search_rows + health_rows):
                log_lines = [ln for ln in log_path.read_text(encoding="utf-8", errors="replace").splitlines() if ln.strip()]
                results["server_errors"] = sorted({ln.strip() for ln in log_lines if "Error:" in ln or "Exception:" in ln})
                results["server_log_tail"] = "\n".join(log_lines[-40:])
                ours = [ln.strip() for ln in log_lines if str(REPO / "service") in ln or str(REPO / "nlp") in ln]
                results["server_error_frames"] = list(dict.fromkeys(ours))[:20]  # the project's frames, once each
        except BaseException:
            tail = log_path.read_text(encoding="utf-8", errors="replace")[-3000:] if log_path.exists() else ""
            print(f"server log (tail):\n{tail}", file=sys.stderr)
            raise
        finally:
            stop(server)

    results["machine"]["loadavg_end"] = list(os.getloadavg())
    results["search_http"] = search_rows
    results["health_http"] = health_rows
    results["search_inprocess"] = baseline
    base_p50 = baseline["p50_ms"]
    results["overhead"] = {
        str(r["concurrency"]): {"p50_ratio": r["p50_ms"] / base_p50, "p50_added_ms": r["p50_ms"] - base_p50,
                                "p95_ratio": r["p95_ms"] / baseline["p95_ms"]}
        for r in search_rows if base_p50 and base_p50 == base_p50 and r["ok"]
    }
    base_cpu = baseline.get("cpu_ms_per_call")
    for r in search_rows:
        if str(r["concurrency"]) in results["overhead"] and base_cpu and r["server_cpu_ms_per_request"]:
            results["overhead"][str(r["concurrency"])]["cpu_ratio"] = r["server_cpu_ms_per_request"] / base_cpu
    return results


def report(results: dict[str, Any]) -> None:
    s, b = results["setup"], results["search_inprocess"]
    print(f"\nGET /api/v1/search, {s['findings_in_library']} findings, {results['config']['queries']} queries cycled "
          f"(bounds: {results['config']['requests']} requests or {results['config']['seconds']:g} s per level; "
          f"{results['machine']['cpus']} CPUs, client and server on the same machine; load average "
          f"{results['machine']['loadavg_start'][0]:.2f} at start, {results['machine']['loadavg_end'][0]:.2f} at end)")
    print_table(f"search over HTTP ({results['config'].get('workers', 1)} uvicorn worker(s); CPU in % of one core)", results["search_http"], b["p50_ms"])
    print_table("GET /api/v1/health over HTTP (framework floor: no auth, SELECT 1)", results["health_http"])
    print("\nsearch in-process (service.library.search_library, no HTTP/auth/audit, 1 thread)")
    print(f"  {b['requests']} calls in {b['seconds']:.1f} s = {b['qps']:.1f} /s; p50 {b['p50_ms']:.2f} ms, "
          f"p95 {b['p95_ms']:.2f} ms, p99 {b['p99_ms']:.2f} ms, max {b['max_ms']:.1f} ms "
          f"(index load from disk {b['index_load_seconds']:.1f} s, {b['mean_results']:.1f} results/call); "
          f"CPU {_fmt(b['cpu_ms_per_call'], '.2f')} ms/call")
    slow = list(b["per_query_p50_ms"].items())[:3]
    print("  slowest queries (p50): " + "; ".join(f"{json.loads(k)} {v:.1f} ms" for k, v in slow))
    print("\nHTTP overhead (HTTP p50 / in-process p50; CPU: server CPU per request / in-process CPU per call):")
    for conc, o in results["overhead"].items():
        cpu = f", CPU ratio {o['cpu_ratio']:.2f}x" if "cpu_ratio" in o else ""
        print(f"  c={conc:>3s}: {o['p50_ratio']:.2f}x ({o['p50_added_ms']:+.2f} ms at p50), p95 ratio {o['p95_ratio']:.2f}x{cpu}")
    for kind in ("search_http", "health_http"):
        for r in results[kind]:
            if r["errors"]:
                print(f"\n!! {kind} c={r['concurrency']}: {r['errors']} errors; statuses {r['statuses']}, "
                      f"transport errors {r['transport_errors']} {r['failure_examples'][:1]}")
    for line in results.get("server_errors", [])[:5]:
        print(f"!! server log: {line[:300]}")
    h = max((r["rps"] for r in results["health_http"]), default=0.0)
    sr = max((r["rps"] for r in results["search_http"]), default=0.0)
    if h:
        print(f"best search RPS {sr:.1f} = {sr / h:.1%} of the best health RPS {h:.1f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--synthetic", type=int, default=10_000, help="synthetic findings added to the samples (0: none)")
    ap.add_argument("--concurrency", default="1,4,16", help="comma-separated connection counts")
    ap.add_argument("--requests", type=int, default=2000, help="search requests per concurrency level (upper bound)")
    ap.add_argument("--seconds", type=float, default=30, help="seconds per concurrency level (upper bound)")
    ap.add_argument("--baseline-seconds", type=float, default=10, help="seconds of in-process calls (upper bound)")
    ap.add_argument("--health-requests", type=int, default=2000, help="health requests per level (upper bound)")
    ap.add_argument("--health-seconds", type=float, default=4, help="seconds per health level (upper bound)")
    ap.add_argument("--request-timeout", type=float, default=30, help="seconds a client waits for one answer")
    ap.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="JSON results file")
    ap.add_argument("--workers", type=int, default=1, help="uvicorn worker processes of the server")
    ap.add_argument("--quick", action="store_true", help="tiny run: samples only, 50 requests, one level, 10 s bound")
    ap.add_argument("--client", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--baseline", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    helper: tuple[Path, Callable[[dict[str, Any]], dict[str, Any]]] | None = (
        (args.client, client_main) if args.client else (args.baseline, baseline_main) if args.baseline else None
    )
    if helper:  # a child process: one measurement, one JSON line
        print(json.dumps(helper[1](json.loads(helper[0].read_text(encoding="utf-8")))))
        return
    if args.quick:
        args.synthetic, args.concurrency, args.requests, args.seconds = 0, "1", 50, 10
        args.health_requests, args.health_seconds, args.baseline_seconds = 50, 5, 10
    results = run(args)
    report(results)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(finite(results), indent=1, ensure_ascii=False, allow_nan=False) + "\n",
                           encoding="utf-8")
    print(f"\nwritten: {args.output}")


if __name__ == "__main__":
    main()
