"""The service's commands: `xuncha user add/token/list`, `xuncha audit`, and `xuncha train` learning
from tags confirmed through the API. Each test has its own library (``XUNCHA_DATA_DIR``); tokens
printed by the CLI are checked against the real app on the same library."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from api_helpers import API, PASSWORD, REPO, Api, audit_rows, auth, running_app, sample, upload_and_wait
from typer.testing import CliRunner

from service.accounts import Role
from service.cli.main import app as cli
from service.settings import get_settings


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh library folder that the CLI (``get_settings``) and the app both use."""
    folder = tmp_path / "data"
    monkeypatch.setenv("XUNCHA_DATA_DIR", str(folder))
    monkeypatch.delenv("XUNCHA_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    yield folder
    get_settings.cache_clear()


def xuncha(*args: str, input: str | None = None) -> Any:
    return CliRunner().invoke(cli, list(args), input=input)


def last_word(text: str) -> str:
    return text.split()[-1]


def user_names(data_dir: Path) -> dict[str, str]:
    result = xuncha("user", "list", "--format", "json")
    assert result.exit_code == 0, result.stderr
    return {u["name"]: u["role"] for u in json.loads(result.stdout)}


# --- user add / token / list ---------------------------------------------------------------------


def test_user_add_prints_a_token_that_works_against_the_app(data_dir: Path):
    result = xuncha("user", "add", "张三", "--role", "analyst", input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.stderr
    token = last_word(result.stdout)
    assert token.startswith("xc_") and len(token) > 30
    assert "张三" in result.stdout
    with running_app(data_dir, users=False) as api:
        me = api.client.get(f"{API}/auth/me", headers=auth(token))
        assert me.status_code == 200 and me.json()["name"] == "张三" and me.json()["role"] == "analyst"
        assert api.client.get(f"{API}/documents", headers=auth(token)).status_code == 200
        assert api.client.get(f"{API}/audit", headers=auth(token)).status_code == 403  # an analyst
        login = api.client.post(f"{API}/auth/login", json={"username": "张三", "password": PASSWORD})
        assert login.status_code == 200  # the password typed twice is the password
    assert user_names(data_dir) == {"张三": "analyst"}


def test_user_add_through_the_real_command_and_stdin(data_dir: Path, tmp_path: Path):
    env = {**os.environ, "XUNCHA_DATA_DIR": str(data_dir), "PYTHONIOENCODING": "utf-8"}
    result = subprocess.run(
        [sys.executable, "-m", "service", "user", "add", "ops.admin", "--role", "admin"],
        input=f"{PASSWORD}\n{PASSWORD}\n", capture_output=True, text=True, encoding="utf-8", env=env, cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    token = last_word(result.stdout)
    with running_app(data_dir, users=False) as api:
        assert api.client.get(f"{API}/audit", headers=auth(token)).status_code == 200


def test_mismatched_passwords_create_no_user(data_dir: Path):
    result = xuncha("user", "add", "李四", "--role", "analyst", input=f"{PASSWORD}\n{PASSWORD}x\n")
    assert result.exit_code == 1
    assert "两次输入的密码不一致" in result.stderr
    assert result.stdout == ""
    assert "李四" not in user_names(data_dir)


@pytest.mark.parametrize(
    ("name", "stdin", "code"),
    [
        ("王五", "short\nshort\n", "weak_password"),
        ("bad name!", f"{PASSWORD}\n{PASSWORD}\n", "invalid_user_name"),
        ("赵六", f"{PASSWORD}\n", "account_error"),  # the password only once
    ],
)
def test_user_add_refusals(data_dir: Path, name: str, stdin: str, code: str):
    result = xuncha("user", "add", name, input=stdin)
    assert result.exit_code == 1
    assert f"[{code}]" in result.stderr and result.stdout == ""
    assert name not in user_names(data_dir)


def test_duplicate_user_is_refused(data_dir: Path):
    first = xuncha("user", "add", "王五", "--role", "viewer", input=f"{PASSWORD}\n{PASSWORD}\n")
    assert first.exit_code == 0
    again = xuncha("user", "add", "王五", "--role", "admin", input=f"{PASSWORD}\n{PASSWORD}\n")
    assert again.exit_code == 1 and "[user_exists]" in again.stderr and again.stdout == ""
    assert user_names(data_dir) == {"王五": "viewer"}  # the first one is unchanged


def test_user_disable_ends_tokens_and_sessions_at_once_and_enable_restores_tokens(data_dir: Path):
    created = xuncha("user", "add", "赵六", "--role", "analyst", input=f"{PASSWORD}\n{PASSWORD}\n")
    token = last_word(created.stdout)
    with running_app(data_dir, users=False) as api:
        login = api.client.post(f"{API}/auth/login", json={"username": "赵六", "password": PASSWORD})
        assert login.status_code == 200
        assert api.client.get(f"{API}/auth/me").status_code == 200  # the session cookie works
        assert api.client.get(f"{API}/auth/me", headers=auth(token)).status_code == 200
        disabled = xuncha("user", "disable", "赵六")
        assert disabled.exit_code == 0 and "已停用" in disabled.stdout
        assert api.client.get(f"{API}/auth/me").status_code == 401  # the same server, the very next request
        assert api.client.get(f"{API}/auth/me", headers=auth(token)).status_code == 401
        refused = api.client.post(f"{API}/auth/login", json={"username": "赵六", "password": PASSWORD})
        assert refused.status_code == 401
        assert xuncha("user", "enable", "赵六").exit_code == 0
        assert api.client.get(f"{API}/auth/me", headers=auth(token)).status_code == 200
    rows = {r["name"]: r for r in json.loads(xuncha("user", "list", "--format", "json").stdout)}
    assert rows["赵六"]["active"] is True
    actions = [r["action"] for r in audit_rows_cli()]
    assert "user_disabled" in actions and "user_enabled" in actions


def test_user_role_revoke_and_delete(data_dir: Path):
    created = xuncha("user", "add", "钱七", "--role", "viewer", input=f"{PASSWORD}\n{PASSWORD}\n")
    token = last_word(created.stdout)
    assert xuncha("user", "role", "钱七", "admin").exit_code == 0
    with running_app(data_dir, users=False) as api:
        me = api.client.get(f"{API}/auth/me", headers=auth(token))
        assert me.status_code == 200 and me.json()["role"] == "admin"
        assert xuncha("user", "revoke", "钱七").exit_code == 0
        assert api.client.get(f"{API}/auth/me", headers=auth(token)).status_code == 401
        fresh = last_word(xuncha("user", "token", "钱七", "--days", "1").stdout)
        assert api.client.get(f"{API}/auth/me", headers=auth(fresh)).status_code == 200
        assert xuncha("user", "delete", "钱七").exit_code == 0
        assert api.client.get(f"{API}/auth/me", headers=auth(fresh)).status_code == 401
    assert user_names(data_dir) == {}
    missing = xuncha("user", "disable", "无此人")
    assert missing.exit_code == 1 and "[no_such_user]" in missing.stderr and missing.stdout == ""


def test_a_token_of_a_removed_user_never_passes_to_the_user_who_gets_its_row_id(data_dir: Path):
    """A user row deleted by hand with SQLite's foreign keys off leaves its tokens behind; the next user
    created may get the same row id. The old token must not authenticate as the new user."""
    import sqlite3

    old = last_word(xuncha("user", "add", "孙八", "--role", "viewer", input=f"{PASSWORD}\n{PASSWORD}\n").stdout)
    db = sqlite3.connect(data_dir / "xuncha.db")
    db.execute("PRAGMA foreign_keys=OFF")
    db.execute("DELETE FROM users WHERE name = '孙八'")
    db.commit()
    db.close()
    with running_app(data_dir, users=False) as api:
        assert api.client.get(f"{API}/auth/me", headers=auth(old)).status_code == 401  # not a 500
        new = last_word(xuncha("user", "add", "周九", "--role", "admin", input=f"{PASSWORD}\n{PASSWORD}\n").stdout)
        assert api.client.get(f"{API}/auth/me", headers=auth(new)).json()["name"] == "周九"
        assert api.client.get(f"{API}/auth/me", headers=auth(old)).status_code == 401


def audit_rows_cli() -> list[dict[str, Any]]:
    result = xuncha("audit", "--format", "json", "--limit", "100")
    assert result.exit_code == 0, result.stderr
    return list(json.loads(result.stdout))


def test_user_list_json_and_table(data_dir: Path):
    for name, role in (("甲", "viewer"), ("乙", "admin")):
        assert xuncha("user", "add", name, "--role", role, input=f"{PASSWORD}\n{PASSWORD}\n").exit_code == 0
    result = xuncha("user", "list", "--format", "json")
    assert result.exit_code == 0 and result.stderr == ""
    rows = json.loads(result.stdout)
    assert {(r["name"], r["role"], r["active"]) for r in rows} == {("甲", "viewer", True), ("乙", "admin", True)}
    assert all(r["created_at"] for r in rows)
    table = xuncha("user", "list")
    assert table.exit_code == 0
    assert {tuple(line.split()[:2]) for line in table.stdout.splitlines()} == {("甲", "viewer"), ("乙", "admin")}


def test_user_token_issues_another_working_token(data_dir: Path):
    created = xuncha("user", "add", "丙", "--role", "viewer", input=f"{PASSWORD}\n{PASSWORD}\n")
    first = last_word(created.stdout)
    result = xuncha("user", "token", "丙", "--label", "脚本")
    assert result.exit_code == 0, result.stderr
    second = last_word(result.stdout)
    assert second != first
    with running_app(data_dir, users=False) as api:
        for token in (first, second):
            assert api.client.get(f"{API}/auth/me", headers=auth(token)).json()["name"] == "丙"
    unknown = xuncha("user", "token", "没有这个人")
    assert unknown.exit_code == 1 and "没有用户" in unknown.stderr and unknown.stdout == ""


# --- audit -----------------------------------------------------------------------------------------


def test_audit_json_lists_api_actions_on_stdout_only(data_dir: Path):
    with running_app(data_dir) as api:
        api.client.post(f"{API}/auth/login", json={"username": "analyst", "password": "wrong-password"})
        job = upload_and_wait(api, [sample("r5_chengguanzhen_feedback.txt")])
        document_id = job["items"][0]["document_id"]
        api.ok("GET", f"/documents/{document_id}", Role.VIEWER)
        api.ok("GET", "/search", Role.VIEWER, params={"q": "公务接待"})
        api.get("/exports/findings.xlsx", Role.VIEWER)
        api_rows = audit_rows(api)
    result = xuncha("audit", "--format", "json", "--limit", "1000")
    assert result.exit_code == 0 and result.stderr == ""
    rows = json.loads(result.stdout)
    assert rows[0]["action"] == "audit_viewed" and rows[0]["user"] == "admin"  # GET /audit itself
    assert [r["id"] for r in rows[1:]] == [r["id"] for r in api_rows]  # the same log the API shows
    by_action = {r["action"]: r for r in rows}
    assert by_action["login_failed"]["user"] == "analyst" and by_action["login_failed"]["ok"] is False
    assert by_action["document_uploaded"]["user"] == "analyst" and "r5_chengguanzhen" in by_action["document_uploaded"]["target"]
    assert by_action["document_viewed"]["user"] == "viewer"
    assert by_action["document_viewed"]["target"] == f"document:{document_id} r5_chengguanzhen_feedback.txt"
    assert by_action["search"]["target"] == "公务接待" and by_action["export"]["user"] == "viewer"

    failed = xuncha("audit", "--format", "json", "--action", "login_failed")
    assert [r["action"] for r in json.loads(failed.stdout)] == ["login_failed"]
    viewer = json.loads(xuncha("audit", "--format", "json", "--user", "viewer").stdout)
    assert viewer and {r["user"] for r in viewer} == {"viewer"}
    assert len(json.loads(xuncha("audit", "--format", "json", "--limit", "2").stdout)) == 2
    table = xuncha("audit", "--action", "login_failed")
    assert table.exit_code == 0 and "登录失败" in table.stdout and "analyst" in table.stdout


def test_cli_user_creation_is_audited(data_dir: Path):
    xuncha("user", "add", "丁", "--role", "analyst", input=f"{PASSWORD}\n{PASSWORD}\n")
    xuncha("user", "token", "丁")
    rows = json.loads(xuncha("audit", "--format", "json").stdout)
    assert [(r["action"], r["target"], r["client"]) for r in rows] == [("token_created", "丁", "cli"), ("user_created", "丁", "cli")]


# --- train from confirmed tags ---------------------------------------------------------------------


def _confirm_some(api: Api, count: int) -> list[dict[str, Any]]:
    job = upload_and_wait(api, [sample("r5_zhujianju_feedback.docx")])
    document = api.ok("GET", f"/documents/{job['items'][0]['document_id']}")
    confirmed = []
    for finding in document["findings"][:count]:
        api.ok("PATCH", f"/findings/{finding['id']}/tags", Role.ANALYST,
               json={"tags": {"focus": ["全面从严治党"], "problem_type": ["履职不力"], "livelihood": []}})
        confirmed.append(finding)
    return confirmed


def test_train_learns_from_confirmed_tags(data_dir: Path, tmp_path: Path):
    from nlp.tagging.training import BUNDLED_LABELS, is_dev

    with running_app(data_dir) as api:
        confirmed = _confirm_some(api, 6)
    texts = {f["text"] for f in confirmed}
    confirmed_train = sum(1 for t in texts if not is_dev(t))
    confirmed_dev = len(texts) - confirmed_train
    assert confirmed_train >= 1
    # an analyst's labels file with 9 training rows (one short of the minimum) and a few dev rows
    rows = [json.loads(x) for x in BUNDLED_LABELS.read_text(encoding="utf-8").splitlines() if x.strip()]
    rows = [r for r in rows if r["text"] not in texts]
    train_rows = [r for r in rows if not is_dev(r["text"])][:9]
    dev_rows = [r for r in rows if is_dev(r["text"])][:4]
    labels = tmp_path / "labels.jsonl"
    labels.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in train_rows + dev_rows), encoding="utf-8")
    model_dir = tmp_path / "model"
    bundled_model = REPO / "models" / "tagger.joblib"
    bundled_mtime = bundled_model.stat().st_mtime_ns
    common = ["train", "--labels", str(labels), "--no-bundled", "--no-bootstrap", "--model-dir", str(model_dir), "--format", "json"]

    without = xuncha(*common, "--no-confirmed")
    assert without.exit_code == 1 and "（9 条）" in without.stderr, without.stderr
    assert not (model_dir / "tagger.json").exists()

    result = xuncha(*common, "--confirmed")
    assert result.exit_code == 0, result.stderr
    assert f"使用问题库中分析员确认的标签 {len(confirmed)} 条" in result.stderr
    report = json.loads(result.stdout)
    assert report["n_train"] == 9 + confirmed_train and report["n_dev"] == len(dev_rows) + confirmed_dev
    assert report["replaced"] is True and (model_dir / "tagger.json").exists()
    assert bundled_model.stat().st_mtime_ns == bundled_mtime  # the bundled model is untouched

    default = xuncha(*common)  # --confirmed is the default
    assert default.exit_code == 0 and json.loads(default.stdout)["n_train"] == 9 + confirmed_train


def test_train_without_a_library_uses_no_confirmed_rows(data_dir: Path, tmp_path: Path):
    result = xuncha("train", "--no-bundled", "--no-bootstrap", "--model-dir", str(tmp_path / "m"), "--confirmed")
    assert result.exit_code == 1 and "（0 条）" in result.stderr
    assert not (data_dir / "xuncha.db").exists()  # reading confirmed tags does not create a library


# --- demo ------------------------------------------------------------------------------------------


def test_demo_ingests_the_samples_with_their_rounds_and_the_demo_login_works(data_dir: Path):
    from service.cli.demo import DEMO_PASSWORD, DEMO_USER

    result = xuncha("demo", "--no-serve")
    assert result.exit_code == 0, result.stderr
    assert "17 个文件" in result.stdout and f"用户名 {DEMO_USER}" in result.stdout and DEMO_PASSWORD in result.stdout
    again = xuncha("demo", "--no-serve")  # idempotent: same counts, no second user
    assert again.exit_code == 0 and again.stdout.splitlines()[0] == result.stdout.splitlines()[0]
    assert user_names(data_dir) == {DEMO_USER: "admin"}
    with running_app(data_dir, users=False) as api:
        login = api.client.post(f"{API}/auth/login", json={"username": DEMO_USER, "password": DEMO_PASSWORD})
        assert login.status_code == 200
        stats = api.client.get(f"{API}/statistics").json()
        assert stats["documents"] == 17
        assert stats["rounds"] == ["十四届县委第五轮", "十四届县委第六轮", "十四届县委第七轮"]
        assert sum(r["findings"] for r in stats["by_round"]) == stats["findings"]  # every sample has its round
