"""The audit log: who saw and changed what. Written by the API and the CLI, read by admins.

Entries are written in their own short transaction so that a failed request (whose own work is
rolled back) still leaves its trace, e.g. a failed login.

The rows form a hash chain: each stores the sha256 of the previous row's hash and its own content,
and the chain's head (its newest row) is kept in ``audit_chain``. A row changed, inserted or deleted
in the database — the newest ones included — breaks the chain, which ``xuncha audit verify`` finds.
Writers take the head row's lock first (an UPDATE of it: a row lock on PostgreSQL, the write lock on
SQLite), so concurrent writers in several processes append one after the other to one chain.

Refusals anyone can cause in bulk (a bad token, a forged session, a CSRF refusal) are aggregated:
one row per client, kind and minute, the first of the minute, carrying the count of the minute before
(:func:`record_refusal`), so a flood cannot grow the log without bound.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, sessionmaker

from service import rate_windows
from service.store import models

GENESIS = "0" * 64  # the previous hash of the chain's first row
REFUSAL_WINDOW_SECONDS = 60.0

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
    "password_changed": "修改密码",
    "password_reset": "重置密码",
    "credentials_refused": "凭据被拒绝",
    "csrf_refused": "跨站请求被拒绝",
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
        user_name=user, action=action, target=(target or "")[:300] or None,
        detail=json.loads(json.dumps(detail or {}, ensure_ascii=False, default=str)),  # as it reads back
        client=(client or "")[:60] or None, ok=ok,
    )
    if isinstance(make_session, Session):
        _append(make_session, entry)  # routes audit after their own work is committed
        return
    with make_session() as session:
        _append(session, entry)


def _lock_head(session: Session) -> tuple[int | None, str | None]:
    """Lock the chain's head row (creating it if missing) and read it: (last id, last hash)."""
    head = models.AuditChainHead
    touch = update(head).where(head.id == 1).values(last_id=head.last_id)
    if not session.execute(touch).rowcount:  # type: ignore[attr-defined]
        insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
        session.execute(insert(head).values(id=1, last_id=None, last_hash=None).on_conflict_do_nothing(index_elements=["id"]))
        session.execute(touch)
    row = session.execute(select(head.last_id, head.last_hash).where(head.id == 1)).one()
    return row.last_id, row.last_hash


def _append(session: Session, entry: models.AuditEntry) -> None:
    """Append ``entry`` to the chain and commit (the head's lock is held until then)."""
    try:
        _, last_hash = _lock_head(session)
        entry.at = models.utcnow()
        session.add(entry)
        session.flush()  # the id is part of what is hashed: a row moved or renumbered breaks the chain
        entry.prev_hash = last_hash or GENESIS
        entry.row_hash = row_digest(entry.prev_hash, entry)
        session.execute(update(models.AuditChainHead).where(models.AuditChainHead.id == 1)
                        .values(last_id=entry.id, last_hash=entry.row_hash))
        session.commit()
    except BaseException:
        session.rollback()
        raise


def _stamp(at: datetime) -> str:
    at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    return at.strftime("%Y-%m-%dT%H:%M:%S.%f")


def row_digest(prev_hash: str, entry: models.AuditEntry) -> str:
    """sha256 over the previous hash and the row's content, in one canonical JSON form that reads the
    same from SQLite and PostgreSQL (UTC time to the microsecond, detail keys sorted)."""
    content = [entry.id, _stamp(entry.at), entry.user_name, entry.action, entry.target, entry.detail, entry.client, bool(entry.ok)]
    text = json.dumps(content, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(f"{prev_hash}\n{text}".encode()).hexdigest()


def record_refusal(
    session: Session, action: str, client: str | None, detail: dict[str, Any], user: str | None = None,
) -> bool:
    """Audit a refusal anyone can cause in bulk: only the first of each minute per client and action
    writes a row (with ``refused_last_minute``: how many the minute before had); the rest are counted.
    Returns whether a row was written."""
    key = f"audit:{action}:{client or ''}"[:300]
    try:
        count = rate_windows.take(session, key, REFUSAL_WINDOW_SECONDS)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    if count is None or count.used != 1:
        return False
    record(session, user, action, None, {**detail, "refused_last_minute": count.previous}, client, ok=False)
    return True


@dataclass(frozen=True)
class ChainReport:
    """What ``xuncha audit verify`` found."""

    ok: bool
    rows: int  # rows checked in the chain
    unchained_rows: int  # rows written before the chain began (before the upgrade that added it)
    broken_id: int | None = None  # the first row where the chain breaks
    problem: str | None = None  # what is wrong there, in Chinese
    head_id: int | None = None
    head_hash: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _entries(session: Session) -> Iterator[models.AuditEntry]:
    stmt = select(models.AuditEntry).order_by(models.AuditEntry.id).execution_options(yield_per=1000)
    yield from session.scalars(stmt)


def verify_chain(session: Session) -> ChainReport:
    """Walk the rows in id order, recomputing each hash: the first row whose link or content does
    not match is named; at the end the head must point at the last row (the newest rows deleted)."""
    checked = unchained = 0
    last_id: int | None = None
    last_hash: str | None = None
    for entry in _entries(session):
        if entry.row_hash is None and last_hash is None:
            unchained += 1  # written before the chain began: nothing to check them against
            continue
        checked += 1
        problem = _link_problem(entry, last_id, last_hash)
        if problem:
            return ChainReport(False, checked, unchained, entry.id, problem)
        last_id, last_hash = entry.id, entry.row_hash
    head = session.execute(select(models.AuditChainHead.last_id, models.AuditChainHead.last_hash)).first()
    head_id, head_hash = (head.last_id, head.last_hash) if head else (None, None)
    if (head_id, head_hash) != (last_id, last_hash):
        return ChainReport(False, checked, unchained, head_id, _head_problem(head_id, last_id), head_id, head_hash)
    return ChainReport(True, checked, unchained, head_id=head_id, head_hash=head_hash)


def _link_problem(entry: models.AuditEntry, last_id: int | None, last_hash: str | None) -> str | None:
    if entry.row_hash is None or entry.prev_hash is None:
        return f"记录 #{entry.id} 没有哈希：它是在哈希链开始之后被插入的，或哈希被抹去"
    if entry.prev_hash != (last_hash or GENESIS):
        after = f"#{last_id}" if last_id is not None else "链首"
        return f"记录 #{entry.id} 与前一条记录（{after}）接不上：两者之间有记录被删除、插入或改动"
    if row_digest(entry.prev_hash, entry) != entry.row_hash:
        return f"记录 #{entry.id} 的内容被修改（与写入时的哈希不符）"
    return None


def _head_problem(head_id: int | None, last_id: int | None) -> str:
    if head_id is None:
        return f"链头记录缺失或被清空，而表中最后一条为 #{last_id}"
    if last_id is None:
        return f"链头指向 #{head_id}，但表中没有一条链上的记录：记录被删除"
    return f"链头指向 #{head_id}，而表中最后一条链上的记录为 #{last_id}：最新的记录被删除或改动"


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
