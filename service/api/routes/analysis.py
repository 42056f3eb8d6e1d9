"""Common issues across units and rounds: clusters, the summary report, statistics, the XLSX export."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Query
from fastapi.responses import PlainTextResponse, Response
from pydantic import BaseModel, Field

from service.api.analysis_schemas import ClustersResponse, LibraryStatistics, SummaryReport
from service.api.deps import AuditDep, SessionDep, Viewer
from service.cluster_cache import cached_common_issues, page
from service.clusters import ClusterQuery
from service.export import export_xlsx
from service.statistics import library_statistics
from service.store.db import snapshot
from service.summary import build_summary, render_docx, render_markdown

router = APIRouter(tags=["analysis"])

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
Names = Annotated[list[Annotated[str, Field(max_length=100)]], Field(max_length=50)]


class ClusterRequest(BaseModel):
    rounds: Names = Field(default_factory=list, description="只看这些轮次（轮次名称的一部分）")
    units: Names = Field(default_factory=list, description="只看这些单位（单位名称的一部分）")
    min_units: int = Field(default=1, ge=1, le=1000, description="至少出现在几个单位")
    limit: int | None = Field(default=100, ge=1, le=100000, description="本页共性问题个数（null：全部）")
    offset: int = Field(default=0, ge=0, le=10**7, description="从第几个共性问题起（分页）")
    members: int | None = Field(default=20, ge=0, le=100000, description="每个共性问题列出的问题条数（null：全部；size 为总数）")
    recurrences: int | None = Field(default=200, ge=0, le=100000, description="列出的反复问题条数（null：全部）")
    cluster_id: str | None = Field(default=None, max_length=40, description="只取这一个共性问题（如展开全部问题）")
    include_singletons: bool = False


def _download(content: bytes, media_type: str, filename: str) -> Response:
    disposition = f"attachment; filename=\"download\"; filename*=UTF-8''{quote(filename)}"
    return Response(content, media_type=media_type, headers={"Content-Disposition": disposition})


@router.post("/clusters", response_model=ClustersResponse, summary="共性问题聚类（按系统性得分排序）")
def clusters(body: ClusterRequest, user: Viewer, session: SessionDep, audit: AuditDep) -> dict[str, Any]:
    """Served from the last clustering of this scope (see :mod:`service.cluster_cache`): at once, and
    marked ``stale`` while the library's latest changes are being clustered beside the request."""
    kept = cached_common_issues(session, ClusterQuery(body.rounds, body.units, body.min_units, None, body.include_singletons))
    result = page(kept, offset=body.offset, limit=body.limit, members=body.members, cluster_id=body.cluster_id,
                  recurrences=body.recurrences)
    audit("clusters", None, {"rounds": body.rounds, "units": body.units, "clusters": len(result["clusters"])})
    return result


@router.get(
    "/summaries/common-issues",
    response_model=SummaryReport,
    summary="共性问题分析报告（json、markdown 或 docx）",
    responses={200: {
        "description": "format=json：报告（SummaryReport）；format=markdown：Markdown 文本；format=docx：Word 文件（附件下载）",
        "content": {"text/markdown": {"schema": {"type": "string"}}, DOCX: {"schema": {"type": "string", "format": "binary"}}},
    }},
)
def common_issues_summary(
    user: Viewer, session: SessionDep, audit: AuditDep,
    format: Annotated[str, Query(pattern="^(json|markdown|docx)$")] = "json",
    rounds: Annotated[list[Annotated[str, Field(max_length=100)]] | None, Query(max_length=50)] = None,
    top: Annotated[int, Query(ge=1, le=50)] = 8,
) -> Any:
    with snapshot(session) as reader:
        report = build_summary(reader, rounds or None, top)
    audit("summary", format, {"rounds": rounds or []})
    if format == "markdown":
        return PlainTextResponse(render_markdown(report), media_type="text/markdown; charset=utf-8")
    if format == "docx":
        with tempfile.TemporaryDirectory() as tmp:
            path = render_docx(report, Path(tmp) / "summary.docx")
            return _download(path.read_bytes(), DOCX, "共性问题分析报告.docx")
    return report


@router.get("/statistics", response_model=LibraryStatistics, summary="统计：按指标、轮次、单位、标签汇总")
def statistics(user: Viewer, session: SessionDep, audit: AuditDep) -> dict[str, Any]:
    audit("statistics")
    with snapshot(session) as reader:
        return library_statistics(reader)


@router.get("/exports/findings.xlsx", summary="导出问题清单（XLSX，含整改台账）", response_class=Response,
            responses={200: {"description": "问题清单（Excel 文件，附件下载）",
                             "content": {XLSX: {"schema": {"type": "string", "format": "binary"}}}}})
def export_findings(
    user: Viewer, session: SessionDep, audit: AuditDep,
    rounds: Annotated[list[Annotated[str, Field(max_length=100)]] | None, Query(max_length=50)] = None,
) -> Response:
    with tempfile.TemporaryDirectory() as tmp:
        path = export_xlsx(session, Path(tmp) / "findings.xlsx", rounds or None)
        content = path.read_bytes()
    audit("export", "findings.xlsx", {"rounds": rounds or [], "bytes": len(content)})
    return _download(content, XLSX, "问题清单.xlsx")
