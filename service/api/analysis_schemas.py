"""Response shapes of the analysis routes: common-issue clusters, library statistics, the summary report.

As in :mod:`service.api.schemas`, every key the service's dicts carry (:mod:`service.cluster_cache`,
:mod:`service.statistics`, :mod:`service.summary`) is declared in the same order. Where one list holds
rows of two shapes (the statistics row of findings without a round, the report's statistics sentence, a
figure summed across documents or not), each shape is a model and the list a union of them tried left
to right, so a key present in one shape only is never added to the other.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field

from service.api.schemas import FindingRef, Number, RoundLabel, UnitName

# --- common issues (POST /clusters) ---------------------------------------------------------------


class Cluster(BaseModel):
    """A common issue (共性问题): findings that state one problem, ranked by how systemic it is."""

    cluster_id: str = Field(description="共性问题编号：f:<概念类别>，或 c 加 12 位十六进制（按语义向量归并的）")
    title: str = Field(description="标题")
    family: str | None = Field(description="概念类别编号；按语义向量归并的为 null")
    size: int = Field(description="问题条数（findings 可能只列出其中一部分）")
    units: list[str] = Field(description="涉及的被巡察单位")
    rounds: list[str] = Field(description="涉及的轮次，按届次、轮次先后排序")
    per_round: dict[str, int] = Field(description="轮次（或 未标明轮次）→ 问题条数，按轮次先后排序")
    systemic_score: float = Field(description="系统性得分：单位数 × 轮次数 × (1 + lg 条数)")
    representatives: list[FindingRef] = Field(description="最有代表性的问题，最居中的在前")
    concepts: list[str] = Field(description="出现最多的概念")
    singleton: bool = Field(description="是否只有一条问题")
    label: str = Field(description="显示的标题（同 title）")
    findings: list[FindingRef] = Field(description="问题（请求的 members 条以内）")


class Recurrence(BaseModel):
    """The same unit states a similar problem in a later round (整改不到位 / 问题反弹)."""

    unit: str = Field(description="被巡察单位")
    earlier_id: str = Field(description="前一轮的问题编号（字符串）")
    later_id: str = Field(description="后一轮的问题编号（字符串）")
    earlier_round: str = Field(description="前一轮")
    later_round: str = Field(description="后一轮")
    similarity: float = Field(description="两条问题的语义相似度（余弦）")
    earlier: FindingRef
    later: FindingRef


class ClustersResponse(BaseModel):
    clusters: list[Cluster] = Field(description="本页的共性问题，按系统性得分排序")
    recurrences: list[Recurrence] = Field(description="反复出现的问题（请求的 recurrences 条以内），最相似的在前")
    findings: int = Field(description="所选范围内的问题条数")
    as_of_change: int = Field(description="结果对应的问题库变更序号")
    computed_at: float = Field(description="计算时间（Unix 时间，秒）")
    stale: bool = Field(description="问题库此后有变更，新结果正在后台计算")
    clusters_total: int = Field(description="共性问题总数")
    recurrences_total: int = Field(description="反复出现的问题总数")
    offset: int = Field(description="本页从第几个共性问题起")


# --- statistics (GET /statistics) -----------------------------------------------------------------


class MetricPerDocument(BaseModel):
    document_id: int = Field(description="文档编号")
    document: str = Field(description="文件名")
    total: Number | None = Field(description="该文档自身的合计；得不出时为 null")
    values: list[Number] = Field(description="该文档所载的各个数值")
    unit: str | None = Field(description="计量单位")
    why: str | None = Field(description="没有合计的原因")
    display: str = Field(description="合计（或各数值）的读法")


class MetricTotal(BaseModel):
    metric: str = Field(description="指标编号")
    name: str = Field(description="指标名称")
    total: Number | None = Field(description="全库合计（每份文档计一次）；不能相加时为 null")
    unit: str | None = Field(description="计量单位")
    display: str | None = Field(description="合计的读法，如 1260.5万元")
    why: str | None = Field(description="没有合计的原因")
    documents: int = Field(description="载有该指标的文档数")
    per_document: list[MetricPerDocument]


class RoundCount(BaseModel):
    round: str = Field(description="轮次")
    documents: int = Field(description="文档数")
    findings: int = Field(description="问题条数")


class UnassignedRoundCount(BaseModel):
    """The row of what names no round, so that the rows add up to the library's totals."""

    round: None = Field(description="null：没有轮次")
    name: str = Field(description="未标明轮次")
    documents: int = Field(description="文档数")
    findings: int = Field(description="问题条数")


class UnitCount(BaseModel):
    unit: str = Field(description="被巡察单位")
    findings: int = Field(description="问题条数")


class LabelCount(BaseModel):
    label: str = Field(description="标签")
    count: int = Field(description="问题条数")


class LibraryStatistics(BaseModel):
    documents: int = Field(description="文档数")
    findings: int = Field(description="问题条数")
    rounds: list[str] = Field(description="轮次，按届次、轮次先后排序")
    by_metric: list[MetricTotal] = Field(description="按统计指标汇总")
    by_round: list[Annotated[RoundCount | UnassignedRoundCount, Field(union_mode="left_to_right")]] = Field(
        description="按轮次（最后一行为未标明轮次的，如有）",
    )
    by_unit: list[UnitCount] = Field(description="按单位，问题多的在前")
    by_label: dict[str, list[LabelCount]] = Field(description="方案 → 各标签的问题条数")
    label_by_round: dict[str, dict[str, dict[str, int]]] = Field(description="方案 → 轮次 → 标签 → 问题条数")


# --- the common-issue report (GET /summaries/common-issues?format=json) ---------------------------


class Sentence(BaseModel):
    """A sentence of the report and what it was built from."""

    text: str = Field(description="句子")
    finding_ids: list[int] = Field(description="依据的问题编号")
    document_ids: list[int] = Field(description="依据的文档编号（统计数据）")


class StatisticsSentence(Sentence):
    kind: Literal["statistics"] = Field(description="statistics：统计数据的句子（报告在其后列出统计表）")


AnySentence = Annotated[StatisticsSentence | Sentence, Field(union_mode="left_to_right")]


class SummaryDocument(BaseModel):
    id: int = Field(description="文档编号")
    name: str = Field(description="文件名")
    round: RoundLabel


class SummaryScope(BaseModel):
    rounds: list[str] = Field(description="范围内的轮次")
    round_filter: list[str] = Field(description="请求的轮次筛选")
    documents: list[SummaryDocument] = Field(description="范围内的文档")
    units: list[str] = Field(description="范围内的单位")
    findings: int = Field(description="范围内的问题条数")


class SummaryMetricDocument(BaseModel):
    document_id: int = Field(description="文档编号")
    document: str = Field(description="文件名")
    total: Number | None = Field(description="该文档自身的合计；得不出时为 null")
    why: str | None = Field(description="没有合计的原因")
    values: list[Number] = Field(description="该文档所载的各个数值")
    unit: str | None = Field(description="计量单位")
    quotes: list[str] = Field(description="原文")
    approximate: bool = Field(description="是否为约数（余、近）")


class SummedMetric(BaseModel):
    """A figure summed across documents."""

    metric: str = Field(description="指标编号")
    name: str = Field(description="指标名称")
    total: Number = Field(description="各文档合计之和")
    unit: str = Field(description="计量单位")
    approximate: bool = Field(description="是否为约数")
    documents: list[SummaryMetricDocument]


class UnsummedMetric(BaseModel):
    """A figure that cannot be summed across documents, and why."""

    metric: str = Field(description="指标编号")
    name: str = Field(description="指标名称")
    total: None = Field(description="null：不能相加")
    unit: str | None = Field(description="计量单位")
    why: str = Field(description="不能相加的原因")
    documents: list[SummaryMetricDocument]


class SummaryOpening(BaseModel):
    heading: str = Field(description="总体情况")
    sentences: list[AnySentence]


class SummaryQuote(BaseModel):
    """A representative finding quoted by the report."""

    finding_id: int = Field(description="问题编号")
    unit: UnitName
    round: RoundLabel
    document: str = Field(description="文件名")
    page: int = Field(description="所在页")
    text: str = Field(description="问题原文")
    quote: str = Field(description="引用的部分（过长时截至句末）")


class CategoryCount(BaseModel):
    label: str = Field(description="标签")
    count: int = Field(description="问题条数")
    finding_ids: list[int] = Field(description="问题编号")


class SummaryRecurrence(BaseModel):
    unit: str = Field(description="被巡察单位")
    earlier_round: str = Field(description="前一轮")
    later_round: str = Field(description="后一轮")
    earlier_id: int = Field(description="前一轮的问题编号")
    later_id: int = Field(description="后一轮的问题编号")
    similarity: float = Field(description="语义相似度（余弦）")


class SummarySection(BaseModel):
    """One common issue of the report."""

    heading: str = Field(description="标题，如 一、……")
    cluster_id: str = Field(description="共性问题编号")
    label: str = Field(description="共性问题")
    concepts: list[str] = Field(description="出现最多的概念")
    size: int = Field(description="问题条数")
    units: list[str] = Field(description="涉及的单位")
    rounds: list[str] = Field(description="涉及的轮次")
    per_round: dict[str, int] = Field(description="轮次 → 问题条数（自首次出现的轮次起）")
    trend: str = Field(description="趋势：上升、下降、持平、波动、无法判断")
    systemic_score: float = Field(description="系统性得分")
    representatives: list[SummaryQuote] = Field(description="引用的典型问题")
    categories: dict[str, list[CategoryCount]] = Field(description="方案（focus、problem_type）→ 主要标签")
    recurrences: list[SummaryRecurrence] = Field(description="同一单位跨轮次重复出现的问题")
    finding_ids: list[int] = Field(description="该类问题的全部问题编号")
    sentences: list[Sentence]


class SummaryReport(BaseModel):
    """The common-issue report (共性问题分析报告): every sentence names the findings and documents it
    was built from."""

    title: str = Field(description="报告标题")
    scope: SummaryScope
    statistics: list[Annotated[SummedMetric | UnsummedMetric, Field(union_mode="left_to_right")]] = Field(
        description="各统计指标：各文档的数值与全库合计（不能相加的给出原因）",
    )
    opening: SummaryOpening
    sections: list[SummarySection] = Field(description="各类共性问题，按涉及单位和轮次的广度排序")
