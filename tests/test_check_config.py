"""``xuncha check-config``: every setting and what the service needs, checked without creating anything.

Through the real command on a fresh folder, on a library made by the real app (SQLite and, when
``XUNCHA_TEST_POSTGRES_URL`` is set, PostgreSQL), and with settings that would stop the server.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from api_helpers import running_app
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from service.cli.main import app as cli
from service.settings import get_settings
from service.store.db import head_revision

POSTGRES = os.environ.get("XUNCHA_TEST_POSTGRES_URL")  # set by .ci/run after starting a server


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """The CLI's settings from this test's environment only."""
    for key in [k for k in os.environ if k.startswith("XUNCHA_") and k != "XUNCHA_TEST_POSTGRES_URL"]:
        monkeypatch.delenv(key)
    get_settings.cache_clear()
    yield monkeypatch
    get_settings.cache_clear()


def check(*args: str) -> object:
    get_settings.cache_clear()
    return CliRunner().invoke(cli, ["check-config", *args])


def test_a_fresh_folder_is_reported_and_left_untouched(tmp_path: Path, env: pytest.MonkeyPatch) -> None:
    data = tmp_path / "library"
    env.setenv("XUNCHA_DATA_DIR", str(data))
    result = check()
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert any(line.startswith("✓ 数据库：") and "尚未创建" in line and head_revision() in line for line in lines), lines
    assert any("单个文件的处理预算：600 秒，内存 2048 MB" in line for line in lines)
    assert lines[-1].startswith("配置可以启动服务")
    assert not data.exists()  # nothing created by a check


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> Iterator[str | None]:
    if request.param == "sqlite":
        yield None
        return
    if not POSTGRES:
        pytest.skip("XUNCHA_TEST_POSTGRES_URL not set (.ci/run starts a PostgreSQL server)")
    name = f"xuncha_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(POSTGRES).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()


def test_a_library_at_head_in_json(tmp_path: Path, env: pytest.MonkeyPatch, database_url: str | None) -> None:
    data = tmp_path / "data"
    if database_url:
        env.setenv("XUNCHA_DATABASE_URL", database_url)
        # reachable but empty: the first start will create the schema
        empty = json.loads(check("--format", "json").stdout)
        assert "尚无表结构" in next(i for i in empty["items"] if i["name"] == "数据库")["detail"]
    with running_app(data, users=False, database_url=database_url, run_jobs=False, warm_search_index=False):
        pass  # the app migrates its database to head at start
    env.setenv("XUNCHA_DATA_DIR", str(data))
    env.setenv("XUNCHA_ITEM_SECONDS", "90")
    result = check("--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)  # the JSON alone on stdout
    assert report["ok"] is True
    by_name = {item["name"]: item for item in report["items"]}
    assert f"结构为最新版本（{head_revision()}）" in by_name["数据库"]["detail"]
    assert by_name["数据目录"]["detail"].endswith("可写")
    assert by_name["单个文件的处理预算"]["detail"].startswith("90 秒")
    assert {"LibreOffice（转换 .doc/.wps/.rtf）", "文字识别（OCR）模型"} <= set(by_name)


@pytest.mark.parametrize(
    ("variable", "value", "named"),
    [
        ("XUNCHA_ITEM_MEMORY_MB", "abc", "须为整数"),
        ("XUNCHA_ITEM_MEMORY_MB", "100", "不小于 256"),
        ("XUNCHA_ITEM_SECONDS", "0", "大于 0"),
        ("XUNCHA_DATABASE_URL", "not-a-url", "不是有效的数据库地址"),
        ("XUNCHA_DATABASE_URL", "postgresql+psycopg://xuncha@127.0.0.1:1/xuncha", "无法连接数据库"),
    ],
)
def test_a_setting_that_would_stop_the_server_is_one_line_and_exit_1(
    tmp_path: Path, env: pytest.MonkeyPatch, variable: str, value: str, named: str
) -> None:
    env.setenv("XUNCHA_DATA_DIR", str(tmp_path / "data"))
    env.setenv(variable, value)
    result = check()
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and named in lines[0] and "Traceback" not in result.output, result.output
    assert result.stdout == ""
    if variable.startswith("XUNCHA_ITEM"):
        assert variable in lines[0]


def test_health_fails_when_the_schema_is_not_this_releases(tmp_path: Path, database_url: str | None) -> None:
    """A database restored from an older backup (or upgraded by a newer release elsewhere) under a running
    server: /health says so with 503 instead of ok while requests fail."""
    from api_helpers import API

    head = head_revision()
    with running_app(tmp_path / "data", users=False, database_url=database_url, run_jobs=False, warm_search_index=False) as api:
        ok = api.client.get(f"{API}/health")
        assert ok.status_code == 200 and ok.json()["schema_version"] == head
        with api.make_session() as session:
            session.execute(text("UPDATE alembic_version SET version_num = '0007'"))
            session.commit()
        behind = api.client.get(f"{API}/health")
        assert behind.status_code == 503
        error = behind.json()["error"]
        assert error["code"] == "schema_mismatch" and "0007" in error["message"] and head in error["message"]
        with api.make_session() as session:
            session.execute(text("DELETE FROM alembic_version"))
            session.commit()
        missing = api.client.get(f"{API}/health")
        assert missing.status_code == 503 and "没有表结构" in missing.json()["error"]["message"]
        with api.make_session() as session:
            session.execute(text("INSERT INTO alembic_version (version_num) VALUES (:head)"), {"head": head})
            session.commit()
        assert api.client.get(f"{API}/health").status_code == 200
