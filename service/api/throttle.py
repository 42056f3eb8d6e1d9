"""Slow down password guessing: after a few failed logins for one name from one client, refuse
further attempts for a while (429). Kept in memory per process; argon2 already makes each guess slow."""

from __future__ import annotations

import threading
import time
from collections import deque

MAX_FAILURES = 5
WINDOW_SECONDS = 600.0


class LoginThrottle:
    def __init__(self, max_failures: int = MAX_FAILURES, window: float = WINDOW_SECONDS) -> None:
        self.max_failures = max_failures
        self.window = window
        self._failures: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        times = self._failures.setdefault(key, deque())
        while times and now - times[0] > self.window:
            times.popleft()
        return times

    def retry_after(self, name: str, client: str | None) -> int:
        """Seconds until this name may try again from this client (0: now)."""
        now = time.monotonic()
        with self._lock:
            times = self._recent((name, client or ""), now)
            if len(times) < self.max_failures:
                return 0
            return max(1, int(self.window - (now - times[0])) + 1)

    def failed(self, name: str, client: str | None) -> None:
        now = time.monotonic()
        with self._lock:
            self._recent((name, client or ""), now).append(now)
            if len(self._failures) > 10_000:  # bound memory under a flood of made-up names
                self._failures = {k: v for k, v in self._failures.items() if v}

    def succeeded(self, name: str, client: str | None) -> None:
        with self._lock:
            self._failures.pop((name, client or ""), None)
