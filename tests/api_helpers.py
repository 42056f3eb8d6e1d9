"""Shared helpers for the API tests: a real app on a real SQLite library in a temporary folder.

``running_app(data_dir)`` builds ``create_app(Settings(data_dir=...))`` and enters a ``TestClient``
(so the lifespan migrates the database and starts the upload job runner), creates one user per role
and yields an :class:`Api` with their tokens. ``upload``/``wait_for_job``/``ingest_samples`` drive the
real upload endpoint; report files are built with ``tests/builders.py`` or read from
``corpora/samples``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from builders import make_docx, make_pdf, write_text
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from service.accounts import Role, create_user
from service.api.app import create_app
from service.settings import Settings

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "corpora" / "samples"
MANIFEST = [json.loads(x) for x in (SAMPLES / "manifest.jsonl").read_text(encoding="utf-8").splitlines() if x]
API = "/api/v1"
PASSWORD = "correct-horse-42"
USERS = {Role.VIEWER: "viewer", Role.ANALYST: "analyst", Role.ADMIN: "admin"}
CSRF = {"X-Requested-With": "xuncha"}

# Sample feedback notices per round: uploaded with the round given explicitly (as an analyst would),
# because several notices do not name their round in the text.
SAMPLE_ROUNDS: dict[str, list[str]] = {
    "十四届县委第五轮": [
        "r5_jiaoyuju_feedback.pdf",
        "r5_zhujianju_feedback.docx",
        "r5_chengguanzhen_feedback.txt",
        "r5_minzhengju_hekouzhen_feedback.pdf",
    ],
    "十四届县委第六轮": [
        "r6_yibaoju_special_feedback.pdf",
        "r6_weijianju_special_feedback.txt",
        "r6_hekouzhen_jidong_feedback.txt",
    ],
    "十四届县委第七轮": [
        "r7_jiaoyuju_huitoukan_feedback.pdf",
        "r7_chengguanzhen_huitoukan_feedback.txt",
        "r7_shuiliju_liangshi_feedback.pdf",
    ],
}

# Three small notices of made-up units, one per format, each with findings the tagger recognises.
PDF_PAGES = [
    [
        "关于区委第九轮巡察反馈情况的通报",
        "区委第二巡察组对区农业农村局党组开展了常规巡察。",
        "区农业农村局党组存在的主要问题是：",
        "一是落实全面从严治党主体责任不到位，党组会议研究党风廉政建设工作次数偏少。",
    ],
    [
        "二是财务管理不规范，存在白条入账、公务接待超标准等问题，涉及资金12.5万元。",
        "三是干部队伍建设有差距，年轻干部培养力度不够。",
    ],
    ["四是巡察整改工作滞后，上轮巡察反馈问题仍有3项未整改到位。", "区委巡察办", "2023年6月10日"],
]
DOCX_PARAGRAPHS = [
    "区委第三巡察组向区财政局党组反馈巡察情况",
    "区委第三巡察组对区财政局党组开展了常规巡察，发现问题8个。",
    "巡察发现的主要问题：",
    "一是“第一议题”制度落实不严格，理论学习以读代学、照本宣科。",
    "二是政府采购不规范，部分项目化整为零规避公开招标。",
    "三是违规发放津补贴，以加班费名义发放补助4.2万元。",
    "区委巡察办",
    "2023年7月3日",
]
GBK_TEXT = (
    "区委第四巡察组向区交通运输局党组反馈巡察情况\n"
    "区委第四巡察组对区交通运输局党组开展了常规巡察。\n"
    "巡察发现的主要问题：\n"
    "一是“三重一大”决策制度执行不到位，大额资金使用未经集体研究。\n"
    "二是公车管理不严，存在公车私用问题。\n"
    "三是工程招投标不规范，个别道路项目先施工后招标。\n"
    "区委巡察办\n"
    "2023年8月8日\n"
)


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass
class Api:
    """A running app and what the tests need to talk to it."""

    client: TestClient
    settings: Settings
    make_session: sessionmaker[Session]
    tokens: dict[Role, str] = field(default_factory=dict)

    def headers(self, role: Role | str = Role.ADMIN) -> dict[str, str]:
        return auth(self.tokens[Role(role)])

    def call(self, method: str, path: str, role: Role | str | None = Role.ADMIN, **kwargs: Any) -> httpx.Response:
        headers = dict(kwargs.pop("headers", {}) or {})
        if role is not None:
            headers.update(self.headers(role))
        return self.client.request(method, API + path, headers=headers, **kwargs)

    def get(self, path: str, role: Role | str | None = Role.ADMIN, **kwargs: Any) -> httpx.Response:
        return self.call("GET", path, role, **kwargs)

    def ok(self, method: str, path: str, role: Role | str | None = Role.ADMIN, status: int = 200, **kwargs: Any) -> Any:
        """The JSON body of a call that must succeed with ``status``."""
        response = self.call(method, path, role, **kwargs)
        assert response.status_code == status, (method, path, response.status_code, response.text[:500])
        return response.json() if response.content and "json" in response.headers.get("content-type", "") else response


def make_settings(data_dir: Path, **overrides: Any) -> Settings:
    """Settings for a library in ``data_dir`` (explicit values, so the environment cannot redirect it);
    ``database_url=`` among the overrides puts the library on that database instead of SQLite."""
    return Settings(**{"data_dir": data_dir, "database_url": None, **overrides})


@contextmanager
def running_app(data_dir: Path, users: bool = True, **overrides: Any) -> Iterator[Api]:
    """The real app on a fresh SQLite library in ``data_dir``, with one user per role (password PASSWORD)."""
    settings = make_settings(data_dir, **overrides)
    app = create_app(settings)
    with TestClient(app) as client:
        api = Api(client, settings, app.state.make_session)
        if users:
            with api.make_session() as session:
                for role, name in USERS.items():
                    _, api.tokens[role] = create_user(session, name, PASSWORD, role)
        yield api


def wait_for_job(client: TestClient, job_id: str, headers: dict[str, str] | None = None, timeout: float = 120) -> dict[str, Any]:
    """Poll GET /jobs/{id} until the job is done or failed; its final JSON."""
    deadline = time.monotonic() + timeout
    while True:
        response = client.get(f"{API}/jobs/{job_id}", headers=headers or {})
        assert response.status_code == 200, response.text
        job = response.json()
        # finished_at is written just after the last item: wait for it too (a job "done" a moment
        # before its finished_at is set is a known, harmless race of service/jobs.py)
        if job["status"] in ("done", "failed") and job["finished_at"]:
            return job
        assert time.monotonic() < deadline, f"job {job_id} still {job['status']} after {timeout}s: {job}"
        time.sleep(0.05)


FileSpec = tuple[str, bytes]


def upload(api: Api, files: list[FileSpec], role: Role | str = Role.ANALYST, **form: str) -> httpx.Response:
    """POST /documents with ``files`` as (name, bytes) pairs and optional form fields."""
    return api.call("POST", "/documents", role, files=[("files", (name, data)) for name, data in files], data=form)


def upload_and_wait(api: Api, files: list[FileSpec], role: Role | str = Role.ANALYST, **form: str) -> dict[str, Any]:
    response = upload(api, files, role, **form)
    assert response.status_code == 202, response.text
    job_id = response.json()["job_id"]
    assert response.headers["location"] == f"{API}/jobs/{job_id}"
    return wait_for_job(api.client, job_id, api.headers(role))


def sample(name: str) -> FileSpec:
    return name, (SAMPLES / name).read_bytes()


def ingest_samples(api: Api, rounds: dict[str, list[str]] | None = None) -> dict[str, dict[str, Any]]:
    """Upload sample notices, one job per round with the round given; name → job item."""
    items: dict[str, dict[str, Any]] = {}
    for round_label, names in (rounds or SAMPLE_ROUNDS).items():
        job = upload_and_wait(api, [sample(n) for n in names], round=round_label)
        assert job["status"] == "done", job
        for item in job["items"]:
            assert item["status"] == "stored", item
            items[item["name"]] = item
    return items


def built_reports(folder: Path) -> dict[str, bytes]:
    """A PDF, a DOCX and a GBK text notice built as real files in ``folder``; name → bytes."""
    pdf = make_pdf(folder / "nongye.pdf", PDF_PAGES)
    docx = make_docx(folder / "caizheng.docx", DOCX_PARAGRAPHS)
    txt = write_text(folder / "jiaotong.txt", GBK_TEXT, "gbk")
    return {p.name: p.read_bytes() for p in (pdf, docx, txt)}


def all_findings(api: Api, role: Role | str = Role.VIEWER, **params: Any) -> list[dict[str, Any]]:
    """Every finding through GET /findings, following the pages."""
    out: list[dict[str, Any]] = []
    while True:
        page = api.ok("GET", "/findings", role, params={**params, "limit": 500, "offset": len(out)})
        out.extend(page["items"])
        if not page["items"] or len(out) >= page["total"]:
            return out


def audit_rows(api: Api, **params: Any) -> list[dict[str, Any]]:
    return api.ok("GET", "/audit", Role.ADMIN, params={"limit": 1000, **params})["items"]
