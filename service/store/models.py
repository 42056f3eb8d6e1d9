"""Tables of the findings library.

A document is identified by the sha256 of its original bytes (so the same file ingested twice is one
document); findings, tags and statistics belong to a document and go with it. Rounds and units are
shared across documents so that findings can be compared across rounds and units. A tag is either
``auto`` (the tagger's) or ``confirmed`` (an analyst's); confirmed tags are never overwritten by a
re-run and feed ``xuncha train``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware timestamp on every backend: SQLite keeps no offset, so values read back from it
    are marked UTC (they were written as UTC), and API consumers always get ``+00:00``."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class InspectionRound(Base):
    __tablename__ = "inspection_rounds"
    id: Mapped[int] = mapped_column(primary_key=True)
    label: Mapped[str] = mapped_column(String(100), unique=True)  # 十四届县委第六轮
    term: Mapped[str | None] = mapped_column(String(60))  # 十四届县委
    number: Mapped[int | None] = mapped_column(Integer)
    year: Mapped[int | None] = mapped_column(Integer)
    kind: Mapped[str | None] = mapped_column(String(30))


class Unit(Base):
    """An inspected unit (被巡察单位); ``aliases`` holds short names the reports define."""

    __tablename__ = "units"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    aliases: Mapped[list[Any]] = mapped_column(default=list)


class Document(Base):
    __tablename__ = "documents"
    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    source_name: Mapped[str] = mapped_column(String(500))
    stored_path: Mapped[str] = mapped_column(String(500))
    size: Mapped[int] = mapped_column(Integer)
    media_type: Mapped[str] = mapped_column(String(10))
    title: Mapped[str | None] = mapped_column(String(500))
    kind: Mapped[str | None] = mapped_column(String(30))
    date: Mapped[str | None] = mapped_column(String(10))
    round_id: Mapped[int | None] = mapped_column(ForeignKey("inspection_rounds.id"), index=True)
    text: Mapped[str] = mapped_column(Text)
    page_starts: Mapped[list[Any]] = mapped_column(default=list)
    encoding: Mapped[str | None] = mapped_column(String(30))
    backend: Mapped[str | None] = mapped_column(String(30))
    tagger_version: Mapped[str | None] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    round: Mapped[InspectionRound | None] = relationship()
    findings: Mapped[list[Finding]] = relationship(
        back_populates="document", cascade="all, delete-orphan", order_by="Finding.start"
    )
    statistics: Mapped[list[Statistic]] = relationship(back_populates="document", cascade="all, delete-orphan")


class Finding(Base):
    __tablename__ = "findings"
    __table_args__ = (UniqueConstraint("document_id", "local_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), index=True)
    local_id: Mapped[str] = mapped_column(String(10))  # F001 within its document
    text: Mapped[str] = mapped_column(Text)
    start: Mapped[int] = mapped_column(Integer)
    end: Mapped[int] = mapped_column(Integer)
    page: Mapped[int] = mapped_column(Integer)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    round_id: Mapped[int | None] = mapped_column(ForeignKey("inspection_rounds.id"), index=True)
    section: Mapped[str | None] = mapped_column(String(200))
    marker: Mapped[str | None] = mapped_column(String(10))
    detail: Mapped[str | None] = mapped_column(Text)
    # the problem statement it was split from (S001 within its document; nlp.statements); NULL: its own
    statement: Mapped[str | None] = mapped_column(String(10), nullable=True)

    document: Mapped[Document] = relationship(back_populates="findings")
    unit: Mapped[Unit | None] = relationship()
    round: Mapped[InspectionRound | None] = relationship()
    tags: Mapped[list[Tag]] = relationship(back_populates="finding", cascade="all, delete-orphan")
    representations: Mapped[list[FindingRepresentation]] = relationship(
        back_populates="finding", cascade="all, delete-orphan", passive_deletes=True
    )


class Tag(Base):
    __tablename__ = "tags"
    __table_args__ = (Index("ix_tags_counted_scheme", "counted", "scheme"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    finding_id: Mapped[int] = mapped_column(ForeignKey("findings.id", ondelete="CASCADE"), index=True)
    scheme: Mapped[str] = mapped_column(String(40))
    label: Mapped[str] = mapped_column(String(100), index=True)
    score: Mapped[float] = mapped_column(Float)
    evidence: Mapped[list[Any]] = mapped_column(default=list)
    source: Mapped[str] = mapped_column(String(20), default="auto")  # auto | confirmed
    created_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # whether this tag is the finding's label in its scheme, the one statistics count (confirmed tags
    # replace automatic ones; a single-label scheme counts only its best): kept by
    # ``service.tags.mark_counted`` wherever tags are written, so counting is one indexed aggregate
    counted: Mapped[bool] = mapped_column(default=False, server_default=false())

    finding: Mapped[Finding] = relationship(back_populates="tags")


class FindingRepresentation(Base):
    """A finding's meaning representation under one model: its vector (little-endian float32) and
    the thesaurus concepts it names. Computed once at ingest from the finding's text alone, so a new
    document never changes the rows of old ones; ``model`` / ``thesaurus`` say what made them."""

    __tablename__ = "finding_representations"
    finding_id: Mapped[int] = mapped_column(ForeignKey("findings.id", ondelete="CASCADE"), primary_key=True)
    model: Mapped[str] = mapped_column(String(80), primary_key=True, index=True)
    dim: Mapped[int] = mapped_column(Integer)
    vector: Mapped[bytes] = mapped_column(LargeBinary)
    concepts: Mapped[list[Any]] = mapped_column(default=list)
    thesaurus: Mapped[str] = mapped_column(String(20))
    # the concept family the finding leads with under that thesaurus (None: none yet, or no concept)
    lead_family: Mapped[str | None] = mapped_column(String(80), nullable=True)

    finding: Mapped[Finding] = relationship(back_populates="representations")


class Statistic(Base):
    __tablename__ = "statistics"
    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), index=True)
    metric: Mapped[str] = mapped_column(String(40), index=True)
    value: Mapped[float] = mapped_column(Float)
    unit: Mapped[str | None] = mapped_column(String(20))
    qualifier: Mapped[str | None] = mapped_column(String(60))
    quote: Mapped[str] = mapped_column(Text)
    start: Mapped[int] = mapped_column(Integer)
    end: Mapped[int] = mapped_column(Integer)
    # total | part (of another figure) | subset (a field of the metric) | cumulative (over rounds or years)
    scope: Mapped[str] = mapped_column(String(20), default="total", server_default="total")
    # the figure this one breaks down: its position among the document's statistics in text order
    part_of: Mapped[int | None] = mapped_column(Integer)

    document: Mapped[Document] = relationship(back_populates="statistics")


class User(Base):
    """An account; ``password_hash`` is an argon2id hash, never the password. ``name`` is stored
    normalised (NFKC, case-folded). Ids are never reused (AUTOINCREMENT on SQLite, a sequence on
    PostgreSQL): a credential left behind by a removed row can never name a later user."""

    __tablename__ = "users"
    __table_args__ = {"sqlite_autoincrement": True}
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))  # viewer | analyst | admin
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # set for a temporary password (given by an admin): only the password change is allowed until then
    must_change_password: Mapped[bool] = mapped_column(default=False, server_default=false())


class Credential(Base):
    """A secret that stands for a user: an API token (``kind='token'``) or a web session (``'session'``).

    Only the sha256 of the secret is stored, so a leaked database does not hand out working tokens.
    """

    __tablename__ = "credentials"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(10))
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    label: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship()


class AuditEntry(Base):
    """Who did what, when: kept for the inspection office's own oversight; rows are never updated."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    user_name: Mapped[str | None] = mapped_column(String(100), index=True)
    action: Mapped[str] = mapped_column(String(40), index=True)
    target: Mapped[str | None] = mapped_column(String(300))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    client: Mapped[str | None] = mapped_column(String(60))
    ok: Mapped[bool] = mapped_column(default=True)
    # the hash chain (service.audit): sha256 of the previous row's hash and this row's content; NULL
    # only on rows written before the chain began
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    row_hash: Mapped[str | None] = mapped_column(String(64))


class AuditChainHead(Base):
    """The chain's newest row (one row, ``id`` 1): deleting the latest audit rows is detected too, and
    locking this row is what serialises audit writers so that concurrent writers keep one chain."""

    __tablename__ = "audit_chain"
    id: Mapped[int] = mapped_column(primary_key=True)
    last_id: Mapped[int | None] = mapped_column(Integer)
    last_hash: Mapped[str | None] = mapped_column(String(64))


class RateWindow(Base):
    """A counter per key and fixed time window, shared by every worker and node on the database: login
    attempts reserved per name and client (service.api.throttle) and refusals counted per client for
    aggregated audit rows. Changed only by conditional UPDATEs, so concurrent requests cannot overshoot."""

    __tablename__ = "rate_windows"
    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(UTCDateTime())
    used: Mapped[int] = mapped_column(Integer, default=0)
    previous: Mapped[int] = mapped_column(Integer, default=0)  # the count of the window before this one
    logged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # when this window was last audited


class Job(Base):
    """A batch upload processed in the background; its items survive a crash and are resumed."""

    __tablename__ = "jobs"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    created_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    overrides: Mapped[dict[str, Any]] = mapped_column(default=dict)

    items: Mapped[list[JobItem]] = relationship(back_populates="job", cascade="all, delete-orphan", order_by="JobItem.position")


class JobItem(Base):
    __tablename__ = "job_items"
    __table_args__ = (UniqueConstraint("job_id", "position"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(300))
    staged_path: Mapped[str | None] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(20), default="queued", index=True)  # queued|running|stored|duplicate|error
    document_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id", ondelete="SET NULL"))
    findings: Mapped[int | None] = mapped_column(Integer)
    error_code: Mapped[str | None] = mapped_column(String(40))
    error_message: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Pages read so far / to read by the slow step of a running item (OCR), for the progress bar.
    pages_done: Mapped[int | None] = mapped_column(Integer)
    pages_total: Mapped[int | None] = mapped_column(Integer)

    job: Mapped[Job] = relationship(back_populates="items")


class LibraryChange(Base):
    """One finding added to or removed from the library, in commit order: the change sequence that
    every search index (each worker, each server on a shared database) replays to catch up without
    rebuilding. Written by :mod:`service.store.changes` in the transaction that makes the change;
    rows are never deleted, so ``seq`` only grows (AUTOINCREMENT on SQLite: never reused)."""

    __tablename__ = "library_changes"
    __table_args__ = {"sqlite_autoincrement": True}
    seq: Mapped[int] = mapped_column(primary_key=True)
    finding_id: Mapped[int] = mapped_column(Integer)
    change: Mapped[str] = mapped_column(String(8))  # add / remove
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class CommonIssueResult(Base):
    """The last common-issue computation of one selection (rounds, units), compact: clusters and
    recurrences naming their findings by id (:mod:`service.cluster_store`). What a server process
    serves from until it has its own, so no worker and no node recomputes the clusters on its first
    request; ``seq`` is the change it is as of (older than the library's: served as stale while
    recomputed)."""

    __tablename__ = "common_issue_results"
    scope: Mapped[str] = mapped_column(String(64), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)
    computed_at: Mapped[float] = mapped_column(Float)  # Unix time, as the API reports it
    body: Mapped[bytes] = mapped_column(LargeBinary)  # zlib-compressed JSON
