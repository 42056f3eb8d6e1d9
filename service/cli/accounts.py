"""`xuncha user add/list/token/passwd/…` and `xuncha audit [verify]`: account and audit commands that
need no server."""

from __future__ import annotations

import sys
from typing import Any

import typer

from service import accounts, audit
from service.cli.output import stderr
from service.settings import get_settings
from service.store.db import session_factory


def read_password_twice() -> str:
    """The password from standard input, asked twice as a prompt would (a terminal hides the echo)."""
    if sys.stdin.isatty():
        first = typer.prompt("密码", hide_input=True, err=True)
        second = typer.prompt("再次输入密码", hide_input=True, err=True)
    else:
        lines = sys.stdin.read().splitlines()
        if len(lines) < 2:
            raise accounts.AccountError("请在标准输入中给出两次密码（各占一行）")
        first, second = lines[0], lines[1]
    if first != second:
        raise accounts.AccountError("两次输入的密码不一致")
    return first


def add_user(name: str, role: accounts.Role, password: str, temporary: bool = False) -> tuple[str, str]:
    """Create the user; returns (the stored, normalised name, its first token). Its token lives
    XUNCHA_TOKEN_DAYS days."""
    days = get_settings().token_days
    with session_factory()() as session:
        user, token = accounts.create_user(session, name, password, role, temporary=temporary, token_days=days)
        stored = user.name
    audit.record(session_factory(), None, "user_created", stored,
                 {"role": role.value, "via": "cli", "temporary": temporary, "token_days": days}, "cli")
    return stored, token


def new_token(name: str, label: str | None, days: float | None = None) -> str:
    """Another token for the user, valid ``days`` (default XUNCHA_TOKEN_DAYS)."""
    days = days or get_settings().token_days
    with session_factory()() as session:
        user = accounts.named(session, name)
        token = accounts.issue_token(session, user, label, days)
        session.commit()
        stored = user.name
    audit.record(session_factory(), None, "token_created", stored, {"via": "cli", "days": days}, "cli")
    return token


def set_password(name: str, password: str, temporary: bool) -> None:
    """An administrator's reset: the user's web sessions end; ``temporary``: changed at next login."""
    with session_factory()() as session:
        stored = accounts.set_password(session, name, password, temporary).name
    audit.record(session_factory(), None, "password_reset", stored, {"via": "cli", "temporary": temporary}, "cli")


def verify_audit() -> audit.ChainReport:
    with session_factory()() as session:
        return audit.verify_chain(session)


def set_active(name: str, active: bool) -> None:
    with session_factory()() as session:
        accounts.set_active(session, name, active)
    audit.record(session_factory(), None, "user_enabled" if active else "user_disabled", accounts.normalize_name(name), {"via": "cli"}, "cli")


def set_role(name: str, role: accounts.Role) -> None:
    with session_factory()() as session:
        accounts.set_role(session, name, role)
    audit.record(session_factory(), None, "role_changed", accounts.normalize_name(name), {"role": role.value, "via": "cli"}, "cli")


def revoke_tokens(name: str) -> int:
    with session_factory()() as session:
        count = accounts.revoke_tokens(session, name)
    audit.record(session_factory(), None, "tokens_revoked", accounts.normalize_name(name), {"count": count, "via": "cli"}, "cli")
    return count


def delete_user(name: str) -> None:
    with session_factory()() as session:
        accounts.delete_user(session, name)
    audit.record(session_factory(), None, "user_deleted", accounts.normalize_name(name), {"via": "cli"}, "cli")


def users() -> list[dict[str, Any]]:
    with session_factory()() as session:
        return [{"name": u.name, "role": u.role, "active": u.active, "created_at": u.created_at.isoformat()}
                for u in accounts.list_users(session)]


def audit_rows(user: str | None, action: str | None, limit: int) -> list[dict[str, Any]]:
    with session_factory()() as session:
        return audit.query(session, user, action, None, limit)


def say(message: str) -> None:
    stderr.print(message, markup=False, highlight=False)
