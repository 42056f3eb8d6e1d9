"""`xuncha ingest PATH...`: analyse reports and store them in the findings library.

Directories are walked for report files. Each file is its own transaction (see
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
from service.cli.output import error_line, page_progress, progress_bar
from service.settings import get_settings
from service.store.db import session_factory
from service.store.repository import Overrides, ingest_bytes

REPORT_SUFFIXES = {
    ".pdf", ".docx", ".txt", ".md", ".html", ".htm", ".ofd", ".doc", ".wps", ".rtf",
    ".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp",
}


def expand_paths(paths: list[Path]) -> list[Path]:
    """Files as given, and report files found under directories (sorted, hidden files skipped)."""
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            out.extend(
                p for p in sorted(path.rglob("*"))
                if p.is_file() and p.suffix.lower() in REPORT_SUFFIXES and not p.name.upper().startswith("README")
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
        else:
            out.append(path)
    return out


def ingest_paths(paths: list[Path], overrides: Overrides, database_url: str | None = None) -> tuple[list[dict[str, Any]], int]:
    settings = get_settings()
    files = expand_paths(paths)
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
