"""Content-addressed store of original report files: ``files/ab/abcdef….pdf`` by sha256.

The stored name never comes from the uploaded name (no path traversal, no collisions); the same
bytes are stored once. Files are written to a temporary name and renamed, so a crash never leaves a
half-written file under a final name.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

_SUFFIX = {"pdf": ".pdf", "docx": ".docx", "text": ".txt", "html": ".html", "ofd": ".ofd", "doc": ".doc"}


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def store_bytes(root: Path, data: bytes, media_type: str, digest: str | None = None) -> Path:
    """Store ``data`` (idempotent) and return its path relative to ``root``."""
    digest = digest or sha256_of(data)
    relative = Path(digest[:2]) / f"{digest}{_SUFFIX.get(media_type, '.bin')}"
    target = root / relative
    if target.exists():
        return relative
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return relative
