"""JSON errors with a stable code and a Chinese message; never a stack trace.

Body: ``{"error": {"code": "...", "message": "...", ...extra}}``. Pipeline errors (``XunchaError``)
keep their own codes; the HTTP status says whose fault it is.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from nlp.errors import XunchaError

log = logging.getLogger("xuncha.api")

STATUS_OF_CODE = {
    "file_too_large": 413,
    "request_too_large": 413,
    "unsupported_type": 415,
    "empty_library": 404,
    "unknown_finding": 404,
    "user_exists": 409,
    "not_found": 404,
    "backend_unavailable": 503,
}

HTTP_MESSAGES = {
    400: ("malformed_body", "请求体无法解析（表单或 JSON 格式不正确）"),  # FastAPI/Starlette body parsing
    401: ("not_authenticated", "请先登录或提供有效的 API 令牌"),
    403: ("forbidden", "当前账户无权执行此操作"),
    404: ("not_found", "请求的资源不存在"),
    405: ("method_not_allowed", "不支持该请求方法"),
    406: ("not_acceptable", "不支持请求的格式"),
    409: ("conflict", "请求与现有数据冲突"),
    413: ("request_too_large", "请求体超过大小上限"),
    415: ("unsupported_media_type", "不支持的内容类型"),
    422: ("invalid_request", "请求参数不正确"),
    429: ("too_many_requests", "请求过于频繁"),
}


class ApiError(Exception):
    """An error raised by a route: status, stable code, Chinese message, optional extra fields."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.extra, self.headers = status, code, message, extra, headers


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, **extra}}


def status_for(exc: XunchaError) -> int:
    return STATUS_OF_CODE.get(exc.code, 422)


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
        code, message = HTTP_MESSAGES.get(exc.status_code, ("http_error", "请求失败"))
        return JSONResponse(error_body(code, message), status_code=exc.status_code, headers=getattr(exc, "headers", None))

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
