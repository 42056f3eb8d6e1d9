"""Clustering on synthetic findings with a fixed seed and a known answer.

Four paraphrase families spread over units and rounds, plus unrelated one-off findings. Every
family is built from its own phrases, so the expected grouping is known.
"""

from __future__ import annotations

import random
import re
import time

import numpy as np
import pytest

from nlp.cluster import (
    ClusterConfig,
    ClusterInput,
    cluster_findings,
    partition,
    recurrences,
    stable_cluster_id,
    systemic_score,
)
from nlp.segment import load_stopwords
from nlp.vectors import embed, fit_svd, fit_tfidf

FAMILIES: dict[str, tuple[list[str], list[str], set[str]]] = {
    # heads, tails, key words the label must draw on
    "first_topic": (
        ["“第一议题”制度落实不严格", "党组“第一议题”学习流于形式", "落实“第一议题”制度打折扣"],
        ["以读代学、照本宣科", "学用脱节", "学习后研究部署少"],
        {"第一议题", "以读代学", "照本宣科", "学用", "学习", "制度", "研究部署", "脱节", "流于形式", "打折扣", "落实"},
    ),
    "sanzhongyida": (
        ["“三重一大”事项未经集体研究", "“三重一大”决策程序不规范", "“三重一大”事项由主要负责人一人决定"],
        ["大额资金使用未上会", "重大项目未经党组会研究", "事后补办会议程序"],
        {"三重一大", "事项", "集体研究", "决策", "程序", "研究", "大额", "资金", "不规范"},
    ),
    "public_car": (
        ["公务用车管理不严，存在公车私用现象", "公车私用问题时有发生", "干部驾驶公车办理私事"],
        ["节假日公车未按规定封存", "公务车辆使用登记不全", "驾驶公车接送家属"],
        {"公车", "私用", "公务用车", "公车私用", "封存", "车辆", "驾驶", "私事", "接送"},
    ),
    "dibao": (
        ["农村低保评定优亲厚友", "低保审核把关不严，存在“人情保”“关系保”", "村干部近亲属违规享受低保"],
        ["不符合条件人员被纳入低保", "低保对象动态管理不到位", "低保评议未公示"],
        {"低保", "优亲厚友", "人情保", "关系保", "纳入", "评定", "近亲属"},
    ),
}

ONE_OFFS = [
    "农村学校校车安全管理存在漏洞，个别校车超员运行",
    "殡葬领域违规建设豪华墓问题仍有发生",
    "河道非法采砂屡禁不止，采砂坑未回填",
    "库存粮食账实不符，轮换环节以陈顶新",
    "医疗设备采购价格明显高于周边县市",
]

UNITS = ["县教育局党组", "县住建局党组", "城关镇党委", "河口镇党委", "县医保局党组", "石桥村党支部"]


def make_corpus(seed: int = 7, per_family: int = 8) -> tuple[list[ClusterInput], dict[str, str]]:
    """Findings and the family of each id (one-offs map to their own id)."""
    rng = random.Random(seed)
    findings: list[ClusterInput] = []
    family_of: dict[str, str] = {}
    n = 0
    for name, (heads, tails, _) in FAMILIES.items():
        for j in range(per_family):
            text = f"{rng.choice(heads)}，{rng.choice(tails)}，涉及{rng.randint(2, 30)}人"
            fid = f"f{n:04d}"
            unit = UNITS[j % len(UNITS)] if name != "dibao" else "县民政局党组"
            findings.append(ClusterInput(fid, text, unit, 5 + j % 3 if name != "dibao" else 5))
            family_of[fid] = name
            n += 1
    for text in ONE_OFFS:
        fid = f"f{n:04d}"
        findings.append(ClusterInput(fid, text, rng.choice(UNITS), 6))
        family_of[fid] = fid
        n += 1
    return findings, family_of


@pytest.fixture(scope="module")
def corpus() -> tuple[list[ClusterInput], dict[str, str]]:
    return make_corpus()


@pytest.fixture(scope="module")
def clusters(corpus):  # type: ignore[no-untyped-def]
    return cluster_findings(corpus[0])


def test_cluster_recovers_families_and_drops_nothing(corpus, clusters) -> None:
    findings, family_of = corpus
    ids = [fid for cl in clusters for fid in cl.finding_ids]
    assert sorted(ids) == sorted(f.id for f in findings)
    groups = {frozenset(cl.finding_ids) for cl in clusters}
    expected: dict[str, set[str]] = {}
    for fid, fam in family_of.items():
        expected.setdefault(fam, set()).add(fid)
    assert groups == {frozenset(v) for v in expected.values()}


def test_cluster_singletons_flagged(corpus, clusters) -> None:
    singles = [cl for cl in clusters if cl.singleton]
    assert len(singles) == len(ONE_OFFS)
    assert all(cl.size == 1 and len(cl.finding_ids) == 1 for cl in singles)
    assert not any(cl.singleton for cl in clusters if cl.size > 1)


def test_cluster_labels_use_family_words(corpus, clusters) -> None:
    findings, family_of = corpus
    stop = load_stopwords()
    for cl in clusters:
        assert 1 <= len(cl.keywords) <= 5
        assert cl.label == "、".join(cl.keywords[: len(cl.label.split("、"))])
        for kw in cl.keywords:
            assert not re.search(r"\d", kw), kw
            assert kw not in stop
            assert not any(kw in unit or unit in kw for unit in UNITS + ["县民政局党组"] if len(kw) >= 3), kw
        if cl.singleton:
            continue
        family = family_of[cl.finding_ids[0]]
        assert cl.keywords[0] in FAMILIES[family][2], (family, cl.keywords)
        assert len(set(cl.keywords) & FAMILIES[family][2]) >= 2, (family, cl.keywords)


def test_cluster_fields_and_representatives(corpus, clusters) -> None:
    findings, _ = corpus
    by_id = {f.id: f for f in findings}
    for cl in clusters:
        assert set(cl.representatives) <= set(cl.finding_ids)
        assert len(cl.representatives) == min(3, cl.size)
        assert sum(cl.per_round.values()) == cl.size
        assert cl.units == sorted({by_id[i].unit for i in cl.finding_ids if by_id[i].unit})
        assert cl.cluster_id == stable_cluster_id(cl.finding_ids)
        d = cl.to_dict()
        assert set(d) >= {"cluster_id", "label", "keywords", "size", "units", "rounds", "per_round",
                          "systemic_score", "representatives", "finding_ids", "singleton"}


def test_cluster_representative_is_most_central() -> None:
    V = np.array([[1.0, 0.0], [0.8, 0.6], [0.8, -0.6]], dtype=np.float32)
    findings = [ClusterInput(f"a{i}", "公车私用", "县医保局党组", 5) for i in range(3)]
    (cl,) = cluster_findings(findings, V, ClusterConfig(threshold=0.5))
    assert cl.representatives[0] == "a0"


def test_cluster_systemic_score_spread_beats_size(corpus, clusters) -> None:
    assert systemic_score(5, 5, 3) > systemic_score(20, 1, 1)
    assert systemic_score(20, 1, 1) > systemic_score(2, 1, 1) > systemic_score(1, 1, 1)
    # dibao: 8 findings, one unit, one round; the spread families rank above it.
    fam_scores = {cl.label: cl.systemic_score for cl in clusters if not cl.singleton}
    order = [cl for cl in clusters if not cl.singleton]
    assert "低保" in order[-1].label
    assert min(fam_scores.values()) == order[-1].systemic_score
    assert [cl.systemic_score for cl in clusters] == sorted((cl.systemic_score for cl in clusters), reverse=True)


def test_cluster_ids_stable_when_unrelated_findings_added(corpus, clusters) -> None:
    findings, _ = corpus
    extra = [
        ClusterInput("z0001", "信访矛盾化解不及时，重复信访", "城关镇党委", 7),
        ClusterInput("z0002", "教师职称评审推荐把关不严", "县教育局党组", 7),
        ClusterInput("z0003", "高标准农田灌排设施损坏", "县农业农村局党组", 7),
    ]
    grown = cluster_findings(list(findings) + extra)
    before = {cl.cluster_id: set(cl.finding_ids) for cl in clusters}
    after = {cl.cluster_id: set(cl.finding_ids) for cl in grown}
    for cid, members in before.items():
        assert after[cid] == members
    assert len(after) == len(before) + len(extra)


def test_cluster_empty_and_one() -> None:
    assert cluster_findings([]) == []
    (cl,) = cluster_findings([ClusterInput("a", "公车私用问题时有发生", "县医保局党组", 5)])
    assert cl.singleton and cl.size == 1 and cl.representatives == ["a"]


def test_cluster_rejects_duplicate_ids() -> None:
    with pytest.raises(ValueError):
        cluster_findings([ClusterInput("a", "公车私用"), ClusterInput("a", "低保")])


def test_recurrences_same_unit_across_rounds_only() -> None:
    findings = [
        ClusterInput("r1", "“三重一大”事项未经党组会集体研究决策", "县住建局党组", 5),
        ClusterInput("r2", "“三重一大”事项仍未经党组会集体研究决策", "县住建局党组", 7),
        ClusterInput("r3", "“三重一大”事项未经党组会集体研究决策", "县医保局党组", 6),
        ClusterInput("r4", "公务接待超标准、超范围", "县住建局党组", 7),
        ClusterInput("r5", "“三重一大”事项未经党组会集体研究", "县住建局党组", 5),
    ]
    _, X = fit_tfidf([f.text for f in findings])
    V = X.toarray()
    pairs = recurrences(findings, V, threshold=0.8)
    got = {(p.earlier_id, p.later_id) for p in pairs}
    assert ("r1", "r2") in got and ("r5", "r2") in got
    assert not any("r3" in pair or "r4" in pair for pair in got)  # other unit / unrelated
    assert ("r1", "r5") not in got and ("r5", "r1") not in got  # same round
    assert all(p.earlier_round == "5" and p.later_round == "7" for p in pairs)
    assert all(0.8 <= p.similarity <= 1.0001 for p in pairs)


def test_vectors_transform_new_texts() -> None:
    texts = [t for heads, tails, _ in FAMILIES.values() for t in heads + tails]
    enc, X = fit_tfidf(texts)
    dense, V = fit_svd(X, 8, encoder=enc)
    assert V.shape == (len(texts), 8)
    assert np.allclose(np.linalg.norm(V, axis=1), 1.0, atol=1e-5)
    W = dense.transform(["公车私用问题时有发生", texts[0]])
    assert W.shape == (2, 8)
    assert np.allclose(W[1], V[0], atol=1e-5)


def test_cluster_large_path_kmeans_merge() -> None:
    rng = random.Random(3)
    findings: list[ClusterInput] = []
    truth: list[str] = []
    for i in range(3000):
        name = rng.choice(sorted(FAMILIES))
        heads, tails, _ = FAMILIES[name]
        findings.append(
            ClusterInput(f"L{i:05d}", f"{rng.choice(heads)}，{rng.choice(tails)}", rng.choice(UNITS), rng.randint(1, 6))
        )
        truth.append(name)
    _, V = embed([f.text for f in findings], 64)
    cfg = ClusterConfig(exact_max=500)
    t0 = time.perf_counter()
    part = partition(V, cfg)
    clusters = cluster_findings(findings, V, cfg)
    elapsed = time.perf_counter() - t0
    assert part.method == "kmeans+merge"
    assert elapsed < 20
    assert sum(cl.size for cl in clusters) == len(findings)
    from sklearn.metrics import adjusted_rand_score

    assert adjusted_rand_score(truth, part.labels) > 0.9
    big = [cl for cl in clusters if cl.size >= 100]
    assert len(big) == len(FAMILIES)
