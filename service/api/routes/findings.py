"""Browse findings, correct their tags, find similar ones, search."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from nlp.taxonomy import default_taxonomy
from service.api.deps import Analyst, AuditDep, SessionDep, Viewer
from service.api.errors import ApiError
from service.api.schemas import Finding, FindingPage, SearchResponse, SimilarResponse, TaxonomyResponse
from service.documents import finding_dict, list_findings, load_finding
from service.library import EmptyLibraryError, Filters, search_library
from service.tags import set_confirmed_tags

router = APIRouter(tags=["findings"])

Text = Annotated[str | None, Query(max_length=200)]
FindingId = Annotated[int, Path(le=2**31 - 1, description="问题编号")]  # int4 on PostgreSQL


@router.get("/findings", response_model=FindingPage, summary="问题列表（按轮次、单位、标签、文字筛选）")
def read_findings(
    user: Viewer, session: SessionDep, audit: AuditDep,
    round: Text = None, unit: Text = None, label: Text = None, text: Text = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50, offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> dict[str, Any]:
    result = list_findings(session, round, unit, label, text, limit, offset)
    audit("findings_listed", None, {k: v for k, v in {"round": round, "unit": unit, "label": label, "text": text}.items() if v})
    return result


@router.get("/findings/{finding_id}", response_model=Finding, summary="一条问题（含自动与已确认标签）")
def read_finding(finding_id: FindingId, user: Viewer, session: SessionDep, audit: AuditDep) -> dict[str, Any]:
    finding = load_finding(session, finding_id)
    if finding is None:
        raise ApiError(404, "unknown_finding", "没有这个问题编号")
    audit("finding_viewed", f"finding:{finding_id}")  # a finding's full text was read: who and when
    return finding_dict(finding)


class TagsUpdate(BaseModel):
    tags: dict[str, list[Annotated[str, Field(max_length=100)]]] = Field(
        description="方案 → 标签列表，如 {\"focus\": [\"党的建设\"], \"livelihood\": []}；空列表表示“均不适用”",
        max_length=10,
    )


@router.patch("/findings/{finding_id}/tags", response_model=Finding, summary="确认或更正标签（分析员）；已确认标签单独保存并用于训练")
def update_tags(finding_id: FindingId, body: TagsUpdate, user: Analyst, session: SessionDep, audit: AuditDep) -> dict[str, Any]:
    finding = load_finding(session, finding_id)
    if finding is None:
        raise ApiError(404, "unknown_finding", "没有这个问题编号")
    if not body.tags:
        raise ApiError(422, "invalid_tags", "请至少给出一个方案的标签")
    changes = set_confirmed_tags(session, finding, body.tags, default_taxonomy(), user.name)
    audit("tags_changed", f"finding:{finding_id}", changes)
    session.expire_all()
    refreshed = load_finding(session, finding_id)
    assert refreshed is not None
    return finding_dict(refreshed)


def _search(session: Any, query: str | None, filters: Filters, limit: int, like: int | None) -> list[dict[str, Any]]:
    try:
        return search_library(session, query, filters, limit, like)
    except EmptyLibraryError:
        if like is not None:
            raise ApiError(404, "unknown_finding", "没有这个问题编号") from None
        return []


@router.get("/search", response_model=SearchResponse, summary="检索问题（语义向量、BM25 与概念匹配融合，给出匹配原因）")
def search(
    user: Viewer, session: SessionDep, audit: AuditDep,
    q: Annotated[str, Query(min_length=1, max_length=500, description="检索内容")],
    round: Text = None, unit: Text = None, label: Text = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 10,
) -> dict[str, Any]:
    if not q.strip():
        raise ApiError(422, "empty_query", "请输入检索内容")
    results = _search(session, q, Filters(round, unit, label), limit, None)
    audit("search", q[:300], {"filters": {k: v for k, v in {"round": round, "unit": unit, "label": label}.items() if v},
                              "results": len(results)})
    return {"query": q, "results": results}


@router.get("/findings/{finding_id}/similar", response_model=SimilarResponse, summary="相似问题（其他轮次、其他单位）")
def similar(
    finding_id: FindingId, user: Viewer, session: SessionDep, audit: AuditDep,
    round: Text = None, unit: Text = None, label: Text = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 10,
) -> dict[str, Any]:
    if load_finding(session, finding_id) is None:
        raise ApiError(404, "unknown_finding", "没有这个问题编号")
    results = _search(session, None, Filters(round, unit, label), limit, finding_id)
    audit("similar", f"finding:{finding_id}", {"results": len(results)})
    return {"finding_id": finding_id, "results": results}


@router.get("/taxonomy", response_model=TaxonomyResponse, summary="分类体系（用于更正标签）")
def taxonomy(user: Viewer) -> dict[str, Any]:
    tax = default_taxonomy()
    return {
        "schemes": {
            sid: {"name": s.title, "multi_label": s.multi_label, "labels": s.names} for sid, s in tax.schemes.items()
        }
    }
