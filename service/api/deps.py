"""Dependencies of the routes: settings, a database session, the current user, role checks, audit.

Credentials: ``Authorization: Bearer <token>`` (scripts) or the ``xuncha_session`` cookie (the web
page). A cookie-authenticated request that changes something must also carry
``X-Requested-With: xuncha``: a cross-site form cannot set that header, so this is the CSRF guard
(the cookie is also SameSite=Strict).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from service import accounts, audit
from service.accounts import Role
from service.api.errors import ApiError
from service.settings import Settings

SESSION_COOKIE = "xuncha_session"
CSRF_HEADER = "x-requested-with"
CSRF_VALUE = "xuncha"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


async def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_sessionmaker(request: Request) -> sessionmaker[Session]:
    maker: sessionmaker[Session] = request.app.state.make_session
    return maker


def get_db(request: Request) -> Iterator[Session]:
    maker: sessionmaker[Session] = request.app.state.make_session
    with maker() as session:
        yield session


SettingsDep = Annotated[Settings, Depends(get_app_settings)]
SessionDep = Annotated[Session, Depends(get_db)]
MakeSessionDep = Annotated[sessionmaker[Session], Depends(get_sessionmaker)]


@dataclass(frozen=True)
class Principal:
    name: str
    role: Role
    via: str  # token | session
    must_change_password: bool = False


def client_of(request: Request) -> str | None:
    return request.client.host if request.client else None


_bearer_scheme = HTTPBearer(auto_error=False, description="API 令牌（xuncha user add / xuncha user token 签发）")
_cookie_scheme = APIKeyCookie(name=SESSION_COOKIE, auto_error=False, description="网页登录会话")
PASSWORD_ROUTE = "/api/v1/auth/password"


def _refuse(request: Request, session: Session, action: str, error: ApiError) -> ApiError:
    """Audit a refused credential or CSRF check (aggregated per client and minute) and return the error."""
    audit.record_refusal(session, action, client_of(request), {"reason": error.code, "path": f"{request.method} {request.url.path}"[:200]})
    return error


def _identify(request: Request, session: Session) -> Principal:
    """The user the request's token or session cookie stands for; a refused credential is audited."""
    header = request.headers.get("authorization", "")
    user = None
    via = "token"
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise _refuse(request, session, "credentials_refused", ApiError(
                401, "bad_credentials", "Authorization 头格式应为 Bearer <令牌>", headers={"WWW-Authenticate": "Bearer"}))
        user = accounts.user_for_secret(session, value.strip(), "token")
        if user is None:
            raise _refuse(request, session, "credentials_refused", ApiError(
                401, "invalid_token", "API 令牌无效、已过期或已吊销", headers={"WWW-Authenticate": "Bearer"}))
    else:
        cookie = request.cookies.get(SESSION_COOKIE)
        if cookie:
            user = accounts.user_for_secret(session, cookie, "session")
            via = "session"
            if user is None:
                raise _refuse(request, session, "credentials_refused", ApiError(
                    401, "not_authenticated", "登录已过期或已退出，请重新登录", headers={"WWW-Authenticate": "Bearer"}))
            if request.method not in SAFE_METHODS and request.headers.get(CSRF_HEADER) != CSRF_VALUE:
                raise _refuse(request, session, "csrf_refused", ApiError(
                    403, "csrf_check_failed", "请求缺少 X-Requested-With 头（跨站请求保护）"))
    if user is None:
        raise ApiError(401, "not_authenticated", "请先登录或提供有效的 API 令牌", headers={"WWW-Authenticate": "Bearer"})
    principal = Principal(user.name, Role(user.role), via, bool(user.must_change_password))
    request.state.principal = principal
    return principal


def current_user(
    request: Request,
    session: SessionDep,
    _bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer_scheme)] = None,  # declared for OpenAPI
    _cookie: Annotated[str | None, Depends(_cookie_scheme)] = None,
) -> Principal:
    """The signed-in user; one still holding a temporary password may do nothing else until it is changed."""
    principal = _identify(request, session)
    if principal.must_change_password:
        raise ApiError(403, "password_change_required",
                       f"首次登录（或密码被重置）后须先修改密码：请在网页上修改，或调用 POST {PASSWORD_ROUTE}")
    return principal


def pending_user(
    request: Request,
    session: SessionDep,
    _bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer_scheme)] = None,
    _cookie: Annotated[str | None, Depends(_cookie_scheme)] = None,
) -> Principal:
    """The signed-in user even with a temporary password: for changing it, logging out and /auth/me."""
    return _identify(request, session)


CurrentUser = Annotated[Principal, Depends(current_user)]
PendingUser = Annotated[Principal, Depends(pending_user)]


def require(role: Role) -> Callable[..., Coroutine[Any, Any, Principal]]:
    """A dependency that admits users of ``role`` or higher, and audits the refusals."""

    # async: the check itself does no I/O, so it runs on the event loop instead of taking a trip
    # through the thread pool on every request (each sync dependency is one; a search made seven)
    async def check(request: Request, user: CurrentUser, session: SessionDep) -> Principal:
        if not user.role.allows(role):
            await run_in_threadpool(
                audit.record, session, user.name, "access_denied", f"{request.method} {request.url.path}",
                {"needed": role.value, "role": user.role.value}, client_of(request), ok=False,
            )
            raise ApiError(403, "forbidden", f"需要“{accounts.ROLE_NAMES[role]}”或更高权限")
        return user

    return check


Viewer = Annotated[Principal, Depends(require(Role.VIEWER))]
Analyst = Annotated[Principal, Depends(require(Role.ANALYST))]
Admin = Annotated[Principal, Depends(require(Role.ADMIN))]


class Auditor:
    """Records audit entries for the current request's user."""

    def __init__(self, request: Request, session: SessionDep) -> None:
        self.request = request
        self.session = session  # the request's own session (FastAPI gives one per request)

    def __call__(self, action: str, target: str | None = None, detail: dict[str, Any] | None = None, ok: bool = True) -> None:
        principal = getattr(self.request.state, "principal", None)
        audit.record(
            self.session, principal.name if principal else None, action, target, detail,
            client_of(self.request), ok,
        )


async def auditor(request: Request, session: SessionDep) -> Auditor:
    """The request's :class:`Auditor` (made on the event loop: building it does no I/O)."""
    return Auditor(request, session)


AuditDep = Annotated[Auditor, Depends(auditor)]


_CONTROL = {chr(c) for c in range(32) if chr(c) not in "\t\n\r"} | {"\x7f"}


async def reject_control_characters(request: Request) -> None:
    """Query values with NUL or other control characters are refused the same way on every database
    (PostgreSQL cannot store NUL in text; SQLite would silently accept it)."""
    for key, value in request.query_params.multi_items():
        if any(ch in _CONTROL for ch in key) or any(ch in _CONTROL for ch in value):
            raise ApiError(422, "invalid_characters", f"查询参数 {key[:40]!s} 中含有不允许的控制字符")
