"""The `xuncha` command."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from nlp.extract import PdfBackend
from service.cli.analyze import OutputFormat, analyze_paths, render

app = typer.Typer(
    name="xuncha",
    help="xuncha：巡察报告离线分析（提取文本、切分问题）。Offline mining of Chinese inspection reports.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    """xuncha：巡察报告离线分析。"""


@app.command()
def analyze(
    files: Annotated[list[Path], typer.Argument(help="Report files: PDF, DOCX, TXT/MD (UTF-8/GBK/UTF-16), HTML.")],
    format: Annotated[OutputFormat, typer.Option("--format", "-f", help="json: machine-readable on stdout; table: for people.")] = OutputFormat.TABLE,
    pdf_backend: Annotated[PdfBackend, typer.Option(help="pdfium (fast, default) or pdfplumber (layout-aware).")] = PdfBackend.PDFIUM,
    max_size_mb: Annotated[float | None, typer.Option(help="Refuse files larger than this (default: XUNCHA_MAX_FILE_MB or 50).")] = None,
    no_text: Annotated[bool, typer.Option("--no-text", help="Leave the full document text out of the JSON.")] = False,
    debug: Annotated[bool, typer.Option(help="Show tracebacks for internal errors.")] = False,
) -> None:
    """Extract text from reports, split findings, print one result per file (exit 1 if any file failed)."""
    max_bytes = int(max_size_mb * 1024 * 1024) if max_size_mb is not None else None
    results, failures = analyze_paths(files, max_bytes=max_bytes, pdf_backend=pdf_backend, debug=debug)
    render(results, format, include_text=not no_text)
    raise typer.Exit(code=1 if failures else 0)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
