"""The live search index: a library that grows and shrinks while it is searched.

Real SQLite libraries built from the sample reports; each test checks what a search returns after
an upload or a deletion, and that the index caught up from the change log (delta, masked removals)
rather than by rebuilding, until a rebuild folds the changes into a new base.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from nlp.pipeline import analyze_bytes
from service import live_index
from service.documents import delete_document
from service.library import Filters, search_library
from service.live_index import current_view, rebuild_now
from service.store import models
from service.store.changes import ADD, REMOVE, changes_after, latest_change
from service.store.db import session_factory
from service.store.repository import Overrides, ingest_bytes

SAMPLES = Path(__file__).resolve().parents[1] / "corpora" / "samples"
MANIFEST = [json.loads(x) for x in (SAMPLES / "manifest.jsonl").read_text(encoding="utf-8").splitlines() if x]
FEEDBACK = [r["file"] for r in MANIFEST if r["doc_type"] == "feedback"]


def add(url: str, files: Path, name: str) -> int:
    data = (SAMPLES / name).read_bytes()
    with session_factory(url)() as session:
        return ingest_bytes(session, data, name, analyze_bytes(data, name), files, Overrides()).document_id


def finding_texts(url: str, document_id: int) -> dict[int, str]:
    with session_factory(url)() as session:
        rows = session.execute(select(models.Finding.id, models.Finding.text).where(models.Finding.document_id == document_id))
        return {int(i): t for i, t in rows}


@pytest.fixture
def library(tmp_path: Path) -> tuple[str, Path]:
    url = f"sqlite:///{tmp_path / 'lib.db'}"
    for name in FEEDBACK[:2]:
        add(url, tmp_path / "files", name)
    return url, tmp_path / "files"


def test_change_log_records_adds_and_removes_in_the_same_transaction(library: tuple[str, Path]) -> None:
    url, files = library
    with session_factory(url)() as session:
        ids = set(session.scalars(select(models.Finding.id)))
        changes = changes_after(session, 0)
        assert ids and {f for _, f, c in changes if c == ADD} == ids and not any(c == REMOVE for _, _, c in changes)
        assert [s for s, _, _ in changes] == sorted(s for s, _, _ in changes)
        # a write that rolls back leaves no change behind
        doc = session.scalar(select(models.Document))
        session.add(models.Finding(document=doc, local_id="rolled-back", text="不会提交的问题", start=0, end=1, page=1))
        session.flush()
        session.rollback()
        assert latest_change(session) == changes[-1][0]
        document_id = session.scalar(select(models.Document.id).order_by(models.Document.id))
        doc = session.get(models.Document, document_id)
        gone = {f.id for f in doc.findings}
        delete_document(session, doc, files)
        removed = {f for _, f, c in changes_after(session, changes[-1][0]) if c == REMOVE}
    assert removed == gone


def test_upload_is_searchable_at_once_without_rebuilding_the_base(library: tuple[str, Path]) -> None:
    url, files = library
    with session_factory(url)() as session:
        before = current_view(session, background=False)
        base = before.base
    new_doc = add(url, files, FEEDBACK[2])
    new_findings = finding_texts(url, new_doc)
    assert new_findings
    fid, text = next(iter(new_findings.items()))
    with session_factory(url)() as session:
        after = current_view(session, background=False)
        assert after.base is base  # caught up from the change log, not rebuilt
        assert after.delta is not None and set(after.delta_rows.ids) == set(new_findings)
        assert after.size == before.size + len(new_findings)
        results = search_library(session, text, Filters(), limit=5)
    assert results[0]["finding_id"] == fid or fid in [d["finding_id"] for d in results[0]["duplicates"]]


def test_deleted_document_vanishes_from_search_at_once(library: tuple[str, Path]) -> None:
    url, files = library
    with session_factory(url)() as session:
        first = session.scalar(select(models.Document.id).order_by(models.Document.id))
    texts = finding_texts(url, first)
    query = max(texts.values(), key=len)
    with session_factory(url)() as session:
        hits = search_library(session, query, Filters(), limit=10)
        assert any(h["finding_id"] in texts for h in hits)
        delete_document(session, session.get(models.Document, first), files)
    with session_factory(url)() as session:
        view = current_view(session, background=False)
        assert {int(i) for i in view.removed} == set(texts)
        hits = search_library(session, query, Filters(), limit=10)
        shown = {h["finding_id"] for h in hits} | {d["finding_id"] for h in hits for d in h["duplicates"]}
        assert not shown & set(texts)
        assert view.size == session.scalar(select(func.count(models.Finding.id)))


def test_rebuild_folds_changes_into_the_base_and_ranks_alike(library: tuple[str, Path]) -> None:
    url, files = library
    with session_factory(url)() as session:
        current_view(session, background=False)
    add(url, files, FEEDBACK[2])
    query = "干部违规领取补贴"
    with session_factory(url)() as session:
        layered = current_view(session, background=False)
        assert layered.delta is not None
        before = [h["finding_id"] for h in search_library(session, query, Filters(), limit=5)]
        rebuilt = rebuild_now(session)
        assert rebuilt.delta is None and not rebuilt.removed and len(rebuilt.base) == layered.size
        after = [h["finding_id"] for h in search_library(session, query, Filters(), limit=5)]
    assert before and before[0] == after[0] and len(set(before) & set(after)) >= 4


def test_background_rebuild_when_the_delta_is_large(library: tuple[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    url, files = library
    monkeypatch.setattr(live_index, "REBUILD_MIN_ROWS", 1)
    monkeypatch.setattr(live_index, "REBUILD_SHARE", 0.0)
    with session_factory(url)() as session:
        current_view(session, background=False)
    add(url, files, FEEDBACK[2])
    held = live_index._library(url)
    rebuilds = held.rebuilds
    with session_factory(url)() as session:
        assert current_view(session).delta is not None  # served at once; the rebuild runs beside
    deadline = time.monotonic() + 60
    while held.rebuilds == rebuilds and time.monotonic() < deadline:
        time.sleep(0.05)
    assert held.rebuilds == rebuilds + 1
    with session_factory(url)() as session:
        view = current_view(session, background=False)
        assert view.delta is None and len(view.base) == session.scalar(select(func.count(models.Finding.id)))


def test_change_committed_late_under_a_lower_number_is_applied(library: tuple[str, Path]) -> None:
    """On PostgreSQL two writers can commit out of order; the reader watches the last WINDOW numbers."""
    url, files = library
    with session_factory(url)() as session:
        view = current_view(session, background=False)
        top = latest_change(session)
        doc = session.scalar(select(models.Document))
        early = models.Finding(document=doc, local_id="late-1", text="食堂采购台账缺失，票据管理混乱", start=0, end=1, page=1)
        late = models.Finding(document=doc, local_id="late-2", text="公务用车私用问题反复出现", start=0, end=1, page=1)
        session.add_all([early, late])
        session.flush()
        # the hook logged both at top+1, top+2; renumber as if the second writer had committed first
        session.execute(models.LibraryChange.__table__.delete().where(models.LibraryChange.seq > top))
        session.add(models.LibraryChange(seq=top + 5, finding_id=late.id, change=ADD))
        session.commit()
        seen = current_view(session, background=False)
        assert seen.seq == top + 5 and str(late.id) in seen.delta and not seen.holds(str(early.id))
        session.add(models.LibraryChange(seq=top + 3, finding_id=early.id, change=ADD))
        session.commit()
        caught = current_view(session, background=False)
        assert caught.holds(str(early.id)) and caught.holds(str(late.id)) and caught.base is view.base


def test_replaced_database_is_rebuilt_not_mixed(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'lib.db'}"
    add(url, tmp_path / "files", FEEDBACK[0])
    add(url, tmp_path / "files", FEEDBACK[1])
    with session_factory(url)() as session:
        old = current_view(session, background=False)
    from service.store.db import get_engine

    get_engine(url).dispose()
    (tmp_path / "lib.db").unlink()
    for suffix in ("-wal", "-shm"):
        (tmp_path / f"lib.db{suffix}").unlink(missing_ok=True)
    from service.store.db import _engine_for

    _engine_for.cache_clear()  # a new process would open the new file afresh
    add(url, tmp_path / "files2", FEEDBACK[2])
    with session_factory(url)() as session:
        new = current_view(session, background=False)
        count = session.scalar(select(func.count(models.Finding.id)))
    assert new.base is not old.base and new.size == count < old.size


def test_common_issues_served_stale_while_recomputed_then_fresh(library: tuple[str, Path]) -> None:
    from service.cluster_cache import cached_common_issues, wait_for_refresh
    from service.clusters import ClusterQuery

    url, files = library
    scope = ClusterQuery(include_singletons=True)
    with session_factory(url)() as session:
        first = cached_common_issues(session, scope)
        assert first["stale"] is False and first["as_of_change"] == latest_change(session)
        assert cached_common_issues(session, scope)["computed_at"] == first["computed_at"]  # kept, not recomputed
    add(url, files, FEEDBACK[2])
    with session_factory(url)() as session:
        total = session.scalar(select(func.count(models.Finding.id)))
        served = cached_common_issues(session, scope)
        assert served["stale"] is True and served["findings"] == first["findings"] < total
        assert wait_for_refresh(120)
        refreshed = cached_common_issues(session, scope)
        assert refreshed["stale"] is False and refreshed["findings"] == total
        assert refreshed["as_of_change"] == latest_change(session) > first["as_of_change"]
    add(url, files, FEEDBACK[3])
    with session_factory(url)() as session:
        now = cached_common_issues(session, scope, fresh=True)  # the summary asks for the library as it is
        assert now["stale"] is False and now["findings"] == session.scalar(select(func.count(models.Finding.id)))


def test_large_change_is_caught_up_beside_the_searches(library: tuple[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """An import of thousands of rows is applied on a background thread: the search that notices it is
    answered at once from the view before it, and the rows are searchable moments later."""
    url, files = library
    monkeypatch.setattr(live_index, "SYNC_CATCH_UP", 1)
    with session_factory(url)() as session:
        before = current_view(session)
    new_doc = add(url, files, FEEDBACK[2])
    new_findings = finding_texts(url, new_doc)
    assert len(new_findings) > 1
    held = live_index._library(url)
    with session_factory(url)() as session:
        served = current_view(session)
        assert served is before  # not held up by the change
        deadline = time.monotonic() + 60
        while held.view is before and time.monotonic() < deadline:
            time.sleep(0.02)
        after = current_view(session)
        assert after.size == before.size + len(new_findings) and all(after.holds(str(f)) for f in new_findings)
        fid, text = next(iter(new_findings.items()))
        results = search_library(session, text, Filters(), limit=5)
    assert fid in {r["finding_id"] for r in results} | {d["finding_id"] for r in results for d in r["duplicates"]}


def test_fresh_request_waits_for_the_recomputation_under_way(library: tuple[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """The summary (fresh) right after the web page's request (stale, reclustering beside it) takes the
    result under way instead of clustering the library a second time beside it."""
    from service import cluster_cache
    from service.clusters import ClusterQuery

    url, files = library
    calls: list[int] = []
    real = cluster_cache.common_issues

    def counted(session: object, query: ClusterQuery) -> dict:
        calls.append(1)
        return real(session, query)  # type: ignore[arg-type]

    monkeypatch.setattr(cluster_cache, "common_issues", counted)
    with session_factory(url)() as session:
        cluster_cache.cached_common_issues(session, ClusterQuery())
    add(url, files, FEEDBACK[2])
    with session_factory(url)() as session:
        total = session.scalar(select(func.count(models.Finding.id)))
        stale = cluster_cache.cached_common_issues(session, ClusterQuery())
        fresh = cluster_cache.cached_common_issues(session, ClusterQuery(min_units=2), fresh=True)
    assert stale["stale"] is True and fresh["stale"] is False and fresh["findings"] == total
    assert all(len(c["units"]) >= 2 for c in fresh["clusters"])
    assert len(calls) == 2  # the first computation and the one background recomputation, no third
