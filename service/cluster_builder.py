"""Compute a selection's common issues in a process of its own and store them:
``python -m service.cluster_builder FOLDER [--rounds JSON] [--units JSON]``.

Clustering a large library is seconds to a minute of CPU (8.6 s at 100k findings). Run on a thread
of a server process it held the interpreter lock against that process's searches, which then
waited behind it (p95 119 ms, max 350 ms right after an upload at 100k, against 58 ms steady). A
server therefore starts this for a library above ``XUNCHA_INLINE_BUILD_MAX`` findings (5,000) and waits
for it on a thread that holds nothing; the result is stored (:mod:`service.cluster_store`), where
every process reads it. One builder per selection and data folder at a time (a file lock): a second
one waits for the first and then finds the result stored.

The database URL comes from ``XUNCHA_DATABASE_URL``, as for :mod:`service.index_builder`.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

log = logging.getLogger("xuncha.cluster_builder")


def build(folder: Path, database_url: str, rounds: list[str], units: list[str]) -> int:
    """Compute and store the common issues of the selection unless they are stored as of the latest
    change; returns the change number the stored result is as of."""
    from filelock import FileLock
    from sqlalchemy.orm import Session

    from service import cluster_store
    from service.clusters import ClusterQuery, common_issues
    from service.store.changes import latest_change
    from service.store.db import get_engine

    key = cluster_store.scope_key(rounds, units)
    folder.mkdir(parents=True, exist_ok=True)
    engine = get_engine(database_url)
    with FileLock(str(folder / f"clusters-{key[:16]}.lock")):
        with Session(engine) as session:
            seq = latest_change(session)
            if cluster_store.stored_seq(session, key) == seq:
                return seq
            started = time.monotonic()
            query = ClusterQuery(rounds, units, min_units=1, limit=None, include_singletons=True)
            result = common_issues(session, query)
        cluster_store.save(engine, key, seq, time.time(), result)
        log.info("共性问题已计算并保存：%d 个（截至变更 %d），用时 %.1f 秒", len(result["clusters"]), seq, time.monotonic() - started)
        return seq


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m service.cluster_builder", description="在单独进程中计算并保存共性问题")
    parser.add_argument("folder", type=Path, help="锁文件所在目录（<数据目录>/index/<库>）")
    parser.add_argument("--rounds", default="[]", help="轮次（JSON 数组）")
    parser.add_argument("--units", default="[]", help="被巡察单位（JSON 数组）")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s")
    from service.library import EmptyLibraryError
    from service.settings import get_settings

    try:
        build(args.folder, get_settings().resolved_database_url, list(json.loads(args.rounds)), list(json.loads(args.units)))
    except EmptyLibraryError:
        return 3  # nothing selected: the caller answers that itself
    except Exception:
        log.exception("计算共性问题失败")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
