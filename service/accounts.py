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


def issue_token(session: Session, user: models.User, label: str | None = None) -> str:
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(models.Credential(user_id=user.id, kind="token", secret_hash=_digest(token), label=label))
    return token


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
    return user if user.active else None


def list_users(session: Session) -> list[models.User]:
    return list(session.scalars(select(models.User).order_by(models.User.name)))
