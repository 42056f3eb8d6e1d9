"""Configuration refused at start-up in one Chinese line, never a traceback or a server that 500s.

Seen before this module: ``XUNCHA_DATABASE_URL=sqlite:///`` started a server whose every request
failed (an in-memory database per connection, no tables); ``not-a-url`` printed a 55-line traceback;
an unreachable PostgreSQL or a read-only data folder a traceback; a URL into a missing folder created
the folder silently; an unwritable uploads folder made each upload a 500.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from pydantic import ValidationError
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from nlp.errors import XunchaError

SUPPORTED_BACKENDS = ("sqlite", "postgresql")


class ConfigurationError(XunchaError):
    code = "bad_configuration"
    default_message = "配置有误"


def safe_url(url: str) -> str:
    """The URL as it may be printed: the password masked."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


def parse_database_url(url: str, explicit: bool = True) -> URL:
    """``url`` parsed, or a :class:`ConfigurationError` naming what is wrong with it. ``explicit``: the
    URL was given (``XUNCHA_DATABASE_URL``), not derived from the data folder, so its folder must exist."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigurationError(
            f"XUNCHA_DATABASE_URL 不是有效的数据库地址：{url!r}"
            "（例如 sqlite:///data/xuncha.db 或 postgresql+psycopg://用户:密码@主机:5432/库名）"
        ) from None
    backend = parsed.get_backend_name()
    if backend not in SUPPORTED_BACKENDS:
        raise ConfigurationError(f"不支持的数据库类型 {backend!r}：请使用 SQLite（sqlite:///…）或 PostgreSQL（postgresql+psycopg://…）")
    if backend == "sqlite":
        path = parsed.database or ""
        if path in ("", ":memory:") or path.startswith("file::memory:"):
            raise ConfigurationError(
                f"XUNCHA_DATABASE_URL={url!r} 指向内存数据库：每个连接各自为空、重启即丢失。请给出数据库文件路径，如 sqlite:///data/xuncha.db"
            )
        folder = Path(path).expanduser().resolve().parent
        if explicit and not folder.is_dir():
            raise ConfigurationError(f"数据库文件所在的目录不存在：{folder}（请先创建，或改正 XUNCHA_DATABASE_URL）")
    elif not parsed.database:
        raise ConfigurationError(f"XUNCHA_DATABASE_URL 未给出数据库名：{safe_url(url)}")
    return parsed


def check_writable_folder(folder: Path, what: str) -> None:
    """Create ``folder`` if needed and prove a file can be written there."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-check-", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise ConfigurationError(f"{what}不可写：{folder}（{exc.strerror or exc}）。请检查 XUNCHA_DATA_DIR 与目录权限") from None


def check_data_folders(data_dir: Path, uploads_dir: Path, files_dir: Path) -> None:
    check_writable_folder(data_dir, "数据目录")
    check_writable_folder(uploads_dir, "上传暂存目录")
    check_writable_folder(files_dir, "文件库目录")


def settings_error(exc: ValidationError) -> ConfigurationError:
    """The first invalid setting as one Chinese line naming its variable, e.g.
    ``XUNCHA_TOKEN_DAYS 的值无效（'abc'）：须为大于 0 且不超过 3650 的数``."""
    problem = exc.errors()[0]
    field = ".".join(str(p) for p in problem.get("loc", ())) or "?"
    value = problem.get("input")
    limits = problem.get("ctx") or {}
    if problem.get("type") in ("greater_than", "less_than_equal", "greater_than_equal", "less_than") or field == "token_days":
        wanted = _range_text(field, limits)
    else:
        wanted = _TYPE_TEXT.get(str(problem.get("type", "")).split("_")[0], "格式不正确")
    return ConfigurationError(f"XUNCHA_{field.upper()} 的值无效（{str(value)[:60]!r}）：{wanted}")


_TYPE_TEXT = {"float": "须为数字", "int": "须为整数", "bool": "须为 true 或 false", "string": "须为文字", "path": "须为路径"}


def _range_text(field: str, limits: dict[str, object]) -> str:
    if field == "token_days":
        return "须为大于 0 且不超过 3650 的天数"
    bounds = [f"{'大于' if k == 'gt' else '不小于' if k == 'ge' else '小于' if k == 'lt' else '不超过'} {v}" for k, v in limits.items()]
    return "须" + "且".join(bounds) if bounds else "超出允许范围"
