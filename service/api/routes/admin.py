"""Admin: users and the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from service import accounts, audit
from service.api.deps import Admin, AuditDep, SessionDep

router = APIRouter(tags=["admin"])


@router.get("/audit", summary="审计日志（管理员）")
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
    password: str = Field(min_length=accounts.MIN_PASSWORD_CHARS, max_length=1000)
    role: accounts.Role = accounts.Role.VIEWER


@router.get("/users", summary="用户列表（管理员）")
def read_users(user: Admin, session: SessionDep, record: AuditDep) -> dict[str, Any]:
    record("users_listed")
    return {
        "items": [
            {"name": u.name, "role": u.role, "active": u.active, "created_at": u.created_at.isoformat()}
            for u in accounts.list_users(session)
        ]
    }


@router.post("/users", status_code=201, summary="创建用户（管理员）；返回一次性显示的 API 令牌")
def create_user(body: UserCreate, user: Admin, session: SessionDep, record: AuditDep) -> dict[str, Any]:
    created, token = accounts.create_user(session, body.name, body.password, body.role)
    record("user_created", created.name, {"role": created.role})
    return {"name": created.name, "role": created.role, "token": token}
