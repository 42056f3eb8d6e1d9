"""Slow down password guessing: after a few failed logins for one name from one client — or many for
any names from one client — refuse further attempts for a while (429).

The check and the attempt are one step: :meth:`LoginThrottle.begin` reserves a place for the attempt
under the lock before the password is verified (argon2 takes ~50 ms, time enough for a burst of
concurrent requests to all pass a check that only counted finished failures). A burst of 30 wrong
passwords sent at once therefore has at most ``max_failures`` verified, and the right password sent
right after is refused too until the window passes.

Kept in memory per process (the service runs one worker by default); argon2 already makes each guess
slow. Only the first refusal of a window is written to the audit log, so a flood of refused attempts
cannot flood the log.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field

MAX_FAILURES = 5  # per name and client
MAX_CLIENT_FAILURES = 20  # per client, whatever the names (10 names × 5 tries is a guessing run too)
WINDOW_SECONDS = 600.0
_ANY_NAME = "\x00*"


@dataclass
class _Attempts:
    failures: deque[float] = field(default_factory=deque)
    pending: int = 0  # attempts reserved and not yet judged
    refusal_logged_at: float | None = None  # when a refusal was last written to the audit log


@dataclass(frozen=True)
class Verdict:
    """The outcome of :meth:`LoginThrottle.begin`: wait 0 means the attempt may be checked."""

    wait: int
    log_refusal: bool = False  # the first refusal of this window: worth one audit row


class LoginThrottle:
    def __init__(
        self, max_failures: int = MAX_FAILURES, window: float = WINDOW_SECONDS, max_client_failures: int = MAX_CLIENT_FAILURES
    ) -> None:
        self.max_failures = max_failures
        self.max_client_failures = max_client_failures
        self.window = window
        self._attempts: dict[tuple[str, str], _Attempts] = {}
        self._lock = threading.Lock()

    def _recent(self, key: tuple[str, str], now: float) -> _Attempts:
        entry = self._attempts.setdefault(key, _Attempts())
        while entry.failures and now - entry.failures[0] > self.window:
            entry.failures.popleft()
        return entry

    def _wait(self, entry: _Attempts, limit: int, now: float) -> int:
        if len(entry.failures) + entry.pending < limit:
            return 0
        oldest = entry.failures[0] if entry.failures else now
        return max(1, int(self.window - (now - oldest)) + 1)

    def begin(self, name: str, client: str | None) -> Verdict:
        """Reserve an attempt for ``name`` from ``client``, or say how long to wait. A reserved attempt
        must be ended with :meth:`failed`, :meth:`succeeded` or :meth:`abandoned`."""
        now = time.monotonic()
        with self._lock:
            mine = self._recent((name, client or ""), now)
            everyone = self._recent((_ANY_NAME, client or ""), now)
            wait = max(self._wait(mine, self.max_failures, now), self._wait(everyone, self.max_client_failures, now))
            if wait:
                logged = [e.refusal_logged_at for e in (mine, everyone) if e.refusal_logged_at is not None]
                first = not logged or now - max(logged) > self.window
                if first:
                    mine.refusal_logged_at = everyone.refusal_logged_at = now
                return Verdict(wait, log_refusal=first)
            mine.pending += 1
            everyone.pending += 1
            if len(self._attempts) > 10_000:  # bound memory under a flood of made-up names
                self._attempts = {k: v for k, v in self._attempts.items() if v.failures or v.pending}
            return Verdict(0)

    def _end(self, name: str, client: str | None, failed: bool) -> None:
        now = time.monotonic()
        with self._lock:
            for key in ((name, client or ""), (_ANY_NAME, client or "")):
                entry = self._recent(key, now)
                entry.pending = max(0, entry.pending - 1)
                if failed:
                    entry.failures.append(now)

    def failed(self, name: str, client: str | None) -> None:
        self._end(name, client, failed=True)

    def abandoned(self, name: str, client: str | None) -> None:
        """The attempt ended without a verdict (an error): its place is given back."""
        self._end(name, client, failed=False)

    def succeeded(self, name: str, client: str | None) -> None:
        """A right password clears the name's failures (not the client's count across names)."""
        self._end(name, client, failed=False)
        with self._lock:
            self._attempts.pop((name, client or ""), None)

    def retry_after(self, name: str, client: str | None) -> int:
        """Seconds until this name may try again from this client (0: now), reserving nothing."""
        now = time.monotonic()
        with self._lock:
            return max(
                self._wait(self._recent((name, client or ""), now), self.max_failures, now),
                self._wait(self._recent((_ANY_NAME, client or ""), now), self.max_client_failures, now),
            )
