"""Configuration refused at start-up in one Chinese line, never a traceback or a server that 500s.

Seen before this module: ``XUNCHA_DATABASE_URL=sqlite:///`` started a server whose every request
failed (an in-memory database per connection, no tables); ``not-a-url`` printed a 55-line traceback;
an unreachable PostgreSQL or a read-only data folder a traceback; a URL into a missing folder created
the folder silently; an unwritable uploads folder made each upload a 500.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


@dataclass
class ConfigItem:
    """One line of ``xuncha check-config``: what was checked, and what was found."""

    name: str
    ok: bool
    detail: str


def check_configuration(settings: Any) -> list[ConfigItem]:
    """Every setting and what the service needs, checked without creating or changing anything.

    Raises ConfigurationError for what would stop ``xuncha serve`` (a bad URL, an unreachable
    database, a data folder that cannot be written); reports the rest — a folder or schema the first
    start creates, a missing LibreOffice (only .doc/.wps need it) — as lines, so an operator sees the
    whole state of an installation before starting it.
    """
    url = settings.resolved_database_url
    parsed = parse_database_url(url, explicit=settings.database_url is not None)
    items = [_database_item(url, parsed)]
    for folder, what in ((settings.data_dir, "数据目录"), (settings.uploads_dir, "上传暂存目录"), (settings.files_dir, "文件库目录")):
        items.append(_folder_item(Path(folder), what))
    items.append(ConfigItem("单个文件的处理预算", True, f"{settings.item_seconds:g} 秒，内存 {settings.item_memory_mb} MB"
                            "（XUNCHA_ITEM_SECONDS、XUNCHA_ITEM_MEMORY_MB）"))
    items.append(ConfigItem("上传上限", True, f"单个文件 {settings.max_file_mb:g} MB，每次 {settings.max_request_mb:g} MB、"
                            f"{settings.max_files_per_upload} 个文件；JSON 请求 {settings.max_json_kb:g} KB"))
    items.append(ConfigItem("令牌有效期", True, f"{settings.token_days:g} 天（XUNCHA_TOKEN_DAYS）"))
    items.append(_converter_item())
    items.append(_ocr_item())
    return items


def _database_item(url: str, parsed: URL) -> ConfigItem:
    from sqlalchemy import create_engine
    from sqlalchemy.exc import InterfaceError, OperationalError

    from service.store.db import _unreachable, current_revision, head_revision

    head = head_revision()
    if parsed.get_backend_name() == "sqlite" and not Path(parsed.database or "").expanduser().exists():
        return ConfigItem("数据库", True, f"{safe_url(url)}：尚未创建（首次启动时建立，结构版本 {head}）")
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            current = current_revision(connection)
    except (OperationalError, InterfaceError) as exc:
        raise _unreachable(url, exc) from None
    finally:
        engine.dispose()
    if current == head:
        state = f"结构为最新版本（{head}）"
    elif current is None:
        state = f"可以连接，尚无表结构（首次启动时建立，版本 {head}）"
    else:
        state = f"结构版本 {current}，启动时将升级到 {head}"
    return ConfigItem("数据库", True, f"{safe_url(url)}：{state}")


def _folder_item(folder: Path, what: str) -> ConfigItem:
    if folder.is_dir():
        writable = os.access(folder, os.W_OK | os.X_OK)
        if not writable:
            raise ConfigurationError(f"{what}不可写：{folder}。请检查 XUNCHA_DATA_DIR 与目录权限")
        return ConfigItem(what, True, f"{folder.resolve()}：可写")
    parent = next((p for p in folder.resolve().parents if p.exists()), None)
    if parent is None or not os.access(parent, os.W_OK | os.X_OK):
        raise ConfigurationError(f"{what}不存在且无法创建：{folder}。请检查 XUNCHA_DATA_DIR 与目录权限")
    return ConfigItem(what, True, f"{folder.resolve()}：尚未创建（首次启动时创建）")


def _converter_item() -> ConfigItem:
    from nlp.extract.office import find_converter

    try:
        return ConfigItem("LibreOffice（转换 .doc/.wps/.rtf）", True, find_converter())
    except XunchaError as exc:
        return ConfigItem("LibreOffice（转换 .doc/.wps/.rtf）", False, exc.message)


def _ocr_item() -> ConfigItem:
    from nlp.extract.ocr import model_paths

    try:
        missing = [p.name for p in model_paths() if not p.is_file()]
    except XunchaError as exc:
        return ConfigItem("文字识别（OCR）模型", False, exc.message)
    if missing:
        return ConfigItem("文字识别（OCR）模型", False, f"缺少模型文件：{'、'.join(missing)}（扫描件、图片无法识别）")
    return ConfigItem("文字识别（OCR）模型", True, "已安装（随软件包离线提供）")
