"""Search over the stored library: the index follows the database, filters, more-like-this."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nlp.pipeline import analyze_bytes
from service.library import EmptyLibraryError, Filters, UnknownFindingIdError, library_state, search_library
from service.store.db import session_factory
from service.store.repository import Overrides, ingest_bytes

SAMPLES = Path(__file__).resolve().parents[1] / "corpora" / "samples"
MANIFEST = [json.loads(x) for x in (SAMPLES / "manifest.jsonl").read_text(encoding="utf-8").splitlines() if x]


def add(url: str, files: Path, name: str) -> None:
    """Store one sample with the round the manifest records, as an office gives it at upload."""
    data = (SAMPLES / name).read_bytes()
    round_label = next(r["round"] for r in MANIFEST if r["file"] == name)
    with session_factory(url)() as session:
        ingest_bytes(session, data, name, analyze_bytes(data, name), files, Overrides(round=round_label))


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


def test_library_representation_stored_at_ingest_and_never_refitted(tmp_path):
    from sqlalchemy import func, select

    from service.store import models

    url, data_dir = f"sqlite:///{tmp_path / 'lib.db'}", tmp_path
    add(url, data_dir / "files", MANIFEST[0]["file"])
    R = models.FindingRepresentation
    with session_factory(url)() as session:
        findings = session.scalar(select(func.count(models.Finding.id)))
        rows = {r.finding_id: r.vector for r in session.scalars(select(R))}
        assert findings and len(rows) == findings  # one representation per finding, written with it
        assert {r.model for r in session.scalars(select(R))} == {"e5-small-q4/query/simplified"}
        before = library_state(session)
        search_library(session, "违规", Filters())
    add(url, data_dir / "files", next(r["file"] for r in MANIFEST if r["doc_type"] == "rectification"))
    with session_factory(url)() as session:
        assert library_state(session) != before
        after = {r.finding_id: r.vector for r in session.scalars(select(R))}
        assert len(after) > len(rows)
        assert all(after[fid] == vector for fid, vector in rows.items())  # old vectors untouched
        newest = session.scalar(select(func.max(models.Finding.id)))
        text = session.get(models.Finding, newest).text
        hits = search_library(session, text, Filters(), limit=3)  # the index followed the database
        assert newest in [h["finding_id"] for h in hits] + [d["finding_id"] for h in hits for d in h["duplicates"]]


def test_library_missing_representations_are_computed_and_stored(tmp_path):
    from sqlalchemy import delete, func, select

    from service.store import models

    url = f"sqlite:///{tmp_path / 'lib.db'}"
    add(url, tmp_path / "files", MANIFEST[0]["file"])
    with session_factory(url)() as session:
        session.execute(delete(models.FindingRepresentation))  # a library stored before representations existed
        session.commit()
        assert search_library(session, "津补贴", Filters(), limit=3)
        stored = session.scalar(select(func.count()).select_from(models.FindingRepresentation))
        assert stored == session.scalar(select(func.count(models.Finding.id)))


def test_library_search_explains_each_hit(library):
    url, _ = library
    with session_factory(url)() as session:
        results = search_library(session, "违规发放津补贴", Filters(), limit=5)
    assert results
    top = results[0]
    assert top["relevance"] in {"高", "中", "低"} and set(top["signals"]) == {"dense", "lexical", "concept"}
    assert {"违规", "发放"} <= set(top["matched_terms"])
    assert top["matched_concepts"] and all({"key", "name", "family"} <= set(c) for c in top["matched_concepts"])
    terms = [top["text"][h["start"]:h["end"]] for h in top["highlights"] if h["kind"] == "term"]
    assert terms and set(terms) <= set(top["matched_terms"])
    assert any(h["kind"] == "concept" for h in top["highlights"])


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


def test_library_recurrence_of_fifth_round_allowance_in_seventh_round(library):
    from service.clusters import ClusterQuery, common_issues

    url, _ = library
    with session_factory(url)() as session:
        repeats = common_issues(session, ClusterQuery())["recurrences"]
    allowance = [r for r in repeats if r["unit"] == "县教育局党组" and "津补贴" in r["earlier"]["text"] + r["later"]["text"]]
    assert allowance, repeats
    assert all("第五轮" in r["earlier"]["round"] and "第七轮" in r["later"]["round"] for r in allowance)


def test_library_unknown_embedder_is_a_clear_error():
    from nlp.embedders import make_embedder
    from nlp.errors import BackendUnavailableError

    with pytest.raises(BackendUnavailableError, match="未知的向量模型"):
        make_embedder("word2vec")
