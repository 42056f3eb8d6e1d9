"""Bad configuration is one Chinese line on stderr and exit 1, from the real command, before
anything says the service is up (issue: hardened for a government network, row 8)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from service.config_check import ConfigurationError, parse_database_url


def _serve(tmp_path: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("XUNCHA_")}
    base.setdefault("XUNCHA_DATA_DIR", str(tmp_path / "data"))
    return subprocess.run(
        [sys.executable, "-m", "service", "serve", "--port", str(_free_port()), *args],
        env={**base, **env, "PYTHONIOENCODING": "utf-8"}, cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _one_line(result: subprocess.CompletedProcess[str], *expected: str) -> None:
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("错误 [bad_configuration]"), lines[0]
    for text in expected:
        assert text in lines[0], lines[0]
    assert "Traceback" not in result.stderr and result.stdout == ""


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("not-a-url", "不是有效的数据库地址"),
        ("sqlite:///", "内存数据库"),
        ("sqlite://", "内存数据库"),
        ("mysql://u@h/db", "不支持的数据库类型"),
        ("postgresql+psycopg://u:topsecret@127.0.0.1:1/db", "无法连接数据库"),
    ],
)
def test_bad_database_url_is_one_line_and_exit_1(tmp_path: Path, url: str, expected: str) -> None:
    result = _serve(tmp_path, {"XUNCHA_DATABASE_URL": url})
    _one_line(result, expected)
    assert "topsecret" not in result.stderr  # a password is never printed


def test_database_url_into_a_missing_folder_is_refused_not_created(tmp_path: Path) -> None:
    missing = tmp_path / "no" / "such" / "folder"
    result = _serve(tmp_path, {"XUNCHA_DATABASE_URL": f"sqlite:///{missing}/x.db"})
    _one_line(result, "目录不存在", str(missing))
    assert not missing.exists()


def test_data_folder_that_cannot_be_written_is_refused(tmp_path: Path) -> None:
    blocker = tmp_path / "data-is-a-file"
    blocker.write_text("not a folder")
    db = tmp_path / "db"
    db.mkdir()
    result = _serve(tmp_path, {"XUNCHA_DATA_DIR": str(blocker), "XUNCHA_DATABASE_URL": f"sqlite:///{db}/x.db"})
    _one_line(result, "数据目录不可写")


def test_busy_port_is_one_chinese_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        base = {k: v for k, v in os.environ.items() if not k.startswith("XUNCHA_")}
        result = subprocess.run(
            [sys.executable, "-m", "service", "serve", "--port", str(port)],
            env={**base, "XUNCHA_DATA_DIR": str(tmp_path / "data"), "PYTHONIOENCODING": "utf-8"},
            cwd=tmp_path, capture_output=True, text=True, timeout=60,
        )
    _one_line(result, "端口已被占用", str(port))


def test_a_good_url_parses_and_a_derived_one_may_create_its_folder(tmp_path: Path) -> None:
    assert parse_database_url(f"sqlite:///{tmp_path}/x.db").get_backend_name() == "sqlite"
    assert parse_database_url(f"sqlite:///{tmp_path}/new/x.db", explicit=False).database
    with pytest.raises(ConfigurationError):
        parse_database_url(f"sqlite:///{tmp_path}/new/x.db")
    assert parse_database_url("postgresql+psycopg://u@h/db").get_backend_name() == "postgresql"
