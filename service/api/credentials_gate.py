"""Refuse a request body from nobody before reading it.

FastAPI checks credentials in a route's dependencies, after the body has been received and parsed:
an anonymous 150 MB upload was read in full before its 401, and a 180 MB JSON array parsed for 9 s at
1.4 GB. This middleware runs first. A request that carries a body (POST, PUT, PATCH, DELETE with a
length or chunked) to the API, other than the login itself, must present a token or a session cookie
that names an active user — checked with one indexed lookup in a worker thread — or it is answered
401 at once, its body never read. JSON bodies are also capped far below the upload cap
(``max_json_bytes``): no JSON route takes more than a few kilobytes, so a large one is refused 413
from its Content-Length, or as it streams in, before it is parsed.
"""

from __future__ import annotations

from http.cookies import SimpleCookie

from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from service import accounts, audit
from service.api.middleware import BodyLimitMiddleware, json_error

SESSION_COOKIE = "xuncha_session"  # as service.api.deps (not imported: deps imports FastAPI's request machinery)
OPEN_PATHS = frozenset({"/api/v1/auth/login"})
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers", []):
        if key == name:
            return bytes(value).decode("latin-1")
    return ""


def _has_body(scope: Scope) -> bool:
    length = _header(scope, b"content-length")
    if length:
        return length.strip() != "0"
    return bool(_header(scope, b"transfer-encoding"))


def _secret(scope: Scope) -> tuple[str, str] | None:
    """(secret, kind) of the request's credential, or None."""
    authorization = _header(scope, b"authorization")
    if authorization:
        scheme, _, value = authorization.partition(" ")
        return (value.strip(), "token") if scheme.lower() == "bearer" and value.strip() else None
    cookie = _header(scope, b"cookie")
    if cookie:
        jar: SimpleCookie = SimpleCookie()
        try:
            jar.load(cookie)
        except Exception:  # a malformed Cookie header: no credential
            return None
        if SESSION_COOKIE in jar:
            return jar[SESSION_COOKIE].value, "session"
    return None


class CredentialsGateMiddleware:
    def __init__(self, app: ASGIApp, make_session: sessionmaker[Session] | None = None, max_json_bytes: int = 1024 * 1024) -> None:
        self.app = app
        self.make_session = make_session
        self.json_limit = BodyLimitMiddleware(app, max_json_bytes)

    def _known(self, secret: str, kind: str, scope: Scope) -> bool:
        """Whether the credential names an active user; a refused one is audited (aggregated per
        client and minute, so a flood of forged tokens cannot grow the log)."""
        make_session = self.make_session or scope["app"].state.make_session
        with make_session() as session:
            if accounts.user_for_secret(session, secret, kind) is not None:
                return True
            client = scope.get("client")
            audit.record_refusal(session, "credentials_refused", client[0] if client else None, {
                "reason": "invalid_token" if kind == "token" else "invalid_session",
                "path": f"{scope.get('method')} {scope.get('path', '')}"[:200], "body_unread": True,
            })
            return False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") not in BODY_METHODS or not _has_body(scope):
            await self.app(scope, receive, send)
            return
        small = not _header(scope, b"content-type").lower().startswith("multipart/")
        if small and self._declared_length(scope) > self.json_limit.max_bytes:  # refused before anything else
            for message in json_error(413, "request_too_large", f"请求体超过 {self.json_limit.max_bytes // 1024} KB 上限（仅上传文件可以更大）"):
                await send(message)
            return
        path = scope.get("path", "")
        if path.startswith("/api/") and path not in OPEN_PATHS:
            credential = _secret(scope)
            if credential is None or not await run_in_threadpool(self._known, *credential, scope):
                for message in json_error(401, "not_authenticated", "请先登录或提供有效的 API 令牌（请求体未读取）"):
                    await send(message)
                return
        if small:
            await self.json_limit(scope, receive, send)  # counted as it streams in, for a chunked body
            return
        await self.app(scope, receive, send)

    @staticmethod
    def _declared_length(scope: Scope) -> int:
        try:
            return int(_header(scope, b"content-length") or 0)
        except ValueError:
            return 0
