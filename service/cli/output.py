"""Where CLI output goes: data to stdout, everything for humans (progress, errors, warnings) to stderr.

Scripts parse ``--format json`` from stdout, so nothing else may ever be written there.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn

stdout = Console(soft_wrap=True, highlight=False)
stderr = Console(stderr=True, highlight=False)


def print_json(data: Any) -> None:
    """Write JSON to stdout as UTF-8 text (Chinese kept readable, never \\u-escaped mojibake)."""
    payload = json.dumps(data, ensure_ascii=False, indent=2) + "\n"
    buffer = getattr(sys.stdout, "buffer", None)
    if buffer is not None:  # bypass a non-UTF-8 locale encoding: JSON is UTF-8 by definition
        sys.stdout.flush()
        buffer.write(payload.encode("utf-8"))
        buffer.flush()
    else:
        sys.stdout.write(payload)
        sys.stdout.flush()


def error_line(source: str | None, code: str, message: str) -> None:
    """One line per failed input, no traceback: `错误 <file>: [code] message`."""
    where = f" {escape(source)}:" if source else ""
    stderr.print(f"[bold red]错误[/]{where} {escape(f'[{code}]')} {escape(message)}", highlight=False, soft_wrap=True)


def progress_bar(enabled: bool = True) -> Progress:
    """A bar on stderr, shown only to a person at a terminal (never mixed into piped output)."""
    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=stderr,
        transient=True,
        disable=not (enabled and stderr.is_terminal),
    )


def page_progress(progress: Progress, name: str) -> Callable[[int, int], None]:
    """A ``progress(done, total)`` callback for a file's slow pages (OCR): a second bar under the
    batch's, created on the first page and removed when the last is read."""
    task: list[TaskID] = []

    def update(done: int, total: int) -> None:
        if not task:
            task.append(progress.add_task(f"文字识别 {escape(name)}", total=total))
        progress.update(task[0], completed=done, total=total)
        if done >= total:
            progress.remove_task(task[0])
            task.clear()

    return update
