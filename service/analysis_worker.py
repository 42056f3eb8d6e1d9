"""One upload's analysis in a child process, under a time and a memory budget.

Why a child process: extraction and segmentation run parsers (lxml, PDFium, LibreOffice's output,
OCR) over files a stranger made. Limits inside the parsers refuse what they can foresee, but a file
built to be slow or huge in a way nobody foresaw would otherwise hold the server's upload worker and
memory: a 20 MB-of-XML DOCX once held it for five minutes at 2.4 GB. In a child, the operating system
enforces the budget whatever the parser does — ``RLIMIT_AS`` caps its address space, so an
allocation over it fails (MemoryError, or the child dies), and the parent kills it past the time
budget — and the server process, with its search index and sessions, never sees the damage. A poison
file therefore fails alone, with a Chinese reason, and is not tried again.

The child is started on first use and kept (importing the pipeline and loading the taggers takes a
few seconds), one per server process: a process runs one job worker, so analyses never queue behind
each other here. It is replaced after any failure that may have left it damaged (a kill, a crash, a
MemoryError). The child reads the staged file itself, so the bytes are not copied through the pipe,
and sends back the analysed document (plain dataclasses) and the taggers' version.

Settings the pipeline reads from the environment (``XUNCHA_MAX_OCR_PAGES``…) are sent with each
request, so a child started earlier follows the parent's current environment. The child also refuses
every network connection other than loopback (an audit hook): the documents are sensitive and the
analysis never needs the network.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from nlp.errors import XunchaError

log = logging.getLogger("xuncha.analysis")

# How often the parent wakes while waiting: to pass on page progress, check the clock and ask
# whether the item was cancelled.
POLL_SECONDS = 0.5
# What a new child may take to import the pipeline and load the taggers, before the item's own budget
STARTUP_SECONDS = 120.0


class ItemTimeoutError(XunchaError):
    code = "processing_timeout"
    default_message = "处理该文件超过时间上限，已停止"


class ItemMemoryError(XunchaError):
    code = "processing_memory"
    default_message = "处理该文件超过内存上限，已停止"


class ItemCancelledError(XunchaError):
    code = "cancelled"
    default_message = "已取消，未处理"


@dataclass(frozen=True)
class Budget:
    """Per item: wall-clock seconds and address space (MB) the analysis may use."""

    seconds: float
    memory_mb: int


@dataclass
class Analysed:
    doc: Any  # nlp.models.ReportDoc
    tagger_version: str | None


def _environment() -> dict[str, str]:
    return {key: value for key, value in os.environ.items() if key.startswith("XUNCHA_")}


class AnalysisProcess:
    """The parent's handle on the analysis child; ``analyze`` is thread-safe (one analysis at a time)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._conn: Connection | None = None

    def analyze(
        self,
        staged: str,
        name: str,
        max_bytes: int,
        budget: Budget,
        progress: Callable[[int, int], None] | None = None,
        cancelled: Callable[[], bool] | None = None,
    ) -> Analysed:
        """Analyse the staged report in the child. Raises the pipeline's XunchaError for bad input,
        ItemTimeoutError / ItemMemoryError past the budget, ItemCancelledError when ``cancelled()``
        turns true, and FileNotFoundError when the staged file is gone."""
        return self._request(("analyze", staged, name, max_bytes, None), budget, progress, cancelled)

    def prepare_sheet(
        self, staged: str, name: str, mapping: dict[str, str] | None, budget: Budget,
        cancelled: Callable[[], bool] | None = None,
    ) -> Any:
        """Read, embed and tag a 问题清单 (XLSX/CSV/JSONL) in the child: its
        ``service.importer.PreparedSheet``, which the parent stores. Reading is what a hostile workbook
        could make costly, and embedding thousands of rows is minutes of work the searches beside it
        should not wait on."""
        # A sheet of 20,000 rows is minutes of embedding, all of it wanted: its time budget is renewed at
        # each step of 256 rows embedded, so what it bounds is one step (and the reading), not the sheet.
        return self._request(("sheet", staged, name, 0, mapping), budget, None, cancelled, renew=True).doc

    def _request(
        self, request: tuple[Any, ...], budget: Budget, progress: Callable[[int, int], None] | None,
        cancelled: Callable[[], bool] | None, renew: bool = False,
    ) -> Analysed:
        with self._lock:
            conn = self._started()
            conn.send((*request, budget.memory_mb, _environment()))
            return self._wait(conn, budget, progress, cancelled, renew)

    def warm(self, timeout: float = STARTUP_SECONDS) -> str | None:
        """Start the child and load its taggers now (the server's start-up warm-up), so the first
        upload after a restart is not the one that waits for them; the taggers' version."""
        return self._request(("warm", "", "", 0, None), Budget(timeout, 0), None, None).tagger_version

    def close(self) -> None:
        """Stop the child (at server shutdown); a later ``analyze`` starts a new one."""
        with self._lock:
            self._stop(graceful=True)

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None and self._process.poll() is None else None

    def _started(self) -> Connection:
        if self._process is not None and self._process.poll() is None and self._conn is not None:
            return self._conn
        self._stop(graceful=False)
        # A fresh interpreter (``python -m service.analysis_worker``), not fork (the server has threads,
        # and a forked copy of a held lock never unlocks) nor multiprocessing's spawn (which re-runs
        # the parent's main module); a socket pair carries multiprocessing's framed, pickled messages.
        parent_end, child_end = socket.socketpair()
        with child_end:
            process = subprocess.Popen(
                [sys.executable, "-m", "service.analysis_worker", str(child_end.fileno())],
                pass_fds=(child_end.fileno(),), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            )
        self._process, self._conn = process, Connection(parent_end.detach())
        return self._conn

    def _stop(self, graceful: bool) -> None:
        process, conn = self._process, self._conn
        self._process = self._conn = None
        if conn is not None:
            if graceful and process is not None and process.poll() is None:
                try:
                    conn.send(None)
                except OSError:
                    pass
            conn.close()
        if process is not None:
            try:
                process.wait(timeout=5 if graceful else 0.05)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)

    def _wait(
        self, conn: Connection, budget: Budget, progress: Callable[[int, int], None] | None,
        cancelled: Callable[[], bool] | None, renew: bool = False,
    ) -> Analysed:
        # The clock starts when the child has its taggers and begins on the file: a new child's
        # start-up (a few seconds) is not the file's cost, though it has a bound of its own.
        deadline = time.monotonic() + budget.seconds + STARTUP_SECONDS
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._stop(graceful=False)
                raise ItemTimeoutError(f"处理该文件超过时间上限（{budget.seconds:g} 秒），已停止；"
                                       "可拆分文件后重新上传，或请管理员调高 XUNCHA_ITEM_SECONDS")
            if cancelled is not None and cancelled():
                self._stop(graceful=False)
                raise ItemCancelledError("已取消，处理中途停止，未保存")
            try:
                ready = conn.poll(min(POLL_SECONDS, remaining))
                message = conn.recv() if ready else None
            except (EOFError, OSError):  # the child died: the OS killed it or a parser crashed it
                self._stop(graceful=False)
                raise ItemMemoryError(f"处理该文件时分析进程异常退出（内存上限 {budget.memory_mb} MB），已停止；"
                                      "该文件可能已损坏或构造异常") from None
            if message is None:
                continue
            kind = message[0]
            if kind == "started":
                deadline = time.monotonic() + budget.seconds
            elif kind == "progress":
                if renew:
                    deadline = time.monotonic() + budget.seconds
                if progress is not None:
                    progress(message[1], message[2])
            elif kind == "ok":
                return Analysed(message[1], message[2])
            elif kind == "error":  # the pipeline's own refusal: the child is fine
                raise _rebuilt(message[1], message[2], message[3])
            elif kind == "memory":
                self._stop(graceful=False)  # its heap may be in any state
                raise ItemMemoryError(f"处理该文件超过内存上限（{budget.memory_mb} MB），已停止；"
                                      "可拆分文件后重新上传，或请管理员调高 XUNCHA_ITEM_MEMORY_MB")
            elif kind == "missing":
                raise FileNotFoundError(message[1])
            else:  # "failed": an unexpected exception, named without internals
                self._stop(graceful=False)
                raise RuntimeError(message[1])


def _rebuilt(code: str, message: str, source: str | None) -> XunchaError:
    """The child's XunchaError again, with its code and message (subclasses need not be picklable)."""
    error = XunchaError(message, source=source)
    error.code = code
    return error


_shared: AnalysisProcess | None = None
_shared_lock = threading.Lock()


def shared_process() -> AnalysisProcess:
    """The process's one analysis child handle (several apps in one test process share it)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = AnalysisProcess()
        return _shared


# ---------------------------------------------------------------------------------------------
# The child


def _loopback(address: Any) -> bool:
    if not isinstance(address, tuple) or not address:
        return True  # AF_UNIX paths and the like: local
    host = str(address[0])
    return host in ("localhost", "::1") or host.startswith("127.")


def _refuse_network(event: str, args: tuple[Any, ...]) -> None:
    """Audit hook: the analysis child may only reach loopback (LibreOffice talks to itself)."""
    if event in ("socket.connect", "socket.sendto", "socket.sendmsg") and len(args) >= 2 and not _loopback(args[1]):
        raise PermissionError(f"分析进程不允许连接网络：{args[1]!r}")
    if event == "socket.getaddrinfo" and args and str(args[0]) not in ("localhost", "::1") and not str(args[0]).startswith("127."):
        raise PermissionError(f"分析进程不允许解析网络地址：{args[0]!r}")


def _status_bytes(field: str) -> int | None:
    """A size from this process's ``/proc/self/status`` (``VmSize``, ``VmPeak``) in bytes; None off Linux."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


class _Ceiling:
    """The address-space cap of the item being analysed, and the peak before it was set."""

    limit: int | None = None
    peak_before: int = 0


def _limit_memory(memory_mb: int) -> None:
    """Cap the address space at what the warmed child holds now plus ``memory_mb`` (0: no cap).

    Relative, because the taggers, the OCR models and the threads' reserved arenas are the child's
    own cost, not the file's; what a file may add is the budget."""
    try:
        import resource
    except ImportError:  # not on Windows: the time budget still holds
        return
    now = _status_bytes("VmSize")
    limit = now + memory_mb * 1024 * 1024 if memory_mb > 0 and now is not None else resource.RLIM_INFINITY
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY and (limit == resource.RLIM_INFINITY or limit > hard):
        limit = hard
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    _Ceiling.limit = None if limit == resource.RLIM_INFINITY else limit
    _Ceiling.peak_before = _status_bytes("VmPeak") or 0


def _hit_ceiling() -> bool:
    """Whether this item's analysis reached its memory cap. A parser that meets a failed allocation
    often reports it as its own error (OpenCV's "insufficient memory" becomes an OCR failure): the
    address-space peak tells the budget apart from a broken file."""
    peak = _status_bytes("VmPeak")
    limit = _Ceiling.limit
    if peak is None or limit is None or limit <= _Ceiling.peak_before:
        return False
    return peak > _Ceiling.peak_before and peak >= limit - 64 * 1024 * 1024


def _use_environment(environment: dict[str, str]) -> None:
    for key in [k for k in os.environ if k.startswith("XUNCHA_") and k not in environment]:
        del os.environ[key]
    os.environ.update(environment)


def serve(conn: Connection) -> None:
    """The child's loop: one request at a time until ``None`` or the parent goes away."""
    sys.addaudithook(_refuse_network)
    try:
        _serve(conn)
    except (EOFError, OSError):  # the parent has gone (killed, or stopped us): nothing to answer
        return


def _serve(conn: Connection) -> None:
    tagger: Any = None
    while True:
        request = conn.recv()
        if request is None:
            return
        kind, staged, name, max_bytes, extra, memory_mb, environment = request
        _use_environment(environment)
        try:
            _limit_memory(0)  # loading the taggers is not the file's cost
            if tagger is None:
                from nlp.tagging import make_tagger

                tagger = make_tagger()
            if kind == "warm":
                conn.send(("ok", None, getattr(tagger, "model_version", None)))
                continue
            _limit_memory(memory_mb)
            conn.send(("started",))
            try:
                with open(staged, "rb") as fh:
                    data = fh.read()
            except FileNotFoundError:
                conn.send(("missing", staged))
                continue
            if kind == "sheet":
                from service.importer import prepare_sheet

                prepared = prepare_sheet(data, name, extra, tagger=tagger,
                                         progress=lambda done, total: conn.send(("progress", done, total)))
                conn.send(("ok", prepared, prepared.tagger_version))
                continue
            from nlp.pipeline import analyze_bytes

            doc = analyze_bytes(data, name, max_bytes=max_bytes, tagger=tagger,
                                progress=lambda done, total: conn.send(("progress", done, total)))
            del data
            conn.send(("ok", doc, getattr(tagger, "model_version", None)))
        except XunchaError as exc:
            if _hit_ceiling():
                conn.send(("memory",))
                return
            conn.send(("error", exc.code, exc.message, exc.source))
        except MemoryError:
            conn.send(("memory",))
            return
        except Exception as exc:  # logged here, named to the parent without internals
            if _hit_ceiling():
                conn.send(("memory",))
                return
            logging.getLogger("xuncha.analysis").exception("analysis of %s failed", name)
            conn.send(("failed", f"处理失败：{type(exc).__name__}"))
            return


if __name__ == "__main__":  # started by AnalysisProcess with the child's end of the socket pair
    serve(Connection(int(sys.argv[1])))
