"""Property-based run of the whole API against its own OpenAPI schema (schemathesis): no request the
schema allows, nor the near-misses schemathesis derives from it, may get a 5xx.

Every operation is tested with an admin's bearer token (so each request reaches the route rather
than stopping at 401) on a library that already holds four sample reports. DELETE on documents is
included: deleting must not 5xx either, and the other operations must cope with what is left.
It runs on SQLite and, when ``XUNCHA_TEST_POSTGRES_URL`` is set, again on a fresh PostgreSQL
database. The run is bounded (``MAX_EXAMPLES`` generated cases per operation, plus schemathesis'
examples and coverage cases), about 20 s per database on two cores. No example database is kept
(``database=None``); Hypothesis' cache folder ``.hypothesis/`` carries its own ``.gitignore``.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.python import asgi as schemathesis_asgi
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from nlp.pipeline import analyze_bytes
from service.accounts import create_user
from service.api.app import create_app
from service.settings import Settings
from service.store.db import session_factory
from service.store.repository import Overrides, ingest_bytes

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "corpora" / "samples"
SEED = {
    "r5_jiaoyuju_feedback.pdf": "十四届县委第五轮",
    "r5_zhujianju_feedback.docx": "十四届县委第五轮",
    "r6_weijianju_special_feedback.txt": "十四届县委第六轮",
    "r7_chengguanzhen_huitoukan_feedback.txt": "十四届县委第七轮",
}
MAX_EXAMPLES = 25
POSTGRES = os.environ.get("XUNCHA_TEST_POSTGRES_URL")  # set by .ci/run after starting a server

# The schema is the app's own; the app that answers is built per module run on a fresh library.
SCHEMA = schemathesis.openapi.from_dict(create_app(Settings(data_dir=Path("unused"), database_url=None)).openapi())


@dataclass
class Api:
    app: Any
    headers: dict[str, str]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """None (SQLite in the data directory) or a new PostgreSQL database, dropped afterwards."""
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


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory, database_url: str | None) -> Iterator[Api]:
    data_dir = tmp_path_factory.mktemp("schema-library")
    config = Settings(data_dir=data_dir, database_url=database_url, max_file_mb=2, max_request_mb=5, max_files_per_upload=5)
    make_session = session_factory(config.resolved_database_url)
    with make_session() as session:
        _, token = create_user(session, "admin", "correct-horse-42", "admin")
    for name, round_label in SEED.items():
        data = (SAMPLES / name).read_bytes()
        with make_session() as session:
            ingest_bytes(session, data, name, analyze_bytes(data, name), config.files_dir, Overrides(round=round_label))
    app = create_app(config)
    try:
        yield Api(app, {"Authorization": f"Bearer {token}"})
    finally:
        schemathesis_asgi.shutdown_lifespans()  # stops the app's job runner started by the first call


@SCHEMA.parametrize()
# Derandomized: the same bounded set of cases on every run, so CI is reproducible; set
# XUNCHA_SCHEMA_EXPLORE=1 to draw new random cases when hunting for bugs.
@settings(max_examples=MAX_EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck),
          derandomize=not os.environ.get("XUNCHA_SCHEMA_EXPLORE"))
def test_api_schema_no_server_error(case: schemathesis.Case, api: Api) -> None:
    response = case.call(app=api.app, headers=api.headers)
    assert response.status_code < 500, f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:300]}"
    content_type = (response.headers.get("content-type") or [""])[0]
    if response.status_code >= 400 and content_type.startswith("application/json"):
        error = response.json().get("error")
        assert isinstance(error, dict) and error.get("code") and error.get("message"), response.text[:300]
