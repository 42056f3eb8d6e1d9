"""Liveness and readiness; the one route open without credentials (it reveals no data)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlalchemy import text

from service.api.deps import SessionDep
from service.api.errors import ApiError
from service.api.schemas import Health
from service.store.db import current_revision, head_revision

router = APIRouter(tags=["health"])


@router.get("/health", response_model=Health, summary="健康检查（无需登录）；数据库结构与本版本不一致时为 503")
def health(session: SessionDep) -> dict[str, Any]:
    """Ready only when the database answers and its schema is the one this release migrates to: a
    database restored from an older backup, replaced under the running server, or upgraded by a
    newer release on another node would otherwise answer ok while requests fail."""
    from importlib.metadata import version

    session.execute(text("SELECT 1"))
    current, head = current_revision(session.connection()), head_revision()
    if current != head:
        found = f"结构版本 {current}" if current else "没有表结构"
        raise ApiError(503, "schema_mismatch", f"数据库{found}，本版本需要 {head}：请重启服务以升级，或检查 XUNCHA_DATABASE_URL")
    return {"status": "ok", "database": "ok", "schema_version": head, "version": version("xuncha")}
