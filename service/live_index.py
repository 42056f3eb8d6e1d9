"""The search index of a library that grows while it is searched.

A full index (:class:`nlp.search.SearchIndex`) over 20k findings takes seconds to build and one over
100k most of a minute, so it cannot be rebuilt on the request that follows an upload. Each process
keeps instead a :class:`LiveView` of each library:

- a **base** index over the findings present when it was built;
- a small **delta** index over the findings added since (built in milliseconds, it holds hundreds);
- the ids of base findings **removed** since (masked out of every search).

A search reads one number first — the last sequence number of the library's change log
(:mod:`service.store.changes`) — and, when the library moved on, replays the changes after the one
the view has applied: the new findings' stored representations are read (nothing is embedded here)
into a new delta, removed ones are masked. That is what makes a finding uploaded through any worker
or any server on the same database searchable on the next search everywhere.

A change of more than a few hundred findings at once (an imported 问题清单) is applied on a
background thread instead, the searches meanwhile answered from the view before it. When the delta
grows past a share of the base, or some time after the last change, the base is
rebuilt on a background thread over the whole library while searches go on against the current
view; the finished base replaces the view's base and delta at once, with the changes made during the
rebuild carried over. Each view is immutable, so a search never sees a half-applied change.

Scores from the two indexes are fused on the same absolute scales (cosine, saturated BM25, concept
share); only BM25's idf is the delta's own until the next rebuild folds the delta into the base.
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from filelock import Timeout
from sqlalchemy import Engine, func, make_url, select
from sqlalchemy.orm import Session

from nlp.concepts import default_thesaurus
from nlp.embedders import Embedder
from nlp.errors import XunchaError
from nlp.lexical import finding_tokens
from nlp.search import BadIndexError, Hit, SearchIndex, UnknownFindingError, merge_hits
from nlp.segment import make_segmenter
from service.index_snapshots import SnapshotStore, change_stamp, library_key
from service.representations import LibraryVectors, configured_embedder, load_library
from service.store import models
from service.store.changes import REMOVE, UPDATE, WINDOW, change_window, changes_after, latest_change

log = logging.getLogger(__name__)

REBUILD_SHARE = 0.05  # a delta above this share of the base (and REBUILD_MIN_ROWS) is folded in
REBUILD_MIN_ROWS = 500
REBUILD_AFTER_SECONDS = 120.0  # a delta or masked removals older than this are folded in anyway
SYNC_CATCH_UP = 200  # changes up to this many are applied on the search that notices them; more, beside it


@dataclass(frozen=True)
class Rows:
    """Findings with their stored representation and tokens (what a delta index is rebuilt from)."""

    ids: tuple[int, ...] = ()
    texts: tuple[str, ...] = ()
    vectors: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.float32))
    concepts: tuple[tuple[str, ...], ...] = ()
    tokens: tuple[tuple[str, ...], ...] = ()  # segmented once: a delta is re-indexed on every change

    @classmethod
    def of(cls, library: LibraryVectors) -> Rows:
        segmenter = make_segmenter()
        return cls(tuple(library.ids), tuple(library.texts), library.vectors, tuple(tuple(c) for c in library.concepts),
                   tuple(tuple(finding_tokens(t, segmenter)) for t in library.texts))

    def __len__(self) -> int:
        return len(self.ids)

    def without(self, gone: set[int]) -> Rows:
        keep = [i for i, fid in enumerate(self.ids) if fid not in gone]
        if len(keep) == len(self.ids):
            return self
        return Rows(tuple(self.ids[i] for i in keep), tuple(self.texts[i] for i in keep),
                    self.vectors[keep], tuple(self.concepts[i] for i in keep), tuple(self.tokens[i] for i in keep))

    def plus(self, other: Rows) -> Rows:
        if not len(other):
            return self
        if not len(self):
            return other
        return Rows(self.ids + other.ids, self.texts + other.texts, np.vstack([self.vectors, other.vectors]),
                    self.concepts + other.concepts, self.tokens + other.tokens)

    def index(self, embedder: Embedder) -> SearchIndex:
        vectors = self.vectors if len(self) else np.zeros((0, embedder.dim), dtype=np.float32)
        return SearchIndex([str(i) for i in self.ids], list(self.texts), vectors, [list(c) for c in self.concepts], embedder,
                           tokens=[list(t) for t in self.tokens])


@dataclass(frozen=True)
class LiveView:
    """One consistent state of the library's index: base + delta − removed, as of change ``seq``."""

    version: str  # embedder and thesaurus the index was built under
    seq: int
    window: frozenset[int]  # the applied changes numbered in (seq - WINDOW, seq] (see change_window)
    base: SearchIndex
    delta_rows: Rows
    delta: SearchIndex | None
    removed: frozenset[str]  # base findings deleted since the base was built
    changed_at: float  # monotonic time of the first change not in the base (0: none)
    snapshot: str | None = None  # the base's folder on disk when it was opened from one (service.index_snapshots)
    base_seq: int = 0  # the change the base holds the library as of

    @property
    def size(self) -> int:
        return len(self.base) - len(self.removed) + len(self.delta_rows)

    def holds(self, finding_id: str) -> bool:
        return self._holder(finding_id) is not None

    def _holder(self, finding_id: str) -> SearchIndex | None:
        if self.delta is not None and finding_id in self.delta:
            return self.delta
        if finding_id in self.base and finding_id not in self.removed:
            return self.base
        return None

    def search(self, query: str, limit: int = 10, filter_ids: Iterable[str] | None = None) -> list[Hit]:
        allowed = None if filter_ids is None else set(filter_ids)
        parts = [(self.base, self.base.search(query, limit, allowed, exclude_ids=self.removed))]
        if self.delta is not None:
            parts.append((self.delta, self.delta.search(query, limit, allowed)))
        return merge_hits(parts, limit)

    def more_like_this(self, finding_id: str, limit: int = 10, filter_ids: Iterable[str] | None = None) -> list[Hit]:
        holder = self._holder(finding_id)
        if holder is None:
            raise UnknownFindingError(source=finding_id)
        text, vector, concepts = holder.representation(finding_id)
        allowed = None if filter_ids is None else set(filter_ids)
        parts = [(self.base, self.base.similar_to(text, vector, concepts, limit, allowed, [*self.removed, finding_id]))]
        if self.delta is not None:
            parts.append((self.delta, self.delta.similar_to(text, vector, concepts, limit, allowed, [finding_id])))
        return merge_hits(parts, limit)

    def due_for_rebuild(self, now: float) -> bool:
        pending = len(self.delta_rows) + len(self.removed)
        if not pending:
            return False
        large = pending >= max(REBUILD_MIN_ROWS, REBUILD_SHARE * len(self.base))
        return large or now - self.changed_at >= REBUILD_AFTER_SECONDS


def index_version(embedder: Embedder) -> str:
    return f"{embedder.name}-{default_thesaurus().version}"


def build_view(session: Session, embedder: Embedder) -> LiveView:
    """A view whose base holds the whole library now (the sequence is read first: a change committed
    while the findings are read is replayed again on top, which is harmless)."""
    seq = latest_change(session)
    window = frozenset(s for s, _, _ in changes_after(session, seq - WINDOW) if s <= seq)
    rows = Rows.of(load_library(session, embedder))
    return LiveView(index_version(embedder), seq, window, rows.index(embedder), Rows(), None, frozenset(), 0.0,
                    base_seq=seq)


def caught_up(session: Session, view: LiveView, embedder: Embedder) -> LiveView:
    """``view`` with the changes committed since applied (itself when there are none).

    The changes numbered in the last WINDOW are read, not only those after ``seq``: one committed late
    under a lower number is applied too. The last change of each finding decides whether it is in the
    delta; a base finding touched at all is masked (removed, or re-added under a reused id and then
    held by the delta). A finding moved to another round or unit (``update``) is left where it is: the
    index holds its text and vectors only, and the search filters read rounds and units from the
    database; the change is counted so the view stays in step with the log."""
    changes = changes_after(session, view.seq - WINDOW)
    fresh = [c for c in changes if c[0] not in view.window]
    if not fresh:
        return view
    seq = max(view.seq, changes[-1][0])
    window = frozenset(s for s in view.window | {c[0] for c in fresh} if s > seq - WINDOW)
    last: dict[int, str] = {}
    for _, finding_id, change in fresh:
        if change != UPDATE:
            last[finding_id] = change
    if not last:
        return replace(view, seq=seq, window=window)
    touched = set(last)
    added = load_library(session, embedder, only_ids=[f for f, c in last.items() if c != REMOVE])
    delta_rows = view.delta_rows.without(touched).plus(Rows.of(added))
    removed = view.removed | {str(f) for f in touched if str(f) in view.base}
    delta = delta_rows.index(embedder) if len(delta_rows) else None
    return replace(view, seq=seq, window=window, delta_rows=delta_rows, delta=delta, removed=frozenset(removed),
                   changed_at=view.changed_at or time.monotonic())


@dataclass
class _Library:
    """The view kept for one database in this process, and its rebuild state."""

    view: LiveView | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    rebuilding: bool = False
    catching_up: bool = False
    rebuilds: int = 0
    store: SnapshotStore | None = None  # where the base lives on disk (None: kept in memory only)
    serving: bool = False  # a server process: large bases are built by a builder process
    inline_max: int | None = None  # the largest library built in this process (None: INLINE_BUILD_MAX)
    database_url: str = ""  # with its password: what a builder process is handed
    pointer: tuple[int, int, int] | None = None  # the stamp of the pointer file last looked at
    builder: subprocess.Popen[bytes] | None = None
    builder_started: float = -1e9


_LIBRARIES: dict[str, _Library] = {}
_LIBRARIES_LOCK = threading.Lock()
_INDEX_FOLDERS: dict[str, tuple[Path, bool, int | None]] = {}


def _library(key: str) -> _Library:
    with _LIBRARIES_LOCK:
        return _LIBRARIES.setdefault(key, _Library())


def keep_index_in(data_dir: Path, database_url: str, *, serving: bool = True, inline_max: int | None = None) -> None:
    """Keep the base index of the library at ``database_url`` on disk under ``data_dir/index`` (the
    server and the CLI call this with their settings), mapped by every process. A server
    (``serving``) has a large base built and rebuilt by a builder process beside it; the CLI, which
    answers once and exits, builds a missing one itself and leaves it for the next command. Without
    this (the pipeline used as a library, unit tests) each process builds and keeps its base in memory.
    ``inline_max`` (``XUNCHA_INLINE_BUILD_MAX``; default :data:`INLINE_BUILD_MAX`): the largest library
    a server builds, or clusters, in its own process."""
    url = make_url(database_url)
    root = data_dir / "index" / library_key(url.render_as_string(hide_password=False))
    with _LIBRARIES_LOCK:
        _INDEX_FOLDERS[str(url)] = (root, serving, inline_max)
        held = _LIBRARIES.get(str(url))
        if held is not None:  # registered again (a restarted app in the same process): the new values
            held.store = None


def _held(engine: Engine) -> _Library:
    held = _library(str(engine.url))
    if held.store is None:
        kept = _INDEX_FOLDERS.get(str(engine.url))
        if kept is not None:
            held.store, held.serving, held.inline_max = SnapshotStore(kept[0]), kept[1], kept[2]
            held.database_url = engine.url.render_as_string(hide_password=False)
    return held


@dataclass(frozen=True)
class ServedLibrary:
    """What a builder process for a library kept by a server is handed."""

    folder: Path  # the library's folder under the data folder: builders' files and locks
    database_url: str  # with its password (passed in the environment, never on a command line)
    inline_max: int  # the largest library the server builds or clusters in its own process


def served_library(engine: Engine) -> ServedLibrary | None:
    """The library at ``engine`` when a server process keeps it (``keep_index_in(serving=True)``)."""
    held = _held(engine)
    if held.store is None or not held.serving:
        return None
    return ServedLibrary(held.store.root, held.database_url, _inline_max(held))


def _inline_max(held: _Library) -> int:
    return INLINE_BUILD_MAX if held.inline_max is None else held.inline_max


class IndexBuildingError(XunchaError):
    """The library has no base index on disk yet and is too large to build one in the request."""

    code = "index_building"
    default_message = "检索索引正在建立，请稍后再试"


def current_view(session: Session, *, background: bool = True) -> LiveView:
    """The library's view as of its latest change: one cheap query when nothing changed, the changes
    replayed when something did, a base opened from disk (or built) only the first time, after a
    model change, or when a builder has published a newer one."""
    embedder = configured_embedder()
    engine = session.get_bind().engine
    held = _held(engine)
    view = held.view
    version = index_version(embedder)
    if view is not None and view.version == version and held.store is not None:
        _adopt_newer_base(held, session, engine, embedder, background)
        view = held.view
        assert view is not None
    top, count = change_window(session, view.seq) if view is not None else (0, 0)
    if view is not None and view.version == version and (top, count) == (view.seq, len(view.window)):
        _maybe_rebuild(held, engine, embedder, view, background)
        return view
    if background and view is not None and view.version == version and top >= view.seq and (
        held.catching_up or top - view.seq > SYNC_CATCH_UP
    ):
        # a large change (an imported 问题清单 of thousands of rows): reading and indexing it would hold
        # this search — and every other waiting for the lock — for seconds; it is caught up beside them
        _catch_up_beside(held, engine, embedder)
        return view
    with held.lock:
        view = held.view
        # a sequence below the view's: the database was replaced (restored from a backup, recreated)
        if view is None or view.version != version or latest_change(session) < view.seq:
            view = _first_view(held, session, embedder, background)
        view = caught_up(session, view, embedder)
        held.view = view
    _maybe_rebuild(held, engine, embedder, view, background)
    return view


INLINE_BUILD_MAX = 5000  # a server builds a base this small in the request (ms); a larger one in a builder process


def _first_view(held: _Library, session: Session, embedder: Embedder, background: bool) -> LiveView:
    """The view to start from: the base on disk when there is a usable one; else one built here (the
    CLI, a small library), published for the other processes; else a builder is started and the
    search told to come back (:class:`IndexBuildingError`), never stalled for a minute."""
    store = held.store
    if store is None:
        return build_view(session, embedder)
    opened = _open_current(store, session, embedder)
    if opened is not None:
        held.pointer = store.pointer_stamp()
        return opened
    if background and held.serving:
        count = int(session.scalar(select(func.count(models.Finding.id))) or 0)
        if count > _inline_max(held):
            _start_builder(held, 0)
            raise IndexBuildingError(f"检索索引正在建立（{count} 条问题，约需 {max(1, count // 1500)} 秒），请稍后再试")
    view = build_view(session, embedder)
    if len(view.base):
        try:
            with store.lock().acquire(timeout=0):
                info = store.write(view.base, view.seq, view.window, view.version, change_stamp(session, view.seq))
            held.pointer = store.pointer_stamp()
            view = replace(view, snapshot=info.name)
        except Timeout:
            pass  # a builder is writing one; this process keeps its own until that one is published
        except OSError:
            log.warning("检索索引无法写入 %s，本进程在内存中保留", store.root, exc_info=True)
    return view


def _open_current(store: SnapshotStore, session: Session, embedder: Embedder) -> LiveView | None:
    """The current base on disk as a view, or None when there is none usable (another model, another
    database, damaged: a damaged one is removed)."""
    info = store.current()
    if info is None or info.version != index_version(embedder):
        return None
    if info.seq > latest_change(session) or info.stamp != change_stamp(session, info.seq):
        log.info("磁盘上的检索索引不属于当前数据库（已替换或恢复），重建")
        return None
    try:
        base = store.open(info, embedder, default_thesaurus())
    except BadIndexError as exc:
        log.warning("检索索引 %s 无法使用（%s），重建", info.name, exc)
        store.discard(info)
        return None
    return LiveView(info.version, info.seq, info.window, base, Rows(), None, frozenset(), 0.0,
                    snapshot=info.name, base_seq=info.seq)


def _adopt_newer_base(held: _Library, session: Session, engine: Engine, embedder: Embedder, background: bool) -> None:
    """Switch to a base a builder has published since (a stat when none was)."""
    store = held.store
    assert store is not None
    stamp = store.pointer_stamp()
    if stamp is None or stamp == held.pointer:
        return
    info = store.current()
    view = held.view
    if info is None or view is None or info.name == view.snapshot or info.seq < view.base_seq:
        held.pointer = stamp
        return
    if background:
        with held.lock:
            if held.catching_up:
                return
            held.catching_up = True
        threading.Thread(target=_adopt, args=(held, engine, embedder, stamp), name="xuncha-index-adopt", daemon=True).start()
    else:
        _adopt(held, engine, embedder, stamp, session)


def _adopt(held: _Library, engine: Engine, embedder: Embedder, stamp: tuple[int, int, int],
           session: Session | None = None) -> None:
    """Open the published base, replay the changes after it, and swap it in."""
    store = held.store
    assert store is not None
    try:
        with Session(engine) if session is None else _borrowed(session) as reader:
            opened = _open_current(store, reader, embedder)
            if opened is None:
                held.pointer = stamp
                return
            ahead = caught_up(reader, opened, embedder)
        with Session(engine) if session is None else _borrowed(session) as reader, held.lock:
            held.view = caught_up(reader, ahead, embedder)
            held.pointer = stamp
            held.rebuilds += 1
        log.info("已换用新建立的检索索引 %s（%d 条问题）", opened.snapshot, held.view.size)
    except Exception:  # the next search tries again
        log.exception("换用新检索索引失败，继续使用当前索引")
    finally:
        if session is None:
            held.catching_up = False


@contextlib.contextmanager
def _borrowed(session: Session) -> Iterator[Session]:
    yield session


def _start_builder(held: _Library, after: int) -> None:
    """Start a builder process for this library unless one started by this process is running or one
    was started in the last BUILDER_RETRY_SECONDS (a builder that keeps failing is not restarted in a loop)."""
    store = held.store
    assert store is not None
    with _BUILDER_LOCK:
        if held.builder is not None and held.builder.poll() is None:
            return
        if time.monotonic() - held.builder_started < BUILDER_RETRY_SECONDS:
            return
        held.builder_started = time.monotonic()
        env = {**os.environ, "XUNCHA_DATABASE_URL": held.database_url}
        held.builder = subprocess.Popen(
            [sys.executable, "-m", "service.index_builder", str(store.root), "--after", str(after)],
            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, start_new_session=True,
        )


BUILDER_RETRY_SECONDS = 30.0
_BUILDER_LOCK = threading.Lock()


def _catch_up_beside(held: _Library, engine: Engine, embedder: Embedder) -> None:
    with held.lock:
        if held.catching_up:
            return
        held.catching_up = True
    threading.Thread(target=_catch_up, args=(held, engine, embedder), name="xuncha-index-catch-up", daemon=True).start()


def _catch_up(held: _Library, engine: Engine, embedder: Embedder) -> None:
    """Apply a large change to a copy of the view, then swap it in with what came meanwhile."""
    try:
        view = held.view
        assert view is not None
        with Session(engine) as session:
            ahead = caught_up(session, view, embedder)
        with Session(engine) as session, held.lock:
            if held.view is view:
                held.view = caught_up(session, ahead, embedder)
    except Exception:  # the next search retries
        log.exception("检索索引增量更新失败，下次检索时重试")
    finally:
        held.catching_up = False


def _maybe_rebuild(held: _Library, engine: Engine, embedder: Embedder, view: LiveView, background: bool) -> None:
    if not background or held.rebuilding or not view.due_for_rebuild(time.monotonic()):
        return
    if held.store is not None:  # a builder process writes the new base; every process adopts it
        if held.serving:
            _start_builder(held, view.seq)
        return
    with held.lock:
        if held.rebuilding:
            return
        held.rebuilding = True
    threading.Thread(target=_rebuild, args=(held, engine, embedder), name="xuncha-index-rebuild", daemon=True).start()


def _rebuild(held: _Library, engine: Engine, embedder: Embedder) -> None:
    """Build a new base over the whole library, then swap it in with the changes made meanwhile."""
    try:
        started = time.monotonic()
        with Session(engine) as session:
            fresh = build_view(session, embedder)
            fresh = caught_up(session, fresh, embedder)  # the changes made during the build, outside the lock
        with Session(engine) as session, held.lock:  # searches wait only for the last few changes
            current = held.view
            if current is not None and current.version != fresh.version:
                return
            held.view = caught_up(session, fresh, embedder)
            held.rebuilds += 1
        log.info("检索索引已重建：%d 条问题，用时 %.1f 秒", held.view.size, time.monotonic() - started)
    except Exception:  # a failed rebuild leaves the current view serving; the next change retries
        log.exception("检索索引重建失败，继续使用当前索引")
    finally:
        held.rebuilding = False


def rebuild_now(session: Session) -> LiveView:
    """Fold the delta into a new base in this thread (benchmarks, tests, ``xuncha`` maintenance); with
    the base kept on disk, the new base is published there too."""
    embedder = configured_embedder()
    held = _held(session.get_bind().engine)
    with held.lock:
        view = build_view(session, embedder)
        if held.store is not None and len(view.base):
            with held.store.lock():
                info = held.store.write(view.base, view.seq, view.window, view.version, change_stamp(session, view.seq))
            held.pointer = held.store.pointer_stamp()
            view = replace(view, snapshot=info.name)
        held.view = caught_up(session, view, embedder)
        held.rebuilds += 1
        return held.view


def forget_views() -> None:
    """Drop every kept view (tests that reuse a database file path)."""
    with _LIBRARIES_LOCK:
        _LIBRARIES.clear()
