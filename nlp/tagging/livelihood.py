"""People's-livelihood areas judged by what a problem is about, with the unit's service in view.

A finding's livelihood area is set "when the substance of the problem lies in that area — judged
from the statement, and from the unit when the unit provides that service and the problem concerns
it; none for party-building and generic governance problems" (the labelling convention of the real
dev sets, which is how inspection offices read a 民生 problem). So, after the text-based taggers:

- a problem whose lead concept family is party building (组织建设, 党员, 党费, 选人用人 …, focus
  党的建设, no livelihood of its own) has no livelihood area, whatever service its unit provides
  (卫生院党支部换届不及时 is a party-building problem, not a health one);
- a problem of how the unit does its own work (families marked ``work`` in the thesaurus: 履职尽责,
  重点工作, 行业监管, 为民服务, 政务服务, and carrying out decisions) in a unit that provides a livelihood
  service (卫健局, 县卫生监督所, 教育局, 乡村振兴局 …) lies in that service's area; where the unit says
  nothing, the area the statement itself names as the field of that work does (推动教育高质量发展,
  卫健系统人才队伍 …; 警示教育, 党性教育 and the like are not the field 教育);
- in a special inspection of one field (脱贫攻坚专项巡察, 对5个卫生院开展专项巡察), the unit's work problems
  lie in that field when neither the unit nor the statement names another;
- a problem the thesaurus cannot place at all (经济效益和社会效益不平衡, 缺少学科带头人), in a unit that
  provides a service, is taken to concern that service;
- a village's or community's money, assets and resources are its collective's 三资, so a finance
  problem of a 村/社区 unit is 农村集体三资;
- learning, discipline and decision-rule problems, and finance elsewhere, stay generic governance.

The unit words are general knowledge of Chinese administrative naming, kept here as data.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from nlp.concepts import Family

# unit name words → the livelihood area the unit serves (first match wins)
UNIT_AREAS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), area)
    for pattern, area in (
        (r"乡村振兴|扶贫|脱贫", "扶贫/乡村振兴"),
        (r"卫健|卫生健康|卫生监督|卫生院|医院|医保|医疗保障|疾控|疾病预防|妇幼|卫生局|卫计", "医疗卫生"),
        (r"教育|教体|学校|中学|小学|幼儿园|职业学院|学院|职校", "教育"),
        (r"民政|人社|人力资源和社会保障|社保|养老|残联|退役军人", "社保/养老/低保"),
        (r"生态环境|环保|林业|自然资源", "生态环境"),
        (r"住建|住房|房管|房产", "住房"),
        (r"粮食|粮库|储备", "粮食"),
        (r"水利|水务", "农田水利"),
        (r"交通|公路", "交通/道路"),
        (r"应急管理|安监|安全生产", "安全生产"),
        (r"信访", "信访"),
        (r"市场监管|市场监督|药监|食药", "食品药品"),
    )
)
UNIT_SCORE = 0.6
UNPLACED_SCORE = 0.5  # the unit's area for a problem the thesaurus cannot place: weaker evidence
TEXT_SCORE = 0.55
# families of "how the unit does its job" beyond those marked work: carrying out decisions in a field
FIELD_FAMILIES = frozenset({"lead_central_decisions"})
# 教育 compounds that name a kind of political or disciplinary education, not the field of education
_NOT_THE_FIELD = re.compile(r"(?:警示|廉政|廉洁|党性|理论|主题|思想|党员|法治|爱国主义|政治|宣传|党风|纪律|作风|革命传统)教育")
# a village or community as the inspected unit (not a town that has 村 in its name: 新村镇党委)
_VILLAGE_UNIT = re.compile(r"(?:村|社区)(?:\(社区\)|（社区）)?(?:党组织|党支部|党总支|党委|“?两委”?|村委会|居委会|村民委员会)|村级|村集体|[^镇乡街]村$")
FINANCE_PREFIX = "res_"  # the thesaurus's 资金、资产、资源 families


def unit_area(unit: str | None) -> str | None:
    """The livelihood area a unit serves, from its name (县卫生健康局党组 → 医疗卫生), or None."""
    if not unit:
        return None
    for pattern, area in UNIT_AREAS:
        if pattern.search(unit):
            return area
    return None


def text_area(text: str) -> tuple[str, int, int] | None:
    """The service field a statement names as the field of the work it is about, and where the word
    that names it stands (推动教育高质量发展 → 教育, 2, 4), read with the same words as unit names;
    political education is not the field 教育."""
    cleaned = _NOT_THE_FIELD.sub(lambda m: "\u3000" * len(m.group()), text)
    for pattern, area in UNIT_AREAS:
        found = pattern.search(cleaned)
        if found:
            return area, found.start(), found.end()
    return None


# what a special inspection was about: the words before 专项巡察/专项巡视 in the same clause
# (专项督导巡察 and 督导巡察 too: an inspection sent to oversee one field's work)
_SPECIAL = re.compile(r"([^，,。；;：:\n]{2,25}?)(?:专项(?:督导|督查)?|督导)巡[察视]")


def inspection_field(text: str) -> tuple[str, str] | None:
    """The service field of a special inspection the document reports (its analysis form in), with
    the phrase that names it: 对…3个乡镇开展了脱贫攻坚专项巡察 → 扶贫/乡村振兴. None for other inspections,
    or when the field is no service area (“两个100%”改革任务专项巡察)."""
    for found in _SPECIAL.finditer(text):
        named = text_area(found.group(1))
        if named:
            return named[0], found.group(0)
    return None


def is_village_unit(unit: str | None) -> bool:
    return bool(unit) and bool(_VILLAGE_UNIT.search(unit or ""))


def _set(tags: dict[str, list[dict[str, Any]]], area: str, score: float, evidence: dict[str, Any]) -> None:
    tags["livelihood"] = [{"label": area, "score": score, "source": evidence["source"], "evidence": [evidence]}]


def adjust_livelihood(
    tags: dict[str, list[dict[str, Any]]],
    family: Family | None,
    unit: str | None,
    known: set[str],
    text: str = "",
    locate: Callable[[int, int], dict[str, Any]] | None = None,
    field: tuple[str, str] | None = None,
) -> None:
    """Apply the unit and family rules above to a finding's ``tags`` in place (``known``: the
    livelihood labels of the taxonomy; ``text``: the finding's analysis form, for the field it names;
    ``locate``: a span of ``text`` → its evidence in document coordinates; ``field``: the special
    inspection's field and the phrase naming it, from :func:`inspection_field`)."""
    if tags.get("livelihood") and (family is None or family.livelihood is not None or family.focus != "党的建设"):
        return  # the statement's own evidence stands
    if family is None:
        area = unit_area(unit)
        if area in known and unit:
            _set(tags, area, UNPLACED_SCORE, {"text": unit, "source": "unit"})
        return
    if family.focus == "党的建设" and family.livelihood is None:
        tags.pop("livelihood", None)
        return
    if family.id.startswith(FINANCE_PREFIX) and is_village_unit(unit) and "农村集体三资" in known:
        _set(tags, "农村集体三资", UNIT_SCORE, {"text": unit, "source": "unit"})
        return
    if not (family.work or family.id in FIELD_FAMILIES):
        return  # learning, discipline, finance, decision rules: generic governance wherever they occur
    area = unit_area(unit)
    if area in known and unit:
        _set(tags, area, UNIT_SCORE, {"text": unit, "source": "unit"})
        return
    named = text_area(text)
    if named and named[0] in known:
        area, start, end = named
        where = locate(start, end) if locate else {"text": text[start:end]}
        _set(tags, area, TEXT_SCORE, {**where, "source": "text"})
        return
    if field and field[0] in known:
        _set(tags, field[0], UNPLACED_SCORE, {"text": field[1], "source": "inspection"})
