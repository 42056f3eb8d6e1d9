"""Edge guards: login throttling, control characters in query values."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from api_helpers import API, PASSWORD, all_findings, audit_rows, running_app, upload_and_wait
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from service.api.throttle import LoginThrottle
from service.store.db import get_engine, session_factory

POSTGRES = os.environ.get("XUNCHA_TEST_POSTGRES_URL")


def test_api_login_is_throttled_after_repeated_failures(tmp_path: Path) -> None:
    with running_app(tmp_path) as api:
        for _ in range(5):
            r = api.client.post(f"{API}/auth/login", json={"username": "analyst", "password": "wrong-password"})
            assert r.status_code == 401
        r = api.client.post(f"{API}/auth/login", json={"username": "analyst", "password": PASSWORD})
        assert r.status_code == 429
        assert r.json()["error"]["code"] == "too_many_attempts"
        assert "分钟后再试" in r.json()["error"]["message"]
        assert int(r.headers["retry-after"]) > 0
        # another user from the same client is not affected
        r = api.client.post(f"{API}/auth/login", json={"username": "viewer", "password": PASSWORD})
        assert r.status_code == 200
        audit = api.client.get(f"{API}/audit", params={"action": "login_failed"}, headers=api.headers()).json()["items"]
        assert len([a for a in audit if a["user"] == "analyst"]) == 6
        assert any(a["detail"].get("throttled") for a in audit)


def test_api_login_burst_checks_at_most_five_and_then_refuses_the_right_password(tmp_path: Path) -> None:
    """30 wrong passwords sent at once: the check and the reservation are one step, so no more than
    five are verified however the requests interleave; the right password right after is refused."""
    from concurrent.futures import ThreadPoolExecutor

    with running_app(tmp_path) as api:
        def attempt(_: int) -> int:
            r = api.client.post(f"{API}/auth/login", json={"username": "analyst", "password": "wrong-password"})
            return r.status_code

        with ThreadPoolExecutor(max_workers=30) as pool:
            codes = list(pool.map(attempt, range(30)))
        assert codes.count(401) <= 5 and codes.count(401) >= 1, codes
        assert codes.count(429) == 30 - codes.count(401), codes
        r = api.client.post(f"{API}/auth/login", json={"username": "analyst", "password": PASSWORD})
        assert r.status_code == 429
        audit = api.client.get(f"{API}/audit", params={"action": "login_failed"}, headers=api.headers()).json()["items"]
        throttled = [a for a in audit if a["user"] == "analyst" and a["detail"].get("throttled")]
        assert len(throttled) == 1  # one row for the window, not one per refused attempt
        assert len([a for a in audit if a["user"] == "analyst"]) == codes.count(401) + 1


def test_api_login_guessing_across_names_from_one_client_is_slowed(tmp_path: Path) -> None:
    with running_app(tmp_path) as api:
        codes = []
        for name in range(10):
            for _ in range(5):
                r = api.client.post(f"{API}/auth/login", json={"username": f"guess{name}", "password": "wrong-password"})
                codes.append(r.status_code)
        assert codes[:20] == [401] * 20
        assert set(codes[20:]) == {429}


@pytest.fixture(params=["sqlite", "postgresql"])
def throttle_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    """Sessions on a fresh migrated database: the throttle's counters live there, shared by workers."""
    if request.param == "sqlite":
        yield session_factory(f"sqlite:///{tmp_path / 'throttle.db'}")
        return
    yield from _postgres_sessions()


def _postgres_sessions() -> Iterator[sessionmaker[Session]]:
    if not POSTGRES:
        pytest.skip("XUNCHA_TEST_POSTGRES_URL not set (.ci/run starts a PostgreSQL server)")
    name = f"xuncha_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(POSTGRES).set(database=name).render_as_string(hide_password=False)
    try:
        yield session_factory(url)
    finally:
        get_engine(url).dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()


def test_throttle_reserved_attempts_count_until_they_end(throttle_db: sessionmaker[Session]) -> None:
    throttle = LoginThrottle(max_failures=2, window=60)
    with throttle_db() as s:
        assert throttle.begin(s, "a", "c").wait == 0
        assert throttle.begin(s, "a", "c").wait == 0
        refused = throttle.begin(s, "a", "c")  # two attempts under way: a third waits for their verdict
        assert refused.wait > 0 and refused.log_refusal
        assert throttle.begin(s, "a", "c").log_refusal is False
        throttle.abandoned(s, "a", "c")
        throttle.succeeded(s, "a", "c")
        assert throttle.begin(s, "a", "c").wait == 0


def test_throttle_forgets_failures_after_a_success_and_after_the_window(throttle_db: sessionmaker[Session]) -> None:
    throttle = LoginThrottle(max_failures=2, window=1.0)
    with throttle_db() as s:
        def fail(client: str) -> None:
            assert throttle.begin(s, "a", client).wait == 0
            throttle.failed(s, "a", client)

        fail("127.0.0.1")
        assert throttle.begin(s, "a", "127.0.0.1").wait == 0
        throttle.succeeded(s, "a", "127.0.0.1")  # clears this name's failures from this client
        fail("127.0.0.1")
        assert throttle.retry_after(s, "a", "127.0.0.1") == 0
        fail("127.0.0.1")
        assert throttle.retry_after(s, "a", "127.0.0.1") > 0
        assert throttle.begin(s, "a", "127.0.0.1").wait > 0
        assert throttle.retry_after(s, "a", "10.0.0.9") == 0  # another client is not slowed
        time.sleep(1.1)
        assert throttle.retry_after(s, "a", "127.0.0.1") == 0
        assert throttle.begin(s, "a", "127.0.0.1").wait == 0


def test_throttle_counts_are_shared_by_two_workers_on_one_database(throttle_db: sessionmaker[Session]) -> None:
    """Two throttles (two worker processes) on one database: 30 concurrent reservations, at most 5 pass."""
    from concurrent.futures import ThreadPoolExecutor

    workers = [LoginThrottle(), LoginThrottle()]

    def attempt(i: int) -> int:
        with throttle_db() as s:
            return workers[i % 2].begin(s, "victim", "10.1.1.1").wait

    with ThreadPoolExecutor(max_workers=10) as pool:
        waits = list(pool.map(attempt, range(30)))
    assert waits.count(0) == 5, waits
    assert all(w > 0 for w in waits if w) and len([w for w in waits if w]) == 25


def test_api_control_characters_in_query_values_are_refused_on_every_database(tmp_path: Path) -> None:
    with running_app(tmp_path) as api:
        for path, params in [("/search", {"q": "a\x00b"}), ("/findings", {"text": "白条\x01"}), ("/audit", {"user": "x\x00"})]:
            r = api.client.get(f"{API}{path}", params=params, headers=api.headers())
            assert r.status_code == 422, path
            assert r.json()["error"]["code"] == "invalid_characters"
        r = api.client.get(f"{API}/search", params={"q": "第一行\n第二行"}, headers=api.headers())
        assert r.status_code == 200  # line breaks in a pasted query are fine
        r = api.client.post(f"{API}/auth/login", json={"username": "analyst\x00", "password": PASSWORD})
        assert r.status_code == 422



REPORT_WITH_WILDCARDS = (
    "中共某县委第三巡察组关于巡察某局的反馈意见\n"
    "一、巡察发现的主要问题\n"
    "一是项目资金拨付进度滞后，年度资金执行率仅为35%，影响惠民项目落地。\n"
    "二是干部队伍建设薄弱，后备干部培养计划_未落实，梯队断层。\n"
    "三是落实中央八项规定精神不到位，违规发放津补贴。\n"
)


def test_api_filter_values_are_literal_text_not_like_patterns(tmp_path: Path) -> None:
    """``%`` and ``_`` in a filter match themselves: /findings?text=% is not every finding."""
    with running_app(tmp_path) as api:
        job = upload_and_wait(api, [("wildcards.txt", REPORT_WITH_WILDCARDS.encode())], round="第三轮", unit="某局")
        assert job["status"] == "done", job
        every = all_findings(api)
        assert len(every) == 3
        percent = all_findings(api, text="%")
        assert [f["text"] for f in percent] == [f["text"] for f in every if "%" in f["text"]] and len(percent) == 1
        underscore = all_findings(api, text="_")
        assert len(underscore) == 1 and "_" in underscore[0]["text"]
        assert all_findings(api, unit="%") == [] and all_findings(api, round="_") == []
        assert len(all_findings(api, unit="某局")) == 3


def test_api_reading_one_finding_is_audited(tmp_path: Path) -> None:
    with running_app(tmp_path) as api:
        job = upload_and_wait(api, [("report.txt", REPORT_WITH_WILDCARDS.encode())])
        assert job["status"] == "done", job
        finding = all_findings(api)[0]
        api.ok("GET", f"/findings/{finding['id']}", "viewer")
        rows = [r for r in audit_rows(api) if r["action"] == "finding_viewed"]
        assert len(rows) == 1 and rows[0]["user"] == "viewer" and rows[0]["target"] == f"finding:{finding['id']}"
