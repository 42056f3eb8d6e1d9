"""The audit log: who saw and changed what. Written by the API and the CLI, read by admins.

Entries are written in their own short transaction so that a failed request (whose own work is
rolled back) still leaves its trace, e.g. a failed login.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from service.store import models

ACTIONS = {
    "login": "登录",
    "login_failed": "登录失败",
    "logout": "退出",
    "document_uploaded": "上传文件",
    "document_viewed": "查看文档",
    "document_edited": "修改文档信息",
    "document_deleted": "删除文档",
    "documents_listed": "浏览文档列表",
    "findings_listed": "浏览问题",
    "search": "检索",
    "similar": "查相似问题",
    "tags_changed": "修改标签",
    "clusters": "共性问题分析",
    "summary": "生成共性问题报告",
    "statistics": "查看统计",
    "export": "导出问题清单",
    "audit_viewed": "查看审计日志",
    "user_created": "创建用户",
    "token_created": "签发令牌",
    "access_denied": "越权访问",
    "finding_viewed": "查看问题",
    "job_viewed": "查看上传任务",
    "job_cancelled": "取消上传任务",
    "users_listed": "浏览用户列表",
    "user_disabled": "停用用户",
    "user_enabled": "启用用户",
    "role_changed": "修改角色",
    "tokens_revoked": "吊销令牌",
    "user_deleted": "删除用户",
}


def record(
    make_session: sessionmaker[Session] | Session,
    user: str | None,
    action: str,
    target: str | None = None,
    detail: dict[str, Any] | None = None,
    client: str | None = None,
    ok: bool = True,
) -> None:
    """Write one entry and commit. Given a session (the API's request session), the entry goes through
    it: a request must never hold a second pooled connection, or concurrent requests can exhaust the
    pool waiting for each other. Given a sessionmaker (the CLI), a short session of its own is used."""
    entry = models.AuditEntry(
        user_name=user, action=action, target=(target or "")[:300] or None, detail=detail or {},
        client=(client or "")[:60] or None, ok=ok,
    )
    if isinstance(make_session, Session):
        make_session.add(entry)  # routes audit after their own work is committed
        make_session.commit()
        return
    with make_session() as session:
        session.add(entry)
        session.commit()


def query(
    session: Session,
    user: str | None = None,
    action: str | None = None,
    since: datetime | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[dict[str, Any]]:
    stmt = select(models.AuditEntry).order_by(models.AuditEntry.id.desc())
    if user:
        stmt = stmt.where(models.AuditEntry.user_name == user)
    if action:
        stmt = stmt.where(models.AuditEntry.action == action)
    if since:
        # stored in UTC (SQLite keeps no offset): compare in UTC, whatever offset the caller gave
        since = since.astimezone(UTC) if since.tzinfo else since.replace(tzinfo=UTC)
        stmt = stmt.where(models.AuditEntry.at >= since)
    return [
        {
            "id": e.id,
            "at": e.at.isoformat(),
            "user": e.user_name,
            "action": e.action,
            "action_name": ACTIONS.get(e.action, e.action),
            "target": e.target,
            "detail": e.detail,
            "client": e.client,
            "ok": e.ok,
        }
        for e in session.scalars(stmt.limit(limit).offset(offset))
    ]
