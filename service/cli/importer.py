"""`xuncha import FILE`: a 问题清单 / 整改台账 into the findings library (see ``service.importer``).

The file is read and checked before anything is written; rows that cannot be read are reported on
stderr with their row numbers and skipped; the rest is stored in one transaction. Embedding is the
slow part, so it drives the progress bar (stderr, only at a terminal).
"""

from __future__ import annotations

from pathlib import Path

from service.cli.output import progress_bar
from service.importer import ImportFormatError, ImportResult, import_bytes, parse_mapping
from service.settings import get_settings
from service.store.db import session_factory

MAX_IMPORT_MB = 200  # a 200k-row sheet of long descriptions stays under this


def import_path(path: Path, mapping_items: list[str]) -> ImportResult:
    mapping = parse_mapping(mapping_items)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise ImportFormatError("文件不存在", source=str(path)) from None
    if path.is_dir():
        raise ImportFormatError("这是一个文件夹；请指定一个 .xlsx、.csv 或 .jsonl 文件", source=str(path))
    if size > MAX_IMPORT_MB * 1024 * 1024:
        raise ImportFormatError(f"文件超过 {MAX_IMPORT_MB} MB，请拆分后导入", source=str(path))
    data = path.read_bytes()
    settings = get_settings()
    with progress_bar() as progress, session_factory()() as session:
        task = progress.add_task("向量化并入库", total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        result = import_bytes(session, data, str(path), settings.files_dir, mapping=mapping, progress=advance)
        progress.update(task, description="计算共性问题")
        from service.cluster_cache import precompute

        precompute(session.get_bind().engine)  # stored: no server clusters the library on its first request
        return result
