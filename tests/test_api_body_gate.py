"""Bodies from nobody are refused unread, on the real server: the answer comes while the client is
still sending, well within a second, and the server never holds the body (issue: hardened for a
government network, row 4)."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest
from test_api_reliability import API, Server, make_token, servers, sqlite_url  # noqa: F401  (fixture)

MB = 1024 * 1024


def _send_partly(server: Server, head: str, body_prefix: bytes, timeout: float = 5.0) -> tuple[float, str]:
    """Send a request's head and the first bytes of a large body, then read the answer without
    sending the rest; returns (seconds until the status line arrived, the response head)."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", server.port), timeout=timeout) as sock:
        sock.sendall(head.encode("latin-1") + body_prefix)
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
    return time.monotonic() - started, answer.decode("utf-8", errors="replace")


@pytest.fixture
def server(tmp_path: Path, servers):  # noqa: F811
    data = tmp_path / "data"
    data.mkdir()
    token = make_token(sqlite_url(data))
    running = servers("gate", data).wait_ready()
    running.token = token  # type: ignore[attr-defined]
    return running


def test_anonymous_50_mb_json_body_gets_413_within_a_second_unread(server: Server) -> None:
    head = (
        f"POST {API}/clusters HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {50 * MB}\r\n\r\n"
    )
    seconds, answer = _send_partly(server, head, b"[" + b"1," * 1000)
    assert answer.startswith("HTTP/1.1 413"), answer
    assert seconds < 1.0


def test_anonymous_20_mb_upload_gets_401_within_a_second_unread(server: Server) -> None:
    boundary = "xunchaboundary"
    head = (
        f"POST {API}/documents HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {20 * MB}\r\n\r\n"
    )
    part = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"a.txt\"\r\n\r\n").encode()
    seconds, answer = _send_partly(server, head, part + b"x" * 65536)
    assert answer.startswith("HTTP/1.1 401"), answer
    assert seconds < 1.0


def test_a_made_up_token_or_cookie_is_refused_unread_too(server: Server) -> None:
    for credential in ("Authorization: Bearer xc_made-up-token", "Cookie: xuncha_session=made-up"):
        head = (
            f"POST {API}/documents HTTP/1.1\r\nHost: 127.0.0.1\r\n{credential}\r\n"
            f"Content-Type: multipart/form-data; boundary=b\r\nContent-Length: {20 * MB}\r\n\r\n"
        )
        seconds, answer = _send_partly(server, head, b"--b\r\n")
        assert answer.startswith("HTTP/1.1 401"), answer
        assert seconds < 1.0


def test_a_large_json_body_is_refused_for_a_signed_in_user_and_a_normal_one_passes(server: Server) -> None:
    token = server.token  # type: ignore[attr-defined]
    head = (
        f"POST {API}/clusters HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {5 * MB}\r\n\r\n"
    )
    seconds, answer = _send_partly(server, head, b"{")
    assert answer.startswith("HTTP/1.1 413"), answer
    with server.client(token) as client:
        # a chunked JSON body over the cap is counted as it streams in
        def chunks():
            yield b'{"rounds": ["'
            for _ in range(3):
                yield b"x" * (512 * 1024)
            yield b'"]}'

        streamed = client.post(f"{API}/clusters", content=chunks(), headers={"Content-Type": "application/json"})
        assert streamed.status_code == 413, streamed.text
        assert streamed.json()["error"]["code"] == "request_too_large"
        normal = client.post(f"{API}/clusters", json={"limit": 5})
        assert normal.status_code in (200, 404), normal.text  # an empty library answers 404 empty_library
        assert normal.status_code != 413


def test_login_itself_needs_no_credential_but_is_capped(server: Server) -> None:
    import httpx

    with httpx.Client(base_url=server.url, trust_env=False, timeout=10) as client:
        refused = client.post(f"{API}/auth/login", json={"username": "admin", "password": "wrong-password"})
        assert refused.status_code == 401 and refused.json()["error"]["code"] == "login_failed"
        ok = client.post(f"{API}/auth/login", json={"username": "admin", "password": "correct-horse-42"})
        assert ok.status_code == 200
        huge = client.post(f"{API}/auth/login", content=b"{" + b" " * (2 * MB) + b"}",
                           headers={"Content-Type": "application/json"})
        assert huge.status_code == 413
