"""Edge guards: login throttling, control characters in query values."""

from __future__ import annotations

from pathlib import Path

from api_helpers import API, PASSWORD, running_app

from service.api.throttle import LoginThrottle


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


def test_throttle_forgets_failures_after_a_success_and_after_the_window() -> None:
    throttle = LoginThrottle(max_failures=2, window=0.05)
    throttle.failed("a", "127.0.0.1")
    throttle.succeeded("a", "127.0.0.1")
    throttle.failed("a", "127.0.0.1")
    assert throttle.retry_after("a", "127.0.0.1") == 0
    throttle.failed("a", "127.0.0.1")
    assert throttle.retry_after("a", "127.0.0.1") > 0
    assert throttle.retry_after("a", "10.0.0.9") == 0
    import time

    time.sleep(0.06)
    assert throttle.retry_after("a", "127.0.0.1") == 0


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

