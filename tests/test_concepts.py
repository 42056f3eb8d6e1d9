"""The concept thesaurus: the bundled files, the loader's errors (each names its file and line),
matching (gaps, negatives, quotes, derived topic anchors) and the analysis form it reads."""

from __future__ import annotations

from pathlib import Path

import pytest

from nlp.concepts import FOCUSES, ThesaurusError, default_thesaurus, load_thesaurus, topic_of
from nlp.script import analysis_form, simplified
from nlp.taxonomy import default_taxonomy

DATA = Path(__file__).parent / "data"

GOOD_FAMILY = """\
area: 测试
source: 测试
families:
  - id: test_family
    title: 测试类别
    focus: 党的建设
    livelihood: null
    specificity: 2
    source: 测试
    concepts:
      - name: 个人说了算
        forms: [一把手说了算, 主要领导…拍板]
"""


def write(tmp_path: Path, text: str, name: str = "t.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# --- the bundled thesaurus -----------------------------------------------------------------------


def test_concepts_bundled_thesaurus_is_large_and_consistent() -> None:
    th = default_thesaurus()
    forms = sum(1 + len(c.forms) for c in th.concepts.values())
    assert len(th.families) >= 60 and len(th.concepts) >= 300 and forms >= 5000
    livelihoods = set(default_taxonomy().scheme("livelihood").names)
    for family in th.families.values():
        assert family.focus in FOCUSES and family.source and family.title
        assert family.livelihood is None or family.livelihood in livelihoods, family.id
        assert family.concepts and all(th.concepts[k].family == family.id for k in family.concepts)


@pytest.mark.parametrize(
    ("text", "family"),
    [
        ("大事小事都是一把手说了算，不上会研究", "build_democratic_centralism"),
        ("“三重一大”事项未经集体研究决策", "build_sanzhong_yida"),
        ("公款吃喝、违规收受礼品礼金", "disc_eight_rules"),
        ("村集体资产长期低价发包，承包费多年未收", "res_village_sanzi"),
        ("党费收缴不规范", "build_party_dues"),
        ("「兩個責任」落實不到位", "disc_two_responsibilities"),  # Traditional script
    ],
)
def test_concepts_bundled_thesaurus_maps_wordings_to_families(text: str, family: str) -> None:
    th = default_thesaurus()
    assert family in {h.family for h in th.match(simplified(text))}


# --- matching ------------------------------------------------------------------------------------


def test_concepts_match_gaps_quotes_and_spans(tmp_path: Path) -> None:
    th = load_thesaurus(write(tmp_path, GOOD_FAMILY))
    text = "大事小事都是“主要领导”一个人拍板，不上会研究"
    (hit,) = th.match(text)
    assert hit.concept == "test_family/个人说了算" and hit.form == "主要领导…拍板"
    assert text[hit.start : hit.end] == "主要领导”一个人拍板"
    assert th.match("主要领导出差。回来后拍板") == []  # a gap never crosses a clause break
    assert th.match("主要领导研究了很久很久很久很久之后才拍板") == []  # nor more than ten characters


def test_concepts_negative_phrase_blocks_a_hit() -> None:
    th = load_thesaurus(DATA / "mini_concepts.yaml")
    assert th.concepts_in("落实党建主体责任不力") == []
    assert th.concepts_in("落实主体责任不力") == ["test_duty/主体责任落实不到位"]


def test_concepts_topic_anchors_derive_from_written_forms() -> None:
    assert topic_of("意识形态工作落实有差距") == "意识形态"
    assert topic_of("党员发展工作不规范") == "党员发展"
    assert topic_of("管理不到位") is None  # too generic a topic
    assert topic_of("主要领导…拍板") is None
    th = default_thesaurus()
    assert th.concepts_in("服务群众意识有待提高")  # the topic with another predicate


def test_concepts_version_changes_with_content(tmp_path: Path) -> None:
    one = load_thesaurus(write(tmp_path, GOOD_FAMILY))
    two = load_thesaurus(write(tmp_path, GOOD_FAMILY.replace("一把手说了算", "一把手拍板"), "u.yaml"))
    assert one.version != two.version and len(one.version) == 12


# --- loader errors name the line -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        (GOOD_FAMILY.replace("focus: 党的建设", "focus: 党建"), 6, "focus"),
        (GOOD_FAMILY.replace("id: test_family", "id: 测试"), 4, "小写英文标识符"),
        (GOOD_FAMILY.replace("specificity: 2", "specificity: 5"), 8, "specificity"),
        (GOOD_FAMILY.replace("        forms: [一把手说了算, 主要领导…拍板]", "        forms: [说, 主要领导…拍板]"), 12, "太短"),
        (GOOD_FAMILY.replace("主要领导…拍板", "主要领导…"), 12, "两侧"),
        (GOOD_FAMILY.replace("        forms:", "        form:"), 11, "未知字段"),
        (GOOD_FAMILY.replace("    source: 测试\n    concepts:", "    concepts:"), 4, "source"),
        (GOOD_FAMILY + "      - name: 个人说了算\n        forms: [一言堂]\n", 13, "重复"),
        (GOOD_FAMILY.replace("title: 测试类别", "title: [测试"), 6, "YAML 格式错误"),
    ],
)
def test_concepts_loader_error_names_file_and_line(tmp_path: Path, text: str, line: int, words: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ThesaurusError) as info:
        load_thesaurus(path)
    assert info.value.code == "bad_thesaurus"
    assert str(path) in info.value.message and f"第 {line} 行" in info.value.message and words in info.value.message


def test_concepts_loader_duplicate_family_across_files(tmp_path: Path) -> None:
    write(tmp_path, GOOD_FAMILY, "a.yaml")
    write(tmp_path, GOOD_FAMILY, "b.yaml")
    with pytest.raises(ThesaurusError, match="test_family.*重复"):
        load_thesaurus(tmp_path)


def test_concepts_loader_rejects_non_utf8_and_missing(tmp_path: Path) -> None:
    path = tmp_path / "gbk.yaml"
    path.write_bytes(GOOD_FAMILY.encode("gbk"))
    with pytest.raises(ThesaurusError, match="UTF-8"):
        load_thesaurus(path)
    with pytest.raises(ThesaurusError, match="找不到"):
        load_thesaurus(tmp_path / "none.yaml")
    (tmp_path / "empty_dir").mkdir()
    with pytest.raises(ThesaurusError, match="没有找到"):
        load_thesaurus(tmp_path / "empty_dir")


def test_concepts_cli_validator(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from nlp.concepts import _main

    assert _main([str(write(tmp_path, GOOD_FAMILY))]) == 0
    assert "1 个问题类别，1 个概念" in capsys.readouterr().out
    assert _main([str(write(tmp_path, GOOD_FAMILY.replace("focus: 党的建设", "focus: x"), "bad.yaml"))]) == 1
    assert "第 6 行" in capsys.readouterr().out


# --- the analysis form ---------------------------------------------------------------------------


def test_analysis_form_simplifies_drops_glosses_and_maps_back() -> None:
    text = "反饋嚴(yán)肅指出:部分單位推動高質(zhì)量發(fā)展的成效不足"
    form = analysis_form(text)
    assert form.text == "反馈严肃指出:部分单位推动高质量发展的成效不足"
    start = form.text.index("高质量发展")
    a, b = form.original_span(start, start + 5)
    assert text[a:b] == "高質(zhì)量發(fā)展"
    assert analysis_form("接入PDF(pypdfium)文本").text == "接入PDF(pypdfium)文本"  # toneless Latin stays


def test_analysis_form_drops_a_gloss_whose_tone_mark_ocr_lost_only_in_a_glossed_copy() -> None:
    """OCR of a mirror copy sometimes drops a tone mark (領(ling)); in a text glossed throughout the
    toneless syllable is a gloss too, while in an ordinary report Latin in brackets is kept."""
    mirror = "反饋嚴(yán)肅指出:黨組織領(ling)導班子建設(shè)不到位,紀(jì)律意識淡薄"
    form = analysis_form(mirror)
    assert form.text == "反馈严肃指出:党组织领导班子建设不到位,纪律意识淡薄"
    start = form.text.index("领导班子")
    a, b = form.original_span(start, start + 4)
    assert mirror[a:b] == "領(ling)導班子"
    assert analysis_form("领(ling)导班子建设不到位").text == "领(ling)导班子建设不到位"  # no toned gloss: kept
    assert analysis_form("反饋嚴(yán)肅指出:系統(tǒng)接入(pypdfium)和(ppp)項(xiàng)目").text.endswith("接入(pypdfium)和(ppp)项目")
