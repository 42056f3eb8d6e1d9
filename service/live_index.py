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

import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

import numpy as np
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from nlp.concepts import default_thesaurus
from nlp.embedders import Embedder
from nlp.lexical import finding_tokens
from nlp.search import Hit, SearchIndex, UnknownFindingError, merge_hits
from nlp.segment import make_segmenter
from service.representations import LibraryVectors, configured_embedder, load_library
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

    @property
    def size(self) -> int:
        return len(self.base) - len(self.removed) + len(self.delta_rows)

    def holds(self, finding_id: str) -> bool:
        return self._holder(finding_id) is not None

    def _holder(self, finding_id: str) -> SearchIndex | None:
        if self.delta is not None and finding_id in self.delta._position:
            return self.delta
        if finding_id in self.base._position and finding_id not in self.removed:
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
    return LiveView(index_version(embedder), seq, window, rows.index(embedder), Rows(), None, frozenset(), 0.0)


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
    removed = view.removed | {str(f) for f in touched if str(f) in view.base._position}
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


_LIBRARIES: dict[str, _Library] = {}
_LIBRARIES_LOCK = threading.Lock()


def _library(key: str) -> _Library:
    with _LIBRARIES_LOCK:
        return _LIBRARIES.setdefault(key, _Library())


def current_view(session: Session, *, background: bool = True) -> LiveView:
    """The library's view as of its latest change: one cheap query when nothing changed, the changes
    replayed when something did, a full build only the first time (or after a model change)."""
    embedder = configured_embedder()
    engine = session.get_bind().engine
    held = _library(str(engine.url))
    view = held.view
    version = index_version(embedder)
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
            view = build_view(session, embedder)
        view = caught_up(session, view, embedder)
        held.view = view
    _maybe_rebuild(held, engine, embedder, view, background)
    return view


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
    """Fold the delta into a new base in this thread (benchmarks, tests, ``xuncha`` maintenance)."""
    embedder = configured_embedder()
    held = _library(str(session.get_bind().engine.url))
    with held.lock:
        held.view = caught_up(session, build_view(session, embedder), embedder)
        held.rebuilds += 1
        return held.view


def forget_views() -> None:
    """Drop every kept view (tests that reuse a database file path)."""
    with _LIBRARIES_LOCK:
        _LIBRARIES.clear()
