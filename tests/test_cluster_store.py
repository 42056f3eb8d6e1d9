"""Common issues stored in the database (service/cluster_store.py) and served from there by every
process: a fresh process, another worker or a restarted server reads them back instead of
clustering the library on its first request.

Real SQLite libraries from the sample reports; "a fresh process" is the in-process cache emptied.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select
from test_live_index import FEEDBACK, add

from service import cluster_cache, cluster_store
from service.cluster_cache import cached_common_issues, precompute, wait_for_refresh
from service.clusters import ClusterQuery
from service.store import models
from service.store.changes import latest_change
from service.store.db import get_engine, session_factory


@pytest.fixture
def library(tmp_path: Path) -> tuple[str, Path]:
    url = f"sqlite:///{tmp_path / 'lib.db'}"
    for name in FEEDBACK[:3]:
        add(url, tmp_path / "files", name)
    cluster_cache.forget()
    return url, tmp_path / "files"


def _no_clustering(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the library was clustered again")

    monkeypatch.setattr(cluster_cache, "common_issues", refuse)


def test_stored_result_reads_back_as_computed(library: tuple[str, Path]) -> None:
    url, _ = library
    with session_factory(url)() as session:
        computed = cached_common_issues(session, ClusterQuery())
        stored = cluster_store.load(session, cluster_cache._stored_key(ClusterQuery()))
        row = session.get(models.CommonIssueResult, cluster_cache._stored_key(ClusterQuery()))
    assert stored is not None and row is not None
    assert computed["clusters"] and computed["findings"] > 10
    assert stored.seq == computed["as_of_change"] and stored.computed_at == computed["computed_at"]
    assert json.loads(json.dumps(stored.result)) == json.loads(json.dumps({k: computed[k] for k in stored.result}))
    assert len(row.body) < len(json.dumps(computed, ensure_ascii=False).encode())  # compact: ids, compressed


def test_a_fresh_process_serves_the_stored_result_without_clustering(library: tuple[str, Path],
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    url, _ = library
    with session_factory(url)() as session:
        first = cached_common_issues(session, ClusterQuery(min_units=1))
    cluster_cache.forget()  # another worker, another node, or this one restarted
    _no_clustering(monkeypatch)
    with session_factory(url)() as session:
        again = cached_common_issues(session, ClusterQuery(min_units=2, include_singletons=False))
        fresh = cached_common_issues(session, ClusterQuery(), fresh=True)  # the summary: as of the latest change
    assert again["stale"] is False and again["computed_at"] == first["computed_at"]
    assert again["clusters"] and all(max(1, len(c["units"])) >= 2 and not c["singleton"] for c in again["clusters"])
    assert fresh["stale"] is False and fresh["findings"] == first["findings"]


def test_a_stored_result_older_than_the_library_is_served_stale_then_replaced(library: tuple[str, Path]) -> None:
    url, files = library
    with session_factory(url)() as session:
        first = cached_common_issues(session, ClusterQuery())
    add(url, files, FEEDBACK[3])
    cluster_cache.forget()
    with session_factory(url)() as session:
        served = cached_common_issues(session, ClusterQuery())
        assert served["stale"] is True and served["as_of_change"] == first["as_of_change"]
        assert wait_for_refresh(120)
        now = latest_change(session)
    cluster_cache.forget()
    with session_factory(url)() as session:
        stored = cluster_store.load(session, cluster_cache._stored_key(ClusterQuery()))
        assert stored is not None and stored.seq == now and stored.result["findings"] > first["findings"]
        assert cached_common_issues(session, ClusterQuery())["stale"] is False


def test_a_damaged_stored_result_is_recomputed_not_an_error(library: tuple[str, Path]) -> None:
    url, _ = library
    with session_factory(url)() as session:
        first = cached_common_issues(session, ClusterQuery())
        row = session.get(models.CommonIssueResult, cluster_cache._stored_key(ClusterQuery()))
        assert row is not None
        row.body = b"not zlib"
        session.commit()
    cluster_cache.forget()
    with session_factory(url)() as session:
        again = cached_common_issues(session, ClusterQuery())
    assert again["stale"] is False and again["findings"] == first["findings"] and again["computed_at"] > first["computed_at"]


def test_each_selection_and_release_has_its_own_row(library: tuple[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    url, _ = library
    whole = cluster_store.scope_key([], [])
    assert cluster_store.scope_key(["第七轮"], []) != whole != cluster_store.scope_key([], ["县教育局"])

    class Other:
        version = "another-thesaurus"

    monkeypatch.setattr("nlp.concepts.default_thesaurus", lambda: Other())
    assert cluster_store.scope_key([], []) != whole


def test_precompute_stores_the_result_a_server_then_reads(library: tuple[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    url, _ = library
    precompute(get_engine(url))  # what `xuncha import` does after storing the rows
    cluster_cache.forget()
    _no_clustering(monkeypatch)
    with session_factory(url)() as session:
        served = cached_common_issues(session, ClusterQuery())
        assert served["stale"] is False and served["as_of_change"] == latest_change(session)
        assert session.scalars(select(models.CommonIssueResult.scope)).all() == [cluster_cache._stored_key(ClusterQuery())]


def test_a_server_clusters_a_large_library_in_a_builder_process(library: tuple[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """Above XUNCHA_INLINE_BUILD_MAX findings a server's clustering runs in ``service.cluster_builder``: its
    searching process only waits; the stored result is what the same computation gives in-process."""
    from service.clusters import common_issues
    from service.live_index import keep_index_in

    url, files = library
    with session_factory(url)() as session:
        expected = common_issues(session, ClusterQuery(min_units=1, limit=None, include_singletons=True))
    keep_index_in(files.parent, url, serving=True, inline_max=5)
    _no_clustering(monkeypatch)
    with session_factory(url)() as session:
        served = cached_common_issues(session, ClusterQuery())
        assert served["stale"] is False and served["as_of_change"] == latest_change(session)
    assert json.loads(json.dumps(served["clusters"])) == json.loads(json.dumps(expected["clusters"]))
    assert json.loads(json.dumps(served["recurrences"])) == json.loads(json.dumps(expected["recurrences"]))
    assert list((files.parent / "index").glob("*/clusters-*.lock"))  # one builder per selection at a time
    add(url, files, FEEDBACK[3])
    with session_factory(url)() as session:
        assert cached_common_issues(session, ClusterQuery())["stale"] is True  # served at once
        again = cached_common_issues(session, ClusterQuery(), fresh=True)  # the summary: computed by the builder
        assert again["stale"] is False and again["findings"] > served["findings"]


def test_a_large_library_is_reclustered_when_enough_has_changed_or_on_demand(library: tuple[str, Path],
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Re-clustering a large library costs a core for seconds to minutes: one upload leaves the result
    served as stale (no computation started), the summary's fresh request computes it, and a change of
    REFIT_SHARE of the library (at least REFIT_MIN_CHANGES) starts one by itself."""
    from service.live_index import keep_index_in

    url, files = library
    keep_index_in(files.parent, url, serving=True, inline_max=5)
    with session_factory(url)() as session:
        first = cached_common_issues(session, ClusterQuery())
    add(url, files, FEEDBACK[3])
    with session_factory(url)() as session:
        served = cached_common_issues(session, ClusterQuery())
        assert served["stale"] is True and not cluster_cache._CACHE.running  # not due: nothing started
        cluster_cache.refresh_beside(get_engine(url))  # what a finished upload job asks
        assert not cluster_cache._CACHE.running
        fresh = cached_common_issues(session, ClusterQuery(), fresh=True)
        assert fresh["stale"] is False and fresh["findings"] > first["findings"]
    monkeypatch.setattr(cluster_cache, "REFIT_MIN_CHANGES", 1)
    monkeypatch.setattr(cluster_cache, "REFIT_SHARE", 0.0)
    add(url, files, FEEDBACK[4])
    with session_factory(url)() as session:
        assert cached_common_issues(session, ClusterQuery())["stale"] is True
        assert wait_for_refresh(300)
        assert cached_common_issues(session, ClusterQuery())["stale"] is False
