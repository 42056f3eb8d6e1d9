"""JSON errors with a stable code and a Chinese message; never a stack trace; and the one catalogue of codes.

Body: ``{"error": {"code": "...", "message": "...", ...extra}}``. Pipeline errors (``XunchaError``)
keep their own codes; the HTTP status says whose fault it is.

:data:`ERRORS` lists every error code the product gives — pipeline and account errors (``XunchaError``
subclasses), route refusals (``ApiError``), the handlers' own, the per-file results of an upload job and the
CLI's ``error_line`` codes — each once, with its HTTP status and its Chinese meaning. Scripts match on these
codes, so they are documented in the README (section 错误代码, the same rows), and
``tests/test_error_catalogue.py`` fails when a code raised anywhere in ``nlp/`` or ``service/`` is missing
here or there, or is listed twice.
"""

from __future__ import annotations

import logging
from typing import Any, NamedTuple

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from nlp.errors import XunchaError

log = logging.getLogger("xuncha.api")


class ErrorCode(NamedTuple):
    """One documented error: the stable code, the HTTP status it is answered with (None: never an HTTP
    answer of its own — a CLI line, or one file's result inside a job), and what it means, in Chinese.
    For the HTTP fallbacks (``HTTP_CODES``) the meaning is also the message sent."""

    code: str
    status: int | None
    message: str


# Every code once. A tuple, not a dict literal: a dict would silently keep the last of two rows.
ERRORS: tuple[ErrorCode, ...] = (
    # --- reading a report (nlp/errors.py): upload answers, job items, CLI lines ---------------------
    ErrorCode("xuncha_error", 422, "处理失败（未细分的输入或配置问题）"),
    ErrorCode("extraction_failed", 422, "无法从文件中提取文本"),
    ErrorCode("file_not_found", None, "文件不存在（命令行给出的路径）"),
    ErrorCode("empty_file", 422, "文件为空"),
    ErrorCode("file_too_large", 413, "文件超过大小上限（XUNCHA_MAX_FILE_MB，默认 50 MB）"),
    ErrorCode("unsupported_type", 415, "不支持的文件类型（按内容判断；支持 PDF、DOCX、DOC/WPS/RTF、OFD、图片、TXT/MD、HTML）"),
    ErrorCode("unknown_encoding", 422, "无法识别文本编码（支持 UTF-8、UTF-16、GB18030/GBK）"),
    ErrorCode("corrupt_pdf", 422, "PDF 文件已损坏，无法打开"),
    ErrorCode("encrypted_pdf", 422, "PDF 文件已加密，须先解除密码保护"),
    ErrorCode("corrupt_docx", 422, "DOCX 文件已损坏，无法打开"),
    ErrorCode("docx_too_large", 422, "DOCX 解压后体积或段落数异常（疑似压缩炸弹），已拒绝"),
    ErrorCode("text_too_long", 422, "文件文字过多，超过单个文档的上限"),
    ErrorCode("corrupt_ofd", 422, "OFD 文件已损坏，无法读取"),
    ErrorCode("ofd_too_large", 422, "OFD 解压后体积异常（疑似压缩炸弹），已拒绝"),
    ErrorCode("corrupt_image", 422, "图片文件已损坏，无法打开"),
    ErrorCode("no_text_found", 422, "文字识别（OCR）未识别出任何文字"),
    ErrorCode("ocr_page_limit", 422, "需要文字识别（OCR）的页数超过上限"),
    ErrorCode("converter_missing", 422, "转换 .doc/.wps/.rtf 需要 LibreOffice，本机未安装"),
    ErrorCode("conversion_failed", 422, "LibreOffice 无法转换此文件"),
    ErrorCode("conversion_timeout", 422, "LibreOffice 转换超时"),
    ErrorCode("backend_unavailable", 503, "所需的可选组件（HanLP、本地模型）未安装或模型路径不存在"),
    # --- search, segmentation, taxonomy, training (nlp/) ---------------------------------------------
    ErrorCode("empty_query", 422, "检索词为空"),
    ErrorCode("unknown_finding", 404, "没有这个问题编号"),
    ErrorCode("bad_search_index", 422, "检索索引文件损坏或版本不符，须重建索引"),
    ErrorCode("index_building", 503, "检索索引正在后台建立（较大的问题库首次启动时约需一至数分钟），稍后再试"),
    ErrorCode("bad_user_dict", 422, "用户词典格式错误"),
    ErrorCode("unknown_segmenter", 422, "未知的分词器（可选：auto、jieba、rjieba、hanlp）"),
    ErrorCode("bad_taxonomy", 422, "分类体系文件有误"),
    ErrorCode("bad_thesaurus", 422, "概念词表文件有误"),
    ErrorCode("bad_labels_file", None, "标注文件格式错误（xuncha train）"),
    ErrorCode("focus_training_failed", None, "聚焦模型训练失败（xuncha train）"),
    # --- accounts (service/accounts.py) ----------------------------------------------------------------
    ErrorCode("account_error", 422, "账户操作失败"),
    ErrorCode("user_exists", 409, "用户已存在（规范化后同名：大小写、全角半角不同也算同名）"),
    ErrorCode("confusable_user_name", 409, "用户名与已有用户容易混淆（形近字母、1 与 l、0 与 o 等）"),
    ErrorCode("invalid_user_name", 422, "用户名只能包含汉字、字母、数字和 . - _ @，最长 64 个字符"),
    ErrorCode("weak_password", 422, "密码不符合规则（至少 10 个字符；大写字母、小写字母、数字、符号中至少三类；"
                                    "不含用户名；不是常见密码），消息中写明未满足的一条"),
    ErrorCode("wrong_password", 403, "当前密码不正确（修改密码时）"),
    ErrorCode("no_such_user", 404, "没有这个用户"),
    # --- library, documents, tags, import, configuration (service/) ------------------------------------
    ErrorCode("empty_library", 404, "问题库为空，须先入库"),
    ErrorCode("invalid_document_edit", 422, "文档信息修改无效"),
    ErrorCode("invalid_kind", 422, "巡察类型不在可选范围内"),
    ErrorCode("invalid_date", 422, "日期格式应为 YYYY-MM-DD，且须是真实存在的日期"),
    ErrorCode("invalid_characters", 422, "请求中含有不允许的字符（控制字符、NUL）"),
    ErrorCode("nothing_to_change", 422, "没有给出任何要修改的内容"),
    ErrorCode("invalid_tags", 422, "标签不在分类体系中"),
    ErrorCode("bad_import_file", 422, "无法读取问题清单，或清单中没有可导入的问题"),
    ErrorCode("bad_configuration", None, "配置有误（启动时检查，一行中文写明哪一项，退出码 1）"),
    # --- one file of an upload job (GET /jobs/{id}: items[].error) -------------------------------------
    ErrorCode("processing_gave_up", None, "该文件多次处理仍未完成（可能导致服务中断），已放弃"),
    ErrorCode("processing_failed", None, "处理该文件时出现内部错误"),
    ErrorCode("processing_timeout", None, "处理该文件超过时间上限（XUNCHA_ITEM_SECONDS，默认 600 秒），已停止"),
    ErrorCode("processing_memory", None, "处理该文件超过内存上限（XUNCHA_ITEM_MEMORY_MB，默认 2048 MB），已停止"),
    ErrorCode("staged_file_missing", None, "暂存的上传文件已丢失，须重新上传"),
    ErrorCode("cancelled", None, "已取消，未处理"),
    ErrorCode("cancel_requested", None, "已请求取消，正在停止该文件的分析（GET /jobs 中为 cancelling，不显示为错误）"),
    # --- credentials and access (service/api/deps.py, routes/auth.py) ---------------------------------
    ErrorCode("not_authenticated", 401, "请先登录或提供有效的 API 令牌"),
    ErrorCode("bad_credentials", 401, "Authorization 头格式应为 Bearer <令牌>"),
    ErrorCode("invalid_token", 401, "API 令牌无效、已过期或已吊销"),
    ErrorCode("login_failed", 401, "用户名或密码错误"),
    ErrorCode("too_many_attempts", 429, "登录（或核对当前密码）失败次数过多，须稍后再试（见 Retry-After）"),
    ErrorCode("csrf_check_failed", 403, "请求缺少 X-Requested-With 头（跨站请求保护）"),
    ErrorCode("password_change_required", 403, "须先修改临时密码；在此之前只能访问 /auth/me、/auth/logout、/auth/password"),
    ErrorCode("forbidden", 403, "当前账户无权执行此操作"),
    # --- routes (service/api/routes/) ---------------------------------------------------------------------
    ErrorCode("unknown_document", 404, "没有这个文档"),
    ErrorCode("unknown_job", 404, "没有这个任务"),
    ErrorCode("expected_multipart", 415, "上传请求应为 multipart/form-data 表单，文件放在 files 字段"),
    ErrorCode("no_files", 422, "请至少选择一个文件（表单字段 files）"),
    ErrorCode("missing_filename", 422, "表单字段 files 的每一项都应是带文件名的文件"),
    ErrorCode("too_many_files", 413, "一次上传的文件数超过上限（XUNCHA_MAX_FILES_PER_UPLOAD）"),
    ErrorCode("jobs_disabled", 503, "本服务实例不处理上传任务"),
    ErrorCode("schema_mismatch", 503, "数据库结构版本与本版本不一致或没有表结构（GET /health）"),
    # --- the handlers and the body limits (this module, middleware.py, credentials_gate.py) -----------
    ErrorCode("request_too_large", 413, "请求体超过大小上限"),
    ErrorCode("malformed_json", 422, "请求体不是合法的 JSON"),
    ErrorCode("invalid_request", 422, "请求参数不正确"),
    ErrorCode("value_out_of_range", 422, "请求中的数值超出范围"),
    ErrorCode("internal_error", 500, "服务器内部错误，已记录日志"),
    ErrorCode("malformed_body", 400, "请求体无法解析（表单或 JSON 格式不正确）"),
    ErrorCode("not_found", 404, "请求的资源不存在"),
    ErrorCode("method_not_allowed", 405, "不支持该请求方法"),
    ErrorCode("not_acceptable", 406, "不支持请求的格式"),
    ErrorCode("conflict", 409, "请求与现有数据冲突"),
    ErrorCode("unsupported_media_type", 415, "不支持的内容类型"),
    ErrorCode("too_many_requests", 429, "请求过于频繁"),
    ErrorCode("http_error", None, "请求失败（其他 HTTP 错误，状态码随情形）"),
    # --- the CLI only (service/cli/) ----------------------------------------------------------------------
    ErrorCode("bad_row", None, "问题清单中的这一行有错误，已跳过（xuncha import）"),
    ErrorCode("output_required", None, "DOCX 格式需要用 --output 指定文件"),
    ErrorCode("unsupported_format", None, "不支持的导出格式（仅支持 xlsx）"),
    ErrorCode("no_reports", None, "没有可读取的报告文件"),
)

CATALOGUE: dict[str, ErrorCode] = {e.code: e for e in ERRORS}

# The code (and message) of an HTTP error raised by FastAPI/Starlette itself: no route, wrong method,
# a body it cannot parse. Any other status is ``http_error``.
HTTP_CODES: dict[int, str] = {
    400: "malformed_body",
    401: "not_authenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "request_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "too_many_requests",
}


def catalogue_markdown() -> str:
    """The README's 错误代码 table, rows in catalogue order (``python -m service.api.errors`` prints it)."""
    rows = ["| 代码 | HTTP 状态 | 含义 |", "|---|---|---|"]
    rows += [f"| `{e.code}` | {e.status if e.status is not None else '—'} | {e.message} |" for e in ERRORS]
    return "\n".join(rows)


class ApiError(Exception):
    """An error raised by a route: status, stable code, Chinese message, optional extra fields."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.extra, self.headers = status, code, message, extra, headers


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, **extra}}


def status_for(exc: XunchaError) -> int:
    """The HTTP status of a pipeline error: the catalogue's, else 422 (the input cannot be used)."""
    entry = CATALOGUE.get(exc.code)
    return entry.status if entry is not None and entry.status is not None else 422


def http_error(status: int) -> ErrorCode:
    """The catalogue entry for an HTTP error raised by the framework (no route, wrong method…)."""
    return CATALOGUE[HTTP_CODES.get(status, "http_error")]


def _field(loc: tuple[Any, ...] | list[Any]) -> str:
    return ".".join(str(p) for p in loc if p not in ("body", "query", "path", "header", "cookie")) or "请求"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(error_body(exc.code, exc.message, **exc.extra), status_code=exc.status, headers=exc.headers)

    @app.exception_handler(XunchaError)
    async def _xuncha_error(_: Request, exc: XunchaError) -> JSONResponse:
        return JSONResponse(error_body(exc.code, exc.message), status_code=status_for(exc))

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        if any(e.get("type") == "json_invalid" for e in exc.errors()):
            return JSONResponse(error_body("malformed_json", "请求体不是合法的 JSON"), status_code=422)
        problems = [{"field": _field(e.get("loc", ())), "problem": str(e.get("msg", ""))[:200]} for e in exc.errors()[:20]]
        where = "、".join(dict.fromkeys(p["field"] for p in problems)) or "请求"
        return JSONResponse(error_body("invalid_request", f"请求参数不正确：{where}", problems=problems), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        entry = http_error(exc.status_code)
        return JSONResponse(error_body(entry.code, entry.message), status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))

    @app.exception_handler(OverflowError)
    async def _overflow(request: Request, exc: OverflowError) -> JSONResponse:
        if "SQLite INTEGER" in str(exc):  # an id past 2**63 - 1 in a path or query: it cannot exist
            return JSONResponse(error_body("value_out_of_range", "请求中的数值超出范围"), status_code=422)
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse(error_body("internal_error", "服务器内部错误，已记录日志"), status_code=500)

    @app.exception_handler(DataError)
    async def _data_error(request: Request, exc: DataError) -> JSONResponse:
        detail = str(exc.orig)  # PostgreSQL refuses what SQLite takes: ids past int4, NUL in text
        if "out of range" in detail:
            return JSONResponse(error_body("value_out_of_range", "请求中的数值超出范围"), status_code=422)
        if "NUL (0x00)" in detail:
            return JSONResponse(error_body("invalid_characters", "请求中含有不允许的字符（NUL）"), status_code=422)
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse(error_body("internal_error", "服务器内部错误，已记录日志"), status_code=500)

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse(error_body("internal_error", "服务器内部错误，已记录日志"), status_code=500)


if __name__ == "__main__":  # regenerate the README table: python -m service.api.errors
    print(catalogue_markdown())
