"""Search: dense + BM25 + concepts fused, explanations, floor, duplicate grouping, filters, scripts."""

from __future__ import annotations

from pathlib import Path

import pytest

from nlp.concepts import load_thesaurus
from nlp.fusion import RankingConfig
from nlp.search import EmptyQueryError, SearchIndex, SearchMode, UnknownFindingError, duplicate_key

DATA = Path(__file__).parent / "data"

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
    ("f14", "落实全面从严治党主体责任不到位，管党治党宽松软"),
]


@pytest.fixture(scope="module")
def index() -> SearchIndex:
    return SearchIndex.from_texts(FINDINGS)


@pytest.fixture(scope="module")
def mini_index() -> SearchIndex:
    """The same findings with a small test thesaurus, so concept assertions do not follow the bundled one."""
    return SearchIndex.from_texts(FINDINGS, thesaurus=load_thesaurus(DATA / "mini_concepts.yaml"))


def ids(hits: list) -> list[str]:
    return [h.finding_id for h in hits]


@pytest.mark.parametrize(
    ("query", "expected"),
    [("村干部违规领取补贴", "f1"), ("开公车办私事", "f5"), ("低保里有干部亲属", "f4"), ("工程拆开规避招标", "f8"),
     ("白条记账", "f6")],
)
def test_search_finds_rewordings(index: SearchIndex, query: str, expected: str) -> None:
    assert index.search(query, limit=3)[0].finding_id == expected


def test_search_reads_traditional_script_queries(index: SearchIndex) -> None:
    assert index.search("「三重一大」事項未經集體研究", limit=3)[0].finding_id == "f3"


def test_search_concept_bridges_colloquial_query(mini_index: SearchIndex) -> None:
    hits = mini_index.search("大事都是主要领导一个人拍板", limit=5)
    assert hits[0].finding_id == "f3"
    top = hits[0]
    assert "test_decisions/个人说了算" not in top.concepts  # the finding says 未经集体研究, the query 拍板 …
    assert top.signals["concept"] > 0  # … which the family credits: same common issue
    assert set(top.signals) == {"dense", "lexical", "concept"}


def test_search_explains_matched_terms_and_concepts(mini_index: SearchIndex) -> None:
    hit = mini_index.search("公车私用", limit=3)[0]
    assert hit.finding_id == "f5"
    assert "公车" in hit.matched_terms or "公车私用" in hit.matched_terms
    assert hit.concepts == ["test_cars/公车私用"]
    assert hit.relevance in {"高", "中", "低"}


def test_search_negative_phrase_blocks_a_concept() -> None:
    th = load_thesaurus(DATA / "mini_concepts.yaml")
    assert th.concepts_in("党建主体责任落实不力") == []
    assert th.concepts_in("主体责任落实不力") == ["test_duty/主体责任落实不到位"]


def test_search_scores_are_fused_sorted_and_above_floor(index: SearchIndex) -> None:
    hits = index.search("违规发放补贴", limit=10)
    assert hits
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)
    assert min(scores) >= index.config.floor


def test_search_floor_cuts_the_weak_tail() -> None:
    strict = SearchIndex.from_texts(FINDINGS, config=RankingConfig(floor=0.99))
    assert strict.search("违规发放补贴", limit=10) == []
    loose = SearchIndex.from_texts(FINDINGS, config=RankingConfig(floor=0.0))
    assert len(loose.search("违规发放补贴", limit=10)) == 10


def test_search_groups_near_duplicates(index: SearchIndex) -> None:
    assert duplicate_key(FINDINGS[10][1]) == duplicate_key(FINDINGS[12][1])
    hits = index.search("接待超标准", limit=5)
    assert hits[0].finding_id in {"f11", "f13"}
    other = ({"f11", "f13"} - {hits[0].finding_id}).pop()
    assert hits[0].duplicates == [other]
    assert other not in ids(hits)


def test_search_does_not_fold_distinct_findings(index: SearchIndex) -> None:
    hits = index.search("违规发放", limit=10)
    assert all(not h.duplicates for h in hits if h.finding_id not in {"f11", "f13"})


def test_search_filter_ids_respected(index: SearchIndex) -> None:
    allowed = {"f2", "f3", "f9"}
    hits = index.search("违规发放补助", limit=10, filter_ids=allowed)
    assert hits and set(ids(hits)) <= allowed
    assert ids(hits)[0] == "f2"
    assert index.search("违规发放补助", filter_ids=[]) == []


def test_search_limit(index: SearchIndex) -> None:
    assert len(index.search("问题", limit=2)) <= 2


@pytest.mark.parametrize("mode", list(SearchMode))
def test_search_each_signal_alone_ranks(mini_index: SearchIndex, mode: SearchMode) -> None:
    hits = mini_index.search("公车私用", limit=3, mode=mode)
    assert hits and hits[0].finding_id == "f5"


def test_search_more_like_this_excludes_itself(index: SearchIndex) -> None:
    hits = index.more_like_this("f1", limit=5)
    assert hits and "f1" not in ids(hits)
    assert all("f1" not in h.duplicates for h in hits)
    assert "f2" in ids(hits)[:3]  # the other allowance finding
    with pytest.raises(UnknownFindingError):
        index.more_like_this("nope")


@pytest.mark.parametrize("query", ["", "   ", "\n"])
def test_search_blank_query_is_an_error(index: SearchIndex, query: str) -> None:
    with pytest.raises(EmptyQueryError) as info:
        index.search(query)
    assert info.value.code == "empty_query"


def test_search_empty_index_returns_nothing() -> None:
    assert SearchIndex.from_texts([]).search("公车私用") == []
