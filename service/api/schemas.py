"""The API's response shapes, each declared once (Pydantic v2) and named by the routes' ``response_model``.

The routes return the plain dicts that :mod:`service.documents`, :mod:`service.library`,
:mod:`service.jobs` and :mod:`service.audit` build; these models describe them for the OpenAPI docs and
filter them on the way out, so every key those dicts carry is declared here, in the same order, with
the same types (a figure that may be an integer is ``int | float``, never coerced to a float). A key
added to one of those dicts must be added here too, or the API drops it: ``tests/test_api_response_models.py``
compares each route's JSON with its raw result. The analysis shapes (clusters, statistics, the summary
report) are in :mod:`service.api.analysis_schemas`.

A finding appears in three shapes, one model each, reused wherever that shape is returned:

- :class:`Finding`: the whole record (list, detail, a document's findings, after a tag correction);
- :class:`FindingRef`: a finding named in an analysis (clusters, recurrences): id, document, text, unit, round;
- :class:`FindingRow`: :class:`FindingRef` with its document's name, page and effective labels (search,
  similar findings), which :class:`SearchResult` extends with why it matched.

(The summary report quotes findings in a fourth, its own: ``analysis_schemas.SummaryQuote``.)
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field
from typing_extensions import TypedDict

# --- shared field types ---------------------------------------------------------------------------

UnitName = Annotated[str | None, Field(description="被巡察单位；未识别出时为 null")]
RoundLabel = Annotated[str | None, Field(description="巡察轮次，如 十四届县委第六轮；未标明时为 null")]
FindingText = Annotated[str, Field(description="问题原文")]
DocumentId = Annotated[int, Field(description="文档编号")]
Labels = Annotated[dict[str, list[str]], Field(
    description="生效的标签：方案 → 标签列表（已确认的标签取代自动标签；单选方案只取最高的一项）",
)]
Number = int | float  # a figure as stated: 12 stays 12, 12.5 stays 12.5


class ErrorDetail(BaseModel):
    code: str = Field(description="错误代码（见 README“错误代码”）")
    message: str = Field(description="中文说明")


# --- findings -------------------------------------------------------------------------------------


class Evidence(TypedDict, total=False):
    """One piece of evidence for a tag: the words in the text that support it."""

    __pydantic_config__ = ConfigDict(extra="allow")  # type: ignore[misc]

    text: str
    start: int
    end: int
    source: str


class TagScore(BaseModel):
    label: str = Field(description="标签")
    score: float = Field(description="自动标签的得分（0–1）")
    evidence: list[Evidence | str] = Field(
        description="依据：命中的词语及其在文档全文中的位置 {text, start, end, source}（source：lexicon 词表、concept 概念、classifier 分类模型）",
    )


class FindingTags(BaseModel):
    auto: dict[str, list[TagScore]] = Field(description="自动标签：方案 → 标签、得分与依据，按得分从高到低")
    confirmed: dict[str, list[str]] = Field(description="分析员确认的标签：方案 → 标签列表（空列表表示“均不适用”）")


class Finding(BaseModel):
    """A finding (问题) with its place in the document and its tags."""

    id: int = Field(description="问题编号")
    document_id: DocumentId
    local_id: str = Field(description="文档内编号，如 F001")
    text: FindingText
    start: int = Field(description="在文档全文中的起始位置（字符）")
    end: int = Field(description="在文档全文中的结束位置（字符，不含）")
    page: int = Field(description="所在页（从 1 起）")
    unit: UnitName
    round: RoundLabel
    section: str | None = Field(description="所在章节标题")
    marker: str | None = Field(description="条目标记，如 一是、（一）")
    detail: str | None = Field(description="问题表现（条目下的具体情形）")
    statement: str | None = Field(
        description="所属问题表述的文档内编号，如 S001：同一句中同一聚焦的几项具体表现属于同一表述（xuncha analyze 按表述列出）；空表示自成一条"
    )
    tags: FindingTags
    labels: Labels


class FindingRef(BaseModel):
    """A finding named in an analysis (a cluster's members, a recurrence)."""

    finding_id: int = Field(description="问题编号")
    document_id: DocumentId
    text: FindingText
    unit: UnitName
    round: RoundLabel


class FindingRow(FindingRef):
    """A finding as search lists it."""

    document: str = Field(description="所在文档的文件名")
    page: int = Field(description="所在页（从 1 起）")
    tags: Labels


class MatchedConcept(BaseModel):
    key: str = Field(description="概念编号")
    name: str = Field(description="概念名称")
    family: str = Field(description="所属概念类别")


class Highlight(BaseModel):
    start: int = Field(description="在问题原文中的起始位置（字符）")
    end: int = Field(description="结束位置（字符，不含）")
    kind: str = Field(description="term：检索词；concept：共同的概念")


class SearchResult(FindingRow):
    """A search hit: the finding, its score and why it matched, with its near-duplicates."""

    score: float = Field(description="融合得分")
    relevance: str = Field(description="相关程度：高 / 中 / 低")
    signals: dict[str, float] = Field(description="各信号的得分：dense 语义向量、lexical BM25、concept 概念")
    matched_terms: list[str] = Field(description="问题中出现的检索词")
    matched_concepts: list[MatchedConcept] = Field(description="与检索内容（或原问题）共同的概念")
    highlights: list[Highlight] = Field(description="原文中应高亮的位置")
    duplicates: list[FindingRow] = Field(description="归并在此结果下的近似重复问题")


class FindingPage(BaseModel):
    total: int = Field(description="符合条件的问题总数")
    limit: int
    offset: int
    items: list[Finding]


class SearchResponse(BaseModel):
    query: str = Field(description="检索内容")
    results: list[SearchResult]


class SimilarResponse(BaseModel):
    finding_id: int = Field(description="原问题编号")
    results: list[SearchResult]


class TaxonomyScheme(BaseModel):
    name: str = Field(description="方案名称，如 三个聚焦")
    multi_label: bool = Field(description="一条问题可否有多个标签")
    labels: list[str] = Field(description="可选标签")


class TaxonomyResponse(BaseModel):
    schemes: dict[str, TaxonomyScheme] = Field(description="方案编号 → 方案")


# --- documents ------------------------------------------------------------------------------------


class DocumentSummary(BaseModel):
    """A document as the list shows it."""

    id: DocumentId
    title: str | None = Field(description="标题")
    source_name: str = Field(description="上传时的文件名")
    kind: str | None = Field(description="巡察类型")
    date: str | None = Field(description="报告日期 YYYY-MM-DD")
    round: RoundLabel
    units: list[str] = Field(description="文档中问题涉及的被巡察单位")
    findings: int = Field(description="问题条数")
    media_type: str = Field(description="文件类型，如 pdf、docx")
    size: int = Field(description="文件大小（字节）")
    sha256: str = Field(description="文件内容的 SHA-256")
    created_at: str | None = Field(description="入库时间（ISO 8601，UTC）")


class DocumentFacets(BaseModel):
    rounds: list[str] = Field(description="可筛选的轮次（“未标明轮次”为没有轮次的文档）")
    units: list[str] = Field(description="可筛选的单位")
    kinds: list[str] = Field(description="可筛选的巡察类型")


class DocumentPage(BaseModel):
    total: int = Field(description="符合条件的文档总数")
    limit: int
    offset: int
    items: list[DocumentSummary]
    facets: DocumentFacets = Field(description="筛选项可取的值（全库）")


class DocumentStatistic(BaseModel):
    metric: str = Field(description="指标编号，如 problems_found")
    name: str = Field(description="指标名称，如 发现问题")
    value: float = Field(description="数值")
    unit: str | None = Field(description="计量单位，如 个、万元、%")
    display: str = Field(description="数值的读法，如 1260.5万元")
    qualifier: str | None = Field(description="修饰语，如 余、近")
    quote: str = Field(description="原文")
    start: int = Field(description="在文档全文中的起始位置（字符）")
    end: int = Field(description="结束位置（字符，不含）")


class DocumentDetail(BaseModel):
    """A document with its full text, findings and figures (the fields of :class:`DocumentSummary`
    first, ``findings`` being the findings themselves)."""

    id: DocumentId
    title: str | None = Field(description="标题")
    source_name: str = Field(description="上传时的文件名")
    kind: str | None = Field(description="巡察类型")
    date: str | None = Field(description="报告日期 YYYY-MM-DD")
    round: RoundLabel
    units: list[str] = Field(description="文档中问题涉及的被巡察单位")
    findings: list[Finding] = Field(description="文档中的问题，按位置排序")
    media_type: str = Field(description="文件类型，如 pdf、docx")
    size: int = Field(description="文件大小（字节）")
    sha256: str = Field(description="文件内容的 SHA-256")
    created_at: str | None = Field(description="入库时间（ISO 8601，UTC）")
    text: str = Field(description="文档全文（抽取的文字）")
    page_starts: list[int] = Field(description="各页在全文中的起始位置（字符）")
    encoding: str | None = Field(description="文本文件的编码")
    backend: str | None = Field(description="抽取文字所用的方式")
    tagger_version: str | None = Field(description="打标签所用的模型版本")
    statistics: list[DocumentStatistic] = Field(description="文档所载统计数据，按位置排序")


# --- upload jobs ----------------------------------------------------------------------------------


class JobPages(BaseModel):
    done: int = Field(description="已识别的页数")
    total: int = Field(description="需要文字识别的页数")


class JobItem(BaseModel):
    index: int = Field(description="文件在任务中的序号（从 0 起）")
    name: str = Field(description="文件名")
    status: str = Field(description="queued 排队、running 处理中、stored 已入库、duplicate 重复、error 失败")
    document_id: int | None = Field(description="入库（或已有）的文档编号")
    findings: int | None = Field(description="提取的问题条数")
    error: ErrorDetail | None = Field(description="失败原因")
    cancelling: bool = Field(description="已请求取消、正在停止处理（停止后记为 error：cancelled）")
    pages: JobPages | None = Field(description="扫描件、图片文字识别（OCR）的进度；文本格式为 null")


class Job(BaseModel):
    """An upload or import job and each of its files."""

    id: str = Field(description="任务编号")
    status: str = Field(description="queued 排队、running 处理中、done 完成、failed 全部失败")
    created_by: str | None = Field(description="提交人")
    created_at: str | None = Field(description="提交时间（ISO 8601，UTC）")
    finished_at: str | None = Field(description="完成时间（ISO 8601，UTC）；未完成时为 null")
    total: int = Field(description="文件数")
    done: int = Field(description="已处理完的文件数（含失败）")
    failed: int = Field(description="失败的文件数")
    items: list[JobItem]


class _JobId(BaseModel):
    job_id: str = Field(description="任务编号（查询进度：GET /api/v1/jobs/{job_id}）")


class JobAccepted(Job, _JobId):
    """An upload accepted: the job's number first, then the job (``job_id`` comes first: it is the
    first base in field order)."""


class RowError(BaseModel):
    row: int = Field(description="行号（表格的行号，CSV/JSONL 的行号）")
    message: str = Field(description="该行未导入的原因")


class ImportAccepted(JobAccepted):
    rows: int = Field(description="可导入的行数")
    skipped: list[RowError] = Field(description="有错误而跳过的行")
    columns: dict[str, str] = Field(description="字段 → 读取的列名")


class JobCancelled(Job):
    cancelled: int = Field(description="本次取消的排队文件数")
    stopping: int = Field(description="本次要求停止的正在处理的文件数（在一秒内停止；已在入库的会完整入库）")


# --- health, accounts, audit ---------------------------------------------------------------------


class Health(BaseModel):
    status: str = Field(description="ok")
    database: str = Field(description="数据库连接：ok")
    schema_version: str = Field(description="数据库结构版本（Alembic 迁移编号，与本版本一致）")
    version: str = Field(description="xuncha 版本")


class UserPublic(BaseModel):
    name: str = Field(description="用户名")
    role: str = Field(description="角色：viewer 查看员、analyst 分析员、admin 管理员")
    role_name: str = Field(description="角色名称")
    must_change_password: bool = Field(default=False, description="是否须先修改临时密码（改之前只能访问 /auth 下的接口）")


class LoginResponse(BaseModel):
    user: UserPublic


class UserRow(BaseModel):
    name: str = Field(description="用户名")
    role: str = Field(description="角色：viewer 查看员、analyst 分析员、admin 管理员")
    active: bool = Field(description="是否启用")
    created_at: str = Field(description="创建时间（ISO 8601，UTC）")
    must_change_password: bool = Field(description="是否须先修改临时密码")


class UserList(BaseModel):
    items: list[UserRow]


class UserCreated(BaseModel):
    name: str = Field(description="用户名（规范化后）")
    role: str = Field(description="角色")
    token: str = Field(description="API 令牌：只显示这一次")
    must_change_password: bool = Field(description="是否须先修改临时密码")


class AuditRow(BaseModel):
    id: int = Field(description="记录编号")
    at: str = Field(description="时间（ISO 8601，UTC）")
    user: str | None = Field(description="用户名")
    action: str = Field(description="操作代码")
    action_name: str = Field(description="操作名称")
    target: str | None = Field(description="操作对象，如 document:12")
    detail: dict[str, Any] = Field(description="操作的具体内容（随操作而不同）")
    client: str | None = Field(description="客户端地址")
    ok: bool = Field(description="是否成功（被拒绝、失败为 false）")


class AuditLog(BaseModel):
    items: list[AuditRow] = Field(description="审计记录，最新的在前")
    actions: dict[str, str] = Field(description="操作代码 → 名称")
