"""The library's change sequence: every finding added, removed or moved, logged in its own transaction.

Search indexes are derived data kept per process (:mod:`service.live_index`). To catch up after an
upload or a deletion — made by this worker, another worker or another server on the same database —
an index reads the changes after the last sequence number it applied, instead of comparing the whole
findings table or rebuilding. The log is written by one ORM hook (``after_flush``) for every session,
so no write path (ingest, import, deletion, a future one) can forget it, and it commits or rolls back
with the change itself.

A finding moved to another round or unit (a document's metadata corrected after upload) is logged as
``update``: its text and vectors are unchanged, so a search index has nothing to re-read, but every
result computed over rounds and units (the common-issue clusters, their trends and recurrences) is
stale, and the new sequence number is what tells their caches so.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, func, insert, inspect, select
from sqlalchemy.orm import Session

from service.store import models

ADD = "add"
REMOVE = "remove"
UPDATE = "update"

# What places a finding among rounds and units: the relationships and their foreign keys (either may be
# the one a writer set).
_PLACEMENT = ("round", "unit", "round_id", "unit_id")


def _moved(finding: models.Finding) -> bool:
    """Whether this flush changes the finding's round or unit (read in ``after_flush``, where the
    attribute history still holds what the flush wrote)."""
    attrs = inspect(finding).attrs
    return any(attrs[name].history.has_changes() for name in _PLACEMENT)


@event.listens_for(Session, "after_flush")
def _log_finding_changes(session: Session, _flush_context: Any) -> None:
    rows = [{"finding_id": o.id, "change": ADD} for o in session.new if isinstance(o, models.Finding)]
    rows += [{"finding_id": o.id, "change": REMOVE} for o in session.deleted if isinstance(o, models.Finding)]
    rows += [
        {"finding_id": o.id, "change": UPDATE}
        for o in session.dirty
        if isinstance(o, models.Finding) and o not in session.deleted and _moved(o)
    ]
    if rows:
        session.execute(insert(models.LibraryChange), [{**r, "at": models.utcnow()} for r in rows])


# On PostgreSQL a sequence number is drawn at insert and seen at commit, so two concurrent writers can
# commit out of order (seq 11 visible before seq 10). A reader therefore watches the last WINDOW
# numbers, not only the highest: a late commit inside that window changes its count.
WINDOW = 1000


def latest_change(session: Session) -> int:
    """The sequence number of the last committed change (0 for none)."""
    return int(session.scalar(select(func.max(models.LibraryChange.seq))) or 0)


def change_window(session: Session, seq: int) -> tuple[int, int]:
    """``(highest seq in the window or 0, how many changes after seq - WINDOW)``: one indexed query
    that tells a reader at ``seq`` whether anything was committed since, even out of order."""
    C = models.LibraryChange
    top, count = session.execute(select(func.max(C.seq), func.count(C.seq)).where(C.seq > seq - WINDOW)).one()
    return int(top or 0), int(count or 0)


def changes_after(session: Session, seq: int) -> list[tuple[int, int, str]]:
    """``(seq, finding_id, change)`` of every change after ``seq``, in order."""
    C = models.LibraryChange
    return [(int(s), int(f), str(c)) for s, f, c in session.execute(
        select(C.seq, C.finding_id, C.change).where(C.seq > seq).order_by(C.seq)
    )]
