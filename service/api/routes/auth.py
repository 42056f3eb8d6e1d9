"""Log in and out (web page sessions) and who am I."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from service import accounts
from service.api.deps import (
    SESSION_COOKIE,
    AuditDep,
    CurrentUser,
    SessionDep,
    SettingsDep,
    client_of,
)
from service.api.errors import ApiError
from service.api.throttle import LoginThrottle
from service.audit import record

router = APIRouter(prefix="/auth", tags=["accounts"])


class LoginRequest(BaseModel):
    username: str = Field(min_length=1, max_length=100, pattern=r"^[^\x00-\x1f\x7f]+$")
    password: str = Field(min_length=1, max_length=1000)


class UserPublic(BaseModel):
    name: str
    role: str
    role_name: str


class LoginResponse(BaseModel):
    user: UserPublic


def _public(name: str, role: accounts.Role) -> UserPublic:
    return UserPublic(name=name, role=role.value, role_name=accounts.ROLE_NAMES[role])


@router.post("/login", response_model=LoginResponse, summary="登录（网页会话）")
def login(body: LoginRequest, request: Request, response: Response, session: SessionDep, settings: SettingsDep) -> LoginResponse:
    throttle: LoginThrottle = request.app.state.login_throttle
    client = client_of(request)
    verdict = throttle.begin(body.username, client)  # the check and the reservation in one step
    if verdict.wait:
        if verdict.log_refusal:  # once per window: a flood of refused attempts is not a flood of rows
            record(session, body.username[:100], "login_failed", None, {"throttled": True}, client, ok=False)
        raise ApiError(429, "too_many_attempts", f"登录失败次数过多，请 {max(1, verdict.wait // 60)} 分钟后再试",
                       headers={"Retry-After": str(verdict.wait)})
    try:
        user = accounts.authenticate(session, body.username, body.password)
    except BaseException:
        throttle.abandoned(body.username, client)
        raise
    if user is None:
        throttle.failed(body.username, client)
        record(session, body.username[:100], "login_failed", None, {}, client, ok=False)
        raise ApiError(401, "login_failed", "用户名或密码错误")
    throttle.succeeded(body.username, client)
    secret = accounts.open_session(session, user)
    response.set_cookie(
        SESSION_COOKIE, secret, max_age=accounts.SESSION_HOURS * 3600, httponly=True, samesite="strict",
        secure=settings.secure_cookies, path="/",
    )
    record(session, user.name, "login", None, {}, client_of(request))
    return LoginResponse(user=_public(user.name, accounts.Role(user.role)))


@router.post("/logout", status_code=204, summary="退出登录")
def logout(request: Request, response: Response, user: CurrentUser, session: SessionDep, audit: AuditDep) -> Response:
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        accounts.close_session(session, cookie)
    audit("logout")
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/me", response_model=UserPublic, summary="当前用户")
def me(user: CurrentUser) -> UserPublic:
    return _public(user.name, user.role)
