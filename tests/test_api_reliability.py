"""Reliability of the real server (``python -m service serve`` as a subprocess on 127.0.0.1):

(a) ``kill -9`` in the middle of an upload batch leaves only complete documents, and the restarted
    server finishes the job by itself with every good file stored once;
(b) uploads running beside searches, clusters and statistics never give a 5xx nor "database is
    locked" – on SQLite (WAL, two worker processes) and, when ``XUNCHA_TEST_POSTGRES_URL`` is set,
    on a fresh PostgreSQL database;
(c) two server instances on one SQLite file working on the same jobs store each item exactly once,
    and a second instance starting while the first is busy does not take over its running item.

Every server is started in its own process group and stopped in a fixture teardown; every wait is
bounded in time. The figures of each run are printed (``pytest -s`` shows them).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from builders import make_docx, make_encrypted_pdf, make_pdf

from nlp.pipeline import analyze_bytes
from service.accounts import create_user
from service.store.db import session_factory
from service.store.repository import Overrides, ingest_bytes

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "corpora" / "samples"
API = "/api/v1"
POSTGRES = os.environ.get("XUNCHA_TEST_POSTGRES_URL")
LOCKED = "database is locked"


# ---------------------------------------------------------------- servers


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    """One ``xuncha serve`` process (its own process group) on a free loopback port."""

    name: str
    data_dir: Path
    database_url: str | None = None
    workers: int = 1
    model_dir: Path | None = None
    extra_env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None
    port: int = 0
    log: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log = self.data_dir.parent / f"server-{self.name}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Server:
        env = {k: v for k, v in os.environ.items() if not k.startswith("XUNCHA_")}
        env["XUNCHA_DATA_DIR"] = str(self.data_dir)
        if self.database_url:
            env["XUNCHA_DATABASE_URL"] = self.database_url
        if self.model_dir:
            env["XUNCHA_MODEL_DIR"] = str(self.model_dir)
        env["PYTHONFAULTHANDLER"] = "1"  # a worker that crashes in native code leaves its stack in the log
        env.update(self.extra_env)
        self.port = free_port()
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "service", "serve", "--host", "127.0.0.1", "--port", str(self.port),
                 "--workers", str(self.workers), "--log-level", os.environ.get("XUNCHA_TEST_SERVER_LOG_LEVEL", "warning")],
                cwd=self.data_dir.parent, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        return self

    def wait_ready(self, timeout: float = 60) -> Server:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"server {self.name} exited with {self.proc.returncode}:\n{self.log_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}{API}/health", timeout=2, trust_env=False).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"server {self.name} not ready after {timeout} s:\n{self.log_text()[-3000:]}")

    def client(self, token: str) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {token}"}, timeout=60, trust_env=False)

    def kill9(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        except ProcessLookupError:
            pass

    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace") if self.log.exists() else ""


@pytest.fixture
def servers() -> Iterator[Callable[..., Server]]:
    """Start servers with ``servers(name, data_dir, ...)``; all are stopped at teardown, whatever happened."""
    started: list[Server] = []

    def start(name: str, data_dir: Path, **kwargs: Any) -> Server:
        server = Server(name, data_dir, **kwargs)
        started.append(server)
        return server.start()

    try:
        yield start
    finally:
        for server in started:
            server.stop()


def make_token(database_url: str) -> str:
    with session_factory(database_url)() as session:  # migrates the new database
        _, token = create_user(session, "admin", "correct-horse-42", "admin")
    return token


def sqlite_url(data_dir: Path) -> str:
    return f"sqlite:///{(data_dir / 'xuncha.db').as_posix()}"


def wait_job(client: httpx.Client, job_id: str, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"{API}/jobs/{job_id}").json()
        if job["status"] in ("done", "failed"):
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} not finished after {timeout} s: {job}")


# ---------------------------------------------------------------- report files


def report_text(i: int, tag: str) -> str:
    """A short feedback notice; ``tag`` and ``i`` make its bytes unique."""
    unit = f"县第{i + 1}试点局"
    return (
        f"关于县委第九轮巡察{unit}党组的反馈通报\n"
        f"县委第三巡察组对{unit}党组开展了常规巡察。\n"
        f"{unit}党组存在的主要问题是：\n"
        f"一是落实全面从严治党主体责任不到位，党组会议全年仅研究党风廉政建设工作{i % 3 + 1}次。\n"
        f"二是财务管理不规范，存在白条入账{i + 3}笔、公务接待超标准等问题。\n"
        "三是干部队伍建设有差距，年轻干部培养力度不够。\n"
        f"四是巡察整改工作滞后，上轮巡察反馈问题仍有{i % 4 + 2}项未整改到位。\n"
        f"（编号 {tag}-{i}）\n"
    )


def generated_file(folder: Path, i: int, tag: str) -> tuple[str, bytes]:
    """A unique report as TXT, DOCX or PDF (by ``i``), returned as (name, bytes)."""
    text = report_text(i, tag)
    lines = text.strip().splitlines()
    kind = i % 3
    if kind == 0:
        return f"{tag}-{i}.txt", text.encode("utf-8")
    if kind == 1:
        return f"{tag}-{i}.docx", make_docx(folder / f"{tag}-{i}.docx", lines).read_bytes()
    return f"{tag}-{i}.pdf", make_pdf(folder / f"{tag}-{i}.pdf", [lines], wrap=36).read_bytes()


def expected_counts(files: list[tuple[str, bytes]]) -> dict[str, tuple[int, int, int]]:
    """sha256 -> (findings, tags, statistics) as analysing the bytes in this process gives them."""
    import hashlib

    out = {}
    for name, data in files:
        doc = analyze_bytes(data, name)
        tags = sum(len(rows) for f in doc.findings for rows in f.tags.values())
        out[hashlib.sha256(data).hexdigest()] = (len(doc.findings), tags, len(doc.statistics))
    return out


def stored_counts(db: Path) -> dict[str, tuple[int, int, int]]:
    """sha256 -> (findings, tags, statistics) of every document in the SQLite library, read directly."""
    with sqlite3.connect(db, timeout=30) as con:
        rows = con.execute(
            "SELECT d.sha256,"
            " (SELECT count(*) FROM findings f WHERE f.document_id = d.id),"
            " (SELECT count(*) FROM tags t JOIN findings f ON t.finding_id = f.id WHERE f.document_id = d.id),"
            " (SELECT count(*) FROM statistics s WHERE s.document_id = d.id)"
            " FROM documents d"
        ).fetchall()
    return {sha: (f, t, s) for sha, f, t, s in rows}


def job_items(db: Path, job_id: str) -> list[dict[str, Any]]:
    with sqlite3.connect(db, timeout=30) as con:
        con.row_factory = sqlite3.Row
        rows = con.execute("SELECT * FROM job_items WHERE job_id = ? ORDER BY position", (job_id,)).fetchall()
    return [dict(r) for r in rows]


# ---------------------------------------------------------------- (a) kill -9 mid-batch


def test_api_kill9_mid_batch_leaves_complete_documents_and_the_job_resumes(tmp_path: Path, servers) -> None:
    data_dir = tmp_path / "data"
    db = data_dir / "xuncha.db"
    token = make_token(sqlite_url(data_dir))
    samples = [
        "r5_chengguanzhen_feedback.txt", "r5_jiaoyuju_feedback.pdf", "r5_zhujianju_feedback.docx",
        "r5_minzhengju_hekouzhen_feedback.pdf", "r6_weijianju_special_feedback.txt", "r6_yibaoju_special_feedback.pdf",
        "r6_yizhong_zhizhong_special_feedback.docx", "r7_jiaoyuju_huitoukan_feedback.pdf",
        "r7_nongyenongcunju_special_feedback.docx", "r7_shuiliju_liangshi_feedback.pdf",
    ]
    good = [(name, (SAMPLES / name).read_bytes()) for name in samples]
    good += [generated_file(tmp_path / "gen", i, "kill") for i in (1, 2)]  # a DOCX and a PDF of our own
    bad = ("locked.pdf", make_encrypted_pdf(tmp_path / "gen" / "locked.pdf").read_bytes())
    batch = good[:6] + [bad] + good[6:]
    expected = expected_counts(good)

    server = servers("first", data_dir).wait_ready()
    with server.client(token) as client:
        response = client.post(f"{API}/documents", files=[("files", f) for f in batch])
        assert response.status_code == 202, response.text
        job_id = response.json()["job_id"]
        assert response.json()["items"][6]["error"]["code"] == "encrypted_pdf"  # refused up front
        deadline = time.monotonic() + 90
        stored_seen = 0
        while time.monotonic() < deadline:
            job = client.get(f"{API}/jobs/{job_id}").json()
            stored_seen = sum(i["status"] == "stored" for i in job["items"])
            if stored_seen >= 3 or job["status"] == "done":
                break
            client.get(f"{API}/search", params={"q": "财务管理不规范"})  # the index catches up mid-batch
    assert job["status"] != "done", "the batch finished before the kill; nothing was interrupted"
    assert stored_seen >= 3
    server.kill9()

    # The library as the crash left it: every document complete, every "stored" item backed by its document.
    after_kill = stored_counts(db)
    items = job_items(db, job_id)
    statuses_at_kill = Counter(i["status"] for i in items)
    assert 3 <= len(after_kill) < len(good), statuses_at_kill
    for sha, counts in after_kill.items():
        assert counts == expected[sha], f"document {sha[:12]} incomplete after kill -9: {counts} != {expected[sha]}"
    document_ids = {i["document_id"] for i in items if i["status"] == "stored"}
    with sqlite3.connect(db, timeout=30) as con:
        existing = {r[0] for r in con.execute("SELECT id FROM documents")}
        orphans = con.execute(
            "SELECT count(*) FROM findings WHERE document_id NOT IN (SELECT id FROM documents)"
        ).fetchone()[0]
    assert document_ids <= existing and orphans == 0
    assert statuses_at_kill["queued"] + statuses_at_kill["running"] > 0

    # Restart: the runner re-queues the interrupted items at start-up; no retry call is needed.
    restarted = servers("restarted", data_dir).wait_ready()
    with restarted.client(token) as client:
        job = wait_job(client, job_id, timeout=120)
    assert job["status"] == "done"
    items = job_items(db, job_id)
    good_items = [i for i in items if i["position"] != 6]
    # An item whose document was committed just before the kill finds it already there ("duplicate"):
    # allowed only when no other item of the job claims that document.
    assert all(i["status"] in ("stored", "duplicate") for i in good_items), items
    ids = [i["document_id"] for i in good_items]
    assert len(set(ids)) == len(good_items)
    assert items[6]["status"] == "error" and items[6]["error_code"] == "encrypted_pdf"
    final = stored_counts(db)
    assert final == expected  # every good file stored exactly once (sha256 is unique) and complete
    assert max(i["attempts"] for i in good_items) <= 2
    # The change log the search indexes replay agrees with the library: one "add" per stored finding and
    # nothing else (an interrupted document's changes rolled back with it), and the restarted server
    # finds a finding of every document.
    with sqlite3.connect(db, timeout=30) as con:
        findings = {r[0]: r[1] for r in con.execute("SELECT id, text FROM findings")}
        changes = con.execute("SELECT finding_id, change FROM library_changes ORDER BY seq").fetchall()
        longest = [r[0] for r in con.execute(
            "SELECT (SELECT f.id FROM findings f WHERE f.document_id = d.id ORDER BY length(f.text) DESC LIMIT 1) FROM documents d"
        )]
    assert sorted(f for f, c in changes if c == "add") == sorted(findings) and all(c == "add" for _, c in changes)
    with restarted.client(token) as client:
        for fid in longest:
            hits = client.get(f"{API}/search", params={"q": findings[fid], "limit": 10}).json()["results"]
            shown = {h["finding_id"] for h in hits} | {d["finding_id"] for h in hits for d in h["duplicates"]}
            assert fid in shown, f"finding {fid} not found after the restart"
    assert not (data_dir / "uploads" / job_id).exists()  # staging cleaned up
    print(
        f"\nkill -9: {len(good)} good + 1 refused file; stored before the kill {len(after_kill)} "
        f"(items {dict(statuses_at_kill)}); after restart {len(final)} documents, "
        f"{sum(c[0] for c in final.values())} findings; item statuses {dict(Counter(i['status'] for i in items))}; "
        f"attempts {dict(Counter(i['attempts'] for i in good_items))}"
    )


# ---------------------------------------------------------------- (b) uploads beside reads


@pytest.fixture(params=["sqlite", "postgresql"])
def library_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh library database: SQLite in tmp_path, or a new PostgreSQL database when a server is given."""
    if request.param == "sqlite":
        yield sqlite_url(tmp_path / "data")
        return
    if not POSTGRES:
        pytest.skip("XUNCHA_TEST_POSTGRES_URL not set (.ci/run starts a PostgreSQL server)")
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"xuncha_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(POSTGRES).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()


@dataclass
class Tally:
    lock: threading.Lock = field(default_factory=threading.Lock)
    requests: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)
    jobs: list[str] = field(default_factory=list)
    slowest: float = 0.0

    def record(self, kind: str, started: float, response: httpx.Response | None, error: Exception | None = None) -> None:
        elapsed = time.monotonic() - started
        with self.lock:
            self.requests[kind] += 1
            self.slowest = max(self.slowest, elapsed)
            if error is not None:
                self.problems.append(f"{kind}: {type(error).__name__}: {error}")
            elif response is not None and (response.status_code >= 500 or LOCKED in response.text):
                self.problems.append(f"{kind}: {response.status_code} {response.text[:300]}")


LOAD_SECONDS = 12
READS: list[tuple[str, str, str, Any]] = [
    ("search", "GET", f"{API}/search", {"q": "财务管理不规范"}),
    ("search", "GET", f"{API}/search", {"q": "年轻干部培养"}),
    ("clusters", "POST", f"{API}/clusters", {}),
    ("statistics", "GET", f"{API}/statistics", None),
    ("documents", "GET", f"{API}/documents", None),
    ("findings", "GET", f"{API}/findings", {"text": "整改"}),
]


def _reader(server: Server, token: str, tally: Tally, offset: int, stop_at: float) -> None:
    with server.client(token) as client:
        for n in range(400):
            if time.monotonic() > stop_at:
                return
            kind, method, path, arg = READS[(n + offset) % len(READS)]
            started = time.monotonic()
            try:
                if method == "POST":
                    response = client.post(path, json=arg)
                else:
                    response = client.get(path, params=arg)
                tally.record(kind, started, response)
            except httpx.HTTPError as exc:
                tally.record(kind, started, None, exc)


def _uploader(server: Server, token: str, tally: Tally, files: list[tuple[str, bytes]], stop_at: float) -> None:
    with server.client(token) as client:
        for k in range(0, len(files), 2):
            if time.monotonic() > stop_at:
                return
            started = time.monotonic()
            try:
                response = client.post(f"{API}/documents", files=[("files", f) for f in files[k : k + 2]])
                tally.record("upload", started, response)
                if response.status_code == 202:
                    with tally.lock:
                        tally.jobs.append(response.json()["job_id"])
                else:
                    with tally.lock:
                        tally.problems.append(f"upload: {response.status_code} {response.text[:300]}")
            except httpx.HTTPError as exc:
                tally.record("upload", started, None, exc)
            time.sleep(0.3)


def test_api_uploads_beside_reads_never_5xx_nor_locked(tmp_path: Path, library_url: str, servers) -> None:
    data_dir = tmp_path / "data"
    token = make_token(library_url)
    make_session = session_factory(library_url)
    for name in ("r5_jiaoyuju_feedback.pdf", "r6_weijianju_special_feedback.txt", "r7_shuiliju_liangshi_feedback.pdf"):
        data = (SAMPLES / name).read_bytes()
        with make_session() as session:
            ingest_bytes(session, data, name, analyze_bytes(data, name), data_dir / "files", Overrides())
    uploads = [[generated_file(tmp_path / "gen", 100 * u + i, f"load{u}") for i in range(8)] for u in range(3)]
    database = None if library_url.startswith("sqlite") else library_url
    server = servers("load", data_dir, database_url=database, workers=2).wait_ready()

    tally = Tally()
    stop_at = time.monotonic() + LOAD_SECONDS
    threads = [threading.Thread(target=_uploader, args=(server, token, tally, files, stop_at)) for files in uploads]
    threads += [threading.Thread(target=_reader, args=(server, token, tally, k, stop_at)) for k in (0, 2, 3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=LOAD_SECONDS + 120)
    assert not any(t.is_alive() for t in threads), "a load thread is stuck"
    assert not tally.problems, (tally.problems[:10], server.log_text()[-4000:])
    assert tally.requests["upload"] >= 3 and all(tally.requests[k] for k in ("search", "clusters", "statistics")), tally.requests

    with server.client(token) as client:
        jobs = [wait_job(client, job_id, timeout=120) for job_id in tally.jobs]
        total = client.get(f"{API}/documents", params={"limit": 1}).json()
    statuses = Counter(i["status"] for job in jobs for i in job["items"])
    errors = [i["error"] for job in jobs for i in job["items"] if i["error"]]
    assert set(statuses) == {"stored"}, (statuses, errors[:5])
    log = server.log_text()
    assert LOCKED not in log and "Traceback" not in log, log[-3000:]
    print(
        f"\nload on {library_url.split(':', 1)[0]} ({LOAD_SECONDS} s, 2 workers): requests {dict(tally.requests)}, "
        f"slowest {tally.slowest:.2f} s, {statuses['stored']} uploaded files stored, library now {total.get('total')} documents"
    )


# ---------------------------------------------------------------- (d) two servers, separate folders, one database


def _shown(client: httpx.Client, query: str) -> set[int]:
    response = client.get(f"{API}/search", params={"q": query, "limit": 10})
    assert response.status_code == 200, response.text
    hits = response.json()["results"] if isinstance(response.json(), dict) else response.json()
    return {h["finding_id"] for h in hits} | {d["finding_id"] for h in hits for d in h.get("duplicates", [])}


def _within(seconds: float, check: Callable[[], bool]) -> float | None:
    """Seconds until ``check()`` holds, or None after ``seconds``."""
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        if check():
            return time.monotonic() - started
        time.sleep(0.2)
    return None


def test_api_upload_through_one_server_is_found_through_the_other(tmp_path: Path, library_url: str, servers) -> None:
    """Two servers with their own data folders on one database (each its own search index on disk):
    a report uploaded through one is searchable through the other within 10 s, and a document deleted
    through one vanishes from the other's results within 10 s."""
    if library_url.startswith("sqlite"):
        library_url = f"sqlite:///{(tmp_path / 'shared.db').as_posix()}"
    token = make_token(library_url)
    make_session = session_factory(library_url)
    for name in ("r5_jiaoyuju_feedback.pdf", "r6_weijianju_special_feedback.txt"):
        data = (SAMPLES / name).read_bytes()
        with make_session() as session:
            ingest_bytes(session, data, name, analyze_bytes(data, name), tmp_path / "seed-files", Overrides())
    a = servers("one", tmp_path / "data-one", database_url=library_url)
    b = servers("two", tmp_path / "data-two", database_url=library_url)
    a.wait_ready()
    b.wait_ready()
    with a.client(token) as ca, b.client(token) as cb:
        assert _shown(cb, "财务管理不规范")  # the second server has built its index before the upload
        upload = ca.post(f"{API}/documents", files=[("files", generated_file(tmp_path / "gen", 7, "shared"))])
        assert upload.status_code == 202, upload.text
        job = wait_job(ca, upload.json()["job_id"])
        assert job["status"] == "done" and job["items"][0]["status"] == "stored", job
        document_id = job["items"][0]["document_id"]
        findings = ca.get(f"{API}/documents/{document_id}").json()["findings"]
        target = next(f for f in findings if "白条入账" in f["text"])
        found = _within(10, lambda: target["id"] in _shown(cb, target["text"]))
        assert found is not None, "the upload through one server was not found through the other within 10 s"
        assert ca.delete(f"{API}/documents/{document_id}").status_code == 204
        gone = _within(10, lambda: not ({f["id"] for f in findings} & _shown(cb, target["text"])))
        assert gone is not None, "a document deleted through one server still shows through the other after 10 s"
    for server in (a, b):
        assert "Traceback" not in server.log_text(), server.log_text()[-3000:]
    print(f"\ntwo servers on {library_url.split(':', 1)[0]}: upload found through the other after {found:.2f} s, "
          f"deletion gone after {gone:.2f} s")


# ---------------------------------------------------------------- (c) two servers, one SQLite file


def _model_copy(folder: Path, version: str) -> Path:
    """The shipped tagger under another version name, so each document says which server stored it."""
    folder.mkdir(parents=True)
    (folder / "tagger.joblib").symlink_to(REPO / "models" / "tagger.joblib")
    meta = json.loads((REPO / "models" / "tagger.json").read_text(encoding="utf-8"))
    meta["version"] = version
    (folder / "tagger.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
    return folder


@pytest.mark.skipif(not (REPO / "models" / "tagger.joblib").exists(), reason="no shipped tagger model")
def test_api_two_servers_on_one_sqlite_file_store_each_item_once(tmp_path: Path, servers) -> None:
    data_dir = tmp_path / "data"
    db = data_dir / "xuncha.db"
    token = make_token(sqlite_url(data_dir))
    a = servers("a", data_dir, model_dir=_model_copy(tmp_path / "model-a", "server-a"))
    b = servers("b", data_dir, model_dir=_model_copy(tmp_path / "model-b", "server-b"))
    a.wait_ready()
    b.wait_ready()
    batches = {name: [generated_file(tmp_path / "gen", 100 * k + i, f"two{name}") for i in range(9)]
               for k, name in enumerate("ab")}
    with a.client(token) as ca, b.client(token) as cb:
        for k, client in enumerate((ca, cb)):  # load each server's tagger before the race
            warm = client.post(f"{API}/documents", files=[("files", generated_file(tmp_path / "gen", 900 + k, "warm"))])
            wait_job(client, warm.json()["job_id"], timeout=60)
        jobs: dict[str, str] = {}
        for name, (owner, other) in {"a": (ca, cb), "b": (cb, ca)}.items():
            response = owner.post(f"{API}/documents", files=[("files", f) for f in batches[name]])
            assert response.status_code == 202, response.text
            jobs[name] = response.json()["job_id"]
            retry = other.post(f"{API}/jobs/{jobs[name]}/retry")  # the other server now works on the same job
            assert retry.status_code == 202, retry.text
        finished = {name: wait_job(ca, job_id, timeout=120) for name, job_id in jobs.items()}

    with sqlite3.connect(db, timeout=30) as con:
        by_server = Counter(
            r[0] for r in con.execute(
                "SELECT d.tagger_version FROM documents d JOIN job_items i ON i.document_id = d.id WHERE i.job_id IN (?, ?)",
                (jobs["a"], jobs["b"]),
            )
        )
        duplicated = con.execute("SELECT count(*) FROM (SELECT sha256 FROM documents GROUP BY sha256 HAVING count(*) > 1)").fetchone()[0]
        documents = con.execute("SELECT count(*) FROM documents").fetchone()[0]
    items = job_items(db, jobs["a"]) + job_items(db, jobs["b"])
    assert all(job["status"] == "done" for job in finished.values())
    assert [i["status"] for i in items] == ["stored"] * 18, Counter(i["status"] for i in items)
    assert [i["attempts"] for i in items] == [1] * 18  # each item claimed once
    assert len({i["document_id"] for i in items}) == 18 and duplicated == 0
    assert documents == 18 + 2  # the two warm-up files
    assert set(by_server) == {"server-a", "server-b"}, by_server  # both processes took part
    assert sum(by_server.values()) == 18
    for server in (a, b):
        assert LOCKED not in server.log_text() and "Traceback" not in server.log_text()
    print(f"\ntwo servers on one SQLite file: 18 items in two jobs, stored by {dict(by_server)}; no item stored twice")


def test_api_server_starting_beside_a_busy_one_leaves_its_running_item_alone(tmp_path: Path, servers) -> None:
    """At start-up a server re-queues items left ``running`` by a crash; it must not re-queue the item
    another live server (or another uvicorn worker) is processing at that moment."""
    data_dir = tmp_path / "data"
    db = data_dir / "xuncha.db"
    token = make_token(sqlite_url(data_dir))
    first = servers("busy", data_dir).wait_ready()
    files = [generated_file(tmp_path / "gen", i, "busy") for i in range(24)]
    with first.client(token) as client:
        response = client.post(f"{API}/documents", files=[("files", f) for f in files])
        assert response.status_code == 202, response.text
        job_id = response.json()["job_id"]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            job = client.get(f"{API}/jobs/{job_id}").json()
            if any(i["status"] == "stored" for i in job["items"]):
                break
            time.sleep(0.05)
        servers("second", data_dir).wait_ready()  # its start-up resume runs while the first is mid-batch
        assert client.get(f"{API}/jobs/{job_id}").json()["status"] == "running", "the batch ended before the second start-up"
        job = wait_job(client, job_id, timeout=120)
    items = job_items(db, job_id)
    assert Counter(i["status"] for i in items) == {"stored": len(files)}, Counter(i["status"] for i in items)
    assert Counter(i["attempts"] for i in items) == {1: len(files)}  # nothing processed twice
    print(f"\nsecond server started mid-batch: {len(files)} items, statuses {dict(Counter(i['status'] for i in items))}")


def test_api_concurrent_requests_beyond_the_pool_size_all_succeed(tmp_path: Path, servers) -> None:
    """24 clients at once against the real server with a pool of 2 connections. Each request uses one
    connection, its audit entry included; when the audit took a second one, requests held the pool
    waiting for each other until it timed out (found by evaluation/bench_service.py at c=16)."""
    from concurrent.futures import ThreadPoolExecutor

    data_dir = tmp_path / "data"
    data_dir.mkdir()
    token = make_token(sqlite_url(data_dir))
    pool = {"XUNCHA_DB_POOL_SIZE": "2", "XUNCHA_DB_MAX_OVERFLOW": "0", "XUNCHA_DB_POOL_TIMEOUT": "5"}
    server = servers("pool", data_dir, extra_env=pool).wait_ready()

    def burst(i: int) -> list[int]:
        with server.client(token) as client:
            client.timeout = httpx.Timeout(25)
            return [client.get(f"{API}/{('documents', 'findings', 'statistics')[(i + k) % 3]}").status_code for k in range(4)]

    with ThreadPoolExecutor(max_workers=24) as pool:
        codes = [c for batch in pool.map(burst, range(24)) for c in batch]
    assert codes == [200] * 96, server.log_text()[-2000:]
    assert "QueuePool limit" not in server.log_text()


def _group_rss(pgid: int) -> int:
    """Resident bytes of every process in a process group (the server and its workers), from /proc."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) == pgid:  # field 5 of stat (pgrp), counted after the ")" of the command name
                status = (stat.parent / "status").read_text()
                total += next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")) * 1024
        except (OSError, IndexError, StopIteration, ValueError):
            continue  # a process that ended while it was read
    return total


def test_api_a_paragraph_flood_docx_leaves_the_next_upload_done_within_60_s_and_the_server_under_3_gb(
    tmp_path: Path, servers
) -> None:
    """A 1.5 MB DOCX of 200k one-character paragraphs once held the upload worker for minutes at 2.4 GB
    while a one-file upload waited behind it. It must now be refused (at the upload check or alone in
    its job) and the normal upload beside it finish within 60 s, with the whole server under 3 GB."""
    from builders import make_paragraph_flood_docx

    data_dir = tmp_path / "data"
    token = make_token(sqlite_url(data_dir))
    server = servers("flood", data_dir).wait_ready()
    assert server.proc is not None
    flood = make_paragraph_flood_docx(tmp_path / "flood.docx").read_bytes()
    peak = [_group_rss(server.proc.pid)]
    assert peak[0] > 0
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], _group_rss(server.proc.pid))  # type: ignore[union-attr]
            time.sleep(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        with server.client(token) as client:
            started = time.monotonic()
            docx = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
            refused = client.post(f"{API}/documents", files=[("files", ("flood.docx", flood, docx))])
            normal = client.post(f"{API}/documents", files=[("files", generated_file(tmp_path / "gen", 0, "normal"))])
            assert normal.status_code == 202, normal.text
            job = wait_job(client, normal.json()["job_id"], timeout=60)
            elapsed = time.monotonic() - started
            if refused.status_code == 202:  # accepted by the upload check: it must fail alone in its job
                flood_job = wait_job(client, refused.json()["job_id"], timeout=60)
                assert flood_job["status"] == "failed" or flood_job["items"][0]["error"]["code"] == "docx_too_large", flood_job
            else:
                assert refused.status_code in (413, 422) and refused.json()["error"]["code"] == "docx_too_large", refused.text
    finally:
        stop.set()
        sampler.join(timeout=5)
    assert job["status"] == "done" and job["items"][0]["status"] == "stored", job
    assert elapsed < 60, elapsed
    assert peak[0] < 3 * 1024**3, peak[0]
