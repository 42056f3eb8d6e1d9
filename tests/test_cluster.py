"""Common-issue clustering on findings with a known answer: families, titles, rounds, recurrences.

Four problem families spread over units and rounds (built from their own phrases, so the expected
grouping is known), a few one-off findings, and findings without unit or round. Vectors are real e5
vectors; concepts come from the small test thesaurus (tests/data/mini_concepts.yaml) so assertions do
not follow the bundled thesaurus's wording.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from nlp.cluster import (
    NO_ROUND,
    ClusterConfig,
    ClusterInput,
    central_title,
    cluster_findings,
    partition,
    recurrences,
    round_order,
    stable_cluster_id,
    systemic_score,
)
from nlp.concepts import Thesaurus, dominant_family, load_thesaurus
from nlp.embedders import make_embedder

DATA = Path(__file__).parent / "data"

FAMILIES: dict[str, tuple[list[str], list[str]]] = {
    "test_study": (
        ["“第一议题”制度落实不严格", "党组“第一议题”学习流于形式", "落实“第一议题”制度打折扣"],
        ["以读代学、照本宣科", "学用脱节", "学习后研究部署少"],
    ),
    "test_decisions": (
        ["“三重一大”事项未经集体研究", "“三重一大”决策程序不规范", "“三重一大”事项由主要负责人一人决定"],
        ["大额资金使用未上会", "重大项目未经党组会研究", "事后补办会议程序"],
    ),
    "test_cars": (
        ["公务用车管理不严，存在公车私用现象", "公车私用问题时有发生", "干部驾驶公车办私事"],
        ["节假日公车未按规定封存", "公务车辆使用登记不全", "驾驶公车接送家属"],
    ),
    "test_dibao": (
        ["农村低保评定优亲厚友", "低保审核把关不严，存在“人情保”“关系保”", "村干部近亲属违规享受低保"],
        ["不符合条件人员被纳入低保", "低保对象动态管理不到位", "低保评议未公示"],
    ),
}
ONE_OFFS = [
    "农村学校校车安全管理存在漏洞，个别校车超员运行",
    "殡葬领域违规建设豪华墓问题仍有发生",
    "河道非法采砂屡禁不止，采砂坑未回填",
]
UNITS = ["县教育局党组", "县住建局党组", "城关镇党委", "河口镇党委", "县医保局党组", "石桥村党支部"]
ROUNDS = [("十四届县委第五轮", 5), ("十四届县委第六轮", 6), ("十四届县委第七轮", 7)]


@pytest.fixture(scope="module")
def thesaurus() -> Thesaurus:
    return load_thesaurus(DATA / "mini_concepts.yaml")


def make_corpus(th: Thesaurus, seed: int = 7, per_family: int = 6) -> tuple[list[ClusterInput], dict[str, str]]:
    """Findings and the family of each id (one-offs map to their own id); the last finding of each
    family has neither unit nor round."""
    rng = random.Random(seed)
    findings: list[ClusterInput] = []
    family_of: dict[str, str] = {}
    n = 0
    for name, (heads, tails) in FAMILIES.items():
        for j in range(per_family):
            text = f"{rng.choice(heads)}，{rng.choice(tails)}"
            unit = None if j == per_family - 1 else (UNITS[j % len(UNITS)] if name != "test_dibao" else "县民政局党组")
            label, number = ROUNDS[j % 3] if name != "test_dibao" else ROUNDS[0]
            if unit is None:
                label, number = None, None  # type: ignore[assignment]
            findings.append(ClusterInput(f"f{n:04d}", text, unit, label, number, tuple(th.concepts_in(text))))
            family_of[f"f{n:04d}"] = name
            n += 1
    for text in ONE_OFFS:
        findings.append(ClusterInput(f"f{n:04d}", text, rng.choice(UNITS), *ROUNDS[1], tuple(th.concepts_in(text))))
        family_of[f"f{n:04d}"] = f"f{n:04d}"
        n += 1
    return findings, family_of


def vectors_of(findings: list[ClusterInput]) -> np.ndarray:
    return make_embedder().embed([f.text for f in findings])


@pytest.fixture(scope="module")
def corpus(thesaurus: Thesaurus) -> tuple[list[ClusterInput], dict[str, str], np.ndarray]:
    findings, family_of = make_corpus(thesaurus)
    return findings, family_of, vectors_of(findings)


@pytest.fixture(scope="module")
def clusters(corpus, thesaurus):  # type: ignore[no-untyped-def]
    findings, _, V = corpus
    return cluster_findings(findings, V, thesaurus)


def test_cluster_places_every_finding_once_and_recovers_families(corpus, clusters) -> None:
    findings, family_of, _ = corpus
    placed = [fid for cl in clusters for fid in cl.finding_ids]
    assert sorted(placed) == sorted(f.id for f in findings)
    by_family = {cl.family: set(cl.finding_ids) for cl in clusters if cl.family}
    for name in FAMILIES:
        assert by_family[name] == {fid for fid, fam in family_of.items() if fam == name}


def test_cluster_keeps_findings_without_unit_or_round(corpus, clusters) -> None:
    findings, _, _ = corpus
    unitless = {f.id for f in findings if f.unit is None}
    assert len(unitless) == len(FAMILIES)
    placed = {fid for cl in clusters for fid in cl.finding_ids}
    assert unitless <= placed
    for cl in clusters:
        if set(cl.finding_ids) & unitless:
            assert cl.per_round.get(NO_ROUND, 0) >= 1
            assert sum(cl.per_round.values()) == cl.size


def test_cluster_titles_read_as_common_issues(corpus, clusters, thesaurus) -> None:
    for cl in clusters:
        if cl.family:
            assert cl.title == thesaurus.families[cl.family].title
            assert cl.cluster_id == f"f:{cl.family}"
        else:
            assert cl.title and "、" not in cl.title[:2]
            assert cl.cluster_id == stable_cluster_id(cl.finding_ids)
    assert central_title("（三）殡葬领域违规建设豪华墓问题仍有发生，群众反映强烈") == "殡葬领域违规建设豪华墓问题仍有发生"
    assert central_title("二是" + "很长的问题" * 10, limit=12).endswith("…")


def test_cluster_rounds_follow_their_numbers_not_their_labels(clusters) -> None:
    assert sorted(["十四届县委第七轮", "十四届县委第五轮", "十四届县委第六轮"]) == [
        "十四届县委第七轮", "十四届县委第五轮", "十四届县委第六轮"]  # code point order is wrong: 七 < 五 < 六
    spread = next(cl for cl in clusters if cl.family == "test_cars")
    assert spread.rounds == ["十四届县委第五轮", "十四届县委第六轮", "十四届县委第七轮"]
    assert list(spread.per_round)[:3] == spread.rounds
    assert round_order("第十二轮", 12) > round_order("第七轮", 7)
    assert round_order("十四届县委第一轮", 1, 14) > round_order("十三届县委第九轮", 9, 13)  # a new term starts again
    assert round_order(None, None) > round_order("第二轮巡察", None) > round_order("第十二轮", 12)  # unknown last


def test_cluster_systemic_score_spread_beats_size(clusters) -> None:
    assert systemic_score(5, 5, 3) > systemic_score(20, 1, 1)
    scores = [cl.systemic_score for cl in clusters]
    assert scores == sorted(scores, reverse=True)
    dibao = next(cl for cl in clusters if cl.family == "test_dibao")  # one unit, one round
    spread = [cl for cl in clusters if cl.family and cl.family != "test_dibao"]
    assert spread and all(cl.systemic_score > dibao.systemic_score for cl in spread)


def test_cluster_ids_stable_when_unrelated_findings_added(corpus, clusters, thesaurus) -> None:
    findings, _, V = corpus
    extra = [
        ClusterInput("z0001", "信访矛盾化解不及时，重复信访", "城关镇党委", *ROUNDS[2]),
        ClusterInput("z0002", "教师职称评审推荐把关不严", "县教育局党组", *ROUNDS[2]),
    ]
    grown = cluster_findings(list(findings) + extra, np.vstack([V, vectors_of(extra)]), thesaurus)
    after = {cl.cluster_id: set(cl.finding_ids) for cl in grown}
    for cl in clusters:
        assert set(cl.finding_ids) <= after[cl.cluster_id]


def test_dominant_family_concrete_topic_and_first_clause_win(thesaurus) -> None:
    text = "落实主体责任不到位，公车私用问题时有发生"
    assert dominant_family(text, thesaurus.concepts_in(text), thesaurus) == "test_cars"  # specificity 3 over 1
    text = "“三重一大”事项未经集体研究，公车管理不严"
    assert dominant_family(text, thesaurus.concepts_in(text), thesaurus) == "test_decisions"
    assert dominant_family("天气晴朗", [], thesaurus) is None


def test_cluster_empty_one_and_duplicate_ids(thesaurus) -> None:
    assert cluster_findings([], np.zeros((0, 384)), thesaurus) == []
    one = [ClusterInput("a", "殡葬领域违规建设豪华墓", "县民政局党组")]
    (cl,) = cluster_findings(one, vectors_of(one), thesaurus)
    assert cl.singleton and cl.size == 1 and cl.representatives == ["a"]
    with pytest.raises(ValueError):
        cluster_findings([ClusterInput("a", "公车私用"), ClusterInput("a", "低保")], np.ones((2, 4)), thesaurus)


def test_recurrence_across_chinese_round_labels(thesaurus) -> None:
    texts = [
        ("r1", "以“加班补助”名义违规发放津补贴", "县教育局党组", *ROUNDS[0]),
        ("r2", "仍存在以“加班补助”名义违规发放津补贴问题", "县教育局党组", *ROUNDS[2]),
        ("r3", "以“加班补助”名义违规发放津补贴", "县住建局党组", *ROUNDS[1]),  # another unit
        ("r4", "公务接待超标准、超范围", "县教育局党组", *ROUNDS[2]),  # another problem
        ("r5", "以“值班补助”名义违规发放津补贴", "县教育局党组", *ROUNDS[0]),  # same round as r1
    ]
    findings = [ClusterInput(i, t, u, r, n, tuple(thesaurus.concepts_in(t))) for i, t, u, r, n in texts]
    pairs = recurrences(findings, vectors_of(findings))
    got = {(p.earlier_id, p.later_id) for p in pairs}
    assert ("r1", "r2") in got
    assert all(p.earlier_round == "十四届县委第五轮" and p.later_round == "十四届县委第七轮" for p in pairs)
    assert not any("r3" in pair or "r4" in pair for pair in got)
    assert ("r1", "r5") not in got and ("r5", "r1") not in got


def test_cluster_large_vector_path_kmeans_merge() -> None:
    rng = np.random.default_rng(3)
    centers = rng.normal(size=(4, 32))
    truth = rng.integers(0, 4, size=2000)
    V = centers[truth] + 0.05 * rng.normal(size=(2000, 32))
    V /= np.linalg.norm(V, axis=1, keepdims=True)
    labels = partition(V.astype(np.float32), ClusterConfig(exact_max=500, threshold=0.9))
    from sklearn.metrics import adjusted_rand_score

    assert adjusted_rand_score(truth, labels) > 0.95


def test_rounds_of_the_library_order_by_term_then_number() -> None:
    from service.rounds import round_key, term_number
    from service.store import models

    rounds = [models.InspectionRound(label=label, term=term, number=number) for label, term, number in [
        ("十四届县委第七轮", "十四届县委", 7), ("十三届县委第九轮", "十三届县委", 9),
        ("十四届县委第五轮", "十四届县委", 5), ("十四届县委第十二轮", "十四届县委", 12), ("专项巡察", None, None)]]
    assert [r.label for r in sorted(rounds, key=round_key)] == [
        "十三届县委第九轮", "十四届县委第五轮", "十四届县委第七轮", "十四届县委第十二轮", "专项巡察"]
    assert term_number("十四届县委") == 14 and term_number(None) is None


def test_recurrences_report_each_later_finding_once_against_the_earlier_one_it_repeats(thesaurus) -> None:
    # one unit, three rounds, the same problem each time and a near-copy in the first round: each later
    # statement is reported once, against its most similar earlier one — not every similar pair
    texts = [
        ("a5", "以“加班补助”名义违规发放津补贴", ROUNDS[0]),
        ("b5", "以“值班补助”名义违规发放津补贴", ROUNDS[0]),
        ("a6", "以“加班补助”名义违规发放津补贴", ROUNDS[1]),
        ("a7", "以“加班补助”名义违规发放津补贴问题仍然存在", ROUNDS[2]),
    ]
    findings = [ClusterInput(i, t, "县教育局党组", r, n, tuple(thesaurus.concepts_in(t))) for i, t, (r, n) in texts]
    pairs = recurrences(findings, vectors_of(findings))
    later = [p.later_id for p in pairs]
    assert sorted(later) == ["a6", "a7"] and len(later) == len(set(later))
    by_later = {p.later_id: p for p in pairs}
    assert by_later["a6"].earlier_id == "a5"  # the identical statement, not its near-copy b5
    assert by_later["a7"].earlier_id in {"a5", "a6"} and by_later["a7"].earlier_round != by_later["a7"].later_round
    assert [p.similarity for p in pairs] == sorted((p.similarity for p in pairs), reverse=True)
