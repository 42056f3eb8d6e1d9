"""Upload (background jobs), list, read, correct and delete documents."""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Form, Path, Query, Request, Response, UploadFile
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.datastructures import UploadFile as FormFile

from nlp.errors import XunchaError
from service.api.deps import Admin, Analyst, AuditDep, MakeSessionDep, SessionDep, SettingsDep, Viewer
from service.api.errors import ApiError, error_body, status_for
from service.api.schemas import DocumentDetail, DocumentPage, ImportAccepted, Job, JobAccepted, JobCancelled
from service.documents import (
    DOCUMENT_SORTS,
    KINDS,
    UNASSIGNED_ROUND,
    DocumentEditError,
    InvalidKindError,
    delete_document,
    document_detail,
    edit_document,
    list_documents,
    load_document,
    normalize_kind,
    valid_iso_date,
)
from service.importer import FIELD_NAMES
from service.jobs import Upload, cancel_queued, check_upload, create_job, job_dict, safe_name
from service.store import models
from service.store.repository import Overrides

router = APIRouter(tags=["documents"])


DocumentId = Annotated[int, Path(le=2**31 - 1)]  # ids are INTEGER columns (int4 on PostgreSQL)


async def _upload_form(request: Request) -> None:
    """Name what is wrong with a body that is not a multipart form of named files, before field validation.

    FastAPI has already parsed the form (cached on the request), so this reads nothing twice.
    """
    mime = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if mime != "multipart/form-data":
        raise ApiError(415, "expected_multipart", "上传请求应为 multipart/form-data 表单，文件放在 files 字段")
    form = await request.form()
    entries = [v for v in form.getlist("files") if not (isinstance(v, FormFile) and v.filename == "" and not v.size)]
    if not entries:
        raise ApiError(422, "no_files", "请至少选择一个文件（表单字段 files）")
    if any(not isinstance(v, FormFile) or not v.filename for v in entries):
        raise ApiError(422, "missing_filename", "表单字段 files 的每一项都应是带文件名的文件")


def _read_limited(upload: UploadFile, max_bytes: int) -> bytes | None:
    """The file's bytes, or None when it is over the limit (read at most one byte past it)."""
    data = upload.file.read(max_bytes + 1)
    return None if len(data) > max_bytes else data


@router.post("/documents", status_code=202, response_model=JobAccepted, summary="上传报告（后台处理，返回任务编号）")
def upload_documents(
    request: Request,
    response: Response,
    user: Analyst,
    _form: Annotated[None, Depends(_upload_form)],
    settings: SettingsDep,
    make_session: MakeSessionDep,
    audit: AuditDep,
    files: Annotated[list[UploadFile], File(description="一个或多个报告文件：PDF、DOCX、TXT/MD、HTML")],
    round: Annotated[str | None, Form(max_length=100, description="巡察轮次，如 十四届县委第六轮")] = None,
    unit: Annotated[str | None, Form(max_length=200, description="被巡察单位")] = None,
    kind: Annotated[str | None, Form(max_length=30, description="/".join(KINDS))] = None,
    date: Annotated[str | None, Form(max_length=10, description="报告日期 YYYY-MM-DD")] = None,
) -> JSONResponse | dict[str, Any]:
    if not files:
        raise ApiError(422, "no_files", "请至少选择一个文件（表单字段 files）")
    if len(files) > settings.max_files_per_upload:
        raise ApiError(413, "too_many_files", f"一次最多上传 {settings.max_files_per_upload} 个文件")
    if date and not valid_iso_date(date):
        raise ApiError(422, "invalid_date", "日期格式应为 YYYY-MM-DD，且须是真实存在的日期")
    if any(unicodedata.category(ch) == "Cc" for value in (round, unit) if value for ch in value):
        raise ApiError(422, "invalid_characters", "轮次和单位名称中不能含有控制字符")
    try:
        kind = normalize_kind(kind) if kind else None
    except InvalidKindError as exc:
        raise ApiError(422, exc.code, exc.message) from None
    max_bytes = int(settings.max_file_mb * 1024 * 1024)
    uploads: list[Upload] = []
    for f in files:
        name = safe_name(f.filename)
        data = _read_limited(f, max_bytes)
        if data is None:
            from nlp.errors import FileTooLargeError

            uploads.append(Upload(name, None, FileTooLargeError(f"文件超过 {settings.max_file_mb:g} MB 上限", source=name)))
        else:
            uploads.append(check_upload(name, data, max_bytes))
    overrides = Overrides(round=round or None, unit=unit or None, kind=kind or None, date=date or None)
    names = [u.name for u in uploads]
    if all(u.error is not None for u in uploads):
        first = uploads[0].error
        assert first is not None
        items = [{"index": i, "name": u.name, "status": "error", "error": {"code": u.error.code, "message": u.error.message}}
                 for i, u in enumerate(uploads) if u.error is not None]
        audit("document_uploaded", "、".join(names)[:300], {"rejected": [i["error"] for i in items]}, ok=False)
        message = first.message if len(uploads) == 1 else f"全部 {len(uploads)} 个文件均被拒绝：{first.message}"
        return JSONResponse(error_body(first.code, message, items=items), status_code=status_for(first))
    job = create_job(make_session, settings.uploads_dir, uploads, overrides, user.name)
    runner = getattr(request.app.state, "runner", None)
    if runner is not None:
        runner.submit(job.id)
    audit("document_uploaded", "、".join(names)[:300], {"job_id": job.id, "files": len(uploads)})
    with make_session() as session:
        stored = session.get(models.Job, job.id)
        assert stored is not None
        body = job_dict(stored)
    response.headers["Location"] = f"/api/v1/jobs/{job.id}"
    return {"job_id": job.id, **body}


@router.post("/imports", status_code=202, response_model=ImportAccepted,
             summary="导入问题清单/整改台账（xlsx、csv、jsonl；后台入库，返回任务编号）")
def import_sheet(
    request: Request,
    response: Response,
    user: Analyst,
    settings: SettingsDep,
    make_session: MakeSessionDep,
    audit: AuditDep,
    file: Annotated[UploadFile, File(description="问题清单：.xlsx、.csv（UTF-8/GBK）或 .jsonl，每行一条问题")],
    map: Annotated[list[str], Form(description="列名=字段（字段：问题描述、被巡察单位、巡察轮次、巡察类型、日期、整改状态），可多项")] = [],  # noqa: B006
) -> dict[str, Any]:
    """The sheet is read and checked at once (a file that cannot be read, or a column that cannot be
    found, is refused here with a Chinese message; bad rows are listed with their row numbers); the
    rows are embedded, tagged and stored by the background job, like an uploaded report."""
    from service.importer import parse_mapping, parse_rows, read_table

    name = safe_name(file.filename)
    max_bytes = int(settings.max_file_mb * 1024 * 1024)
    data = _read_limited(file, max_bytes)
    if data is None:
        raise ApiError(413, "file_too_large", f"文件超过 {settings.max_file_mb:g} MB 上限")
    try:
        mapping = parse_mapping(map)
        parsed = parse_rows(read_table(data, name, mapping), mapping, name)
    except XunchaError as exc:
        audit("document_uploaded", name, {"import": True, "rejected": exc.message}, ok=False)
        raise ApiError(422, exc.code, exc.message) from None
    if not parsed.rows:
        raise ApiError(422, "bad_import_file", "清单中没有可导入的问题（每一行都缺少问题描述或有错误）")
    job = create_job(make_session, settings.uploads_dir, [Upload(name, data)], Overrides(), user.name, extra={"import_map": mapping})
    runner = getattr(request.app.state, "runner", None)
    if runner is not None:
        runner.submit(job.id)
    audit("document_uploaded", name, {"job_id": job.id, "import": True, "rows": len(parsed.rows), "skipped": len(parsed.errors)})
    with make_session() as session:
        stored = session.get(models.Job, job.id)
        assert stored is not None
        body = job_dict(stored)
    response.headers["Location"] = f"/api/v1/jobs/{job.id}"
    return {"job_id": job.id, **body, "rows": len(parsed.rows), "skipped": [e.to_dict() for e in parsed.errors],
            "columns": {FIELD_NAMES[k]: v for k, v in parsed.columns.items()}}


@router.get("/jobs/{job_id}", response_model=Job, summary="上传任务进度与逐个文件的结果")
def read_job(job_id: str, user: Viewer, session: SessionDep, audit: AuditDep) -> dict[str, Any]:
    job = session.get(models.Job, job_id) if re.fullmatch(r"[0-9a-f]{1,32}", job_id) else None
    if job is None:
        raise ApiError(404, "unknown_job", "没有这个任务")
    if job.finished_at is not None:  # polled every second while it runs: one row when it is read finished
        audit("job_viewed", f"job:{job_id}")
    return job_dict(job)


@router.post("/jobs/{job_id}/cancel", response_model=JobCancelled, summary="取消任务中尚未完成的文件（分析员）：排队的立即取消，正在分析的在一秒内停止；正在入库的会完整入库")
def cancel_job(job_id: str, request: Request, user: Analyst, session: SessionDep, audit: AuditDep) -> dict[str, Any]:
    job = session.get(models.Job, job_id) if re.fullmatch(r"[0-9a-f]{1,32}", job_id) else None
    if job is None:
        raise ApiError(404, "unknown_job", "没有这个任务")
    cancelled, stopping = cancel_queued(request.app.state.make_session, job_id)
    audit("job_cancelled", f"job:{job_id}", {"cancelled": cancelled, "stopping": stopping})
    session.expire_all()
    return {**job_dict(job), "cancelled": cancelled, "stopping": stopping}


@router.post("/jobs/{job_id}/retry", status_code=202, response_model=Job, summary="重新处理任务中失败或中断的文件")
def retry_job(job_id: str, request: Request, user: Analyst, session: SessionDep, audit: AuditDep) -> dict[str, Any]:
    job = session.get(models.Job, job_id) if re.fullmatch(r"[0-9a-f]{1,32}", job_id) else None
    if job is None:
        raise ApiError(404, "unknown_job", "没有这个任务")
    runner = getattr(request.app.state, "runner", None)
    if runner is None:
        raise ApiError(503, "jobs_disabled", "本服务实例不处理上传任务")
    runner.retry(job_id)
    audit("document_uploaded", job_id, {"retry": True})
    session.expire_all()
    return job_dict(job)


SortKey = Literal["created", "date", "round", "unit", "kind", "title", "findings"]  # = DOCUMENT_SORTS


@router.get("/documents", response_model=DocumentPage, summary="文档列表（可按轮次、单位、类型、日期筛选和排序）")
def read_documents(
    user: Viewer, session: SessionDep, audit: AuditDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50, offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    round: Annotated[str | None, Query(max_length=100, description=f"轮次名称的一部分；“{UNASSIGNED_ROUND}”为没有轮次的文档")] = None,
    unit: Annotated[str | None, Query(max_length=200, description="被巡察单位名称的一部分")] = None,
    kind: Annotated[str | None, Query(max_length=30, description="巡察类型：" + "、".join(KINDS))] = None,
    date_from: Annotated[str | None, Query(max_length=10, description="日期不早于 YYYY-MM-DD")] = None,
    date_to: Annotated[str | None, Query(max_length=10, description="日期不晚于 YYYY-MM-DD")] = None,
    sort: Annotated[SortKey, Query(description="排序：" + "、".join(f"{k}（{v}）" for k, v in DOCUMENT_SORTS.items()))] = "created",
    order: Annotated[Literal["asc", "desc"], Query(description="asc 升序，desc 降序")] = "desc",
) -> dict[str, Any]:
    for value in (date_from, date_to):
        if value and not valid_iso_date(value):
            raise ApiError(422, "invalid_date", "日期格式应为 YYYY-MM-DD，且须是真实存在的日期")
    filters = {k: v for k, v in {"round": round, "unit": unit, "kind": kind, "date_from": date_from, "date_to": date_to}.items() if v}
    audit("documents_listed", None, {"limit": limit, "offset": offset, **filters, "sort": sort, "order": order})
    return list_documents(session, limit, offset, **filters, sort=sort, descending=order == "desc")


@router.get("/documents/{document_id}", response_model=DocumentDetail, summary="文档全文、问题（含标签与依据）、统计数据")
def read_document(document_id: DocumentId, user: Viewer, session: SessionDep, audit: AuditDep) -> dict[str, Any]:
    doc = load_document(session, document_id)
    if doc is None:
        raise ApiError(404, "unknown_document", "没有这个文档")
    audit("document_viewed", f"document:{doc.id} {doc.source_name}")
    return document_detail(doc)


class DocumentUpdate(BaseModel):
    """A correction of what upload read or was told; only the fields given change."""

    model_config = ConfigDict(extra="forbid")

    round: str | None = Field(
        default=None, max_length=100,
        description="巡察轮次，如 第七轮 或 十四届区委第七轮（已有的轮次按名称沿用，否则新建）；文档中原属该文档轮次的问题随之改变；null 或空串表示清除",
    )
    unit: str | None = Field(
        default=None, max_length=200,
        description="被巡察单位（已有的单位或其简称按名称沿用，否则新建）；文档的全部问题改为该单位；null 或空串表示清除",
    )
    kind: str | None = Field(default=None, max_length=30, description=f"巡察类型：{'、'.join(KINDS)}；null 或空串表示清除")
    date: str | None = Field(default=None, max_length=10, description="报告日期 YYYY-MM-DD；null 或空串表示清除")


@router.patch("/documents/{document_id}", response_model=DocumentDetail, summary="修改文档的轮次、单位、类型、日期（分析员）；其问题随之更新")
def update_document(document_id: DocumentId, body: DocumentUpdate, user: Analyst, session: SessionDep, audit: AuditDep) -> dict[str, Any]:
    """Only the fields present in the body change (``model_fields_set``): ``{"date": "2024-05-06"}``
    leaves the round alone, ``{"round": null}`` clears it. Refusals are audited too: a correction of
    the library is what the inspection office's own oversight looks at."""
    changes = body.model_dump(include=body.model_fields_set)
    try:
        doc, diff = edit_document(session, document_id, changes)
    except DocumentEditError as exc:
        session.rollback()
        audit("document_edited", f"document:{document_id}", {"refused": exc.code, "message": exc.message}, ok=False)
        raise ApiError(422, exc.code, exc.message) from None
    if doc is None:
        raise ApiError(404, "unknown_document", "没有这个文档")
    detail = document_detail(doc)
    audit("document_edited", f"document:{doc.id} {doc.source_name}", diff)
    return detail


@router.delete("/documents/{document_id}", status_code=204, response_model=None, summary="删除文档（管理员）")
def remove_document(document_id: DocumentId, user: Admin, session: SessionDep, settings: SettingsDep, audit: AuditDep) -> Response:
    doc = load_document(session, document_id)
    if doc is None:
        raise ApiError(404, "unknown_document", "没有这个文档")
    name = doc.source_name
    delete_document(session, doc, settings.files_dir)
    audit("document_deleted", f"document:{document_id} {name}")
    return Response(status_code=204)
