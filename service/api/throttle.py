"""Slow down password guessing: after a few failed logins for one name from one client — or many for
any names from one client, or for one name from anywhere — refuse further attempts for a while (429).

The check and the attempt are one step: :meth:`LoginThrottle.begin` reserves a place for the attempt
with a conditional UPDATE before the password is verified (argon2 takes ~50 ms, time enough for a
burst of concurrent requests to all pass a check that only counted finished failures). The counters
live in the database (:mod:`service.rate_windows`), so every worker process and every node on the
database shares them: a burst of 30 wrong passwords across two workers has at most ``max_failures``
verified, and the right password sent right after is refused too until the window passes. A reserved
place is given back when the password was right (or the check failed for another reason); a wrong
one keeps it, so it counts as a failure.

Only the first refusal of a window is written to the audit log, so a flood of refused attempts cannot
flood the log.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from service import rate_windows

MAX_FAILURES = 5  # per name and client
MAX_CLIENT_FAILURES = 20  # per client, whatever the names (10 names × 5 tries is a guessing run too)
MAX_NAME_FAILURES = 50  # per name, from any client (guessing spread over many addresses)
WINDOW_SECONDS = 600.0


@dataclass(frozen=True)
class Verdict:
    """The outcome of :meth:`LoginThrottle.begin`: wait 0 means the attempt may be checked."""

    wait: int
    log_refusal: bool = False  # the first refusal of this window: worth one audit row


class LoginThrottle:
    def __init__(
        self, max_failures: int = MAX_FAILURES, window: float = WINDOW_SECONDS,
        max_client_failures: int = MAX_CLIENT_FAILURES, max_name_failures: int = MAX_NAME_FAILURES,
    ) -> None:
        self.max_failures = max_failures
        self.max_client_failures = max_client_failures
        self.max_name_failures = max_name_failures
        self.window = window

    def _keys(self, name: str, client: str | None) -> list[tuple[str, int]]:
        """(key, limit) in the one order every transaction takes them in (no lock cycles)."""
        client = client or ""
        return [
            (f"login:client:{client}"[:300], self.max_client_failures),
            (f"login:name:{name}"[:300], self.max_name_failures),
            (f"login:pair:{client}|{name}"[:300], self.max_failures),
        ]

    def begin(self, session: Session, name: str, client: str | None) -> Verdict:
        """Reserve an attempt for ``name`` from ``client``, or say how long to wait. A reserved attempt
        must be ended with :meth:`failed`, :meth:`succeeded` or :meth:`abandoned`. Commits."""
        try:
            taken: list[str] = []
            for key, limit in self._keys(name, client):
                if rate_windows.take(session, key, self.window, limit) is None:
                    for done in taken:
                        rate_windows.give_back(session, done)
                    wait = rate_windows.seconds_left(session, key, self.window, limit) or 1
                    first = rate_windows.mark_logged(session, key)
                    session.commit()
                    return Verdict(wait, log_refusal=first)
                taken.append(key)
            session.commit()
            return Verdict(0)
        except BaseException:
            session.rollback()
            raise

    def _give_back(self, session: Session, name: str, client: str | None, clear_pair: bool) -> None:
        try:
            for key, _ in self._keys(name, client):
                if clear_pair and key.startswith("login:pair:"):
                    rate_windows.clear(session, key)
                else:
                    rate_windows.give_back(session, key)
            session.commit()
        except BaseException:
            session.rollback()
            raise

    def failed(self, session: Session, name: str, client: str | None) -> None:
        """A wrong password: its reserved place stays taken, which is what counts it as a failure."""

    def abandoned(self, session: Session, name: str, client: str | None) -> None:
        """The attempt ended without a verdict (an error): its place is given back."""
        self._give_back(session, name, client, clear_pair=False)

    def succeeded(self, session: Session, name: str, client: str | None) -> None:
        """A right password clears the failures of this name from this client (not the client's count
        across names, nor the name's from other clients)."""
        self._give_back(session, name, client, clear_pair=True)

    def retry_after(self, session: Session, name: str, client: str | None) -> int:
        """Seconds until this name may try again from this client (0: now), reserving nothing."""
        return max(rate_windows.seconds_left(session, key, self.window, limit) for key, limit in self._keys(name, client))
