"""Accounts hardened for a government network (issue 14): the 等保 2.0 password rule, normalised and
unconfusable user names, expiring tokens, forced change of a temporary password, user ids never
reused, the login throttle shared through the database by two real worker processes, refused
credentials and CSRF refusals audited without flooding the log, and the audit hash chain with
``xuncha audit verify`` — on SQLite and PostgreSQL where the database matters."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from api_helpers import API, CSRF, PASSWORD, Api, audit_rows, auth, running_app
from sqlalchemy import select, text
from test_api_reliability import Server, library_url, make_token, servers  # noqa: F401  (fixtures)
from typer.testing import CliRunner

from service import accounts, audit
from service.cli.main import app as cli
from service.settings import get_settings
from service.store import models
from service.store.db import get_engine, session_factory

STRONG = "Kexue-Fazhan-2049"
QUIET = {"warm_search_index": False, "run_jobs": False}  # no upload worker, no index warm-up: a faster start


def xuncha(*args: str, input: str | None = None) -> Any:
    return CliRunner().invoke(cli, list(args), input=input)


@pytest.fixture
def cli_db(library_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[str]:  # noqa: F811
    """The CLI pointed at a fresh SQLite or PostgreSQL library."""
    monkeypatch.setenv("XUNCHA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("XUNCHA_DATABASE_URL", library_url)
    (tmp_path / "data").mkdir(exist_ok=True)
    get_settings.cache_clear()
    yield library_url
    get_settings.cache_clear()
    get_engine(library_url).dispose()


# --- 1. the password rule -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "name", "says"),
    [
        ("Ab1!xyz", "zhang", "至少需要 10 个字符"),
        ("abcdefghijkl", "zhang", "至少三类（现只有 1 类）"),
        ("abcdefgh12", "zhang", "至少三类（现只有 2 类）"),
        ("Zhang.San-2049", "zhangsan", "不能包含用户名"),
        ("my-ZHANGSAN-pw1", "zhangsan", "不能包含用户名"),
        ("P@ssw0rd123", "zhang", "过于常见"),
        ("Password2024!", "zhang", "过于常见"),
        ("!!Qwerty123", "zhang", "过于常见"),
        ("Admin@123456", "zhang", "过于常见"),
    ],
)
def test_password_rule_names_the_rule_that_failed(password: str, name: str, says: str) -> None:
    problem = accounts.password_problem(password, name)
    assert problem is not None and says in problem


def test_password_rule_passes_good_passwords_and_bundles_a_real_list() -> None:
    for password, name in ((STRONG, "zhang"), (PASSWORD, "admin"), ("巡察工作2049ab", "李四"), ("Correct horse 9", "ab")):
        assert accounts.password_problem(password, name) is None, password
    listed = accounts.common_passwords()
    assert len(listed) >= 500 and {"123456", "password", "qwerty", "1qaz2wsx", "woaini1314", "admin@123"} <= listed


def test_password_rule_applies_to_the_api_the_cli_and_changes(tmp_path: Path) -> None:
    with running_app(tmp_path / "data", **QUIET) as api:
        weak = api.call("POST", "/users", json={"name": "zhangsan", "password": "zhangsan2049!", "role": "viewer"})
        assert weak.status_code == 422 and weak.json()["error"]["code"] == "weak_password"
        assert "不能包含用户名" in weak.json()["error"]["message"]
        common = api.call("POST", "/users", json={"name": "lisi", "password": "Qwerty123456", "role": "viewer"})
        assert common.status_code == 422 and "过于常见" in common.json()["error"]["message"]
        names = [u["name"] for u in api.ok("GET", "/users")["items"]]
        assert "zhangsan" not in names and "lisi" not in names
        change = api.call("POST", "/auth/password", "viewer", json={"current_password": PASSWORD, "new_password": "aaaaaaaaaaaa"})
        assert change.status_code == 422 and "至少三类" in change.json()["error"]["message"]
        assert api.client.post(f"{API}/auth/login", json={"username": "viewer", "password": PASSWORD}).status_code == 200


# --- 2. user names --------------------------------------------------------------------------------


def test_names_are_normalised_and_confusable_ones_refused(tmp_path: Path) -> None:
    with running_app(tmp_path / "data", **QUIET) as api:
        created = api.ok("POST", "/users", json={"name": "Admin1", "password": STRONG, "role": "analyst"}, status=201)
        assert created["name"] == "admin1"
        for twin, code in (("ADMIN1", "user_exists"), ("ａｄｍｉｎ１", "user_exists"), ("\u0430dmin1", "confusable_user_name"),
                           ("adminl", "confusable_user_name"), ("\u0391DMIN1", "confusable_user_name")):
            response = api.call("POST", "/users", json={"name": twin, "password": STRONG, "role": "viewer"})
            assert response.json()["error"]["code"] == code, twin
            assert response.status_code in (409, 422) and "admin1" in response.json()["error"]["message"]
        assert sorted(u["name"] for u in api.ok("GET", "/users")["items"]) == ["admin", "admin1", "analyst", "viewer"]
        for typed in ("Admin1", "ＡＤＭＩＮ１"):  # the login finds the one user whatever the case or width
            login = api.client.post(f"{API}/auth/login", json={"username": typed, "password": STRONG})
            assert login.status_code == 200 and login.json()["user"]["name"] == "admin1"


# --- 3. token expiry ------------------------------------------------------------------------------


def _token_expiry(api: Api, token: str) -> datetime:
    import hashlib

    with api.make_session() as session:
        cred = session.scalar(select(models.Credential).where(models.Credential.secret_hash == hashlib.sha256(token.encode()).hexdigest()))
        assert cred is not None and cred.expires_at is not None
        return cred.expires_at


def test_tokens_expire_after_the_configured_days_and_an_expired_one_is_401(tmp_path: Path) -> None:
    with running_app(tmp_path / "a", **QUIET) as api:
        created = api.ok("POST", "/users", json={"name": "wangwu", "password": STRONG, "role": "viewer"}, status=201)
        left = _token_expiry(api, created["token"]) - datetime.now(UTC)
        assert timedelta(days=89, hours=23) < left <= timedelta(days=90)
        with sqlite3.connect(api.settings.data_dir / "xuncha.db") as db:
            db.execute("UPDATE credentials SET expires_at = '2001-01-01 00:00:00.000000' WHERE kind = 'token' "
                       "AND user_id = (SELECT id FROM users WHERE name = 'wangwu')")
        refused = api.client.get(f"{API}/auth/me", headers=auth(created["token"]))
        assert refused.status_code == 401 and refused.json()["error"]["code"] == "invalid_token"
        assert "已过期" in refused.json()["error"]["message"]
    with running_app(tmp_path / "b", token_days=7, **QUIET) as short:
        created = short.ok("POST", "/users", json={"name": "zhaoliu", "password": STRONG, "role": "viewer"}, status=201)
        assert timedelta(days=6, hours=23) < _token_expiry(short, created["token"]) - datetime.now(UTC) <= timedelta(days=7)


def test_cli_tokens_follow_the_setting_and_days_overrides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XUNCHA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("XUNCHA_DATABASE_URL", raising=False)
    monkeypatch.setenv("XUNCHA_TOKEN_DAYS", "30")
    get_settings.cache_clear()
    try:
        first = xuncha("user", "add", "钱七", input=f"{STRONG}\n{STRONG}\n").stdout.split()[-1]
        second = xuncha("user", "token", "钱七", "--days", "2").stdout.split()[-1]
        with running_app(tmp_path / "data", users=False, **QUIET) as api:
            assert timedelta(days=29, hours=23) < _token_expiry(api, first) - datetime.now(UTC) <= timedelta(days=30)
            assert timedelta(days=1, hours=23) < _token_expiry(api, second) - datetime.now(UTC) <= timedelta(days=2)
        monkeypatch.setenv("XUNCHA_TOKEN_DAYS", "0")
        get_settings.cache_clear()
        bad = xuncha("user", "token", "钱七")
        assert bad.exit_code == 1 and "XUNCHA_TOKEN_DAYS" in bad.stderr and "Traceback" not in bad.stderr
        assert len(bad.stderr.strip().splitlines()) == 1
    finally:
        get_settings.cache_clear()


# --- 4. a temporary password must be changed first ------------------------------------------------


def test_temporary_password_allows_only_the_change_until_it_is_made(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XUNCHA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("XUNCHA_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    temporary = "Linshi-Mima-0001"
    added = xuncha("user", "add", "孙八", "--role", "analyst", "--temporary", input=f"{temporary}\n{temporary}\n")
    assert added.exit_code == 0 and "首次登录须修改密码" in added.stdout
    token = added.stdout.split()[-1]
    with running_app(tmp_path / "data", **QUIET) as api:
        blocked = api.client.get(f"{API}/documents", headers=auth(token))
        assert blocked.status_code == 403 and blocked.json()["error"]["code"] == "password_change_required"
        assert "修改密码" in blocked.json()["error"]["message"]
        browser = api.client
        login = browser.post(f"{API}/auth/login", json={"username": "孙八", "password": temporary})
        assert login.status_code == 200 and login.json()["user"]["must_change_password"] is True
        assert browser.get(f"{API}/auth/me").json()["must_change_password"] is True
        assert browser.get(f"{API}/findings").json()["error"]["code"] == "password_change_required"
        wrong = browser.post(f"{API}/auth/password", headers=CSRF, json={"current_password": "Wrong-Pass-99", "new_password": STRONG})
        assert wrong.status_code == 403 and wrong.json()["error"]["code"] == "wrong_password"
        same = browser.post(f"{API}/auth/password", headers=CSRF, json={"current_password": temporary, "new_password": temporary})
        assert same.status_code == 422 and same.json()["error"]["code"] == "weak_password"
        assert browser.post(f"{API}/auth/password", json={"current_password": temporary, "new_password": STRONG}).status_code == 403  # CSRF
        changed = browser.post(f"{API}/auth/password", headers=CSRF, json={"current_password": temporary, "new_password": STRONG})
        assert changed.status_code == 204, changed.text
        assert browser.get(f"{API}/documents").status_code == 200  # the same session, now unrestricted
        assert api.client.get(f"{API}/documents", headers=auth(token)).status_code == 200
        assert api.client.post(f"{API}/auth/login", json={"username": "孙八", "password": temporary}).status_code == 401
        rows = [r for r in audit_rows(api) if r["action"] == "password_changed"]
        assert [(r["ok"], r["user"]) for r in rows] == [(True, "孙八"), (False, "孙八")]
        # an administrator's reset with --temporary: sessions end, the restriction is back
        reset = xuncha("user", "passwd", "孙八", "--temporary", input=f"{temporary}2\n{temporary}2\n")
        assert reset.exit_code == 0, reset.stderr
        assert browser.get(f"{API}/auth/me").status_code == 401
        assert api.client.get(f"{API}/documents", headers=auth(token)).json()["error"]["code"] == "password_change_required"
        weak = xuncha("user", "passwd", "孙八", input="short\nshort\n")
        assert weak.exit_code == 1 and "[weak_password]" in weak.stderr
    get_settings.cache_clear()


# --- 5. user ids are never reused -----------------------------------------------------------------


def test_a_deleted_users_id_is_never_given_again(cli_db: str) -> None:
    for name in ("甲一", "乙二"):
        assert xuncha("user", "add", name, input=f"{STRONG}\n{STRONG}\n").exit_code == 0
    with session_factory(cli_db)() as session:
        ids = {u.name: u.id for u in accounts.list_users(session)}
    assert xuncha("user", "delete", "乙二").exit_code == 0  # the newest row: SQLite without AUTOINCREMENT reuses its id
    assert xuncha("user", "add", "丙三", input=f"{STRONG}\n{STRONG}\n").exit_code == 0
    with session_factory(cli_db)() as session:
        new_id = session.scalar(select(models.User.id).where(models.User.name == "丙三"))
    assert new_id is not None and new_id > max(ids.values())


def test_upgrade_keeps_credentials_normalises_names_and_makes_ids_unique(tmp_path: Path) -> None:
    from alembic import command
    from alembic.config import Config

    from service.store.db import MIGRATIONS, make_engine

    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0006")
        conn.execute(text("INSERT INTO users (id, name, password_hash, role, active, created_at) VALUES "
                          "(1, 'Ops.Admin', 'h', 'admin', 1, '2026-01-01'), (2, 'ops.admin', 'h', 'viewer', 1, '2026-01-01'), "
                          "(3, 'ＢＯＢ', 'h', 'viewer', 1, '2026-01-01')"))
        conn.execute(text("INSERT INTO credentials (user_id, kind, secret_hash, created_at) VALUES (1, 'token', 'a', '2026-01-02'), "
                          "(3, 'token', 'b', '2026-01-02')"))
        conn.execute(text("INSERT INTO audit_log (at, action, detail, ok) VALUES ('2026-01-01', 'login', '{}', 1)"))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
    with engine.begin() as conn:
        assert conn.execute(text("SELECT id, name FROM users ORDER BY id")).all() == [(1, "Ops.Admin"), (2, "ops.admin"), (3, "bob")]
        assert conn.execute(text("SELECT user_id, secret_hash FROM credentials ORDER BY user_id")).all() == [(1, "a"), (3, "b")]
        conn.execute(text("DELETE FROM credentials WHERE user_id = 3"))
        conn.execute(text("DELETE FROM users WHERE id = 3"))
        conn.execute(text("INSERT INTO users (name, password_hash, role, active, created_at) VALUES ('carol', 'h', 'viewer', 1, '2026-02-01')"))
        assert conn.execute(text("SELECT id FROM users WHERE name = 'carol'")).scalar() == 4
    with session_factory(f"sqlite:///{tmp_path / 'old.db'}")() as session:
        audit.record(session, None, "login")
        report = audit.verify_chain(session)
    assert report.ok and report.unchained_rows == 1 and report.rows == 1
    engine.dispose()


# --- 6. the login throttle, shared by two real worker processes -----------------------------------


def test_a_burst_across_two_workers_checks_at_most_five_and_refuses_the_right_password(
    library_url: str, tmp_path: Path, servers,  # noqa: F811
) -> None:
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    token = make_token(library_url)  # user "admin", password correct-horse-42
    get_engine(library_url).dispose()
    server = servers("burst", data, database_url=library_url, workers=2,
                     extra_env={"XUNCHA_WARM_SEARCH_INDEX": "false", "XUNCHA_RUN_JOBS": "false"}).wait_ready()
    barrier = threading.Barrier(30)

    def attempt(_: int) -> int:
        with httpx.Client(base_url=server.url, timeout=60, trust_env=False) as client:
            barrier.wait()
            return client.post(f"{API}/auth/login", json={"username": "admin", "password": "Wrong-Pass-123"}).status_code

    with ThreadPoolExecutor(max_workers=30) as pool:
        codes = list(pool.map(attempt, range(30)))
    assert 1 <= codes.count(401) <= 5 and codes.count(429) == 30 - codes.count(401), codes
    with httpx.Client(base_url=server.url, timeout=60, trust_env=False) as client:
        right = client.post(f"{API}/auth/login", json={"username": "admin", "password": "correct-horse-42"})
        assert right.status_code == 429 and int(right.headers["retry-after"]) > 0
        assert client.post(f"{API}/auth/login", json={"username": "ADMIN", "password": "correct-horse-42"}).status_code == 429
        rows = client.get(f"{API}/audit", params={"action": "login_failed", "limit": 1000}, headers=auth(token)).json()["items"]
    throttled = [r for r in rows if r["detail"].get("throttled")]
    assert len(throttled) == 1 and len(rows) == codes.count(401) + 1  # one row for the refused window


# --- 7. refused credentials and CSRF refusals, aggregated; the hash chain -------------------------


def test_refused_credentials_and_csrf_are_audited_once_a_minute_with_a_count(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    with running_app(tmp_path / "data", **QUIET) as api:
        for _ in range(40):
            assert api.client.get(f"{API}/documents", headers=auth("xc_forged")).status_code == 401
        api.client.cookies.set("xuncha_session", "forged-session")
        assert api.client.get(f"{API}/documents").status_code == 401
        api.client.cookies.clear()
        assert api.client.post(f"{API}/auth/login", json={"username": "analyst", "password": PASSWORD}).status_code == 200
        for _ in range(3):
            assert api.client.post(f"{API}/auth/logout").json()["error"]["code"] == "csrf_check_failed"
        refused = [r for r in audit_rows(api) if r["action"] == "credentials_refused"]
        assert len(refused) == 1 and refused[0]["ok"] is False and refused[0]["detail"]["reason"] == "invalid_token"
        assert refused[0]["client"] == "testclient" and refused[0]["detail"]["refused_last_minute"] == 0
        csrf = [r for r in audit_rows(api) if r["action"] == "csrf_refused"]
        assert len(csrf) == 1 and csrf[0]["detail"]["path"] == f"POST {API}/auth/logout"
        monkeypatch.setattr(audit, "REFUSAL_WINDOW_SECONDS", 0.3)
        time.sleep(0.4)
        assert api.client.post(f"{API}/documents", headers=auth("xc_forged"), content=b"x" * 100).status_code == 401  # the body gate
        refused = [r for r in audit_rows(api) if r["action"] == "credentials_refused"]
        assert len(refused) == 2 and refused[0]["detail"]["refused_last_minute"] == 41  # 40 tokens + 1 session
        assert refused[0]["detail"]["body_unread"] is True


def _record_many(url: str, writers: int, each: int) -> None:
    maker = session_factory(url)

    def write(w: int) -> None:
        for i in range(each):
            audit.record(maker, f"用户{w}", "search", f"查询 {i}", {"n": i, "嵌套": {"b": 1, "a": [1.5, None]}}, "10.0.0.1")

    with ThreadPoolExecutor(max_workers=writers) as pool:
        list(pool.map(write, range(writers)))


def _verify(fmt: str = "json") -> tuple[int, Any]:
    result = xuncha("audit", "verify", "--format", fmt)
    return result.exit_code, json.loads(result.stdout) if fmt == "json" else result.stdout


def test_audit_chain_holds_under_concurrent_writers_and_names_a_changed_row(cli_db: str) -> None:
    _record_many(cli_db, writers=4, each=15)
    code, report = _verify()
    assert code == 0 and report["ok"] is True and report["rows"] == 60 and report["broken_id"] is None
    code, words = _verify("table")
    assert code == 0 and "审计日志完整" in words and "60 条" in words
    engine = get_engine(cli_db)
    with engine.begin() as conn:
        ids = [row[0] for row in conn.execute(text("SELECT id FROM audit_log ORDER BY id"))]
        conn.execute(text("UPDATE audit_log SET target = '改过的' WHERE id = :i"), {"i": ids[20]})
    code, report = _verify()
    assert code == 1 and report["ok"] is False and report["broken_id"] == ids[20] and "内容被修改" in report["problem"]
    code, words = _verify("table")
    assert code == 1 and f"#{ids[20]}" in words and "审计日志被改动" in words


def test_audit_chain_finds_a_deleted_row_and_a_deleted_newest_row(cli_db: str) -> None:
    _record_many(cli_db, writers=2, each=5)
    engine = get_engine(cli_db)
    with engine.begin() as conn:
        ids = [row[0] for row in conn.execute(text("SELECT id FROM audit_log ORDER BY id"))]
        conn.execute(text("DELETE FROM audit_log WHERE id = :i"), {"i": ids[4]})
    code, report = _verify()
    assert code == 1 and report["broken_id"] == ids[5] and "删除" in report["problem"]
    with engine.begin() as conn:  # put it back as it was: restore the chain, then remove the newest row only
        conn.execute(text("DELETE FROM audit_log"))
        conn.execute(text("UPDATE audit_chain SET last_id = NULL, last_hash = NULL"))
    _record_many(cli_db, writers=1, each=3)
    assert _verify()[0] == 0
    with engine.begin() as conn:
        last = conn.execute(text("SELECT max(id) FROM audit_log")).scalar()
        conn.execute(text("DELETE FROM audit_log WHERE id = :i"), {"i": last})
    code, report = _verify()
    assert code == 1 and report["broken_id"] == last and "最新的记录被删除" in report["problem"]
