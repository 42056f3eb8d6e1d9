"""Log in and out (web page sessions), change one's password, and who am I.

A user holding a temporary password (``xuncha user add --temporary``, ``user passwd --temporary``) may
log in, but until the password is changed its session and tokens only reach the routes here."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from service import accounts
from service.api.deps import (
    SESSION_COOKIE,
    AuditDep,
    PendingUser,
    SessionDep,
    SettingsDep,
    client_of,
)
from service.api.errors import ApiError
from service.api.schemas import LoginResponse, UserPublic
from service.api.throttle import LoginThrottle
from service.audit import record

router = APIRouter(prefix="/auth", tags=["accounts"])


class LoginRequest(BaseModel):
    username: str = Field(min_length=1, max_length=100, pattern=r"^[^\x00-\x1f\x7f]+$")
    password: str = Field(min_length=1, max_length=1000)


class PasswordChange(BaseModel):
    current_password: str = Field(min_length=1, max_length=1000)
    new_password: str = Field(min_length=1, max_length=1000)


def _public(name: str, role: accounts.Role, must_change: bool = False) -> UserPublic:
    return UserPublic(name=name, role=role.value, role_name=accounts.ROLE_NAMES[role], must_change_password=must_change)


def _throttled(session: SessionDep, name: str, client: str | None, wait: int, log: bool) -> ApiError:
    if log:  # once per window: a flood of refused attempts is not a flood of rows
        record(session, name[:100], "login_failed", None, {"throttled": True}, client, ok=False)
    return ApiError(429, "too_many_attempts", f"登录失败次数过多，请 {max(1, wait // 60)} 分钟后再试",
                    headers={"Retry-After": str(wait)})


@router.post("/login", response_model=LoginResponse, summary="登录（网页会话）")
def login(body: LoginRequest, request: Request, response: Response, session: SessionDep, settings: SettingsDep) -> LoginResponse:
    throttle: LoginThrottle = request.app.state.login_throttle
    client = client_of(request)
    name = accounts.normalize_name(body.username)  # Admin, ａｄｍｉｎ and admin are one name to the throttle too
    verdict = throttle.begin(session, name, client)  # the check and the reservation in one step
    if verdict.wait:
        raise _throttled(session, name, client, verdict.wait, verdict.log_refusal)
    try:
        user = accounts.authenticate(session, name, body.password)
    except BaseException:
        session.rollback()
        throttle.abandoned(session, name, client)
        raise
    if user is None:
        throttle.failed(session, name, client)
        record(session, name[:100], "login_failed", None, {}, client, ok=False)
        raise ApiError(401, "login_failed", "用户名或密码错误")
    throttle.succeeded(session, name, client)
    secret = accounts.open_session(session, user)
    response.set_cookie(
        SESSION_COOKIE, secret, max_age=accounts.SESSION_HOURS * 3600, httponly=True, samesite="strict",
        secure=settings.secure_cookies, path="/",
    )
    record(session, user.name, "login", None, {"must_change_password": True} if user.must_change_password else {}, client)
    return LoginResponse(user=_public(user.name, accounts.Role(user.role), user.must_change_password))


@router.post("/password", status_code=204, response_model=None, summary="修改自己的密码（临时密码须先改）")
def change_password(body: PasswordChange, request: Request, user: PendingUser, session: SessionDep, audit: AuditDep) -> Response:
    """The current password is checked under the login throttle (a stolen session cannot guess it
    faster than a login could); the new one must pass the password rule. Other web sessions end."""
    throttle: LoginThrottle = request.app.state.login_throttle
    client = client_of(request)
    verdict = throttle.begin(session, user.name, client)
    if verdict.wait:
        raise _throttled(session, user.name, client, verdict.wait, verdict.log_refusal)
    try:
        accounts.change_password(session, user.name, body.current_password, body.new_password,
                                 keep_session=request.cookies.get(SESSION_COOKIE) if user.via == "session" else None)
    except accounts.WrongPasswordError:
        throttle.failed(session, user.name, client)
        audit("password_changed", user.name, {"reason": "wrong_password"}, ok=False)
        raise ApiError(403, "wrong_password", "当前密码不正确") from None
    except BaseException:
        session.rollback()
        throttle.abandoned(session, user.name, client)
        raise
    throttle.succeeded(session, user.name, client)
    audit("password_changed", user.name, {"was_temporary": user.must_change_password})
    return Response(status_code=204)


@router.post("/logout", status_code=204, response_model=None, summary="退出登录")
def logout(request: Request, response: Response, user: PendingUser, session: SessionDep, audit: AuditDep) -> Response:
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        accounts.close_session(session, cookie)
    audit("logout")
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/me", response_model=UserPublic, summary="当前用户")
def me(user: PendingUser) -> UserPublic:
    return _public(user.name, user.role, user.must_change_password)
