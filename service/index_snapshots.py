"""The search index's base on disk: one folder per build, a pointer to the current one, one writer.

Every server process used to build its own base index from the database — seconds at 20k findings,
a minute at 100k, gigabytes at a million, in each worker, on each node — and the build ran in the
process that answers searches, where its garbage and bm25s's native loops paused them (a search of
5.45 s was measured during one). Now one builder process per data folder
(:mod:`service.index_builder`, under a file lock) writes the base into a folder
(:mod:`nlp.index_files`), and every worker maps that folder read-only: one copy in the page cache for
all of them, opened in milliseconds, also after a restart.

Layout under ``<data>/index/<library key>/``:

- ``base-<seq>-<id>/``: one finished base over the library as of change ``seq``;
- ``CURRENT.json``: which base is current, its change sequence and window, its embedder and thesaurus
  version and the stamp of its last change — replaced atomically (written aside, fsynced, renamed);
- ``build.lock``: held by the one builder.

A folder is written under a ``.tmp-`` name and renamed into place whole, and the pointer moves only
after that: a builder killed at any point leaves the previous base current and a temporary folder the
next build removes. A pointer whose stamp is not the database's own change at that sequence (the
database was replaced or restored) is not used. Old bases are removed after :data:`KEEP_SECONDS`;
a process still mapping one keeps its pages (unlinked files stay mapped on Linux).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock
from sqlalchemy import select
from sqlalchemy.orm import Session

from nlp.concepts import Thesaurus
from nlp.embedders import Embedder
from nlp.index_files import open_index, save_index
from nlp.search import SearchIndex
from service.store import models

log = logging.getLogger(__name__)

POINTER = "CURRENT.json"
LOCK = "build.lock"
KEEP_SECONDS = 600.0  # an old base is removed this long after it stopped being current
TMP_MAX_AGE = 3600.0  # a temporary folder this old is a killed build's


@dataclass(frozen=True)
class SnapshotInfo:
    """What the pointer says about the current base."""

    name: str
    seq: int
    window: frozenset[int]
    version: str
    stamp: str  # the time of change ``seq`` in the database it was built from ("" for seq 0)
    count: int


def library_key(database_url: str) -> str:
    """A folder name for one database (a data folder may be pointed at another database later)."""
    return hashlib.sha1(database_url.encode("utf-8")).hexdigest()[:12]


def change_stamp(session: Session, seq: int) -> str:
    """The recorded time of change ``seq`` ("" when there is none): what ties a base to its database."""
    if seq <= 0:
        return ""
    at = session.scalar(select(models.LibraryChange.at).where(models.LibraryChange.seq == seq))
    return "" if at is None else at.isoformat()


class SnapshotStore:
    """The bases of one library in ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def lock(self) -> FileLock:
        self.root.mkdir(parents=True, exist_ok=True)
        return FileLock(str(self.root / LOCK))

    def pointer_stamp(self) -> tuple[int, int, int] | None:
        """A cheap fingerprint of the pointer file (a stat): searches compare it to notice a new base."""
        try:
            st = os.stat(self.root / POINTER)
        except OSError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def current(self) -> SnapshotInfo | None:
        """The pointer, or None when there is none or it cannot be read."""
        try:
            raw = json.loads((self.root / POINTER).read_text(encoding="utf-8"))
            return SnapshotInfo(str(raw["name"]), int(raw["seq"]), frozenset(int(s) for s in raw["window"]),
                                str(raw["version"]), str(raw["stamp"]), int(raw["count"]))
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError):
            log.warning("检索索引指针 %s 无法读取，将重建", self.root / POINTER)
            return None

    def open(self, info: SnapshotInfo, embedder: Embedder, thesaurus: Thesaurus) -> SearchIndex:
        """The base ``info`` names, mapped (raises ``BadIndexError`` for a damaged one)."""
        return open_index(self.root / info.name, embedder, thesaurus)

    def write(self, index: SearchIndex, seq: int, window: frozenset[int], version: str, stamp: str) -> SnapshotInfo:
        """Save ``index`` as the new current base (the caller holds :meth:`lock`)."""
        self.root.mkdir(parents=True, exist_ok=True)
        self._remove_stale()
        token = uuid.uuid4().hex[:8]
        temporary = self.root / f".tmp-{token}"
        save_index(index, temporary)
        name = f"base-{seq:012d}-{token}"
        os.rename(temporary, self.root / name)
        info = SnapshotInfo(name, seq, window, version, stamp, len(index))
        self._point_to(info)
        return info

    def discard(self, info: SnapshotInfo) -> None:
        """Forget a base that failed to open: the pointer goes (if still its), then the folder."""
        if (current := self.current()) is not None and current.name == info.name:
            (self.root / POINTER).unlink(missing_ok=True)
        shutil.rmtree(self.root / info.name, ignore_errors=True)

    def _point_to(self, info: SnapshotInfo) -> None:
        body = json.dumps({"name": info.name, "seq": info.seq, "window": sorted(info.window), "version": info.version,
                           "stamp": info.stamp, "count": info.count})
        aside = self.root / f".{POINTER}.{uuid.uuid4().hex[:8]}"
        with open(aside, "w", encoding="utf-8") as handle:
            handle.write(body)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(aside, self.root / POINTER)
        fd = os.open(self.root, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def _remove_stale(self) -> None:
        """Remove killed builds' temporary folders and bases no longer current for a while."""
        current = self.current()
        now = time.time()
        for entry in self.root.iterdir():
            try:
                age = now - entry.stat().st_mtime
            except OSError:
                continue
            if entry.name.startswith(".tmp-") and age > TMP_MAX_AGE:
                shutil.rmtree(entry, ignore_errors=True)
            elif entry.name.startswith("base-") and (current is None or entry.name != current.name) and age > KEEP_SECONDS:
                shutil.rmtree(entry, ignore_errors=True)
