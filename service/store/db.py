"""Engines and sessions; the schema is created and upgraded by Alembic migrations, never by
``create_all``, so a database made by an older release is upgraded in place.

SQLite gets WAL mode (readers never block the writer), foreign keys on (cascading deletes) and a
busy timeout, so concurrent CLI and service processes wait instead of failing with "database is locked".
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from service.store import changes as _changes  # noqa: F401  (registers the change log on every session)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def make_engine(url: str, pool: dict[str, Any] | None = None) -> Engine:
    """``pool``: pool_size / max_overflow / pool_timeout for file databases and servers."""
    pool = pool or {}
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30}, **(pool if path and path != ":memory:" else {}))

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True, **pool)


def upgrade(engine: Engine) -> None:
    """Bring the schema to the latest migration (creates it on an empty database)."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


@lru_cache(maxsize=1)
def head_revision() -> str:
    """The newest migration this release knows."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None
    return head


def current_revision(connection: Connection) -> str | None:
    """The migration the database is at; None when it has no schema (never migrated)."""
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()


@lru_cache(maxsize=8)
def _engine_for(url: str, explicit: bool = True) -> Engine:
    from service.config_check import parse_database_url
    from service.settings import get_settings

    parse_database_url(url, explicit)  # a bad URL is one Chinese line, not a traceback or a server that 500s
    s = get_settings()
    engine = make_engine(url, {"pool_size": s.db_pool_size, "max_overflow": s.db_max_overflow, "pool_timeout": s.db_pool_timeout})
    try:
        upgrade(engine)
    except (OperationalError, InterfaceError) as exc:
        engine.dispose()
        raise _unreachable(url, exc) from None
    return engine


def _unreachable(url: str, exc: Exception) -> Exception:
    from service.config_check import ConfigurationError, safe_url

    detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0][:200]
    if "readonly" in detail or "read-only" in detail or "unable to open" in detail:
        return ConfigurationError(f"无法写入数据库 {safe_url(url)}：{detail}（请检查文件和目录权限）")
    return ConfigurationError(f"无法连接数据库 {safe_url(url)}：{detail}")


def get_engine(url: str | None = None) -> Engine:
    """The engine for ``url`` (default: the configured database), migrated to head, once per process."""
    from service.settings import get_settings

    settings = get_settings()
    # only a configured XUNCHA_DATABASE_URL must name an existing folder; the default (under the data
    # folder) and URLs passed by code create theirs
    return _engine_for(url or settings.resolved_database_url, url is None and settings.database_url is not None)


def session_factory(url: str | None = None) -> sessionmaker[Session]:
    return sessionmaker(get_engine(url), expire_on_commit=False)


@contextmanager
def snapshot(session: Session) -> Iterator[Session]:
    """A read-only session whose queries all see one state of the library.

    A report made of several queries (totals, then per round, then per label) must add up even while
    uploads commit between its queries. PostgreSQL's default READ COMMITTED gives each statement its
    own snapshot, so a round inserted between two statements was seen by one and not the other (a
    500 under load); REPEATABLE READ fixes the snapshot at the first statement. SQLite's driver starts
    no transaction for a SELECT, so each statement would again read on its own; an explicit BEGIN
    makes the first read take a WAL snapshot that the rest share. The session passed in (which holds
    the request's audit row) is left untouched.
    """
    bind = session.get_bind()
    engine = bind.engine if isinstance(bind, Connection) else bind
    connection = engine.connect()
    try:
        if connection.dialect.name == "postgresql":
            connection = connection.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
        elif connection.dialect.name == "sqlite":
            connection.exec_driver_sql("BEGIN")
        with Session(bind=connection, expire_on_commit=False) as reader:
            yield reader
    finally:
        connection.rollback()
        connection.close()
