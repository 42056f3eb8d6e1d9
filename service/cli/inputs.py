"""Which command-line arguments are reports: one rule for `xuncha analyze` and `xuncha ingest`.

A shell glob (`corpora/samples/*`) reaches the program as a list of names, indistinguishable from
names typed one by one, and it brings along whatever else the folder holds (README.md, gold JSONL
files, sub-folders). So every argument is judged the same way, by its extension: report files are
taken, anything else is skipped and named on stderr in Chinese, never analysed as a report nor
failed with an error. A folder gives the report files directly inside it; its sub-folders are
entered only with ``--recursive`` (the sample corpus keeps the texts its PDFs were built from in
``src/``, which must not be stored a second time). A folder named beside files of its own parent
folder is such a sub-folder too: that is what ``folder/*`` hands over, so it is skipped the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from service.cli.output import stderr

#: What offices send: PDF, Word (DOCX, Word 97, WPS, RTF), OFD, plain text, saved web pages, scans.
REPORT_SUFFIXES: frozenset[str] = frozenset({
    ".txt", ".pdf", ".docx", ".doc", ".wps", ".rtf", ".ofd", ".html", ".htm",
    ".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp",
})
_SHOWN_NAMES = 8  # names listed per skipped kind before "等"


@dataclass
class Inputs:
    """The report files to process, in argument order, and what was left out (for the stderr note)."""

    files: list[Path] = field(default_factory=list)
    not_reports: list[Path] = field(default_factory=list)
    folders: list[Path] = field(default_factory=list)


def is_report(path: Path) -> bool:
    return path.suffix.lower() in REPORT_SUFFIXES and not path.name.startswith(".")


def collect_inputs(paths: list[Path], *, recursive: bool = False) -> Inputs:
    """Report files among ``paths``. A name that does not exist is kept, so that the command reports
    it as ``file_not_found`` like any unreadable file instead of skipping it silently."""
    found = Inputs()
    file_parents = {p.resolve().parent for p in paths if p.is_file()}
    for path in paths:
        if path.is_dir() and not recursive and path.resolve().parent in file_parents:
            found.folders.append(path)  # a sub-folder that a glob (folder/*) brought in beside the files
        elif path.is_dir():
            _walk(path, found, recursive)
        elif not path.exists() or is_report(path):
            found.files.append(path)
        else:
            found.not_reports.append(path)
    return found


def _walk(folder: Path, found: Inputs, recursive: bool) -> None:
    for child in sorted(folder.iterdir()):
        if child.name.startswith("."):
            continue  # .git, .DS_Store: never anyone's report, not worth a line
        if child.is_dir():
            if recursive:
                _walk(child, found, recursive)
            else:
                found.folders.append(child)
        elif is_report(child):
            found.files.append(child)
        else:
            found.not_reports.append(child)


def say_skipped(found: Inputs) -> None:
    """One Chinese line on stderr per kind of skipped argument (stdout stays data only)."""
    if found.not_reports:
        stderr.print(
            f"跳过 {len(found.not_reports)} 个非报告文件：{_names(found.not_reports)}"
            f"（只读取 {' '.join(sorted(REPORT_SUFFIXES))} 文件）",
            markup=False, highlight=False, soft_wrap=True,
        )
    if found.folders:
        stderr.print(
            f"跳过 {len(found.folders)} 个子文件夹：{_names(found.folders)}（加 --recursive 读取子文件夹中的报告）",
            markup=False, highlight=False, soft_wrap=True,
        )


def _names(paths: list[Path]) -> str:
    shown = "、".join(str(p) for p in paths[:_SHOWN_NAMES])
    return shown + (f" 等 {len(paths)} 个" if len(paths) > _SHOWN_NAMES else "")
