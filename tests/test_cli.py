"""The `xuncha` command end to end on the bundled sample corpus, through the real console entry point."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "corpora" / "samples"
MANIFEST = [json.loads(x) for x in (SAMPLES / "manifest.jsonl").read_text(encoding="utf-8").splitlines() if x]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "service", *args], capture_output=True, text=True, encoding="utf-8", cwd=REPO
    )


@pytest.fixture(scope="module")
def corpus_json() -> list[dict]:
    result = run("analyze", *[str(SAMPLES / row["file"]) for row in MANIFEST], "--format", "json")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    return json.loads(result.stdout)


def test_cli_analyze_sample_corpus_json_shape(corpus_json):
    assert len(corpus_json) == len(MANIFEST) >= 12
    for doc, row in zip(corpus_json, MANIFEST, strict=True):
        assert Path(doc["source"]).name == row["file"]
        assert set(doc) >= {"source", "title", "kind", "round", "units", "text", "findings", "statistics"}
        for f in doc["findings"]:
            assert set(f) >= {"id", "text", "start", "end", "page", "unit", "tags"}
            assert doc["text"][f["start"] : f["end"]] == f["text"]
            assert 1 <= f["page"] <= doc["pages"]


def test_cli_analyze_sample_corpus_finds_units_and_findings(corpus_json):
    formats = {Path(d["source"]).suffix for d in corpus_json}
    assert formats == {".pdf", ".docx", ".txt"}
    for doc, row in zip(corpus_json, MANIFEST, strict=True):
        if row["doc_type"] in ("feedback", "rectification"):
            assert len(doc["findings"]) >= 3, row["file"]
            found_units = {f["unit"] for f in doc["findings"]}
            for unit in row["units"]:
                unit = doc["unit_aliases"].get(unit, unit)
                assert any(u and (unit in u or u in unit) for u in found_units) or any(
                    unit in u or u in unit for u in doc["units"]
                ), (row["file"], unit, doc["units"])
        if row["round"] and doc["round"]:
            assert row["round"].endswith(doc["round"][-3:]) or doc["round"] in row["round"] or row["doc_type"] != "feedback"


def test_cli_analyze_json_is_utf8_not_escaped(corpus_json):
    result = run("analyze", str(SAMPLES / MANIFEST[0]["file"]), "--format", "json", "--no-text")
    assert "巡察" in result.stdout and "\\u" not in result.stdout
    assert "text" not in json.loads(result.stdout)[0]


def test_cli_analyze_table_format():
    result = run("analyze", str(SAMPLES / MANIFEST[0]["file"]), "--format", "table")
    assert result.returncode == 0
    assert "问题" in result.stdout and "F001" in result.stdout
    assert "共分析 1/1 个文件" in result.stdout


@pytest.mark.parametrize("command", [[], ["analyze"], ["segment"], ["ingest"], ["search"], ["clusters"], ["train"], ["summary"], ["export"], ["import"]])
def test_cli_help_texts(command):
    result = run(*command, "--help")
    assert result.returncode == 0
    assert "用法：xuncha" in result.stdout and "Usage:" not in result.stdout
    expected = {
        "analyze": ("--format", "--pdf-backend", "--max-size-mb", "--no-text"),
        "segment": ("--backend", "--model-path", "--content", "--json"),
        "ingest": ("--round", "--unit", "--kind", "--date", "--format"),
        "search": ("--round", "--unit", "--label", "--limit", "--like", "--format"),
        "clusters": ("--round", "--unit", "--min-units", "--format"),
        "train": ("--labels", "--model-dir", "--force"),
        "summary": ("--round", "--top", "--format", "--output"),
        "export": ("--output", "--round"),
        "import": ("--map", "--format", "问题清单"),
    }
    for option in expected.get(command[0] if command else "", ()):
        assert option in result.stdout
    # one name for the round filter everywhere (the old --rounds still works, unlisted); Typer's own words in Chinese
    assert "--rounds" not in result.stdout and "--units" not in result.stdout
    assert "显示本帮助并退出" in result.stdout and "Show this message" not in result.stdout
    assert "选项" in result.stdout and "Options" not in result.stdout


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["search", "公务接待", "--limit", "0"], "--limit 的值无效：应不小于 1"),
        (["search", "公务接待", "--limit", "很多"], "--limit 的值无效：应为整数"),
        (["search", "公务接待", "--format", "xml"], "'xml' 不是可选值之一（可选：'json'、'table'）"),
        (["search", "公务接待", "--limit"], "选项 --limit 后面需要一个值"),
        (["search", "公务", "接待"], "多余的参数：接待"),
        (["search", "公务接待", "--bogus"], "没有 --bogus 这个选项"),
        (["user", "add"], "缺少参数 name"),
        (["nosuch"], "没有“nosuch”这个命令"),
    ],
)
def test_cli_usage_errors_are_chinese(args: list[str], expected: str) -> None:
    """A mistake typed at the command line is answered in Chinese (Typer's Click and Pydantic speak
    English), on stderr, with exit 2 and nothing on stdout."""
    from typer.testing import CliRunner

    from service.cli.main import app

    result = CliRunner().invoke(app, args, prog_name="xuncha")  # in-process: a subprocess each costs ~4 s
    assert result.exit_code == 2 and result.stdout == ""
    assert expected in result.stderr, result.stderr
    english = re.findall(r"Usage|Invalid value|Input should|No such|Missing|unexpected|requires|Possible|OPTIONS", result.stderr)
    assert english == [], result.stderr


def test_cli_usage_error_patterns() -> None:
    from service.cli.usage_zh import translate

    assert translate("Missing option '--output'.") == "缺少选项 --output"
    assert translate("Option '--json' does not take a value.") == "选项 --json 不接受值"
    assert translate("Invalid value for '--port': Input should be less than or equal to 65535") == "--port 的值无效：应不超过 65535"
    assert translate("Something Typer adds in a later release.") == "Something Typer adds in a later release."


def test_cli_every_option_has_chinese_help():
    """Each command's and option's help text is Chinese (a help= string left out shows nothing)."""
    import typer.main

    from service.cli.main import app

    root = typer.main.get_command(app)
    missing = []
    commands = list(root.commands.items())  # type: ignore[attr-defined]
    for name, group in list(commands):
        commands.extend((f"{name} {sub}", cmd) for sub, cmd in getattr(group, "commands", {}).items())
    assert len(commands) >= 15 and sum(len(cmd.params) for _, cmd in commands) >= 50
    for name, cmd in commands:
        if not re.search(r"[\u4e00-\u9fff]", cmd.help or ""):
            missing.append(name)
        for param in cmd.params:
            text = getattr(param, "help", None)
            if not getattr(param, "hidden", False) and not re.search(r"[\u4e00-\u9fff]", text or ""):
                missing.append(f"{name} {param.name}")
    assert missing == []


def test_cli_pdf_backends_agree_on_findings():
    pdf = next(SAMPLES / row["file"] for row in MANIFEST if row["file"].endswith(".pdf"))
    texts = []
    for backend in ("pdfium", "pdfplumber"):
        result = run("analyze", str(pdf), "--format", "json", "--pdf-backend", backend)
        assert result.returncode == 0, result.stderr
        texts.append([f["text"] for f in json.loads(result.stdout)[0]["findings"]])
    assert texts[0] == texts[1]


def test_cli_segment_keeps_domain_terms_whole():
    result = run("segment", "--json", "村干部违规发放津补贴，“三重一大”事项未经集体研究")
    assert result.returncode == 0, result.stderr
    tokens = json.loads(result.stdout)
    assert "津补贴" in tokens and "三重一大" in tokens
    assert "".join(tokens) == "村干部违规发放津补贴，“三重一大”事项未经集体研究"


def test_cli_segment_missing_hanlp_is_one_clear_line(tmp_path):
    result = run("segment", "--backend", "hanlp", "--model-path", str(tmp_path / "nope"), "测试")
    assert result.returncode == 1
    assert result.stdout == ""
    assert "backend_unavailable" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


# The library flow (ingest, search, clusters, summary, export) runs on the README's own quick start:
# tests/test_readme.py, which ingests the sample corpus once for all of them.
