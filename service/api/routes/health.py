"""Liveness and readiness; the one route open without credentials (it reveals no data)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlalchemy import text

from service.api.deps import SessionDep

router = APIRouter(tags=["health"])


@router.get("/health", summary="健康检查（无需登录）")
def health(session: SessionDep) -> dict[str, Any]:
    from importlib.metadata import version

    session.execute(text("SELECT 1"))
    return {"status": "ok", "database": "ok", "version": version("xuncha")}
