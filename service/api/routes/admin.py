"""Admin: users and the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from service import accounts, audit
from service.api.deps import Admin, AuditDep, SessionDep, SettingsDep
from service.api.schemas import AuditLog, UserCreated, UserList

router = APIRouter(tags=["admin"])


@router.get("/audit", response_model=AuditLog, summary="审计日志（管理员）")
def read_audit(
    user: Admin, session: SessionDep, record: AuditDep,
    user_name: Annotated[str | None, Query(alias="user", max_length=100)] = None,
    action: Annotated[str | None, Query(max_length=40)] = None,
    since: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> dict[str, Any]:
    items = audit.query(session, user_name, action, since, limit, offset)
    record("audit_viewed", None, {"user": user_name, "action": action})
    return {"items": items, "actions": audit.ACTIONS}


class UserCreate(BaseModel):
    name: str = Field(min_length=1, max_length=64)
    # the rule (length, classes, user name, common list) is checked by accounts, with a Chinese message
    password: str = Field(min_length=1, max_length=1000)
    role: accounts.Role = accounts.Role.VIEWER
    temporary: bool = False  # the user must change the password at first login


@router.get("/users", response_model=UserList, summary="用户列表（管理员）")
def read_users(user: Admin, session: SessionDep, record: AuditDep) -> dict[str, Any]:
    record("users_listed")
    return {
        "items": [
            {"name": u.name, "role": u.role, "active": u.active, "created_at": u.created_at.isoformat(),
             "must_change_password": u.must_change_password}
            for u in accounts.list_users(session)
        ]
    }


@router.post("/users", status_code=201, response_model=UserCreated, summary="创建用户（管理员）；返回一次性显示的 API 令牌")
def create_user(body: UserCreate, user: Admin, session: SessionDep, record: AuditDep, settings: SettingsDep) -> dict[str, Any]:
    created, token = accounts.create_user(session, body.name, body.password, body.role,
                                          temporary=body.temporary, token_days=settings.token_days)
    record("user_created", created.name, {"role": created.role, "temporary": body.temporary, "token_days": settings.token_days})
    return {"name": created.name, "role": created.role, "token": token, "must_change_password": created.must_change_password}
