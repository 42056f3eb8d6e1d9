"""Structure: round, kind, dates, title, units, sections and sentences."""

from __future__ import annotations

import pytest

from nlp.structure import (
    find_dates,
    find_inspected_units,
    find_kind,
    find_round,
    find_sections,
    find_title,
    find_unit_blocks,
    split_sentences,
)


@pytest.mark.parametrize(
    ("text", "label", "number", "term"),
    [
        ("八届区委第七轮巡察派出3个巡察组", "八届区委第七轮", 7, "八届区委"),
        ("十二届区委第二轮巡察的整改进展情况报告", "十二届区委第二轮", 2, "十二届区委"),
        ("十四届县委第十二轮巡察反馈", "十四届县委第十二轮", 12, "十四届县委"),
        ("这是今年我省第二轮巡视，也是收官之战", "第二轮", 2, None),
        ("区委第3轮巡察", "区委第3轮", 3, None),
    ],
)
def test_structure_round(text, label, number, term):
    r = find_round(text)
    assert r is not None
    assert (r.label, r.number, r.term) == (label, number, term)


def test_structure_round_ignores_counts_of_rounds():
    assert find_round("共开展常规巡察14轮，专项和机动巡察12轮") is None


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("肇庆市县(市、区)委交叉巡察“回头看”反馈情况", "回头看"),
        ("县委第二轮交叉巡察反馈", "交叉"),
        ("开展教育领域专项巡察", "专项"),
        ("对9个村(社区)党组织开展为期15天的政治巡察", "村(社区)"),
        ("开展了常规巡察", "常规"),
        ("开展涉黑涉恶腐败和“保护伞”问题机动式巡察", "机动"),
        ("市县提级巡察", "提级"),
        ("开展上下联动巡察", "联动"),
        ("全县经济运行平稳", None),
    ],
)
def test_structure_kind(text, kind):
    assert find_kind(text) == kind


def test_structure_dates_with_ranges_and_iso():
    text = "2024年9月13日至12月13日，巡察组进驻。2025-03-11发布。2021年10月下旬"
    assert find_dates(text) == ["2024-09-13", "2024-12-13", "2025-03-11", "2021-10"]


def test_structure_title_prefers_a_report_heading():
    assert find_title("本级巡察\n肇庆市委交叉巡察第五组向社会公开巡察反馈情况\n按照……") == "肇庆市委交叉巡察第五组向社会公开巡察反馈情况"
    assert find_title("按照区委工作安排，2024年9月13日至12月13日，巡察组开展了常规巡察。") is None


def test_structure_unit_blocks_end_at_the_next_unit_and_before_requirements():
    text = (
        "区委办存在的主要问题是：一是落实不到位。二是作风不实。\n"
        "区交通局党组存在的主要问题是：\n一是学习不够。\n二是违规发放津补贴。\n"
        "巡察组要求，要压实整改责任。"
    )
    blocks = find_unit_blocks(text)
    assert [b.name for b in blocks] == ["区委办", "区交通局党组"]
    assert text[blocks[0].body_start :].startswith("一是落实不到位")
    assert text[blocks[1].start : blocks[1].end].endswith("二是违规发放津补贴。")


def test_structure_unit_colon_lines():
    text = "区委政法委:对上一轮巡察反馈问题整改力度不够。\n区委统战部：整改主体责任落实不到位。"
    assert [b.name for b in find_unit_blocks(text)] == ["区委政法委", "区委统战部"]


def test_structure_inspected_units_from_background():
    text = "2024年，区委巡察组分别对区委办、区人大机关党组、双塔街道党工委共3个党组织开展了常规巡察。"
    assert find_inspected_units(text) == ["区委办", "区人大机关党组", "双塔街道党工委"]


def test_structure_sections_and_roles():
    text = "一、存在的主要问题\n（一）党的领导弱化\n问题一。\n二、整改意见建议\n要加强领导。"
    sections = find_sections(text)
    assert [(s.title, s.role) for s in sections] == [
        ("一、存在的主要问题", "problems"),
        ("（一）党的领导弱化", "body"),
        ("二、整改意见建议", "suggestions"),
    ]
    assert sections[0].end == text.index("二、")


def test_structure_sentences_respect_quotes_and_brackets():
    text = "他说：“问题很多。整改要实。”随后离开。括号（内有句号。）不断句！最后一句"
    spans = [text[s.start : s.end] for s in split_sentences(text)]
    assert spans == ["他说：“问题很多。整改要实。”", "随后离开。", "括号（内有句号。）不断句！", "最后一句"]
