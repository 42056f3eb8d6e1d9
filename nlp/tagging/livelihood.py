"""People's-livelihood areas judged by what a problem is about, with the unit's service in view.

A finding's livelihood area is set "when the substance of the problem lies in that area — judged
from the statement, and from the unit when the unit provides that service and the problem concerns
it; none for party-building and generic governance problems" (the labelling convention of the real
dev sets, which is how inspection offices read a 民生 problem). So, after the text-based taggers:

- a problem whose lead concept family is party building (组织建设, 党员, 党费, 选人用人 …, focus
  党的建设, no livelihood of its own) has no livelihood area, whatever service its unit provides
  (卫生院党支部换届不及时 is a party-building problem, not a health one);
- a problem of how the unit does its own work (families marked ``work`` in the thesaurus: 履职尽责,
  重点工作, 行业监管, 为民服务, 政务服务) in a unit that provides a livelihood service (卫健局, 县卫生监督所,
  教育局, 乡村振兴局 …) lies in that service's area; learning, discipline, finance and decision-rule
  problems stay generic governance wherever they occur.

The unit words are general knowledge of Chinese administrative naming, kept here as data.
"""

from __future__ import annotations

import re
from typing import Any

from nlp.concepts import Family

# unit name words → the livelihood area the unit serves (first match wins)
UNIT_AREAS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), area)
    for pattern, area in (
        (r"乡村振兴|扶贫", "扶贫/乡村振兴"),
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


def unit_area(unit: str | None) -> str | None:
    """The livelihood area a unit serves, from its name (县卫生健康局党组 → 医疗卫生), or None."""
    if not unit:
        return None
    for pattern, area in UNIT_AREAS:
        if pattern.search(unit):
            return area
    return None


def adjust_livelihood(tags: dict[str, list[dict[str, Any]]], family: Family | None, unit: str | None, known: set[str]) -> None:
    """Apply the unit and family rules above to a finding's ``tags`` in place (``known``: the
    livelihood labels of the taxonomy)."""
    if family is None:
        return
    if family.focus == "党的建设" and family.livelihood is None:
        tags.pop("livelihood", None)
        return
    if tags.get("livelihood") or not family.work:
        return  # learning, discipline, finance, decision rules: generic governance wherever they occur
    area = unit_area(unit)
    if area is None or area not in known:
        return
    tags["livelihood"] = [{"label": area, "score": UNIT_SCORE, "source": "unit", "evidence": [{"text": unit, "source": "unit"}]}]
