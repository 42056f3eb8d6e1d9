"""Build the search index's base in a process of its own: ``python -m service.index_builder FOLDER [--after SEQ]``.

A server process starts this when its library has no usable base on disk, or when the findings added
or removed since the base have grown past a share of it (:mod:`service.live_index`). Built here, the
base costs the searching processes nothing but the mapping of its files: no interpreter lock held by
bm25s's indexing, no collections over a million fresh objects, no second copy per worker.

The database URL comes from ``XUNCHA_DATABASE_URL`` (not the command line, where ``ps`` would show
its password), the embedder from the same settings as the server. One builder per folder: a second
one finds the lock held and leaves; one that gets the lock after another finished finds the base
already at ``--after`` and leaves too. Exit status 0 when a base is current on exit, 1 otherwise.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from filelock import Timeout
from sqlalchemy.orm import Session

log = logging.getLogger("xuncha.index_builder")


def build_into(store_root: Path, database_url: str, after: int = 0) -> bool:
    """Build and publish a base in ``store_root`` unless one as of change ``after`` (or later) is
    current; False when another builder holds the lock."""
    from service.index_snapshots import SnapshotStore, change_stamp
    from service.live_index import build_view, index_version
    from service.representations import configured_embedder
    from service.store.db import get_engine

    store = SnapshotStore(store_root)
    try:
        with store.lock().acquire(timeout=0):
            current = store.current()
            embedder = configured_embedder()
            version = index_version(embedder)
            if current is not None and current.version == version and current.seq >= after > 0:
                return True
            started = time.monotonic()
            with Session(get_engine(database_url)) as session:
                view = build_view(session, embedder)
                stamp = change_stamp(session, view.seq)
            info = store.write(view.base, view.seq, view.window, version, stamp)
            log.info("检索索引已建立：%d 条问题（截至变更 %d），用时 %.1f 秒", info.count, info.seq, time.monotonic() - started)
            return True
    except Timeout:
        log.info("另一进程正在建立检索索引")
        return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m service.index_builder", description="在单独进程中建立检索索引")
    parser.add_argument("folder", type=Path, help="索引目录（<数据目录>/index/<库>）")
    parser.add_argument("--after", type=int, default=0, help="已有截至该变更序号的索引时不再重建")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s")
    from service.settings import get_settings

    try:
        build_into(args.folder, get_settings().resolved_database_url, args.after)
    except Exception:
        log.exception("建立检索索引失败")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
