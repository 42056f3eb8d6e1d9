"""Common issues served from the last computation, refreshed beside the requests.

Clustering the whole library is a batch computation — 8–12 s over 20k findings on 2 cores — while the
web page, the API and the summary ask for it on every visit. Each process therefore keeps the last
result per selection (rounds, units; every cluster, filtered per request) with the library's change
sequence number (:mod:`service.store.changes`) it was computed at:

- nothing changed since: the kept result is returned at once;
- the library changed: the kept result is returned at once marked ``stale`` (with the change number it
  is as of), and one background thread computes the new one; the next request gets it;
- nothing kept yet (or ``fresh=True``, as the summary for the party committee asks): the result stored
  in the database by any process (:mod:`service.cluster_store`) is read back — and treated as the kept
  one, stale or not — or, when none is stored, computed now (and stored).

A result is never mixed from two computations; paging (:func:`page`) only slices a kept result.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import time
from dataclasses import astuple, dataclass, field
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from service import cluster_store
from service.clusters import ClusterQuery, common_issues
from service.live_index import ServedLibrary, served_library
from service.store import models
from service.store.changes import latest_change

log = logging.getLogger(__name__)


@dataclass
class _Kept:
    seq: int
    computed_at: float
    result: dict[str, Any]


@dataclass
class _Cache:
    kept: dict[tuple[Any, ...], _Kept] = field(default_factory=dict)
    running: dict[tuple[Any, ...], threading.Event] = field(default_factory=dict)  # set when done
    lock: threading.Lock = field(default_factory=threading.Lock)


_CACHE = _Cache()


def _whole(query: ClusterQuery) -> ClusterQuery:
    """What is computed for ``query``: its selection (rounds, units) with every cluster. The minimum of
    units, singletons and the page only filter clusters, so one computation serves them all (the web
    page, the API's default and the summary ask for different ones)."""
    return ClusterQuery(list(query.rounds), list(query.units), min_units=1, limit=None, include_singletons=True)


def _scope(engine: Engine, query: ClusterQuery) -> tuple[Any, ...]:
    return (str(engine.url), *(tuple(v) if isinstance(v, list) else v for v in astuple(_whole(query))))


def _filtered(result: dict[str, Any], query: ClusterQuery) -> dict[str, Any]:
    """The clusters of a whole result that ``query`` shows (as :func:`common_issues` filters them)."""
    clusters = [
        c for c in result["clusters"]
        if max(1, len(c["units"])) >= query.min_units and (query.include_singletons or not c["singleton"])
    ]
    return {**result, "clusters": clusters}


def _stored_key(query: ClusterQuery) -> str:
    whole = _whole(query)
    return cluster_store.scope_key(whole.rounds, whole.units)


def _keep(engine: Engine, query: ClusterQuery, kept: _Kept) -> None:
    with _CACHE.lock:
        old = _CACHE.kept.get(_scope(engine, query))
        if old is None or old.seq <= kept.seq:
            _CACHE.kept[_scope(engine, query)] = kept


BUILDER_TIMEOUT = 1800.0


def _compute(engine: Engine, query: ClusterQuery) -> _Kept:
    # not a read-only snapshot: reading the library may store representations it lacks (a finding stored
    # under another model, concepts of an older thesaurus), and two workers doing so at once must wait for
    # each other rather than fail a REPEATABLE READ transaction
    with Session(engine) as session:
        seq = latest_change(session)  # read first: a change made during the computation makes it stale
        if cluster_store.stored_seq(session, _stored_key(query)) == seq:  # another worker or node computed it
            stored = cluster_store.load(session, _stored_key(query))
            if stored is not None and stored.seq == seq:
                kept = _Kept(stored.seq, stored.computed_at, stored.result)
                _keep(engine, query, kept)
                return kept
        served = served_library(engine)
        if served is not None and (session.scalar(select(func.count(models.Finding.id))) or 0) > served.inline_max:
            if _in_builder(served, _whole(query)):
                stored = cluster_store.load(session, _stored_key(query))
                if stored is not None:
                    kept = _Kept(stored.seq, stored.computed_at, stored.result)
                    _keep(engine, query, kept)
                    return kept
        result = common_issues(session, _whole(query))
    kept = _Kept(seq, time.time(), result)
    cluster_store.save(engine, _stored_key(query), kept.seq, kept.computed_at, result)
    _keep(engine, query, kept)
    return kept


def _in_builder(served: ServedLibrary, whole: ClusterQuery) -> bool:
    """Run ``service.cluster_builder`` for ``whole`` and wait (this thread holds nothing meanwhile);
    False when it failed (the caller then computes here). An empty selection is raised as such."""
    command = [sys.executable, "-m", "service.cluster_builder", str(served.folder),
               "--rounds", json.dumps(list(whole.rounds), ensure_ascii=False),
               "--units", json.dumps(list(whole.units), ensure_ascii=False)]
    try:
        done = subprocess.run(command, env={**os.environ, "XUNCHA_DATABASE_URL": served.database_url}, stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL, timeout=BUILDER_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired):
        log.warning("共性问题计算进程未完成，改在本进程计算", exc_info=True)
        return False
    if done.returncode == 3:
        from service.library import EmptyLibraryError

        raise EmptyLibraryError("所选范围内没有问题")
    if done.returncode != 0:
        log.warning("共性问题计算进程失败（退出码 %s），改在本进程计算", done.returncode)
        return False
    return True


def _load_stored(session: Session, engine: Engine, query: ClusterQuery) -> _Kept | None:
    """The result stored by any process (this one after a restart, another worker, another node)."""
    try:
        stored = cluster_store.load(session, _stored_key(query))
    except Exception:  # a damaged row is recomputed, never a failed request
        log.warning("读取存储的共性问题结果失败，将重新计算", exc_info=True)
        return None
    if stored is None:
        return None
    kept = _Kept(stored.seq, stored.computed_at, stored.result)
    _keep(engine, query, kept)
    return kept


def _refresh(engine: Engine, query: ClusterQuery, scope: tuple[Any, ...]) -> None:
    try:
        _compute(engine, query)
    except Exception:  # the kept result goes on serving; the next request retries
        log.warning("共性问题后台重算失败", exc_info=True)
    finally:
        with _CACHE.lock:
            done = _CACHE.running.pop(scope, None)
        if done is not None:
            done.set()


def cached_common_issues(session: Session, query: ClusterQuery, *, fresh: bool = False) -> dict[str, Any]:
    """The common issues of ``query``'s scope (all clusters: ``query.limit`` is applied by :func:`page`),
    with ``as_of_change``, ``computed_at`` (Unix time) and ``stale``."""
    engine = session.get_bind().engine
    scope = _scope(engine, query)
    seq = latest_change(session)
    with _CACHE.lock:
        kept = _CACHE.kept.get(scope)
        running = _CACHE.running.get(scope)
    if kept is None:
        kept = _load_stored(session, engine, query)
    if fresh and kept is not None and kept.seq != seq and running is not None:
        running.wait(timeout=600)  # the computation already under way is the fresh one: no second beside it
        with _CACHE.lock:
            kept = _CACHE.kept.get(scope)
    if kept is None or (fresh and kept.seq != seq):
        kept = _compute(engine, query)
    elif kept.seq != seq and _due(engine, kept, seq):
        with _CACHE.lock:
            start = scope not in _CACHE.running
            if start:
                _CACHE.running[scope] = threading.Event()
        if start:
            threading.Thread(target=_refresh, args=(engine, query, scope), name="xuncha-clusters", daemon=True).start()
    return {**_filtered(kept.result, query), "as_of_change": kept.seq, "computed_at": kept.computed_at,
            "stale": kept.seq != seq}


def precompute(engine: Engine, query: ClusterQuery | None = None) -> None:
    """Compute and store the common issues now (after ``xuncha import``: the first POST /clusters of
    every server process then reads them back instead of clustering the library on the request)."""
    from service.library import EmptyLibraryError

    try:
        _compute(engine, query or ClusterQuery())
    except EmptyLibraryError:
        pass


REFIT_MIN_CHANGES = 200  # a large library is re-clustered when this many changes (and REFIT_SHARE of it) …
REFIT_SHARE = 0.02
REFIT_AFTER_SECONDS = 600.0  # … or this long after its last computation, when it has changed at all


def _due(engine: Engine, kept: _Kept, seq: int) -> bool:
    """Whether a result behind the library is recomputed now. A library a server clusters in its own
    process (small: under a second) always; a larger one — seconds to minutes of a core, each time —
    once 2% of it (at least 200 findings) has changed or ten minutes have passed: until then the
    result is served marked stale, and the summary (``fresh``) asks for a computation on demand."""
    served = served_library(engine)
    findings = int(kept.result.get("findings", 0))
    if served is None or findings <= served.inline_max:
        return True
    behind = seq - kept.seq
    return behind >= max(REFIT_MIN_CHANGES, REFIT_SHARE * findings) or time.time() - kept.computed_at >= REFIT_AFTER_SECONDS


def refresh_beside(engine: Engine, query: ClusterQuery | None = None) -> None:
    """Recompute and store the common issues on a background thread unless one is under way or it is
    not due (after an upload job: the next visit to the page finds them current)."""
    query = query or ClusterQuery()
    scope = _scope(engine, query)
    with _CACHE.lock:
        kept = _CACHE.kept.get(scope)
    with Session(engine) as session:
        seq = latest_change(session)
        if kept is None:  # this process has none: what is stored, by whichever process stored it
            R = models.CommonIssueResult
            row = session.execute(select(R.seq, R.computed_at).where(R.scope == _stored_key(query))).one_or_none()
            if row is not None:
                findings = session.scalar(select(func.count(models.Finding.id))) or 0
                kept = _Kept(int(row.seq), float(row.computed_at), {"findings": findings})
    if kept is not None and (kept.seq == seq or not _due(engine, kept, seq)):
        return
    with _CACHE.lock:
        if scope in _CACHE.running:
            return
        _CACHE.running[scope] = threading.Event()
    threading.Thread(target=_refresh, args=(engine, query, scope), name="xuncha-clusters", daemon=True).start()


def wait_for_refresh(timeout: float = 120.0) -> bool:
    """Wait until no background computation runs (tests, benchmarks); False on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with _CACHE.lock:
            if not _CACHE.running:
                return True
        time.sleep(0.05)
    return False


def forget() -> None:
    with _CACHE.lock:
        _CACHE.kept.clear()


def page(
    result: dict[str, Any], *, offset: int = 0, limit: int | None = None, members: int | None = None,
    cluster_id: str | None = None, recurrences: int | None = None,
) -> dict[str, Any]:
    """A page of a kept result: clusters ``offset``…``offset+limit`` (or the one ``cluster_id``), each
    with its first ``members`` findings (``None``: all; ``size`` always says how many it has), and the
    first ``recurrences`` recurrences; the totals say what the whole result holds."""
    clusters = result["clusters"]
    if cluster_id is not None:
        clusters = [c for c in clusters if c["cluster_id"] == cluster_id]
    shown = clusters[offset:] if limit is None else clusters[offset : offset + limit]
    if members is not None:
        shown = [{**c, "findings": c["findings"][:members]} for c in shown]
    repeats = result["recurrences"] if recurrences is None else result["recurrences"][:recurrences]
    return {
        **result,
        "clusters": shown,
        "recurrences": repeats,
        "clusters_total": len(clusters),
        "recurrences_total": len(result["recurrences"]),
        "offset": offset,
    }
