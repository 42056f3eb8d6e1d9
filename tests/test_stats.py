"""Statistics extraction (nlp/stats): number forms, metric cues, non-statistics, spans, aggregation.

Tables feed parametrized tests, one row per form or cue. A few rows use real sentences from the seed
articles (../shared/seeds); the dev-set score itself is evaluation/score_stats.py's job, not a test's.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from nlp.normalize import fold_text
from nlp.numerals import cn_to_int, parse_int, to_decimal
from nlp.stats import Metric, aggregate_statistics, extract_statistics, find_numbers

KEYS = {"metric", "value", "unit", "qualifier", "quote", "start", "end", "scope", "part_of", "total_of"}


def only(text: str) -> dict:
    """The single statistic of ``text`` (fails when there are none or several)."""
    stats = extract_statistics(text)
    assert len(stats) == 1, stats
    return stats[0]


def named(text: str) -> list[tuple[str, int | float]]:
    return [(s["metric"], s["value"]) for s in extract_statistics(text) if s["metric"] != "other"]


# ---- numerals ------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("text", "value"),
    [("十二", 12), ("一千八百三十二", 1832), ("两万", 20000), ("两万三千", 23000), ("二〇二四", 2024), ("1832", 1832)],
)
def test_numerals_cn_to_int_still_reads_integers(text, value):
    assert cn_to_int(text) == value
    assert parse_int(text) == value


def test_numerals_parse_int_rejects_words():
    assert parse_int("巡察") is None


@pytest.mark.parametrize(
    ("text", "value"),
    [("1,832", "1832"), ("2.67", "2.67"), ("九十八点一四", "98.14"), ("2.5万", "25000"), ("66.57万", "665700"),
     ("3000万", "30000000"), ("2.67亿", "267000000")],
)
def test_numerals_to_decimal_is_exact(text, value):
    assert to_decimal(text) == Decimal(value)


# ---- number forms --------------------------------------------------------------------------------

NUMBER_FORMS = [
    # text, value, unit, qualifier
    ("发现问题1832个", 1832, "个", None),
    ("发现问题1,832个", 1832, "个", None),
    ("发现问题一千八百三十二个", 1832, "个", None),
    ("共开展了十二轮巡察", 12, "轮", None),
    ("挽回经济损失两万元", 20000, "元", None),
    ("累计发现问题2.5万余个", 25000, "个", "余"),
    ("挽回直接经济损失2.67亿元", 267000000, "元", None),
    ("清退违规资金66.57万元", 665700, "元", None),
    ("挽回经济损失3000余万元", 30000000, "元", "余"),
    ("追回资金1200元", 1200, "元", None),
    ("建立完善制度机制300多项", 300, "项", "多"),
    ("问题整改完成率98.14%", 98.14, "%", None),
    ("问题整改完成率百分之九十八点一四", 98.14, "%", None),
    ("整改率达到百分之百", 100, "%", None),
    ("给予党纪政务处分3名", 3, "人", None),
    ("派员参加各级培训30余人次", 30, "人次", "余"),
    ("完成了11轮次对80家单位党组织的巡察", 11, "轮", None),
    ("书记专题会议5 次", 5, "次", None),
]


@pytest.mark.parametrize(("text", "value", "unit", "qualifier"), NUMBER_FORMS)
def test_stats_number_forms(text, value, unit, qualifier):
    s = extract_statistics(text)[0]
    assert (s["value"], s["unit"], s["qualifier"]) == (value, unit, qualifier)
    assert type(s["value"]) is type(value)  # whole numbers are ints, 98.14 stays a float


@pytest.mark.parametrize(
    ("text", "value", "qualifier"),
    [
        ("共发现问题近300个", 300, "近"),
        ("共发现问题逾300个", 300, "逾"),
        ("共发现问题约300个", 300, "约"),
        ("共发现问题超过300个", 300, "超过"),
        ("共发现问题300个以上", 300, "以上"),
        ("共发现问题300个左右", 300, "左右"),
        ("共发现问题300多个", 300, "多"),
        ("共发现问题1.2万多个", 12000, "多"),
    ],
)
def test_stats_qualifiers_keep_the_base_number(text, value, qualifier):
    s = only(text)
    assert (s["metric"], s["value"], s["qualifier"]) == ("problems_found", value, qualifier)


@pytest.mark.parametrize(
    ("text", "value", "qualifier", "unit"),
    [
        ("追责问责3至5人", 3, "3-5", "人"),
        ("追责问责3-5人", 3, "3-5", "人"),
        ("追责问责三到五人", 3, "3-5", "人"),
        ("开展巡察4到5轮", 4, "4-5", "轮"),
        ("挽回经济损失3至5万元", 30000, "30000-50000", "元"),
    ],
)
def test_stats_range_value_is_the_lower_bound(text, value, qualifier, unit):
    s = only(text)
    assert (s["value"], s["qualifier"], s["unit"]) == (value, qualifier, unit)


def test_numbers_find_numbers_marks_one_character_chinese_numerals_weak():
    weak = {m.value: m.weak for m in find_numbers("开展三轮巡察，发现问题十二个")}
    assert weak == {3: True, 12: False}


# ---- metric cues ---------------------------------------------------------------------------------

METRIC_CUES = [
    # rounds
    ("共开展常规巡察14轮", "rounds", 14),
    ("共组织开展6轮常规巡察", "rounds", 6),
    ("“回头看”3轮", "rounds", 3),
    ("在5次教育领域巡察中", "rounds", 5),
    ("省委共组织开展了17轮巡视", "rounds", 17),
    ("开展了十二轮巡察", "rounds", 12),
    # units inspected
    ("对平潮镇团圆村等23个村(社区)党组织进行了巡察", "units_inspected", 23),
    ("对区教育体育局直属的32家事业单位开展教育领域专项巡察", "units_inspected", 32),
    ("覆盖312个党组织", "units_inspected", 312),
    ("实现巡察覆盖全县18个乡镇", "units_inspected", 18),
    ("实现了辖区内120个村(社区)巡察全覆盖", "units_inspected", 120),
    ("完成了对26所高等院校的巡视", "units_inspected", 26),
    ("共巡察党组织56个", "units_inspected", 56),
    ("巡察了县教育局等12个单位", "units_inspected", 12),
    ("巡察组进驻15个单位开展巡察", "units_inspected", 15),
    ("对15个乡镇（街道）党（工）委开展了常规巡察", "units_inspected", 15),
    ("区委巡察组向40家被巡察单位党组织全面反馈巡察情况", "units_inspected", 40),
    ("认真审核18个被巡察党组织的整改方案", "units_inspected", 18),
    # problems found
    ("发现问题1832个", "problems_found", 1832),
    ("共发现各类问题210个", "problems_found", 210),
    ("共反馈问题129个", "problems_found", 129),
    ("发现问题共997个", "problems_found", 997),
    ("截止目前，巡察反馈的697个问题", "problems_found", 697),
    # clues
    ("移送问题线索126件", "clues_transferred", 126),
    ("共向省纪委移交问题线索509件", "clues_transferred", 509),
    ("移交96个问题线索", "clues_transferred", 96),
    ("发现问题线索10条", "clues_transferred", 10),
    # rectified
    ("完成整改688个", "problems_rectified", 688),
    ("累计完成问题整改1798个", "problems_rectified", 1798),
    ("已整改销号127个", "problems_rectified", 127),
    ("已整改完毕940个", "problems_rectified", 940),
    ("已立行立改10个", "problems_rectified", 10),
    ("督促镇和职能部门牵头解决问题10个", "problems_rectified", 10),
    ("推动解决群众反映的饮水难、出行难等急难愁盼问题58个", "problems_rectified", 58),
    # rate
    ("整改率达到了94%", "rectification_rate", 94),
    ("巡察反馈问题整改总体完成率98.71%", "rectification_rate", 98.71),
    ("项目完成率85%", "other", 85),
    # systems
    ("建立完善制度523个", "systems_established", 523),
    ("完善和新建制度589项", "systems_established", 589),
    ("健全完善制度机制32项", "systems_established", 32),
    ("形成了清晰规范的城市层面6项主体责任制度", "systems_established", 6),
    ("针对选人用人和干部队伍建设问题，推动建立完善制度12项", "systems_established", 12),
    # people
    ("党纪政务处分1389人", "people_disciplined", 1389),
    ("追责问责18人", "people_disciplined", 18),
    ("对1名国有企业的党委书记给予党内警告处分", "people_disciplined", 1),
    ("组织处理65人", "people_org_handled", 65),
    ("诫勉谈话3人", "people_org_handled", 3),
    ("对5名干部给予诫勉处理", "people_org_handled", 5),
    ("移送司法机关70人", "transferred_judicial", 70),
    ("移送司法4人", "transferred_judicial", 4),
    ("移送检察机关依法审查起诉3人", "transferred_judicial", 3),
    ("开除党籍2人", "people_disciplined", 2),
    ("问责干部8人", "people_disciplined", 8),
    # money
    ("挽回经济损失1369.5万元", "funds_recovered", 13695000),
    ("收缴违规违纪款项、挽回直接经济损失2.67亿元", "funds_recovered", 267000000),
    ("清退违规兼职取酬10.81万元", "funds_recovered", 108100),
    ("追回应由个人承担的资金146万元", "funds_recovered", 1460000),
    # other
    ("派出3个巡察组", "other", 3),
    ("召开领导小组会议8次", "other", 8),
    ("全县巡察覆盖率达到83%", "other", 83),
    ("留置8人", "other", 8),
    ("提出各类意见建议92条", "other", 92),
    ("派员参加各级培训30余人次", "other", 30),
    ("涉及金额2.3万元", "other", 23000),
    ("受理来信来电来访1263件次", "other", 1263),
    ("立案审查调查12人", "other", 12),
    ("3次巡察反馈会", "other", 3),  # a figure at the very start of the text
    ("召开3次巡察反馈会", "other", 3),
    ("指导各县(市、区)委平均开展了12轮次以上巡察", "other", 12),
]


@pytest.mark.parametrize(("text", "metric", "value"), METRIC_CUES)
def test_stats_metric_from_cue(text, metric, value):
    s = only(text)
    assert (s["metric"], s["value"]) == (metric, value)
    assert set(s) == KEYS


@pytest.mark.parametrize(
    ("text", "metric"),
    [
        # figures of a team that supervises inspection work, not of inspection itself
        ("市专门组建1个指导督导组对5个区巡察工作进行了指导督导，发现重点问题52个，推动解决问题66个", "other"),
        # the inspection body's own rules (README convention)
        ("研究制定《巡察组人员管理办法》等8个自身建设类制度", "other"),
        ("巡察机构加强队伍建设，建立完善制度12项", "other"),
        # rectification not finished
        ("基本完成并持续整改问题4个", "other"),
        ("正在整改15个", "other"),
        # clues dealt with, not transferred
        ("已处置问题线索30件", "other"),
        # not done, or not a result of inspection
        ("应追回未追回资金5万元", "other"),
        ("未清退违规资金3.2万元", "other"),
        ("受处分人员3人仍领取奖金", "other"),
        ("整改不实问题5个", "other"),
    ],
)
def test_stats_context_turns_named_cue_into_other(text, metric):
    assert {s["metric"] for s in extract_statistics(text)} == {metric}


def test_stats_several_figures_in_one_sentence():
    text = "共发现问题1832个，移送问题线索126件，党纪政务处分1389人，组织处理65人，留置8人，移送司法4人。"
    assert [(s["metric"], s["value"]) for s in extract_statistics(text)] == [
        ("problems_found", 1832),
        ("clues_transferred", 126),
        ("people_disciplined", 1389),
        ("people_org_handled", 65),
        ("other", 8),
        ("transferred_judicial", 4),
    ]


def test_stats_bare_completion_counts_in_a_rectification_sentence():
    text = "反馈问题共8项，已完成5项，持续推进3项。"
    assert [(s["metric"], s["value"]) for s in extract_statistics(text)] == [
        ("problems_found", 8),
        ("problems_rectified", 5),
        ("other", 3),
    ]
    assert named("已完成巡察任务3项") == []


def test_stats_quote_has_cue_words_and_number():
    stats = extract_statistics("共发现问题1832个，移送问题线索126件")
    assert [s["quote"] for s in stats] == ["发现问题1832个", "移送问题线索126件"]


def test_stats_parts_after_qizhong_inherit_the_metric():
    text = "巡察组共发现问题135个，其中党的领导方面问题32个，党的建设方面45个，全面从严治党方面58个。"
    assert named(text) == [("problems_found", 135), ("problems_found", 32), ("problems_found", 45), ("problems_found", 58)]
    # a part in another unit does not inherit
    assert named("移交问题线索56件，其中涉及县处级干部5人。") == [("clues_transferred", 56)]


def test_stats_one_character_numeral_needs_a_count_cue():
    assert named("开展了三轮巡察") == [("rounds", 3)]
    assert extract_statistics("严格执行三项汇报机制，紧盯四个重点开展巡察") == []
    assert extract_statistics("作为一项重要的政治任务，发现了一批问题") == []


@pytest.mark.parametrize("text", ["历时3个多月", "持续两个多小时", "一次性解决", "3项目", "十九届中央纪委三次全会"])
def test_stats_measure_word_inside_another_word(text):
    assert extract_statistics(text) == []


# ---- non-statistics ------------------------------------------------------------------------------

NOT_STATISTICS = [
    "2024年9月13日至12月13日，区委第二巡察组开展了巡察。",
    "自2011年11月换届以来，2024年度",
    "2025/06/20",
    "八届区委第七轮巡察派驻",
    "十二届市委第一轮巡察，第十二轮巡察",
    "第一、第二轮巡察",
    "深入学习贯彻党的十九大、二十大精神",
    "践行落实“第一议题”制度",
    "严重违反“三重一大”决策程序",
    "增强四个意识，做到两个维护",
    "违反中央八项规定精神",
    "举报电话：0771-1234567，12388",
    "根据《巡察工作条例》〔2024〕12号文件",
    "学习贯彻省委十三届二次全会精神",
    "对上一轮巡察反馈问题整改力度不够，新一轮巡察",
    "市委第17次领导小组会议，十二届区委常委会第57次会议",
    "为期15天，一周时间，三个月，2到3个半天",
    "打造“3+N”组建模式和“6+1”机制，“四个一”“四个函”",
    "确保巡察整改100%到位",
    "五年来，时逾五载",
]


@pytest.mark.parametrize("text", NOT_STATISTICS)
def test_stats_not_statistics(text):
    assert extract_statistics(fold_text(text)) == []


def test_stats_spelled_out_restatement_is_one_statistic():
    assert named("共发现各类问题312个（三百一十二个）") == [("problems_found", 312)]


def test_stats_heading_repeating_the_body_is_dropped():
    text = "省委巡视组向省纪委\n移交509件问题线索\n据了解，省委巡视组共向省纪委移交问题线索509件。"
    stats = extract_statistics(text)
    assert [(s["metric"], s["quote"]) for s in stats] == [("clues_transferred", "移交问题线索509件")]


def test_stats_restated_units_keep_the_inspection_mention():
    text = (
        "区委第三巡察组向平潮镇党委及团圆村等23个村(社区)党组织反馈巡察情况。"
        "区委第三巡察组对平潮镇团圆村等23个村(社区)党组织进行了巡察。"
        "对23个被巡察村(社区)党组织提出了三点建议。"
    )
    stats = [s for s in extract_statistics(text) if s["metric"] == "units_inspected"]
    assert len(stats) == 1
    second = text.index("。") + 1
    assert second <= stats[0]["start"] < text.index("。", second)  # the sentence with 进行了巡察


def test_stats_distinct_rounds_with_equal_counts_are_kept():
    text = "其中包括1轮巡视“回头看”和1轮专项巡视。"
    assert named(text) == [("rounds", 1), ("rounds", 1)]


# ---- spans ---------------------------------------------------------------------------------------

def test_stats_spans_index_the_quote_in_order():
    text = "截至目前，共向被巡察党组织反馈问题1832个，累计完成问题整改1798个，建立完善制度523个，完成率98.14%。"
    stats = extract_statistics(text)
    assert len(stats) == 4
    for s in stats:
        assert text[s["start"] : s["end"]] == s["quote"]
        assert str(s["value"]).split(".")[0] in s["quote"]
    assert [s["start"] for s in stats] == sorted(s["start"] for s in stats)


def test_stats_spans_on_seed_texts(shared_dir: Path):
    seeds = sorted((shared_dir / "seeds").glob("*.txt"))
    assert seeds
    for path in seeds:
        text = fold_text(path.read_text(encoding="utf-8"))
        for s in extract_statistics(text):
            assert text[s["start"] : s["end"]] == s["quote"]
            assert s["metric"] in {m.value for m in Metric}


def test_stats_seed_sentence(shared_dir: Path):
    text = fold_text((shared_dir / "seeds" / "002_ecffab8cf595d6ee.txt").read_text(encoding="utf-8"))
    first = text[text.index("十一届市委先后") : text.index("。", text.index("十一届市委先后")) + 1]
    assert named(first) == [
        ("rounds", 11),
        ("units_inspected", 80),
        ("problems_found", 25000),
        ("clues_transferred", 3914),
        ("people_disciplined", 1389),
        ("transferred_judicial", 70),
        ("funds_recovered", 267000000),
    ]


def test_stats_seed_without_statistics_has_no_named_ones(shared_dir: Path):
    text = fold_text((shared_dir / "seeds" / "001_65a028e3b11a4155.txt").read_text(encoding="utf-8"))
    assert named(text) == []


# ---- aggregation ---------------------------------------------------------------------------------

def test_stats_aggregate_sums_distinct_counts():
    agg = aggregate_statistics(extract_statistics("给予党纪政务处分47人，组织处理65人。给予党纪政务处分224人，组织处理335人。"))
    assert agg["people_disciplined"] == {
        "values": [47, 224],
        "total": 271,
        "max": 224,
        "unit": "人",
        "quotes": ["给予党纪政务处分47人", "给予党纪政务处分224人"],
    }
    assert agg["people_org_handled"]["total"] == 400


def test_stats_aggregate_never_sums_rates():
    agg = aggregate_statistics(extract_statistics("整改完成率98.14%。整改率达到了94%。"))
    assert agg["rectification_rate"]["total"] is None
    assert agg["rectification_rate"]["max"] == 98.14
    assert agg["rectification_rate"]["unit"] == "%"


def test_stats_aggregate_a_repeated_figure_counts_once_and_parts_never_add():
    repeated = aggregate_statistics(extract_statistics("发现问题1832个。共向被巡察党组织反馈问题1832个。"))
    assert repeated["problems_found"]["total"] == 1832  # one figure stated twice
    with_parts = aggregate_statistics(extract_statistics("省委共组织开展了17轮巡视，其中包括2轮巡视“回头看”和1轮专项巡视。"))
    assert with_parts["rounds"]["values"] == [17, 2, 1]
    assert with_parts["rounds"]["total"] == 17 and with_parts["rounds"]["max"] == 17


def test_stats_parts_know_their_whole():
    stats = extract_statistics("共发现问题100个，其中党的领导方面问题30个、党的建设方面问题40个、全面从严治党方面问题30个。")
    assert [(s["value"], s["scope"], s["part_of"]) for s in stats] == [(100, "total", None), (30, "part", 0), (40, "part", 0), (30, "part", 0)]
    assert stats[0]["total_of"] == [1, 2, 3]
    assert aggregate_statistics(stats)["problems_found"]["total"] == 100


def test_stats_field_subsets_are_problems_found_and_parts_of_the_total():
    stats = extract_statistics("巡察共发现问题135个。党的领导方面问题32个，扶贫领域问题8条。")
    assert [(s["metric"], s["value"], s["scope"]) for s in stats] == [
        ("problems_found", 135, "total"), ("problems_found", 32, "subset"), ("problems_found", 8, "subset")]
    assert stats[1]["part_of"] == 0
    assert aggregate_statistics(stats)["problems_found"]["total"] == 135


def test_stats_cumulative_and_one_round_figures_are_not_summed():
    stats = extract_statistics("本轮巡察发现问题312个。十八大以来累计发现问题2.5万余个。")
    assert [s["scope"] for s in stats] == ["total", "cumulative"]
    agg = aggregate_statistics(stats)["problems_found"]
    assert agg["total"] is None and "口径" in agg["why"]


def test_stats_an_unlabelled_breakdown_is_not_added_to_its_total():
    agg = aggregate_statistics(extract_statistics("给予党纪政务处分47人。给予党纪政务处分20人、给予党纪政务处分27人。"))
    assert agg["people_disciplined"]["total"] == 47


def test_stats_aggregate_mixed_units_have_no_unit_max_or_total():
    agg = aggregate_statistics(extract_statistics("派出3个巡察组，召开会议8次。"))
    assert agg["other"]["unit"] is None
    assert agg["other"]["max"] is None and agg["other"]["total"] is None


def test_stats_aggregate_empty():
    assert aggregate_statistics([]) == {}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("县委巡察组对县直12个单位、8所学校、5家医院和6个镇(街道)开展了常规巡察。",
         [("units_inspected", 12), ("units_inspected", 8), ("units_inspected", 5), ("units_inspected", 6)]),
        ("本轮巡察共巡察了县教育局、县卫健局等9个县直单位和3个乡镇党委。", [("units_inspected", 9), ("units_inspected", 3)]),
        ("全年开展两轮专项巡察和一轮机动巡察。", [("rounds", 2), ("rounds", 1)]),
        ("县委启动新一轮巡察。", []),
        ("今年开展了三轮脱贫攻坚专项巡察。", [("rounds", 3)]),
    ],
)
def test_stats_inspection_lists_and_rounds(text: str, expected: list[tuple[str, int]]) -> None:
    assert [(s["metric"], s["value"]) for s in extract_statistics(text)] == expected
