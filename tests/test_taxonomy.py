"""The bundled taxonomy (``corpora/taxonomy.yaml``), its training labels, and loader errors.

The first half checks the data an analyst edits: scheme ids, the label strings other code relies on,
sources and cues. The second half writes broken files into ``tmp_path`` and checks that the error
has the stable code ``bad_taxonomy`` and names the line of the problem.
"""

from __future__ import annotations

import collections
import json
from pathlib import Path

import pytest

from nlp.taxonomy import TAXONOMY_PATH, Taxonomy, TaxonomyError, default_taxonomy, load_taxonomy

ROOT = Path(__file__).resolve().parents[1]
GOLD_FINDINGS = ROOT / "corpora" / "samples" / "gold_findings.jsonl"
SAMPLE_LABELS = ROOT / "corpora" / "training" / "sample_labels.jsonl"
EVAL_DEV = ROOT.parent / "shared" / "eval-dev"

SCHEME_IDS = ("focus", "four_implementations", "livelihood", "problem_type")
FOCUS = ("党的领导", "党的建设", "全面从严治党")
FOUR_IMPLEMENTATIONS = (
    "落实党的理论和路线方针政策及党中央决策部署",
    "落实全面从严治党战略部署",
    "落实新时代党的组织路线",
    "落实巡视巡察审计等监督整改",
)
LIVELIHOOD = tuple(
    "扶贫/乡村振兴 教育 医疗卫生 社保/养老/低保 住房 粮食 生态环境 征地拆迁 农村集体三资 就业 食品药品 "
    "疫情防控 交通/道路 农田水利 安全生产 殡葬 信访".split()
)
PROBLEM_TYPES = tuple(
    "违规发放津补贴 形式主义官僚主义 违反中央八项规定精神 资金监管不力 工程招投标不规范 资产处置不规范 "
    "选人用人不规范 民主集中制执行不到位 三重一大不落实 基层党组织软弱涣散 意识形态责任制落实不到位 "
    "整改不到位 优亲厚友 村霸/宗族势力 保护伞 理论学习不深入 贯彻落实决策部署不力 主体责任落实不力 "
    "监督责任落实不力 公务接待超标准 公车私用 财务管理混乱 挤占挪用专项资金 套取骗取资金 虚报冒领 违规收费 "
    "吃拿卡要 政府采购不规范 履职不力 干部队伍建设薄弱 组织生活不规范 党员教育管理不严 违规兼职取酬 "
    "违规经商办企业 小金库 侵害群众利益".split()
)
# Words that occur in nearly every finding; as cues they would tag everything.
TOO_GENERIC = set("问题 工作 落实 存在 情况 方面 不到位 有差距 建设 管理 违规 党组 党委 干部 群众 部分 个别".split())


@pytest.fixture(scope="module")
def taxonomy() -> Taxonomy:
    return load_taxonomy()


def _all_labels(taxonomy: Taxonomy):
    return [label for scheme in taxonomy.schemes.values() for label in scheme.labels]


def _read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


# ── the bundled taxonomy ────────────────────────────────────────────────────────────────────────────


def test_taxonomy_bundled_file_loads(taxonomy):
    assert Path(taxonomy.path) == TAXONOMY_PATH
    assert taxonomy.version == 1
    assert default_taxonomy().schemes.keys() == taxonomy.schemes.keys()


def test_taxonomy_scheme_ids(taxonomy):
    assert set(SCHEME_IDS) <= set(taxonomy.schemes)
    assert taxonomy.scheme("focus").title == "三个聚焦"
    assert taxonomy.scheme("four_implementations").title == "四个落实"


@pytest.mark.parametrize(
    ("scheme_id", "multi_label"),
    [("focus", False), ("four_implementations", False), ("livelihood", True), ("problem_type", True)],
)
def test_taxonomy_multi_label_flags(taxonomy, scheme_id, multi_label):
    assert taxonomy.scheme(scheme_id).multi_label is multi_label


def test_taxonomy_focus_has_exactly_three_labels(taxonomy):
    assert taxonomy.scheme("focus").names == list(FOCUS)


def test_taxonomy_four_implementations_labels(taxonomy):
    assert taxonomy.scheme("four_implementations").names == list(FOUR_IMPLEMENTATIONS)


@pytest.mark.parametrize("name", LIVELIHOOD)
def test_taxonomy_livelihood_required_label(taxonomy, name):
    assert name in taxonomy.scheme("livelihood").names


@pytest.mark.parametrize("name", PROBLEM_TYPES)
def test_taxonomy_problem_type_required_label(taxonomy, name):
    assert name in taxonomy.scheme("problem_type").names


def test_taxonomy_problem_type_has_at_least_25_labels(taxonomy):
    assert len(taxonomy.scheme("problem_type").labels) >= 25


def test_taxonomy_every_scheme_has_a_source(taxonomy):
    for scheme in taxonomy.schemes.values():
        assert scheme.source.strip(), scheme.id


def test_taxonomy_every_label_has_description_source_and_cues(taxonomy):
    for label in _all_labels(taxonomy):
        assert label.description.strip(), label.name
        assert label.source.strip(), label.name
        assert len(label.cues) >= 5, (label.scheme, label.name, len(label.cues))


def test_taxonomy_no_cue_duplicated_within_a_label(taxonomy):
    for label in _all_labels(taxonomy):
        duplicates = [cue for cue, n in collections.Counter(label.cues).items() if n > 1]
        assert not duplicates, (label.scheme, label.name, duplicates)
        duplicates = [cue for cue, n in collections.Counter(label.negative_cues).items() if n > 1]
        assert not duplicates, (label.scheme, label.name, duplicates)


def test_taxonomy_negative_cue_is_never_an_own_cue(taxonomy):
    for label in _all_labels(taxonomy):
        clash = set(label.cues) & set(label.negative_cues)
        assert not clash, (label.scheme, label.name, clash)


def test_taxonomy_negative_cue_never_inside_an_own_cue(taxonomy):
    # A negative cue inside a cue would block that cue everywhere (overlapping hits do not count).
    for label in _all_labels(taxonomy):
        swallowed = [(neg, cue) for neg in label.negative_cues for cue in label.cues if neg in cue]
        assert not swallowed, (label.scheme, label.name, swallowed)


def test_taxonomy_no_generic_cues(taxonomy):
    for label in _all_labels(taxonomy):
        generic = set(label.cues) & TOO_GENERIC
        assert not generic, (label.scheme, label.name, generic)


def test_taxonomy_party_building_cue_is_not_fooled_by_engineering(taxonomy):
    # 党的建设 must not be supported by 工程建设 / 项目建设: those are its negative cues.
    label = taxonomy.scheme("focus").label("党的建设")
    assert {"工程建设", "项目建设", "基础设施建设"} <= set(label.negative_cues)


def test_taxonomy_synonyms_of(taxonomy):
    assert len(taxonomy.synonyms) >= 30
    assert {"补助", "津贴"} <= set(taxonomy.synonyms_of("补贴"))
    assert "补贴" not in taxonomy.synonyms_of("补贴")
    assert "两个责任" in taxonomy.synonyms_of("主体责任")
    assert "公务用车" in taxonomy.synonyms_of("公车")
    assert "最低生活保障" in taxonomy.synonyms_of("低保")
    assert taxonomy.synonyms_of("不在任何组里的词") == ()


def test_taxonomy_unknown_scheme_raises(taxonomy):
    with pytest.raises(TaxonomyError) as info:
        taxonomy.scheme("no_such_scheme")
    assert info.value.code == "bad_taxonomy"
    assert "no_such_scheme" in info.value.message


def test_taxonomy_scheme_unknown_label_raises_keyerror(taxonomy):
    with pytest.raises(KeyError):
        taxonomy.scheme("focus").label("党的作风")


# ── training labels ─────────────────────────────────────────────────────────────────────────────────


@pytest.fixture(scope="module")
def sample_labels() -> list[dict]:
    return _read_jsonl(SAMPLE_LABELS)


def test_sample_labels_use_only_taxonomy_labels(taxonomy, sample_labels):
    for row in sample_labels:
        assert row["focus"] in taxonomy.scheme("focus").names, row
        assert row["four_implementations"] in taxonomy.scheme("four_implementations").names, row
        assert set(row["livelihood"]) <= set(taxonomy.scheme("livelihood").names), row
        assert row["problem_type"], row
        assert set(row["problem_type"]) <= set(taxonomy.scheme("problem_type").names), row
        assert len(set(row["livelihood"])) == len(row["livelihood"]), row
        assert len(set(row["problem_type"])) == len(row["problem_type"]), row


def test_sample_labels_cover_every_gold_finding_once(sample_labels):
    gold = _read_jsonl(GOLD_FINDINGS)
    labelled = collections.Counter((r["file"], r["text"]) for r in sample_labels if r["file"] != "synthetic")
    assert labelled == collections.Counter((g["file"], g["text"]) for g in gold)
    issues = {(g["file"], g["text"]): g["issue"] for g in gold}
    for row in sample_labels:
        if row["file"] != "synthetic":
            assert row["issue"] == issues[(row["file"], row["text"])], row


def test_sample_labels_synthetic_rows(sample_labels):
    synthetic = [r["text"] for r in sample_labels if r["file"] == "synthetic"]
    assert 40 <= len(synthetic) <= 60
    assert len(set(synthetic)) == len(synthetic)
    gold_texts = {g["text"] for g in _read_jsonl(GOLD_FINDINGS)}
    assert not set(synthetic) & gold_texts


@pytest.mark.parametrize("scheme_id", ["livelihood", "problem_type"])
def test_sample_labels_every_label_has_two_examples(taxonomy, sample_labels, scheme_id):
    counts = collections.Counter(name for row in sample_labels for name in row[scheme_id])
    thin = [name for name in taxonomy.scheme(scheme_id).names if counts[name] < 2]
    assert not thin


@pytest.mark.skipif(not (EVAL_DEV / "gold_findings.jsonl").exists(), reason="eval-dev set not present")
def test_sample_labels_do_not_copy_the_evaluation_set(sample_labels):
    eval_texts = [json.loads(line)["text"] for line in (EVAL_DEV / "gold_findings.jsonl").open(encoding="utf-8")]
    for row in sample_labels:
        for text in eval_texts:
            assert row["text"] not in text and text.strip("。") not in row["text"], (row["text"], text)


# ── loader errors name the line ─────────────────────────────────────────────────────────────────────


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "taxonomy.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _error(tmp_path: Path, text: str) -> TaxonomyError:
    with pytest.raises(TaxonomyError) as info:
        load_taxonomy(_write(tmp_path, text))
    assert info.value.code == "bad_taxonomy"
    return info.value


GOOD = """\
version: 1
schemes:
  focus:
    title: 三个聚焦
    multi_label: false
    labels:
      - name: 党的领导
        source: 测试
        cues: [第一议题, 意识形态]
        negative_cues: [党建工作]
synonyms:
  - [补贴, 补助]
"""


def test_taxonomy_minimal_file_loads(tmp_path):
    taxonomy = load_taxonomy(_write(tmp_path, GOOD))
    assert taxonomy.scheme("focus").names == ["党的领导"]
    assert taxonomy.scheme("focus").multi_label is False
    assert taxonomy.scheme("focus").label("党的领导").cues == ("第一议题", "意识形态")
    assert taxonomy.synonyms_of("补助") == ("补贴",)


def test_taxonomy_error_broken_indentation_names_line(tmp_path):
    text = GOOD.replace("    multi_label: false\n", "   multi_label: false\n")  # line 5, 3 spaces
    error = _error(tmp_path, text)
    assert "第 5 行" in error.message
    assert "YAML" in error.message


def test_taxonomy_error_unclosed_list_names_line(tmp_path):
    text = GOOD.replace("cues: [第一议题, 意识形态]", "cues: [第一议题, 意识形态")  # line 9
    error = _error(tmp_path, text)
    assert "第 10 行" in error.message  # the parser notices on the next line (negative_cues:)
    assert str(tmp_path / "taxonomy.yaml") in error.message


def test_taxonomy_error_mapping_value_names_line(tmp_path):
    text = GOOD.replace("        source: 测试\n", "        source: 测试: 条例\n")  # line 8
    error = _error(tmp_path, text)
    assert "第 8 行" in error.message


def test_taxonomy_error_label_without_name_names_line(tmp_path):
    text = GOOD.replace("synonyms:", "      - description: 没有名字\n        cues: [党建]\nsynonyms:")  # line 11
    error = _error(tmp_path, text)
    assert "第 11 行" in error.message
    assert "缺少 name" in error.message


def test_taxonomy_error_cues_not_a_list_names_line(tmp_path):
    text = GOOD.replace("cues: [第一议题, 意识形态]", "cues: 第一议题")  # line 9
    error = _error(tmp_path, text)
    assert "第 9 行" in error.message
    assert "cues" in error.message
    assert "列表" in error.message


def test_taxonomy_error_cue_not_a_string_names_line(tmp_path):
    text = GOOD.replace("cues: [第一议题, 意识形态]", "cues: [第一议题, 12345]")  # unquoted number
    error = _error(tmp_path, text)
    assert "第 9 行" in error.message
    assert "12345" in error.message


def test_taxonomy_error_duplicate_label_names_line(tmp_path):
    text = GOOD.replace("synonyms:", "      - name: 党的领导\n        cues: [两个维护]\nsynonyms:")  # line 11
    error = _error(tmp_path, text)
    assert "第 11 行" in error.message
    assert "重复" in error.message
    assert "党的领导" in error.message


def test_taxonomy_error_unknown_field_names_label_line(tmp_path):
    text = GOOD.replace("        source: 测试\n", "        source: 测试\n        weight: 3\n")
    error = _error(tmp_path, text)
    assert "第 7 行" in error.message  # the line of the label ("- name: 党的领导")
    assert "未知字段" in error.message
    assert "weight" in error.message


def test_taxonomy_error_bad_scheme_id_names_line(tmp_path):
    text = GOOD.replace("  focus:\n", "  focus-2016:\n")  # line 3: not an identifier
    error = _error(tmp_path, text)
    # The loader points at the scheme (its key on line 3 or its body starting on line 4).
    assert "第 3 行" in error.message or "第 4 行" in error.message
    assert "focus-2016" in error.message


def test_taxonomy_error_synonym_group_of_one_names_line(tmp_path):
    text = GOOD.replace("  - [补贴, 补助]", "  - [补贴]")  # line 12
    error = _error(tmp_path, text)
    assert "第 12 行" in error.message


def test_taxonomy_error_missing_file(tmp_path):
    with pytest.raises(TaxonomyError) as info:
        load_taxonomy(tmp_path / "nope.yaml")
    assert info.value.code == "bad_taxonomy"


def test_taxonomy_error_not_utf8(tmp_path):
    path = tmp_path / "taxonomy.yaml"
    path.write_bytes(GOOD.encode("gbk"))
    with pytest.raises(TaxonomyError) as info:
        load_taxonomy(path)
    assert "UTF-8" in info.value.message
