"""Accounts: users with argon2id password hashes, API tokens and web sessions, roles.

Secrets (tokens, session ids) are random 256-bit strings shown once; only their sha256 is stored,
so the database alone cannot be used to log in. Roles are ordered: a higher role may do all a
lower one may (viewer reads; analyst also uploads and corrects tags; admin also manages users,
deletes documents and reads the audit log).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from nlp.errors import XunchaError
from service.store import models

TOKEN_PREFIX = "xc_"
SESSION_HOURS = 12
MIN_PASSWORD_CHARS = 8
_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
_DUMMY_HASH = _hasher.hash("timing-equaliser")
USER_NAME = re.compile(r"^[\w.\-@\u4e00-\u9fff]{1,64}$")


class Role(StrEnum):
    VIEWER = "viewer"
    ANALYST = "analyst"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return list(Role).index(self)

    def allows(self, needed: Role) -> bool:
        return self.rank >= needed.rank


ROLE_NAMES = {Role.VIEWER: "查看员", Role.ANALYST: "分析员", Role.ADMIN: "管理员"}


class AccountError(XunchaError):
    code = "account_error"
    default_message = "账户操作失败"


class UserExistsError(AccountError):
    code = "user_exists"
    default_message = "用户已存在"


class WeakPasswordError(AccountError):
    code = "weak_password"
    default_message = f"密码至少需要 {MIN_PASSWORD_CHARS} 个字符"


class InvalidUserNameError(AccountError):
    code = "invalid_user_name"
    default_message = "用户名只能包含汉字、字母、数字和 . - _ @，最长 64 个字符"


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def create_user(session: Session, name: str, password: str, role: Role | str) -> tuple[models.User, str]:
    """Create a user and a first API token; returns the user and the token (shown once)."""
    if not USER_NAME.match(name or ""):
        raise InvalidUserNameError()
    if len(password) < MIN_PASSWORD_CHARS:
        raise WeakPasswordError()
    role = Role(role)
    user = models.User(name=name, password_hash=hash_password(password), role=role.value, active=True)
    session.add(user)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise UserExistsError(f"用户 {name} 已存在") from None
    token = issue_token(session, user, label="created with the user")
    session.commit()
    return user, token


def issue_token(session: Session, user: models.User, label: str | None = None, days: float | None = None) -> str:
    """A new API token for ``user`` (shown once), valid for ``days`` or until revoked."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    expires = datetime.now(UTC) + timedelta(days=days) if days else None
    session.add(models.Credential(user_id=user.id, kind="token", secret_hash=_digest(token), label=label, expires_at=expires))
    return token


class NoSuchUserError(AccountError):
    code = "no_such_user"
    default_message = "没有这个用户"


def _named(session: Session, name: str) -> models.User:
    user = session.scalar(select(models.User).where(models.User.name == name))
    if user is None:
        raise NoSuchUserError(f"没有用户 {name}")
    return user


def set_active(session: Session, name: str, active: bool) -> models.User:
    """Enable or disable a user. Disabling ends the user's web sessions at once; its tokens stop
    working at once too (every request checks ``active``) and work again if the user is enabled."""
    user = _named(session, name)
    user.active = active
    if not active:
        session.execute(delete(models.Credential).where(models.Credential.user_id == user.id, models.Credential.kind == "session"))
    session.commit()
    return user


def set_role(session: Session, name: str, role: Role | str) -> models.User:
    user = _named(session, name)
    user.role = Role(role).value
    session.commit()
    return user


def revoke_tokens(session: Session, name: str) -> int:
    """Delete every API token of the user (sessions stay); returns how many were revoked."""
    user = _named(session, name)
    result = session.execute(delete(models.Credential).where(models.Credential.user_id == user.id, models.Credential.kind == "token"))
    session.commit()
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def delete_user(session: Session, name: str) -> None:
    """Remove a user and every credential (explicitly: SQLite may run with foreign keys off); the
    audit log keeps the name in its rows."""
    user = _named(session, name)
    session.execute(delete(models.Credential).where(models.Credential.user_id == user.id))
    session.delete(user)
    session.commit()


def authenticate(session: Session, name: str, password: str) -> models.User | None:
    """The active user with this name and password, else None (same work either way: no timing oracle)."""
    user = session.scalar(select(models.User).where(models.User.name == name))
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None or not user.active:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
        session.commit()
    return user


def open_session(session: Session, user: models.User) -> str:
    """A web session id for the cookie; expires after SESSION_HOURS."""
    secret = secrets.token_urlsafe(32)
    expires = datetime.now(UTC) + timedelta(hours=SESSION_HOURS)
    session.add(models.Credential(user_id=user.id, kind="session", secret_hash=_digest(secret), expires_at=expires))
    session.execute(
        delete(models.Credential).where(models.Credential.kind == "session", models.Credential.expires_at < datetime.now(UTC))
    )
    session.commit()
    return secret


def close_session(session: Session, secret: str) -> None:
    session.execute(delete(models.Credential).where(models.Credential.secret_hash == _digest(secret)))
    session.commit()


def user_for_secret(session: Session, secret: str, kind: str) -> models.User | None:
    """The active user a token or session id stands for, or None if unknown, expired or disabled."""
    if not secret or len(secret) > 200:
        return None
    cred = session.scalar(
        select(models.Credential).where(models.Credential.secret_hash == _digest(secret), models.Credential.kind == kind)
    )
    if cred is None:
        return None
    expires = cred.expires_at
    if expires is not None:
        if expires.tzinfo is None:  # SQLite returns naive datetimes; they were written in UTC
            expires = expires.replace(tzinfo=UTC)
        if expires < datetime.now(UTC):
            return None
    user = cred.user
    if user is None:  # the user row is gone (removed by hand with foreign keys off)
        return None
    created = user.created_at.replace(tzinfo=UTC) if user.created_at.tzinfo is None else user.created_at
    issued = cred.created_at.replace(tzinfo=UTC) if cred.created_at.tzinfo is None else cred.created_at
    if issued < created:  # issued to an earlier user whose row id was reused: never the new user's
        return None
    return user if user.active else None


def list_users(session: Session) -> list[models.User]:
    return list(session.scalars(select(models.User).order_by(models.User.name)))
