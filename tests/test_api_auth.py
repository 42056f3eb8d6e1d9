"""API access control on a real app: credentials, the role matrix, web sessions with the CSRF guard,
how secrets are stored, security headers, and the self-contained API docs page."""

from __future__ import annotations

import hashlib
import re
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from api_helpers import (
    API,
    CSRF,
    PASSWORD,
    USERS,
    Api,
    audit_rows,
    auth,
    built_reports,
    make_settings,
    running_app,
    sample,
    upload,
    upload_and_wait,
    wait_for_job,
)
from fastapi.testclient import TestClient

from service.accounts import Role
from service.api.app import create_app

PATH_VALUES = {"{document_id}": "1", "{finding_id}": "1", "{job_id}": "0123abcd"}


def _operations() -> list[tuple[str, str]]:
    schema = create_app(make_settings(Path("unused-data-dir"))).openapi()
    ops = []
    for path, methods in schema["paths"].items():
        for method in methods:
            if method in ("get", "post", "put", "patch", "delete") and path not in (f"{API}/health", f"{API}/auth/login"):
                ops.append((method.upper(), path))
    return ops


OPERATIONS = _operations()


def concrete(path: str) -> str:
    for key, value in PATH_VALUES.items():
        path = path.replace(key, value)
    return path


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    folder = tmp_path_factory.mktemp("auth")
    with running_app(folder / "data") as api:
        reports = built_reports(folder / "reports")
        job = upload_and_wait(api, [*reports.items(), sample("r5_zhujianju_feedback.docx")])
        assert job["status"] == "done" and all(i["status"] == "stored" for i in job["items"]), job
        yield api


@pytest.fixture
def browser(api: Api) -> Iterator[TestClient]:
    """A second client on the same running app, with its own cookie jar (a web browser).

    Not entered as a context manager: the app is already started (a second lifespan would replace
    the module's job runner)."""
    client = TestClient(api.client.app)
    yield client
    client.close()


@pytest.fixture(scope="module")
def ids(api: Api) -> dict[str, Any]:
    docs = api.ok("GET", "/documents")["items"]
    document = next(d for d in docs if d["source_name"] == "r5_zhujianju_feedback.docx")
    detail = api.ok("GET", f"/documents/{document['id']}")
    job = upload_and_wait(api, [("small.txt", "巡察发现的问题：一是党建工作不到位。".encode())])
    return {"document": document["id"], "finding": detail["findings"][0]["id"], "job": job["id"]}


# --- without credentials ----------------------------------------------------------------------


def test_openapi_lists_every_route_of_the_api():
    paths = {p for _, p in OPERATIONS}
    assert len(OPERATIONS) >= 20
    assert {f"{API}/documents", f"{API}/search", f"{API}/audit", f"{API}/users", f"{API}/findings/{{finding_id}}/tags"} <= paths


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_every_route_but_health_needs_credentials(api: Api, method: str, path: str):
    response = api.client.request(method, concrete(path))
    assert response.status_code == 401, response.text
    body = response.json()
    assert body["error"]["code"] == "not_authenticated" and body["error"]["message"]
    assert response.headers["www-authenticate"] == "Bearer"


def test_health_is_open_and_reveals_no_data(api: Api):
    response = api.client.get(f"{API}/health")
    assert response.status_code == 200
    assert response.json()["status"] == "ok" and response.json()["database"] == "ok"


@pytest.mark.parametrize(
    ("header", "code"),
    [
        ("Bearer xc_not-a-real-token", "invalid_token"),
        ("Bearer " + "x" * 500, "invalid_token"),
        ("Basic YWRtaW46cGFzc3dvcmQ=", "bad_credentials"),
        ("Bearer", "bad_credentials"),
        ("Token abc", "bad_credentials"),
    ],
)
def test_bad_or_malformed_bearer_token_is_401(api: Api, header: str, code: str):
    response = api.client.get(f"{API}/documents", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == code


def test_a_made_up_session_cookie_is_401(browser: TestClient):
    browser.cookies.set("xuncha_session", "forged-session-id")
    response = browser.get(f"{API}/documents")
    assert response.status_code == 401 and response.json()["error"]["code"] == "not_authenticated"


def test_good_tokens_identify_their_users(api: Api):
    for role, name in USERS.items():
        me = api.ok("GET", "/auth/me", role)
        assert me == {"name": name, "role": role.value, "role_name": me["role_name"], "must_change_password": False}
        assert me["role_name"]


# --- the role matrix ---------------------------------------------------------------------------

Call = Callable[[Api, dict[str, Any], Role], httpx.Response]


def _upload(api: Api, ids: dict[str, Any], role: Role) -> httpx.Response:
    response = upload(api, [(f"matrix-{role.value}.txt", f"巡察发现的问题：一是{role.value}党建工作不到位。".encode())], role)
    if response.status_code == 202:  # let the job finish, so later counts of documents are stable
        assert wait_for_job(api.client, response.json()["job_id"], api.headers(role))["status"] == "done"
    return response


def _patch_tags(api: Api, ids: dict[str, Any], role: Role) -> httpx.Response:
    return api.call("PATCH", f"/findings/{ids['finding']}/tags", role, json={"tags": {"focus": ["党的建设"]}})


def _create_user(api: Api, ids: dict[str, Any], role: Role) -> httpx.Response:
    return api.call("POST", "/users", role, json={"name": f"made-by-{role.value}", "password": PASSWORD, "role": "viewer"})


READS: dict[str, Call] = {
    "documents": lambda api, ids, role: api.get("/documents", role),
    "document": lambda api, ids, role: api.get(f"/documents/{ids['document']}", role),
    "findings": lambda api, ids, role: api.get("/findings", role),
    "finding": lambda api, ids, role: api.get(f"/findings/{ids['finding']}", role),
    "job": lambda api, ids, role: api.get(f"/jobs/{ids['job']}", role),
    "search": lambda api, ids, role: api.get("/search", role, params={"q": "公务接待"}),
    "similar": lambda api, ids, role: api.get(f"/findings/{ids['finding']}/similar", role),
    "clusters": lambda api, ids, role: api.call("POST", "/clusters", role, json={}),
    "statistics": lambda api, ids, role: api.get("/statistics", role),
    "summary": lambda api, ids, role: api.get("/summaries/common-issues", role),
    "export": lambda api, ids, role: api.get("/exports/findings.xlsx", role),
    "taxonomy": lambda api, ids, role: api.get("/taxonomy", role),
    "me": lambda api, ids, role: api.get("/auth/me", role),
}
# name -> (the least role allowed, the call, its success status)
WRITES: dict[str, tuple[Role, Call, int]] = {
    "upload": (Role.ANALYST, _upload, 202),
    "patch_tags": (Role.ANALYST, _patch_tags, 200),
    "retry_job": (Role.ANALYST, lambda api, ids, role: api.call("POST", f"/jobs/{ids['job']}/retry", role), 202),
    "delete_document": (Role.ADMIN, lambda api, ids, role: api.call("DELETE", "/documents/999999", role), 404),
    "audit": (Role.ADMIN, lambda api, ids, role: api.get("/audit", role), 200),
    "users": (Role.ADMIN, lambda api, ids, role: api.get("/users", role), 200),
    "create_user": (Role.ADMIN, _create_user, 201),
}


@pytest.mark.parametrize("role", list(Role), ids=[r.value for r in Role])
@pytest.mark.parametrize("name", list(READS))
def test_every_role_can_read(api: Api, ids: dict[str, Any], name: str, role: Role):
    response = READS[name](api, ids, role)
    assert response.status_code == 200, response.text[:300]


@pytest.mark.parametrize("role", list(Role), ids=[r.value for r in Role])
@pytest.mark.parametrize("name", list(WRITES))
def test_writes_need_their_role(api: Api, ids: dict[str, Any], name: str, role: Role):
    needed, call, success = WRITES[name]
    documents_before = api.ok("GET", "/documents")["total"]
    response = call(api, ids, role)
    if role.allows(needed):
        # delete_document on a missing id: the role check passed, so the 404 says "no such document"
        assert response.status_code == success, response.text[:300]
        if success == 404:
            assert response.json()["error"]["code"] == "unknown_document"
        return
    assert response.status_code == 403, response.text[:300]
    assert response.json()["error"]["code"] == "forbidden"
    assert api.ok("GET", "/documents")["total"] == documents_before  # a refused upload stores nothing
    denied = audit_rows(api, user=USERS[role], action="access_denied")
    assert denied and denied[0]["ok"] is False and denied[0]["detail"]["needed"] == needed.value
    assert denied[0]["target"].startswith(response.request.method + " " + API)


def test_admin_deletes_and_analyst_cannot(api: Api):
    job = upload_and_wait(api, [("to-delete.txt", "巡察发现的问题：一是财务管理不规范，存在白条入账问题。".encode())])
    document_id = job["items"][0]["document_id"]
    assert api.call("DELETE", f"/documents/{document_id}", Role.ANALYST).status_code == 403
    assert api.call("DELETE", f"/documents/{document_id}", Role.VIEWER).status_code == 403
    assert api.get(f"/documents/{document_id}").status_code == 200
    assert api.call("DELETE", f"/documents/{document_id}", Role.ADMIN).status_code == 204
    assert api.get(f"/documents/{document_id}").status_code == 404


def test_created_user_token_works_and_user_is_listed(api: Api):
    created = api.ok("POST", "/users", json={"name": "新用户", "password": PASSWORD, "role": "analyst"}, status=201)
    assert created["token"].startswith("xc_")
    me = api.client.get(f"{API}/auth/me", headers=auth(created["token"])).json()
    assert me["name"] == "新用户" and me["role"] == "analyst"
    names = {u["name"]: u["role"] for u in api.ok("GET", "/users")["items"]}
    assert names["新用户"] == "analyst" and names["admin"] == "admin"
    again = api.call("POST", "/users", json={"name": "新用户", "password": PASSWORD, "role": "viewer"})
    assert again.status_code == 409 and again.json()["error"]["code"] == "user_exists"
    short = api.call("POST", "/users", json={"name": "short", "password": "1234", "role": "viewer"})
    assert short.status_code == 422 and short.json()["error"]["code"] == "weak_password"
    assert "至少需要 10 个字符" in short.json()["error"]["message"]


# --- web sessions --------------------------------------------------------------------------------


def login(client: TestClient, name: str, password: str) -> httpx.Response:
    return client.post(f"{API}/auth/login", json={"username": name, "password": password})


@pytest.mark.parametrize(("name", "password"), [("analyst", "wrong-password-1"), ("nobody", PASSWORD)])
def test_login_failure_is_401_and_audited(api: Api, browser: TestClient, name: str, password: str):
    response = login(browser, name, password)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "login_failed"
    assert "set-cookie" not in response.headers and not browser.cookies
    failed = audit_rows(api, user=name, action="login_failed")
    assert failed and failed[0]["ok"] is False and failed[0]["user"] == name


def test_login_sets_a_strict_httponly_cookie(api: Api, browser: TestClient):
    response = login(browser, "analyst", PASSWORD)
    assert response.status_code == 200
    assert response.json()["user"]["name"] == "analyst" and response.json()["user"]["role"] == "analyst"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("xuncha_session=")
    attributes = {a.strip().split("=")[0].lower(): a.strip() for a in cookie.split(";")[1:]}
    assert "httponly" in attributes
    assert attributes["samesite"].lower() == "samesite=strict"
    assert attributes["path"] == "Path=/"
    assert "secure" not in attributes  # plain HTTP in tests; XUNCHA_SECURE_COOKIES turns it on
    assert browser.get(f"{API}/auth/me").json()["name"] == "analyst"
    assert audit_rows(api, user="analyst", action="login")


def test_cookie_session_reads_and_csrf_guard_on_writes(api: Api, browser: TestClient, ids: dict[str, Any]):
    assert login(browser, "analyst", PASSWORD).status_code == 200
    assert browser.get(f"{API}/documents").status_code == 200
    assert browser.get(f"{API}/documents/{ids['document']}").status_code == 200
    url = f"{API}/findings/{ids['finding']}/tags"
    body = {"tags": {"problem_type": ["整改不到位"]}}
    refused = browser.patch(url, json=body)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "csrf_check_failed"
    assert browser.patch(url, json=body, headers={"X-Requested-With": "other"}).status_code == 403
    assert api.ok("GET", f"/findings/{ids['finding']}")["tags"]["confirmed"].get("problem_type") != ["整改不到位"]
    accepted = browser.patch(url, json=body, headers=CSRF)
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["tags"]["confirmed"]["problem_type"] == ["整改不到位"]
    # a bearer-token client is not a browser: no CSRF header needed
    assert api.call("PATCH", url.removeprefix(API), Role.ANALYST, json=body).status_code == 200


def test_logout_invalidates_the_session(browser: TestClient):
    assert login(browser, "viewer", PASSWORD).status_code == 200
    secret = browser.cookies["xuncha_session"]
    assert browser.post(f"{API}/auth/logout").status_code == 403  # logout is a write: CSRF guard
    response = browser.post(f"{API}/auth/logout", headers=CSRF)
    assert response.status_code == 204
    assert "xuncha_session=" in response.headers["set-cookie"]
    assert browser.get(f"{API}/auth/me").status_code == 401
    browser.cookies.set("xuncha_session", secret)  # the old id replayed: gone on the server too
    replay = browser.get(f"{API}/auth/me")
    assert replay.status_code == 401 and replay.json()["error"]["code"] == "not_authenticated"


def test_secrets_are_stored_only_as_hashes(api: Api, browser: TestClient):
    assert login(browser, "admin", PASSWORD).status_code == 200
    session_id = browser.cookies["xuncha_session"]
    db = api.settings.data_dir / "xuncha.db"
    with sqlite3.connect(db) as conn:
        hashes = dict(conn.execute("SELECT name, password_hash FROM users"))
        digests = {row[0] for row in conn.execute("SELECT secret_hash FROM credentials")}
    assert set(USERS.values()) <= set(hashes)
    assert all(h.startswith("$argon2") for h in hashes.values())
    for secret in [*api.tokens.values(), session_id]:
        assert hashlib.sha256(secret.encode()).hexdigest() in digests
    files = [p for p in db.parent.iterdir() if p.name.startswith("xuncha.db")]
    content = b"".join(p.read_bytes() for p in files)
    assert len(content) > 10_000
    for secret in [*api.tokens.values(), session_id, PASSWORD]:
        assert secret.encode() not in content


# --- headers and the docs page ---------------------------------------------------------------


def test_security_headers_on_every_kind_of_response(api: Api):
    responses = {
        "health": api.client.get(f"{API}/health"),
        "401": api.client.get(f"{API}/documents"),
        "404": api.get("/documents/999999"),
        "unknown path": api.client.get(f"{API}/no-such-route"),
        "download": api.get("/exports/findings.xlsx"),
        "page": api.client.get("/"),
        "docs": api.client.get("/docs"),
    }
    for name, response in responses.items():
        headers = response.headers
        assert headers["x-content-type-options"] == "nosniff", name
        assert headers["x-frame-options"] == "DENY", name
        csp = headers["content-security-policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp, name
        assert "http:" not in csp and "https:" not in csp, name
        if response.request.url.path.startswith("/api/"):
            assert headers["cache-control"] == "no-store", name
    assert "script-src 'self';" in responses["page"].headers["content-security-policy"]  # no inline scripts


def test_oversize_request_is_refused_with_json_and_headers(tmp_path: Path):
    with running_app(tmp_path, max_request_mb=0.01) as small:
        response = upload(small, [("big.txt", "巡察".encode() * 10_000)])
        assert response.status_code == 413
        assert response.json()["error"]["code"] == "request_too_large"
        assert response.headers["x-content-type-options"] == "nosniff"
        assert small.ok("GET", "/documents")["total"] == 0


def test_docs_page_uses_only_local_assets(api: Api):
    response = api.client.get("/docs")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    html = response.text
    assert "http://" not in html and "https://" not in html and "//cdn" not in html
    urls = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", html)
    assert urls and all(u.startswith("/docs-assets/") for u in urls), urls
    assert any(u.endswith(".js") for u in urls) and any(u.endswith(".css") for u in urls)
    for url in urls:
        asset = api.client.get(url)
        assert asset.status_code == 200 and len(asset.content) > 100, url
    assert api.client.get("/openapi.json").json()["info"]["title"].startswith("xuncha")


def test_web_page_uses_only_local_assets(api: Api):
    html = api.client.get("/").text
    urls = re.findall(r"""<(?:script|link)[^>]*(?:src|href)\s*=\s*["']([^"']+)["']""", html)
    assert urls
    for url in urls:
        assert url.startswith(("/static/", "data:")), url
        if url.startswith("/static/"):
            assert api.client.get(url).status_code == 200, url


def test_expired_session_is_refused(api: Api, browser: TestClient):
    assert login(browser, "viewer", PASSWORD).status_code == 200
    digest = hashlib.sha256(browser.cookies["xuncha_session"].encode()).hexdigest()
    assert browser.get(f"{API}/auth/me").status_code == 200
    with sqlite3.connect(api.settings.data_dir / "xuncha.db") as conn:
        conn.execute("UPDATE credentials SET expires_at = '2000-01-01 00:00:00.000000' WHERE secret_hash = ?", (digest,))
    response = browser.get(f"{API}/auth/me")
    assert response.status_code == 401 and response.json()["error"]["code"] == "not_authenticated"


def test_disabled_user_loses_tokens_and_login(api: Api):
    created = api.ok("POST", "/users", json={"name": "leaver", "password": PASSWORD, "role": "analyst"}, status=201)
    assert api.client.get(f"{API}/auth/me", headers=auth(created["token"])).status_code == 200
    with sqlite3.connect(api.settings.data_dir / "xuncha.db") as conn:
        conn.execute("UPDATE users SET active = 0 WHERE name = 'leaver'")
    refused = api.client.get(f"{API}/auth/me", headers=auth(created["token"]))
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "invalid_token"
    assert api.client.post(f"{API}/auth/login", json={"username": "leaver", "password": PASSWORD}).status_code == 401


def test_invalid_user_name_through_the_api(api: Api):
    response = api.call("POST", "/users", json={"name": "bad name!", "password": PASSWORD, "role": "viewer"})
    assert response.status_code == 422 and response.json()["error"]["code"] == "invalid_user_name"
    assert "bad name!" not in [u["name"] for u in api.ok("GET", "/users")["items"]]


def test_secure_cookies_setting_marks_the_cookie_secure(tmp_path: Path):
    with running_app(tmp_path, secure_cookies=True) as secure:
        response = login(secure.client, "viewer", PASSWORD)
        assert response.status_code == 200
        assert "secure" in [a.strip().lower() for a in response.headers["set-cookie"].split(";")]
