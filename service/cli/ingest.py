"""`xuncha ingest PATH...`: analyse reports and store them in the findings library.

Which arguments are reports (folders, globs, sub-folders with ``--recursive``) is decided by
``service.cli.inputs``, the same rule as `xuncha analyze`. Each file is its own transaction (see
``service.store.repository``); a bad file prints one error line and the batch goes on; the same
file twice is one document. The exit code is 0 only when every file was stored or already present.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nlp.errors import XunchaError
from nlp.extract import read_source
from nlp.pipeline import analyze_bytes
from nlp.tagging import make_tagger
from service.cli.inputs import collect_inputs, say_skipped
from service.cli.output import error_line, page_progress, progress_bar
from service.settings import get_settings
from service.store.db import session_factory
from service.store.repository import Overrides, ingest_bytes


def ingest_paths(
    paths: list[Path], overrides: Overrides, database_url: str | None = None, *, recursive: bool = False
) -> tuple[list[dict[str, Any]], int]:
    """Store each report among ``paths``; return one result per file and the failure count.

    What is not a report is named once on stderr and left out (see ``service.cli.inputs``)."""
    settings = get_settings()
    found = collect_inputs(paths, recursive=recursive)
    say_skipped(found)
    files = found.files
    make_session = session_factory(database_url)
    tagger = make_tagger()
    max_bytes = int(settings.max_file_mb * 1024 * 1024)
    results: list[dict[str, Any]] = []
    failures = 0
    with progress_bar() as progress:
        task = progress.add_task("入库", total=len(files))
        for path in files:
            try:
                data = read_source(path, max_bytes)
                doc = analyze_bytes(
                    data, str(path), max_bytes=max_bytes, tagger=tagger, progress=page_progress(progress, path.name)
                )
                with make_session() as session:
                    result = ingest_bytes(session, data, str(path), doc, settings.files_dir, overrides, tagger.model_version)
                results.append(result.to_dict())
            except XunchaError as exc:
                failures += 1
                error_line(str(path), exc.code, exc.message)
                results.append({"source": str(path), "status": "error", "error": {"code": exc.code, "message": exc.message}})
            progress.advance(task)
    return results, failures
