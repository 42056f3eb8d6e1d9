"""`xuncha analyze FILE...`: run the pipeline on files and print what was found.

Which arguments are reports is decided by ``service.cli.inputs`` (the rule `xuncha ingest` uses
too): README.md, JSONL and sub-folders among the names of a glob are skipped with a note on stderr.
Each file is handled on its own: a bad file prints one error line on stderr and the batch goes on;
the exit code is 0 only when every file succeeded.
"""

from __future__ import annotations

import traceback
from enum import StrEnum
from pathlib import Path
from typing import Any

from rich.markup import escape
from rich.table import Table

from nlp.errors import XunchaError
from nlp.extract import PdfBackend
from nlp.model import ReportDoc
from nlp.pipeline import analyze_file
from nlp.statements import statements_of
from service.cli.inputs import collect_inputs, say_skipped
from service.cli.output import error_line, page_progress, print_json, progress_bar, stderr, stdout


class OutputFormat(StrEnum):
    JSON = "json"
    TABLE = "table"


def analyze_paths(
    paths: list[Path], *, max_bytes: int | None, pdf_backend: PdfBackend, debug: bool = False, recursive: bool = False
) -> tuple[list[ReportDoc | dict[str, Any]], int]:
    """Analyse each report among ``paths``; return the results in input order (errors as dicts) and the
    failure count. What is not a report is named on stderr and left out, neither a result nor a failure."""
    found = collect_inputs(paths, recursive=recursive)
    say_skipped(found)
    paths = found.files
    results: list[ReportDoc | dict[str, Any]] = []
    failures = 0
    with progress_bar() as progress:  # at a terminal only; a single scan shows its OCR pages
        task = progress.add_task("分析报告", total=len(paths))
        for path in paths:
            try:
                results.append(
                    analyze_file(path, max_bytes=max_bytes, pdf_backend=pdf_backend, progress=page_progress(progress, path.name))
                )
            except XunchaError as exc:
                failures += 1
                error_line(str(path), exc.code, exc.message)
                results.append({"source": str(path), "error": {"code": exc.code, "message": exc.message}})
            except Exception as exc:  # a bug must not end the batch; say so plainly
                failures += 1
                error_line(str(path), "internal_error", f"内部错误：{type(exc).__name__}: {exc}")
                if debug:
                    stderr.print(traceback.format_exc(), markup=False)
                results.append({"source": str(path), "error": {"code": "internal_error", "message": str(exc)}})
            progress.advance(task)
    return results, failures


def render(results: list[ReportDoc | dict[str, Any]], fmt: OutputFormat, include_text: bool = True) -> None:
    if fmt is OutputFormat.JSON:
        print_json([r.to_dict(include_text) if isinstance(r, ReportDoc) else r for r in results])
        return
    for r in results:
        if isinstance(r, ReportDoc):
            _print_table(r)
    ok = [r for r in results if isinstance(r, ReportDoc)]
    total = sum(len(statements_of(r)) for r in ok)
    items = sum(len(r.findings) for r in ok)
    split = f"（入库时分为 {items} 项具体表现，供检索和共性问题分析）" if items != total else ""
    stdout.print(f"\n共分析 {len(ok)}/{len(results)} 个文件，发现问题 {total} 条{split}。")


def _print_table(doc: ReportDoc) -> None:
    head = (
        f"[bold]{escape(Path(doc.source).name)}[/]  {doc.media_type}，{doc.page_count} 页\n"
        f"标题：{escape(doc.title or '（无）')}\n"
        f"轮次：{doc.round.label if doc.round else '（未注明）'}   类型：{doc.kind or '（未注明）'}   "
        f"日期：{'、'.join(doc.dates[:3]) or '（未注明）'}\n"
        f"单位：{escape('、'.join(doc.unit_names())) or '（未注明）'}"
    )
    stdout.print(head, markup=True)
    table = Table(show_lines=False, expand=True)
    table.add_column("编号", no_wrap=True)
    table.add_column("页", no_wrap=True, justify="right")
    table.add_column("单位", max_width=16)
    table.add_column("问题", overflow="fold")
    table.add_column("类别", max_width=18, overflow="fold")
    for st in statements_of(doc):
        first, last = st.items[0], st.items[-1]
        number = first.id if len(st.items) == 1 else f"{first.id}–{last.id}"
        table.add_row(number, str(st.page), escape(first.unit or ""), escape(st.text), escape(_tag_summary(st.tags)))
    stdout.print(table)
    if doc.statistics:
        figures = "；".join(f"{s['quote']}" for s in doc.statistics[:12])
        stdout.print(f"统计数据（{len(doc.statistics)} 项）：{escape(figures)}")


def _tag_summary(tags: dict[str, Any]) -> str:
    """The best focus label, then livelihood areas and problem types, for a table cell."""
    parts: list[str] = []
    for scheme, limit in (("focus", 1), ("livelihood", 2), ("problem_type", 2)):
        parts.extend(row["label"] for row in tags.get(scheme, [])[:limit])
    return " · ".join(parts)
