"""Accounts: users with argon2id password hashes, API tokens and web sessions, roles.

Secrets (tokens, session ids) are random 256-bit strings shown once; only their sha256 is stored,
so the database alone cannot be used to log in. Roles are ordered: a higher role may do all a
lower one may (viewer reads; analyst also uploads and corrects tags; admin also manages users,
deletes documents and reads the audit log).

What a 等保 2.0 review asks of 身份鉴别 is enforced here, whoever calls (CLI or API): the password rule
(:func:`password_problem`: length, three character classes, not the user name, not a common
password), user names normalised (NFKC, case-folded) and refused when confusable with a taken one,
tokens that expire (``XUNCHA_TOKEN_DAYS``, default 90), and temporary passwords that must be changed
before anything else (``must_change_password``, enforced by ``service.api.deps``).
"""

from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import lru_cache
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from nlp.errors import XunchaError
from service.store import models

TOKEN_PREFIX = "xc_"
SESSION_HOURS = 12
MIN_PASSWORD_CHARS = 10  # 等保 2.0 (GB/T 22239-2019) 身份鉴别: complexity and length
MIN_PASSWORD_CLASSES = 3  # of upper case, lower case, digits, other characters
DEFAULT_TOKEN_DAYS = 90.0  # XUNCHA_TOKEN_DAYS: an API token expires unless a lifetime is given
COMMON_PASSWORDS = Path(__file__).resolve().parent / "data" / "common_passwords.txt"
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
    default_message = f"密码至少需要 {MIN_PASSWORD_CHARS} 个字符，并包含大写字母、小写字母、数字、符号中的至少三类"


class ConfusableNameError(AccountError):
    code = "confusable_user_name"
    default_message = "用户名与已有用户过于相似"


class WrongPasswordError(AccountError):
    code = "wrong_password"
    default_message = "当前密码不正确"


class InvalidUserNameError(AccountError):
    code = "invalid_user_name"
    default_message = "用户名只能包含汉字、字母、数字和 . - _ @，最长 64 个字符"


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


# --- the password rule -----------------------------------------------------------------------------


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    """The bundled list of common passwords (lower case), read once."""
    lines = COMMON_PASSWORDS.read_text(encoding="utf-8").splitlines()
    return frozenset(x.strip().casefold() for x in lines if x.strip() and not x.startswith("#"))


def _classes(password: str) -> int:
    """How many of the four character classes the password uses (CJK and spaces count as symbols)."""
    return sum((
        any(c.isupper() for c in password),
        any(c.islower() for c in password),
        any(c.isdigit() for c in password),
        any(not (c.isupper() or c.islower() or c.isdigit()) for c in password),
    ))


def _is_common(password: str) -> bool:
    """Listed, or a listed word with digits and symbols added at its ends (Password2024!, !!qwerty1)."""
    folded = password.casefold()
    core = folded.strip("0123456789!@#$%^&*()_+-=.,?~`'\"|/\\<>[]{};: ")
    return folded in common_passwords() or (bool(core) and core in common_passwords())


def password_problem(password: str, name: str) -> str | None:
    """What is wrong with ``password`` for the user ``name`` under the rule, in Chinese; None if it passes.
    The rule is the one a 等保 2.0 review expects: length, three classes, not the user name, not common."""
    if len(password) < MIN_PASSWORD_CHARS:
        return f"密码太短：至少需要 {MIN_PASSWORD_CHARS} 个字符（现有 {len(password)} 个）"
    if _classes(password) < MIN_PASSWORD_CLASSES:
        return f"密码须包含大写字母、小写字母、数字、符号四类中的至少三类（现只有 {_classes(password)} 类）"
    folded, user = normalize_name(password), normalize_name(name)
    compact = re.sub(r"[\W_]+", "", folded)  # Zhang.San-2049 holds zhangsan too
    if user and (folded == user or (len(user) >= 3 and (user in folded or re.sub(r"[\W_]+", "", user) in compact))):
        return "密码不能包含用户名（不区分大小写）"
    if _is_common(password):
        return "密码过于常见（在常用密码表中，或只是在常用密码前后加了数字、符号），请换一个"
    return None


def check_password(password: str, name: str) -> None:
    problem = password_problem(password, name)
    if problem:
        raise WeakPasswordError(problem)


# --- user names ------------------------------------------------------------------------------------

# Letters of other scripts drawn like Latin ones (Cyrillic, Greek), as lower case after case folding,
# and a few Latin look-alikes of each other: enough to refuse аdmin (Cyrillic а) beside admin.
CONFUSABLES = str.maketrans({
    "а": "a", "в": "b", "е": "e", "ё": "e", "з": "3", "и": "u", "й": "u", "к": "k", "м": "m", "н": "h",
    "о": "o", "п": "n", "р": "p", "с": "c", "т": "t", "у": "y", "х": "x", "ѕ": "s", "і": "i", "ї": "i",
    "ј": "j", "һ": "h", "ԁ": "d", "ԛ": "q", "ԝ": "w", "ь": "b", "г": "r", "л": "n", "ц": "u", "ш": "w",
    "α": "a", "β": "b", "γ": "y", "δ": "d", "ε": "e", "ζ": "z", "η": "n", "ι": "i", "κ": "k", "ν": "v",
    "ο": "o", "ρ": "p", "σ": "o", "ς": "c", "τ": "t", "υ": "u", "χ": "x", "ω": "w", "μ": "u", "ϲ": "c",
    "ı": "i", "ɑ": "a", "ɡ": "g", "0": "o", "1": "l", "|": "l", "5": "s",
})


def normalize_name(name: str) -> str:
    """The form a user name is stored and looked up in: NFKC (full-width ａ is a) and case-folded
    (Admin is admin), normalised again because folding can leave a non-NFKC string."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name or "").casefold())


def name_skeleton(name: str) -> str:
    """What a name looks like: two names with one skeleton are confusable on screen."""
    return normalize_name(name).translate(CONFUSABLES).replace("rn", "m").replace("vv", "w")


def _find(session: Session, name: str) -> models.User | None:
    """The user named ``name`` (normalised; a name stored before normalisation is found as typed)."""
    normal = normalize_name(name)
    users = list(session.scalars(select(models.User).where(models.User.name.in_({normal, name or ""}))))
    return next((u for u in users if u.name == normal), users[0] if users else None)


def _check_new_name(session: Session, name: str) -> None:
    """Refuse a name already taken or confusable with a taken one."""
    if _find(session, name) is not None:
        raise UserExistsError(f"用户 {name} 已存在")
    skeleton = name_skeleton(name)
    for other in session.scalars(select(models.User.name)):
        if name_skeleton(other) == skeleton:
            raise ConfusableNameError(f"用户名 {name} 与已有用户 {other} 容易混淆（大小写、全角或形近字母），请换一个")


def create_user(
    session: Session, name: str, password: str, role: Role | str, *,
    temporary: bool = False, token_days: float | None = DEFAULT_TOKEN_DAYS,
) -> tuple[models.User, str]:
    """Create a user and a first API token; returns the user and the token (shown once). A
    ``temporary`` password must be changed at first use before anything else is allowed."""
    normal = normalize_name(name)
    if not USER_NAME.match(normal):
        raise InvalidUserNameError()
    check_password(password, normal)
    role = Role(role)
    _check_new_name(session, normal)
    user = models.User(name=normal, password_hash=hash_password(password), role=role.value, active=True,
                       must_change_password=temporary)
    session.add(user)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise UserExistsError(f"用户 {normal} 已存在") from None
    token = issue_token(session, user, label="created with the user", days=token_days)
    session.commit()
    return user, token


def issue_token(session: Session, user: models.User, label: str | None = None, days: float | None = DEFAULT_TOKEN_DAYS) -> str:
    """A new API token for ``user`` (shown once), valid for ``days`` (None: until revoked, only for
    callers that ask for it explicitly; every command and route passes XUNCHA_TOKEN_DAYS or --days)."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    expires = datetime.now(UTC) + timedelta(days=days) if days else None
    session.add(models.Credential(user_id=user.id, kind="token", secret_hash=_digest(token), label=label, expires_at=expires))
    return token


class NoSuchUserError(AccountError):
    code = "no_such_user"
    default_message = "没有这个用户"


def named(session: Session, name: str) -> models.User:
    """The user called ``name``, or a Chinese NoSuchUserError."""
    user = _find(session, name)
    if user is None:
        raise NoSuchUserError(f"没有用户 {name}")
    return user


def set_active(session: Session, name: str, active: bool) -> models.User:
    """Enable or disable a user. Disabling ends the user's web sessions at once; its tokens stop
    working at once too (every request checks ``active``) and work again if the user is enabled."""
    user = named(session, name)
    user.active = active
    if not active:
        session.execute(delete(models.Credential).where(models.Credential.user_id == user.id, models.Credential.kind == "session"))
    session.commit()
    return user


def set_role(session: Session, name: str, role: Role | str) -> models.User:
    user = named(session, name)
    user.role = Role(role).value
    session.commit()
    return user


def revoke_tokens(session: Session, name: str) -> int:
    """Delete every API token of the user (sessions stay); returns how many were revoked."""
    user = named(session, name)
    result = session.execute(delete(models.Credential).where(models.Credential.user_id == user.id, models.Credential.kind == "token"))
    session.commit()
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def delete_user(session: Session, name: str) -> None:
    """Remove a user and every credential (explicitly: SQLite may run with foreign keys off); the
    audit log keeps the name in its rows."""
    user = named(session, name)
    session.execute(delete(models.Credential).where(models.Credential.user_id == user.id))
    session.delete(user)
    session.commit()


def authenticate(session: Session, name: str, password: str) -> models.User | None:
    """The active user with this name and password, else None (same work either way: no timing oracle)."""
    user = _find(session, name)
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


def _end_sessions(session: Session, user: models.User, keep: str | None = None) -> None:
    stmt = delete(models.Credential).where(models.Credential.user_id == user.id, models.Credential.kind == "session")
    if keep:
        stmt = stmt.where(models.Credential.secret_hash != _digest(keep))
    session.execute(stmt)


def change_password(session: Session, name: str, current: str, new: str, keep_session: str | None = None) -> models.User:
    """The user's own change: the current password is checked, the new one must pass the rule and
    differ from it. Other web sessions end (a stolen session does not survive the change); the
    session the change came from (``keep_session``) and the API tokens stay."""
    user = authenticate(session, name, current)
    if user is None:
        raise WrongPasswordError()
    if new == current:
        raise WeakPasswordError("新密码不能与当前密码相同")
    check_password(new, user.name)
    user.password_hash = hash_password(new)
    user.must_change_password = False
    _end_sessions(session, user, keep_session)
    session.commit()
    return user


def set_password(session: Session, name: str, new: str, temporary: bool = False) -> models.User:
    """An administrator sets the password (``xuncha user passwd``): every web session of the user
    ends; with ``temporary`` the user must choose a new one at next login."""
    user = named(session, name)
    check_password(new, user.name)
    user.password_hash = hash_password(new)
    user.must_change_password = temporary
    _end_sessions(session, user)
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
