"""Search: paraphrases, synonym expansion, rank fusion, duplicate grouping, filters, persistence."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nlp.search import (
    RRF_K,
    EmptyQueryError,
    SearchIndex,
    SearchMode,
    UnknownFindingError,
    normalize_text,
    reciprocal_rank_fusion,
)

FINDINGS: list[tuple[str, str]] = [
    ("f1", "村干部违规发放离职补助，涉及金额3.2万元"),
    ("f2", "下属医疗机构以“绩效奖励”名义违规向非临床科室人员发放津补贴"),
    ("f3", "“三重一大”事项未经党组会集体研究决策，由分管领导直接拍板"),
    ("f4", "农村低保评定中存在优亲厚友现象，部分村干部近亲属不符合条件被纳入低保"),
    ("f5", "公务用车管理不严，存在公车私用、节假日公车未按规定封存停放等问题"),
    ("f6", "村集体“三资”管理混乱，存在白条入账、坐收坐支现象"),
    ("f7", "“第一议题”学习以读代学、照本宣科，学用脱节"),
    ("f8", "将老旧小区配套管网改造工程拆分为5个标段，化整为零规避公开招标"),
    ("f9", "上轮巡察反馈的12项问题中仍有3项未整改到位"),
    ("f10", "征地拆迁补偿款发放滞后，涉及群众46户、金额312万元"),
    ("f11", "公务接待超标准、超范围，部分接待无公函、无清单"),
    ("f12", "意识形态工作责任制落实不到位，对学校网站发布内容审核把关不严"),
    # f13 repeats f11 with other punctuation: a near-duplicate to be grouped under f11
    ("f13", "公务接待超标准 超范围；部分接待无公函 无清单"),
]


@pytest.fixture(scope="module")
def index() -> SearchIndex:
    return SearchIndex.build(FINDINGS)


def ids(hits: list) -> list[str]:
    return [h.finding_id for h in hits]


def test_search_paraphrase_matches(index: SearchIndex) -> None:
    hits = index.search("村干部违规领取补贴", limit=3)
    assert hits[0].finding_id == "f1"
    assert hits[0].lexical_rank is not None and hits[0].semantic_rank is not None


@pytest.mark.parametrize(
    ("query", "expected"),
    [("开公车办私事", "f5"), ("低保里有干部亲属", "f4"), ("工程拆开规避招标", "f8"), ("白条记账", "f6")],
)
def test_search_finds_rewordings(index: SearchIndex, query: str, expected: str) -> None:
    assert index.search(query, limit=2)[0].finding_id == expected


def test_search_synonym_expansion_finds_jinbutie(index: SearchIndex) -> None:
    # 补助 and 津补贴 share a synonym group in corpora/taxonomy.yaml; BM25 alone needs the expansion
    assert "f2" not in ids(index.search("补助", mode=SearchMode.LEXICAL, expand=False))
    expanded = index.search("补助", mode=SearchMode.LEXICAL, expand=True)
    assert "f2" in ids(expanded)
    assert ids(expanded)[0] == "f1"  # the literal match still outranks the synonym
    assert "f2" in ids(index.search("补助", limit=3))


def test_search_query_terms_weights_synonyms_lower(index: SearchIndex) -> None:
    terms = index.query_terms("补助")
    assert terms["补助"] == 1.0
    assert 0 < terms["津补贴"] < 1.0
    assert index.query_terms("补助", expand=False) == {"补助": 1.0}


def test_search_rrf_combines_known_ranks() -> None:
    fused = reciprocal_rank_fusion([[0, 1, 2], [2, 0]])
    assert fused[0] == pytest.approx(1 / (RRF_K + 1) + 1 / (RRF_K + 2))
    assert fused[1] == pytest.approx(1 / (RRF_K + 2))
    assert fused[2] == pytest.approx(1 / (RRF_K + 3) + 1 / (RRF_K + 1))
    assert sorted(fused, key=fused.__getitem__, reverse=True) == [0, 2, 1]
    assert reciprocal_rank_fusion([[5]], k=0) == {5: 1.0}


def test_search_hit_score_is_rrf_of_its_ranks(index: SearchIndex) -> None:
    for hit in index.search("违规发放补贴", limit=5):
        expected = sum(1 / (RRF_K + r) for r in (hit.lexical_rank, hit.semantic_rank) if r is not None)
        assert hit.score == pytest.approx(expected)


def test_search_groups_near_duplicates(index: SearchIndex) -> None:
    assert normalize_text(FINDINGS[10][1]) == normalize_text(FINDINGS[12][1])
    hits = index.search("接待超标准", limit=5)
    assert hits[0].finding_id in {"f11", "f13"}
    other = ({"f11", "f13"} - {hits[0].finding_id}).pop()
    assert hits[0].duplicates == [other]
    assert other not in ids(hits)


def test_search_filter_ids_respected(index: SearchIndex) -> None:
    allowed = {"f2", "f3", "f9"}
    hits = index.search("违规发放补助", limit=10, filter_ids=allowed)
    assert hits and set(ids(hits)) <= allowed
    assert ids(hits)[0] == "f2"
    assert index.search("违规发放补助", filter_ids=[]) == []


def test_search_limit(index: SearchIndex) -> None:
    assert len(index.search("问题", limit=2)) <= 2


def test_search_more_like_this_excludes_itself(index: SearchIndex) -> None:
    hits = index.more_like_this("f1", limit=5)
    assert hits and "f1" not in ids(hits)
    assert all("f1" not in h.duplicates for h in hits)
    assert "f2" in ids(hits)[:2]  # the other allowance finding (f10 shares 发放…涉及金额)
    with pytest.raises(UnknownFindingError):
        index.more_like_this("nope")


def test_search_save_load_round_trip(index: SearchIndex, tmp_path: Path) -> None:
    index.save(tmp_path / "idx")
    loaded = SearchIndex.load(tmp_path / "idx")
    assert loaded.ids == index.ids
    np.testing.assert_array_equal(loaded.vectors, index.vectors)
    np.testing.assert_allclose(loaded.embed(["违规发放补贴"]), index.embed(["违规发放补贴"]), rtol=1e-6)
    for query in ["村干部违规领取补贴", "补助", "接待超标准", "集体决策"]:
        assert loaded.search(query) == index.search(query)
    assert loaded.more_like_this("f4") == index.more_like_this("f4")


@pytest.mark.parametrize("query", ["", "   ", "\n"])
def test_search_blank_query_is_an_error(index: SearchIndex, query: str) -> None:
    with pytest.raises(EmptyQueryError) as info:
        index.search(query)
    assert info.value.code == "empty_query"


def test_search_query_without_content_is_empty(index: SearchIndex) -> None:
    assert index.search("的。，") == []


def test_search_build_needs_findings() -> None:
    with pytest.raises(ValueError):
        SearchIndex.build([])
