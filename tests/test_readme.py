"""The README's command examples run as written, in a fresh folder, as a first-time user would type them.

Every line of a ```sh block that starts with ``.venv/bin/xuncha`` is run by bash (so globs, quotes and
``> out.json`` behave as at a terminal) in a temporary folder holding only links to the repository's
``.venv`` and ``corpora``: the library is the ``./data`` the README says, created by the first command.
The same library then serves the checks of the CLI's shared rules (what folder and glob arguments take,
unknown round/unit filters), so the sample corpus is ingested once.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "corpora" / "samples"
README = REPO / "README.md"


def readme_commands() -> list[str]:
    """The ``.venv/bin/xuncha`` lines of the README's sh blocks, in reading order."""
    blocks = re.findall(r"```sh\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)
    return [line.strip() for block in blocks for line in block.splitlines() if line.strip().startswith(".venv/bin/xuncha ")]


@pytest.fixture(scope="module")
def first_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, subprocess.CompletedProcess[str]]]:
    """Run every README example in a fresh folder; returns the folder and each command's outcome."""
    folder = tmp_path_factory.mktemp("readme")
    (folder / ".venv").symlink_to(REPO / ".venv")
    (folder / "corpora").symlink_to(REPO / "corpora")
    env = {k: v for k, v in os.environ.items() if not k.startswith("XUNCHA_")}  # the defaults the README describes
    outcomes = {}
    for command in readme_commands():
        outcomes[command] = subprocess.run(
            ["bash", "-c", command], cwd=folder, env=env, capture_output=True, text=True, encoding="utf-8", timeout=600
        )
    return folder, outcomes


def xuncha(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("XUNCHA_")}
    return subprocess.run(
        [sys.executable, "-m", "service", *args], cwd=folder, env=env, capture_output=True, text=True, encoding="utf-8"
    )


def test_readme_examples_exit_0_as_written(first_run):
    folder, outcomes = first_run
    commands = list(outcomes)
    # the quick start's library commands and the analyse examples are all there (nothing silently dropped)
    for verb in ("ingest", "search", "clusters", "summary", "export", "analyze"):
        assert any(c.startswith(f".venv/bin/xuncha {verb} ") for c in commands), verb
    failed = {c: (r.returncode, r.stderr[-500:]) for c, r in outcomes.items() if r.returncode != 0 or "Traceback" in r.stderr}
    assert failed == {}
    assert (folder / "data" / "xuncha.db").is_file()  # "the library is ./data under the current folder"
    assert (folder / "共性问题分析报告.docx").stat().st_size > 0 and (folder / "问题清单.xlsx").stat().st_size > 0
    analysed = json.loads((folder / "out.json").read_text(encoding="utf-8"))
    assert [Path(d["source"]).name for d in analysed] == ["r5_jiaoyuju_feedback.pdf", "r6_weijianju_special_feedback.txt"]
    assert all(d["findings"] for d in analysed)


def test_ingest_folder_stores_each_sample_once_and_says_what_it_skipped(first_run):
    folder, outcomes = first_run
    ingest = outcomes[next(c for c in outcomes if c.startswith(".venv/bin/xuncha ingest corpora/samples"))]
    reports = sorted(p.name for p in SAMPLES.iterdir() if p.suffix in (".txt", ".pdf", ".docx"))
    with sqlite3.connect(folder / "data" / "xuncha.db") as db:
        stored = sorted(Path(name).name for (name,) in db.execute("select source_name from documents"))
    assert stored == reports  # src/ (the texts the PDFs were made from) not walked: no second copy
    assert "入库 17 个文件" in ingest.stdout
    assert "跳过 3 个非报告文件" in ingest.stderr and "README.md" in ingest.stderr and "gold_findings.jsonl" in ingest.stderr
    assert "跳过 1 个子文件夹" in ingest.stderr and "src" in ingest.stderr and "--recursive" in ingest.stderr


def test_a_glob_of_a_folder_analyses_reports_only(tmp_path):
    """``xuncha analyze folder/*`` where the folder also holds notes, gold files and a sub-folder."""
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "copy.txt").write_text("不应读取", encoding="utf-8")
    (tmp_path / "README.md").write_text("# 说明", encoding="utf-8")
    (tmp_path / "gold.jsonl").write_text('{"text": "x"}\n', encoding="utf-8")
    report = tmp_path / "r5.txt"
    report.write_bytes((SAMPLES / "r5_chengguanzhen_feedback.txt").read_bytes())
    names = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.iterdir())  # what bash makes of "*"
    result = xuncha(tmp_path, "analyze", *names, "--format", "json", "--no-text")
    assert result.returncode == 0, result.stderr
    assert [d["source"] for d in json.loads(result.stdout)] == ["r5.txt"]
    assert "跳过 2 个非报告文件：README.md、gold.jsonl" in result.stderr
    assert "跳过 1 个子文件夹：sub" in result.stderr and "Traceback" not in result.stderr
    deep = xuncha(tmp_path, "analyze", ".", "--recursive", "--format", "json", "--no-text")
    assert sorted(Path(d["source"]).name for d in json.loads(deep.stdout)) == ["copy.txt", "r5.txt"]
    nothing = xuncha(tmp_path, "analyze", "README.md")
    assert nothing.returncode == 1 and "no_reports" in nothing.stderr and nothing.stdout == ""


def test_library_flow_on_the_quick_start_library(first_run):
    folder, _ = first_run
    clusters = xuncha(folder, "clusters", "--format", "json")
    assert clusters.returncode == 0, clusters.stderr
    shape = json.loads(clusters.stdout)
    assert set(shape) == {"clusters", "recurrences", "findings"} and isinstance(shape["recurrences"], list)
    placed = [f["finding_id"] for c in shape["clusters"] for f in c["findings"]]
    assert shape["clusters"] and len(placed) == len(set(placed)) == shape["findings"]  # each finding once
    assert all(c["title"] and "、" not in c["title"][:3] for c in shape["clusters"])
    report = xuncha(folder, "summary", "--format", "json")
    assert report.returncode == 0 and json.loads(report.stdout)["sections"]
    (folder / "elsewhere").mkdir()
    empty = xuncha(folder / "elsewhere", "search", "违规")  # another folder: another, empty library
    assert empty.returncode == 1 and "empty_library" in empty.stderr and "Traceback" not in empty.stderr


@pytest.mark.parametrize(
    ("args", "empty"),
    [
        (["search", "违规发放补贴", "--format", "json"], "[]"),
        (["clusters", "--unit", "不存在的单位", "--format", "json"], None),
        (["summary", "--format", "json"], ""),
        (["export", "-o", "x.xlsx"], ""),
    ],
)
def test_an_unknown_filter_is_a_chinese_warning_an_empty_result_and_exit_0(first_run, args, empty):
    folder, _ = first_run
    if "--unit" not in args:
        args = [*args, "--round", "第九十九轮"]
    result = xuncha(folder, *args)
    assert result.returncode == 0, result.stderr
    assert "警告：问题库中没有名称包含" in result.stderr and "结果为空" in result.stderr
    assert "Traceback" not in result.stderr and "empty_library" not in result.stderr
    if empty is None:
        assert json.loads(result.stdout) == {"clusters": [], "recurrences": [], "findings": 0}
    else:
        assert result.stdout.strip() == empty
    if args[0] == "export":
        from openpyxl import load_workbook

        sheet = load_workbook(folder / "x.xlsx")["问题清单"]
        assert sheet.max_row == 1  # headers only


def test_repeated_round_and_the_old_option_name(first_run):
    folder, _ = first_run
    both = xuncha(folder, "search", "违规发放补贴", "--round", "第五轮", "--round", "第七轮", "--limit", "50", "--format", "json")
    assert both.returncode == 0, both.stderr
    rounds = {r["round"] for r in json.loads(both.stdout)}
    assert rounds == {"十四届县委第五轮", "十四届县委第七轮"}
    # one known and one unknown value, the second under the old option name (hidden, still accepted)
    mixed = xuncha(folder, "clusters", "--round", "第五轮", "--rounds", "第九十九轮", "--format", "json")
    assert mixed.returncode == 0 and "只按其余轮次筛选" in mixed.stderr
    placed = [f for c in json.loads(mixed.stdout)["clusters"] for f in c["findings"]]
    assert placed and {f["round"] for f in placed} == {"十四届县委第五轮"}
