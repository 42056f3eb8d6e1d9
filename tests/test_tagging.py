"""Tagger: lexicon evidence, negative cues, classifier, combination, and train-only-if-no-worse."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from nlp.tagging.classifier import TagClassifier, examples_from_rows
from nlp.tagging.combine import Tagger
from nlp.tagging.lexicon import LexiconTagger, cue_weight, noisy_or
from nlp.tagging.training import LabelsFileError, is_dev, read_label_rows, score_tagger, train
from nlp.taxonomy import load_taxonomy

MINI = Path(__file__).parent / "data" / "mini_taxonomy.yaml"


@pytest.fixture(scope="module")
def taxonomy():
    return load_taxonomy(MINI)


def labelled_rows(n: int = 60, seed: int = 7) -> list[dict]:
    """Synthetic findings whose wording determines the focus label (plus noise words)."""
    rng = random.Random(seed)
    patterns = {
        "党的领导": ["“第一议题”学习走过场", "贯彻上级决策部署不力", "意识形态工作责任制落实不到位", "理论学习流于形式"],
        "党的建设": ["选人用人把关不严", "民主集中制执行不到位", "“三会一课”制度落实不规范", "领导班子建设薄弱"],
        "全面从严治党": ["违规发放津补贴", "违反中央八项规定精神", "公车私用问题突出", "工程项目规避招标"],
    }
    units = ["县教育局党组", "城关镇党委", "县医保局党组", "河口镇党委", "县住建局党组"]
    rows = []
    for i in range(n):
        label = list(patterns)[i % 3]
        text = f"{rng.choice(units)}{rng.choice(patterns[label])}，{rng.choice(['问题较多', '情况突出', '整改不力', '有待加强'])}（{i}）"
        rows.append({"text": text, "focus": label, "livelihood": ["教育"] if "教育" in text else []})
    return rows


def cue_free_rows(n: int = 90, seed: int = 3) -> list[dict]:
    """Findings whose wording carries none of the mini taxonomy's cues: only a classifier can tag them."""
    rng = random.Random(seed)
    patterns = {
        "党的领导": ["读原文念文件，学用脱节", "对上级交办任务推进缓慢", "政治站位不高，担当不足"],
        "党的建设": ["组织生活会辣味不足", "发展党员程序倒置", "支部换届长期未进行"],
        "全面从严治党": ["设立小金库账外循环", "超标准公务接待", "白条入账现象普遍"],
    }
    rows = []
    for i in range(n):
        label = list(patterns)[i % 3]
        rows.append({"text": f"{rng.choice(['甲', '乙', '丙', '丁'])}单位{rng.choice(patterns[label])}（{i}）", "focus": label})
    return rows


def test_tagging_lexicon_evidence_spans_point_into_the_text(taxonomy):
    text = "学校食堂采购不规范，违规发放津补贴，“第一议题”学习走过场"
    scores = LexiconTagger(taxonomy).score(text)
    focus = {s.label: s for s in scores["focus"]}
    assert set(focus) == {"全面从严治党", "党的领导"}
    for s in scores["focus"] + scores["livelihood"]:
        for ev in s.evidence:
            assert text[ev.start : ev.end] == ev.text
    assert [e.text for e in focus["全面从严治党"].evidence] == ["津补贴"]
    assert [s.label for s in scores["livelihood"]] == ["教育"]


def test_tagging_negative_cue_blocks_a_cue_inside_it(taxonomy):
    scores = LexiconTagger(taxonomy).score("工程建设项目推进缓慢")
    assert "党的建设" not in {s.label for s in scores["focus"]}
    scores = LexiconTagger(taxonomy).score("领导班子建设薄弱")
    assert [e.text for e in scores["focus"][0].evidence] == ["班子建设"]  # the longer cue, counted once


def test_tagging_scores_grow_with_support():
    assert cue_weight("三资") < cue_weight("八项规定") < cue_weight("民主集中制")
    assert noisy_or([0.5]) == 0.5
    assert noisy_or([0.5, 0.5]) == 0.75
    assert noisy_or([]) == 0.0


def test_tagging_document_offsets_and_shape(taxonomy):
    tagger = Tagger(taxonomy)
    tags = tagger.tag("违规发放津补贴", offset=100)
    row = tags["focus"][0]
    assert row["label"] == "全面从严治党" and row["source"] == "lexicon" and 0 < row["score"] <= 1
    assert row["evidence"] == [{"text": "津补贴", "start": 104, "end": 107, "source": "lexicon"}]
    assert "livelihood" not in tags  # nothing supports a livelihood label


def test_tagging_classifier_learns_and_explains(taxonomy):
    rows = labelled_rows()
    examples = examples_from_rows(rows, ["focus", "livelihood"])
    clf = TagClassifier.fit(examples, {"focus": taxonomy.scheme("focus").names})
    probs = clf.predict(["县财政局党组选人用人把关不严"])[0]["focus"]
    assert max(probs, key=probs.get) == "党的建设"
    evidence = clf.explain("县财政局党组选人用人把关不严", "focus", "党的建设")
    assert evidence and all(e.source == "classifier" for e in evidence)
    assert any(e.text in "选人用人把关不严" for e in evidence)


def test_tagging_classifier_alone_supplies_evidence(taxonomy):
    rows = [{"text": f"某单位巡察发现“小金库”问题（{i}）", "focus": "全面从严治党"} for i in range(8)]
    rows += [{"text": f"某单位组织生活会不严肃（{i}）", "focus": "党的建设"} for i in range(8)]
    clf = TagClassifier.fit(examples_from_rows(rows, ["focus"]), {"focus": taxonomy.scheme("focus").names})
    tags = Tagger(taxonomy, clf, classifier_weight=1.0).tag("县粮食局存在小金库问题")
    top = tags["focus"][0]
    assert top["label"] == "全面从严治党" and top["source"] == "classifier"
    assert top["evidence"] and top["evidence"][0]["source"] == "classifier"


def test_tagging_train_replaces_only_when_no_worse(taxonomy, tmp_path):
    rows = cue_free_rows()
    first = train(taxonomy, rows, tmp_path)
    assert first.replaced and (tmp_path / "tagger.joblib").exists()
    meta = json.loads((tmp_path / "tagger.json").read_text(encoding="utf-8"))
    assert meta["version"] == first.version and len(meta["training_data_sha256"]) == 64
    stored = (tmp_path / "tagger.joblib").read_bytes()

    # labels that contradict the wording: the candidate scores worse on the same dev split
    rotate = {"党的领导": "党的建设", "党的建设": "全面从严治党", "全面从严治党": "党的领导"}
    bad = [r if is_dev(r["text"]) else dict(r, focus=rotate[r["focus"]]) for r in rows]
    second = train(taxonomy, bad, tmp_path)
    assert not second.replaced
    assert second.candidate["mean"] < second.current["mean"]
    assert (tmp_path / "tagger.joblib").read_bytes() == stored

    forced = train(taxonomy, bad, tmp_path, force=True)
    assert forced.replaced and (tmp_path / "tagger.joblib").read_bytes() != stored


def test_tagging_score_tagger_reports_each_scheme(taxonomy):
    rows = labelled_rows(30)
    scores = score_tagger(Tagger(taxonomy), examples_from_rows(rows, ["focus", "livelihood"]))
    assert set(scores) == {"focus", "livelihood", "mean"}
    assert 0.5 < scores["focus"] <= 1.0


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"text": "a", "focus": "党的领导"}\n{broken\n', "第 2 行不是合法 JSON"),
        ('{"focus": "党的领导"}\n', "第 1 行缺少 text"),
        ('{"text": "a", "focus": "党的领导"}\n\n{"text": "b", "focus": "不存在的标签"}\n', "第 3 行方案 focus 的标签不在分类体系中：不存在的标签"),
    ],
)
def test_tagging_labels_file_errors_name_the_line(taxonomy, tmp_path, content, message):
    path = tmp_path / "labels.jsonl"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(LabelsFileError) as info:
        read_label_rows(path, taxonomy)
    assert info.value.code == "bad_labels_file"
    assert message in info.value.message


def test_tagging_too_few_labels_is_a_clear_error(taxonomy, tmp_path):
    with pytest.raises(LabelsFileError, match="至少需要 10 条"):
        train(taxonomy, labelled_rows(6), tmp_path)


def test_tagging_concept_family_votes_focus_and_livelihood(taxonomy):
    from nlp.concepts import load_thesaurus

    tagger = Tagger(taxonomy, thesaurus=load_thesaurus(Path(__file__).parent / "data" / "mini_concepts.yaml"))
    # no cue of the mini taxonomy in this wording: the concept family alone answers
    tags = tagger.tag("村干部近亲属被纳入低保，评议优亲厚友", offset=10)
    focus = tags["focus"][0]
    assert focus["label"] == "全面从严治党" and focus["source"] == "concept"
    assert focus["evidence"] and all(e["source"] == "concept" for e in focus["evidence"])
    assert {e["text"] for e in focus["evidence"]} >= {"低保"}
    assert all("村干部近亲属被纳入低保，评议优亲厚友"[e["start"] - 10 : e["end"] - 10] == e["text"] for e in focus["evidence"])
    assert tags["livelihood"][0]["label"] == "社保/养老/低保"


def test_tagging_focus_always_answers_and_flags_weak_answers(taxonomy):
    rows = cue_free_rows()
    clf = TagClassifier.fit(examples_from_rows(rows, ["focus"]), {"focus": taxonomy.scheme("focus").names})
    tagger = Tagger(taxonomy, clf)
    weak = tagger.tag("某单位某项工作存在不足")  # nothing says which focus
    assert len(weak["focus"]) >= 1 and weak["focus"][0].get("review") is True
    strong = tagger.tag("违规发放津补贴，公车私用")
    assert strong["focus"][0]["label"] == "全面从严治党" and "review" not in strong["focus"][0]


def test_tagging_livelihood_follows_the_units_service_for_its_own_work():
    from nlp.concepts import default_thesaurus
    from nlp.model import Finding, MediaType, ReportDoc
    from nlp.tagging.livelihood import unit_area
    from nlp.taxonomy import load_taxonomy as load

    assert unit_area("县卫生健康局党组") == "医疗卫生" and unit_area("区教育工作党委(区教育局)") == "教育"
    assert unit_area("佘家镇党委") is None
    tagger = Tagger(load(), thesaurus=default_thesaurus())
    texts = ["监督检查力度不足，履职尽责不到位", "城关镇卫生院不按规定时间组织换届", "财务报销审核不严格"]
    doc = ReportDoc(source="t.txt", media_type=MediaType.TEXT, text="。".join(texts), page_starts=[0])
    pos = 0
    for i, t in enumerate(texts):
        doc.findings.append(Finding(id=f"F{i + 1:03d}", text=t, start=pos, end=pos + len(t), page=1, unit="县卫生监督所"))
        pos += len(t) + 1
    tagger.tag_document(doc)
    duty, party, money = (f.tags for f in doc.findings)
    assert [t["label"] for t in duty["livelihood"]] == ["医疗卫生"] and duty["livelihood"][0]["source"] == "unit"
    assert "livelihood" not in party  # a party-building problem of a health unit is not a health problem
    assert "livelihood" not in money  # finance is generic governance wherever it occurs


def test_tagging_livelihood_from_the_field_the_statement_names_and_the_village_collective():
    from nlp.concepts import default_thesaurus
    from nlp.model import Finding, MediaType, ReportDoc
    from nlp.tagging.livelihood import is_village_unit, text_area
    from nlp.taxonomy import load_taxonomy as load

    assert text_area("推动教育高质量发展仍有不足") == ("教育", 2, 4)
    assert text_area("警示教育、党性教育开展不经常") is None  # political education is not the field 教育
    assert is_village_unit("徽城镇所辖村(社区)党组织") and is_village_unit("城关社区党委")
    assert not is_village_unit("新村镇党委") and not is_village_unit("佘家镇党委")
    tagger = Tagger(load(), thesaurus=default_thesaurus())
    rows = [
        ("落实教育领域改革要求、推动教育高质量发展仍有不足", None),  # carrying out decisions in a field it names
        ("警示教育工作开展不经常，效果不明显", None),
        ("财务管理制度执行不严格，廉政风险较大", "桥头村党支部"),  # a village's finances are its collective's 三资
        ("财务管理制度执行不严格，廉政风险较大", "县财政局党组"),
        ("缺少学科带头人", "古贤镇卫生院"),  # unplaced by the thesaurus, in a health unit
    ]
    doc = ReportDoc(source="t.txt", media_type=MediaType.TEXT, text="。".join(t for t, _ in rows), page_starts=[0])
    pos = 0
    for i, (t, unit) in enumerate(rows):
        doc.findings.append(Finding(id=f"F{i + 1:03d}", text=t, start=pos, end=pos + len(t), page=1, unit=unit))
        pos += len(t) + 1
    tagger.tag_document(doc)
    field, political, village, bureau, hospital = (f.tags.get("livelihood", []) for f in doc.findings)
    assert [t["label"] for t in field] == ["教育"] and field[0]["evidence"] == [{"text": "教育", "start": doc.findings[0].start + 2, "end": doc.findings[0].start + 4, "source": "text"}]
    assert political == []
    assert [t["label"] for t in village] == ["农村集体三资"] and village[0]["source"] == "unit"
    assert bureau == []  # finance elsewhere is generic governance
    assert [t["label"] for t in hospital] == ["医疗卫生"]


def test_tagging_livelihood_of_a_special_inspection_comes_from_its_field():
    from nlp.concepts import default_thesaurus
    from nlp.model import Finding, MediaType, ReportDoc
    from nlp.tagging.livelihood import inspection_field
    from nlp.taxonomy import load_taxonomy as load

    assert inspection_field("县委巡察组对3个乡镇开展了脱贫攻坚专项巡察") == ("扶贫/乡村振兴", "县委巡察组对3个乡镇开展了脱贫攻坚专项巡察")
    assert inspection_field("“两个100%”改革任务专项巡察存在以下问题") is None  # no service field
    assert inspection_field("县委第三巡察组对县民政局开展常规巡察") is None
    # an inspection sent to oversee one field's work names its field the same way
    assert inspection_field("对县直部门脱贫攻坚工作部署情况进行一线专项督导巡察")[0] == "扶贫/乡村振兴"
    assert inspection_field("县委组织开展教育领域督导巡察")[0] == "教育"
    head = "县委巡察组对3个乡镇开展了脱贫攻坚专项巡察。发现的问题有："
    problem = "部分项目推进缓慢"
    doc = ReportDoc(source="t.txt", media_type=MediaType.TEXT, text=head + problem, page_starts=[0])
    doc.findings.append(Finding(id="F001", text=problem, start=len(head), end=len(head) + len(problem), page=1, unit=None))
    Tagger(load(), thesaurus=default_thesaurus()).tag_document(doc)
    live = doc.findings[0].tags["livelihood"]
    assert [t["label"] for t in live] == ["扶贫/乡村振兴"] and live[0]["source"] == "inspection"
    # the same problem in a report of an ordinary inspection has no area
    plain = ReportDoc(source="t.txt", media_type=MediaType.TEXT, text="巡察发现：" + problem, page_starts=[0])
    plain.findings.append(Finding(id="F001", text=problem, start=5, end=5 + len(problem), page=1, unit=None))
    Tagger(load(), thesaurus=default_thesaurus()).tag_document(plain)
    assert "livelihood" not in plain.findings[0].tags


@pytest.mark.parametrize(
    ("text", "area"),
    [
        ("驻村第一书记驻村不住村", "扶贫/乡村振兴"),
        ("服务“三农”工作主责主业不聚焦", "扶贫/乡村振兴"),
        ("统筹农村经济发展能力不足", "扶贫/乡村振兴"),
        ("贯彻生态文明思想存在薄弱环节", "生态环境"),
        ("山水林田湖一体保护工作不够有力", "生态环境"),
    ],
)
def test_tagging_livelihood_knows_each_fields_core_words(text, area):
    """The fields' own vocabulary (驻村第一书记 and 三农 are 乡村振兴's, 生态文明 the environment's)."""
    from nlp.concepts import default_thesaurus
    from nlp.taxonomy import load_taxonomy as load

    tags = Tagger(load(), thesaurus=default_thesaurus()).tag(text)
    assert area in [t["label"] for t in tags.get("livelihood", [])]


def test_tagging_a_unit_name_in_the_text_is_not_the_field():
    from nlp.concepts import default_thesaurus
    from nlp.taxonomy import load_taxonomy as load

    tags = Tagger(load(), thesaurus=default_thesaurus()).tag("向县农业农村局发出巡察建议书")
    assert "扶贫/乡村振兴" not in [t["label"] for t in tags.get("livelihood", [])]
