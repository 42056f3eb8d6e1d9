"""Background upload jobs: files are checked and staged at upload, analysed and stored by a worker.

Why a table and staged files rather than an in-memory queue: a job must survive the server being
killed mid-batch. Each item is stored in one transaction (``ingest_bytes``), so after a crash an
item is either fully stored or still ``queued``/``running``; on start-up the runner puts the
unfinished items back in the queue and the job completes. Staged bytes live under
``DATA_DIR/uploads/<job>/<position>`` – a name we make, never one the client sent.
"""

from __future__ import annotations

import logging
import queue
import re
import secrets
import shutil
import threading
import time
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # Windows: no OS lock; a start-up then re-queues every running item, as before
    fcntl = None  # type: ignore[assignment]

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from nlp.errors import XunchaError
from nlp.extract import check_bytes
from service.analysis_worker import (
    AnalysisProcess,
    Budget,
    ItemCancelledError,
    ItemMemoryError,
    ItemTimeoutError,
    shared_process,
)
from service.store import models
from service.store.repository import Overrides, ingest_bytes

log = logging.getLogger("xuncha.jobs")
FINISHED = {"stored", "duplicate", "error"}
MAX_ATTEMPTS = 3
# Set on a running item by a cancel (from any process); the worker analysing it stops its analysis
CANCEL_REQUESTED = "cancel_requested"
DEFAULT_BUDGET = Budget(seconds=600.0, memory_mb=2048)


def safe_name(name: str | None) -> str:
    """A display name from a client-supplied file name: no directories, control characters or NULs."""
    name = unicodedata.normalize("NFC", name or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = re.sub(r"^[.\s]+", "", name).strip()
    return name[:200] or "未命名文件"


@dataclass
class Upload:
    name: str
    data: bytes | None  # None when the file was refused up front
    error: XunchaError | None = None


def check_upload(name: str, data: bytes, max_bytes: int) -> Upload:
    """Refuse what can be refused cheaply and early: empty, oversize, wrong type, unreadable file.

    Text extraction is fast (pypdfium2 ~700 pages/s), so running it here gives the uploader an
    immediate, specific answer (encrypted PDF, unknown encoding, corrupt OFD…) instead of a failed job
    later; the slow steps (OCR at 2–3 s a page, LibreOffice conversion) only have their limits checked
    here and run in the job (``check_bytes``).
    """
    try:
        check_bytes(data, name, max_bytes=max_bytes)
    except XunchaError as exc:
        return Upload(name, None, exc)
    return Upload(name, data)


@contextmanager
def item_lock(staged: str | None) -> Iterator[bool]:
    """An exclusive, non-blocking OS lock on an item's staged file, held while the item is processed.

    A process starting up can thus tell an item another live process is working on (locked) from one
    left ``running`` by a killed process: the OS drops a dead process's locks, even after kill -9.
    Yields False when another process holds the lock.
    """
    if fcntl is None or not staged:
        yield True
        return
    try:
        fh = open(staged, "rb")  # closed below, which releases the lock
    except OSError:  # missing: the item fails with staged_file_missing
        yield True
        return
    try:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            yield False
            return
        yield True
    finally:
        fh.close()


def create_job(
    make_session: sessionmaker[Session], uploads_dir: Path, uploads: list[Upload], overrides: Overrides, user: str | None,
    extra: dict[str, Any] | None = None,
) -> models.Job:
    """A queued job of ``uploads``; ``extra`` is kept with the overrides (``import_map``: the items are
    问题清单 to import with that column mapping, not reports)."""
    job_id = secrets.token_hex(8)
    folder = uploads_dir / job_id
    folder.mkdir(parents=True, exist_ok=True)
    job = models.Job(id=job_id, created_by=user, overrides={**overrides.__dict__, **(extra or {})})
    for position, upload in enumerate(uploads):
        item = models.JobItem(position=position, name=upload.name, status="queued", attempts=0)
        if upload.data is None:
            assert upload.error is not None
            item.status, item.error_code, item.error_message = "error", upload.error.code, upload.error.message
        else:
            staged = folder / f"{position:04d}.bin"
            staged.write_bytes(upload.data)
            item.staged_path = str(staged)
        job.items.append(item)
    if all(i.status == "error" for i in job.items):
        job.finished_at = datetime.now(UTC)
    with make_session() as session:
        session.add(job)
        session.commit()
    return job


def job_status(job: models.Job) -> str:
    statuses = [i.status for i in job.items]
    if all(s in FINISHED for s in statuses):
        return "failed" if statuses and all(s == "error" for s in statuses) else "done"
    return "running" if any(s != "queued" for s in statuses) else "queued"


def job_dict(job: models.Job) -> dict[str, Any]:
    items = [
        {
            "index": i.position,
            "name": i.name,
            "status": i.status,
            "document_id": i.document_id,
            "findings": i.findings,
            "error": {"code": i.error_code, "message": i.error_message}
            if i.error_code and i.error_code != CANCEL_REQUESTED else None,
            "cancelling": i.error_code == CANCEL_REQUESTED and i.status == "running",
            # pages OCR'd so far of a scan or a photo being read (None for text formats)
            "pages": {"done": i.pages_done or 0, "total": i.pages_total} if i.pages_total else None,
        }
        for i in job.items
    ]
    return {
        "id": job.id,
        "status": job_status(job),
        "created_by": job.created_by,
        "created_at": job.created_at.isoformat() if job.created_at else None,
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
        "total": len(items),
        "done": sum(1 for i in items if i["status"] in FINISHED),
        "failed": sum(1 for i in items if i["status"] == "error"),
        "items": items,
    }


class JobRunner:
    """One worker thread per process; items are claimed with a conditional UPDATE, so two
    processes sharing a database never store the same item twice.

    Each item is read and analysed in the analysis child (``service.analysis_worker``) under
    ``budget``; this thread stores the result. A file over its time or memory budget fails alone
    with its reason and is not tried again unless someone asks (retry)."""

    def __init__(
        self, make_session: sessionmaker[Session], files_dir: Path, max_bytes: int,
        budget: Budget = DEFAULT_BUDGET, analysis: AnalysisProcess | None = None,
    ) -> None:
        self.make_session = make_session
        self.files_dir = files_dir
        self.max_bytes = max_bytes
        self.budget = budget
        self.analysis = analysis or shared_process()
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self.idle = threading.Event()
        self.idle.set()
        self._stopping = False

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="xuncha-jobs", daemon=True)
        self._thread.start()
        self.resume()

    def stop(self) -> None:
        """Stop after the current item; one cut short by the shutdown stays ``running`` and is
        queued again at the next start (``resume``), not recorded as failed."""
        self._stopping = True
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=30)
            self._thread = None

    def submit(self, job_id: str) -> None:
        self.idle.clear()
        self._queue.put(job_id)

    def resume(self) -> list[str]:
        """Re-queue items left ``running`` by a crash, then every job with unfinished items."""
        with self.make_session() as session:
            running = session.execute(
                select(models.JobItem.id, models.JobItem.staged_path).where(models.JobItem.status == "running")
            ).all()
            for item_id, staged in running:
                with item_lock(staged) as orphaned:  # locked: another live process (a second worker) has it
                    if orphaned:  # its process died; a cancel asked of it is carried out now
                        session.execute(
                            update(models.JobItem).where(models.JobItem.id == item_id, models.JobItem.status == "running",
                                                         models.JobItem.error_code.is_distinct_from(CANCEL_REQUESTED))
                            .values(status="queued")
                        )
                        session.execute(
                            update(models.JobItem).where(models.JobItem.id == item_id, models.JobItem.status == "running")
                            .values(status="error", error_code=CANCELLED, error_message="已取消，未处理", staged_path=None)
                        )
                        session.commit()
            ids = list(session.scalars(select(models.JobItem.job_id).where(models.JobItem.status == "queued").distinct()))
        for job_id in ids:
            self.submit(job_id)
        return ids

    def retry(self, job_id: str) -> None:
        """Put a job's failed items back in the queue (e.g. after fixing a configuration problem)."""
        with self.make_session() as session:
            session.execute(
                update(models.JobItem)
                .where(models.JobItem.job_id == job_id, models.JobItem.status == "error", models.JobItem.staged_path.is_not(None))
                .values(status="queued", error_code=None, error_message=None, attempts=0)
            )
            session.execute(update(models.Job).where(models.Job.id == job_id).values(finished_at=None))
            session.commit()
        self.submit(job_id)

    def cancel(self, job_id: str) -> tuple[int, int]:
        """Cancel a job's items still queued; returns how many. An item being processed finishes (its
        work is one transaction: stored whole or not at all), so nothing is ever half-stored."""
        return cancel_queued(self.make_session, job_id)

    def _loop(self) -> None:
        while True:
            if self._queue.empty():
                self.idle.set()
            job_id = self._queue.get()
            if job_id is None:
                return
            try:
                self.run_job(job_id)
            except Exception:  # one broken job must not stop the worker
                log.exception("job %s failed", job_id)

    def run_job(self, job_id: str) -> None:
        with self.make_session() as session:
            positions = list(
                session.scalars(
                    select(models.JobItem.id).where(models.JobItem.job_id == job_id, models.JobItem.status == "queued")
                    .order_by(models.JobItem.position)
                )
            )
        for item_id in positions:
            self._run_item(item_id)
        with self.make_session() as session:
            job = session.get(models.Job, job_id)
            if job is not None and all(i.status in FINISHED for i in job.items):
                if job.finished_at is None:
                    job.finished_at = datetime.now(UTC)
                    session.commit()
                folder = next((Path(i.staged_path).parent for i in job.items if i.staged_path), None)
                # kept while a failed item can still be retried; items refused at upload were never staged
                if folder is not None and all(i.status != "error" or i.staged_path is None for i in job.items):
                    shutil.rmtree(folder, ignore_errors=True)

    def _run_item(self, item_id: int) -> None:
        with self.make_session() as session:
            staged_path = session.scalar(select(models.JobItem.staged_path).where(models.JobItem.id == item_id))
        with item_lock(staged_path) as free:
            if free:  # else another process is working on it
                self._claim_and_run(item_id)

    def _claim_and_run(self, item_id: int) -> None:
        with self.make_session() as session:
            claimed = session.execute(
                update(models.JobItem).where(models.JobItem.id == item_id, models.JobItem.status == "queued")
                .values(status="running", attempts=models.JobItem.attempts + 1)
            )
            session.commit()
            if claimed.rowcount != 1:  # type: ignore[attr-defined]
                return  # another worker has it
            item = session.get(models.JobItem, item_id)
            assert item is not None
            job = item.job
            overrides = Overrides(**{k: v for k, v in (job.overrides or {}).items() if k in Overrides.__dataclass_fields__})
            import_map = (job.overrides or {}).get("import_map")
            name, staged, attempts = item.name, item.staged_path, item.attempts
        result: dict[str, Any]
        cancelled = _CancelCheck(self.make_session, item_id)
        try:
            if attempts > MAX_ATTEMPTS:
                raise JobItemGaveUpError()
            if not staged:
                raise FileNotFoundError(name)
            if import_map is not None:  # a 问题清单: one finding per row (service/importer.py)
                from service.importer import import_bytes

                mapping = dict(import_map)
                data = Path(staged).read_bytes()
                with self.make_session() as session:
                    imported = import_bytes(
                        session, data, name, self.files_dir, mapping=mapping,
                        prepared=lambda: self.analysis.prepare_sheet(staged, name, mapping, self.budget, cancelled=cancelled),
                    )
                result = {"status": imported.status, "document_id": imported.document_id, "findings": imported.findings}
            else:
                progress = _PageProgress(self.make_session, item_id)
                analysed = self.analysis.analyze(staged, name, self.max_bytes, self.budget, progress=progress,
                                                 cancelled=cancelled)
                data = Path(staged).read_bytes()
                with self.make_session() as session:
                    stored = ingest_bytes(session, data, name, analysed.doc, self.files_dir, overrides, analysed.tagger_version)
                result = {"status": stored.status, "document_id": stored.document_id, "findings": stored.findings}
            result.update(error_code=None, error_message=None)  # a cancel that came too late to stop it
        except (ItemMemoryError, ItemTimeoutError) as exc:
            if self._stopping:  # the shutdown, not the file, stopped the analysis: resumed at the next start
                log.info("item %s left for the next start: %s", item_id, exc.code)
                return
            result = {"status": "error", "error_code": exc.code, "error_message": exc.message}
        except ItemCancelledError as exc:  # stopped mid-way: nothing stored, nothing left to retry
            result = {"status": "error", "error_code": exc.code, "error_message": exc.message, "staged_path": None}
            if staged:
                Path(staged).unlink(missing_ok=True)
        except XunchaError as exc:
            result = {"status": "error", "error_code": exc.code, "error_message": exc.message}
        except FileNotFoundError:
            result = {"status": "error", "error_code": "staged_file_missing", "error_message": "暂存的上传文件已丢失，请重新上传"}
        except Exception as exc:  # keep the job going; the message names the failure without internals
            log.exception("job item %s failed", item_id)
            result = {"status": "error", "error_code": "processing_failed", "error_message": f"处理失败：{type(exc).__name__}"}
        with self.make_session() as session:
            session.execute(update(models.JobItem).where(models.JobItem.id == item_id).values(**result))
            job_id = session.scalar(select(models.JobItem.job_id).where(models.JobItem.id == item_id))
            unfinished = session.scalar(
                select(func.count(models.JobItem.id)).where(models.JobItem.job_id == job_id, models.JobItem.status.not_in(FINISHED))
            )
            if not unfinished:  # in the same transaction as the last item: "done" never shows without finished_at
                session.execute(
                    update(models.Job).where(models.Job.id == job_id, models.Job.finished_at.is_(None))
                    .values(finished_at=datetime.now(UTC))
                )
            session.commit()
            engine = session.get_bind().engine
        if not unfinished:
            from service.cluster_cache import refresh_beside

            refresh_beside(engine)  # the common issues are current when the page is next opened


CANCELLED = "cancelled"


def cancel_queued(make_session: sessionmaker[Session], job_id: str) -> tuple[int, int]:
    """Cancel a job's unfinished items; returns how many queued ones were cancelled and how many
    running ones were asked to stop (one already being stored when the request came is stored). Queued ones are marked cancelled at once
    (an error a retry skips: their staged files are removed). A running one is marked
    ``cancel_requested``: the worker analysing it, in whichever process, stops the analysis within a
    second and records it cancelled; one already being stored finishes (storing is one transaction,
    so nothing is ever half-stored). A claim is a conditional UPDATE on ``queued``, so an item is
    either claimed by a worker or cancelled here, never both."""
    with make_session() as session:
        staged = list(session.scalars(
            select(models.JobItem.staged_path).where(models.JobItem.job_id == job_id, models.JobItem.status == "queued")
        ))
        result = session.execute(
            update(models.JobItem).where(models.JobItem.job_id == job_id, models.JobItem.status == "queued")
            .values(status="error", error_code=CANCELLED, error_message="已取消，未处理", staged_path=None)
        )
        stopping = session.execute(
            update(models.JobItem).where(models.JobItem.job_id == job_id, models.JobItem.status == "running")
            .values(error_code=CANCEL_REQUESTED)
        )
        unfinished = session.scalar(
            select(func.count(models.JobItem.id)).where(models.JobItem.job_id == job_id, models.JobItem.status.not_in(FINISHED))
        )
        if not unfinished:
            session.execute(
                update(models.Job).where(models.Job.id == job_id, models.Job.finished_at.is_(None)).values(finished_at=datetime.now(UTC))
            )
        session.commit()
    for path in staged:
        if path:
            Path(path).unlink(missing_ok=True)
    return int(result.rowcount or 0), int(stopping.rowcount or 0)  # type: ignore[attr-defined]


class _CancelCheck:
    """Whether a running item has been asked to stop: one small read a second at most, so a cancel
    sent to any server process reaches the worker analysing the item."""

    def __init__(self, make_session: sessionmaker[Session], item_id: int) -> None:
        self.make_session = make_session
        self.item_id = item_id
        self._checked = 0.0

    def __call__(self) -> bool:
        now = time.monotonic()
        if now - self._checked < 1.0:
            return False
        self._checked = now
        try:
            with self.make_session() as session:
                code = session.scalar(select(models.JobItem.error_code).where(models.JobItem.id == self.item_id))
        except Exception:  # a database hiccup must not stop the analysis
            log.warning("could not read the cancel state of item %s", self.item_id, exc_info=True)
            return False
        return code == CANCEL_REQUESTED


class _PageProgress:
    """Writes an item's pages read so far (OCR: one page every 2–3 s) for the job's progress bar.

    One short UPDATE per page in its own transaction, so a reader polling GET /jobs/{id} sees the
    count move while the item runs; a failed write is logged and never fails the item.
    """

    def __init__(self, make_session: sessionmaker[Session], item_id: int) -> None:
        self.make_session = make_session
        self.item_id = item_id

    def __call__(self, done: int, total: int) -> None:
        try:
            with self.make_session() as session:
                session.execute(
                    update(models.JobItem).where(models.JobItem.id == self.item_id)
                    .values(pages_done=done, pages_total=total)
                )
                session.commit()
        except Exception:  # progress is a courtesy: the item goes on
            log.warning("could not record page progress of item %s", self.item_id, exc_info=True)


class JobItemGaveUpError(XunchaError):
    code = "processing_gave_up"
    default_message = f"该文件已尝试处理 {MAX_ATTEMPTS} 次仍未完成（可能导致服务中断），已放弃"
