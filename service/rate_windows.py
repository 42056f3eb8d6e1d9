"""Counters per key and fixed time window, kept in the database so that every worker process and every
node on the same database shares them (the login throttle, aggregated audit rows of refusals).

Each operation is a conditional UPDATE on one row: on PostgreSQL the row lock makes a concurrent
UPDATE wait and then re-check its WHERE clause against the committed row, and on SQLite the first
statement of each transaction is a write, which takes the database's write lock (no read snapshot to
go stale). So "take a place if fewer than N are taken" cannot overshoot however requests interleave.
The caller commits; a transaction that takes several keys must take them in the same order everywhere
(no deadlock).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from service.store.models import RateWindow, utcnow

KEEP_DAYS = 1  # rows untouched for this long are removed now and then (keys of made-up names)


@dataclass(frozen=True)
class Count:
    used: int  # places taken in the current window, this one included
    previous: int  # the count of the window before
    window_start: datetime


def _ensure_row(session: Session, key: str, now: datetime) -> None:
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(
        insert(RateWindow).values(key=key, window_start=now, used=0, previous=0).on_conflict_do_nothing(index_elements=["key"])
    )


def _roll(session: Session, key: str, window: float, now: datetime) -> None:
    """Start a new window when the current one is over; its count becomes ``previous``."""
    session.execute(
        update(RateWindow)
        .where(RateWindow.key == key, RateWindow.window_start <= now - timedelta(seconds=window))
        .values(previous=RateWindow.used, used=0, window_start=now, logged_at=None)
    )


def take(session: Session, key: str, window: float, limit: int | None = None, now: datetime | None = None) -> Count | None:
    """Take one place in ``key``'s current window if fewer than ``limit`` are taken (no limit: always);
    the count after taking it, or None when the window is full."""
    now = now or utcnow()
    _ensure_row(session, key, now)
    _roll(session, key, window, now)
    stmt = update(RateWindow).where(RateWindow.key == key)
    if limit is not None:
        stmt = stmt.where(RateWindow.used < limit)
    row = session.execute(
        stmt.values(used=RateWindow.used + 1).returning(RateWindow.used, RateWindow.previous, RateWindow.window_start)
    ).first()
    if random.random() < 0.001:
        session.execute(delete(RateWindow).where(RateWindow.window_start < now - timedelta(days=KEEP_DAYS)))
    return Count(row.used, row.previous, row.window_start) if row else None


def give_back(session: Session, key: str) -> None:
    session.execute(update(RateWindow).where(RateWindow.key == key, RateWindow.used > 0).values(used=RateWindow.used - 1))


def clear(session: Session, key: str) -> None:
    session.execute(delete(RateWindow).where(RateWindow.key == key))


def seconds_left(session: Session, key: str, window: float, limit: int, now: datetime | None = None) -> int:
    """Seconds until ``key`` has a free place again (0: it has one now)."""
    now = now or utcnow()
    row = session.execute(select(RateWindow.used, RateWindow.window_start).where(RateWindow.key == key)).first()
    if row is None:
        return 0
    started = row.window_start
    left = window - (now - started).total_seconds()
    if left <= 0 or row.used < limit:
        return 0
    return max(1, int(left) + 1)


def mark_logged(session: Session, key: str, now: datetime | None = None) -> bool:
    """True once per window: the caller may write its one audit row for this window."""
    result = session.execute(
        update(RateWindow).where(RateWindow.key == key, RateWindow.logged_at.is_(None)).values(logged_at=now or utcnow())
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]
