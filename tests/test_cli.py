"""The `xuncha` command end to end on the bundled sample corpus, through the real console entry point."""

from __future__ import annotations

import json
import os
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
    assert "Usage: xuncha" in result.stdout
    expected = {
        "analyze": ("--format", "--pdf-backend", "--max-size-mb", "--no-text"),
        "segment": ("--backend", "--model-path", "--content", "--json"),
        "ingest": ("--round", "--unit", "--kind", "--date", "--format"),
        "search": ("--round", "--unit", "--label", "--limit", "--like", "--format"),
        "clusters": ("--rounds", "--units", "--min-units", "--format"),
        "train": ("--labels", "--model-dir", "--force"),
        "summary": ("--rounds", "--top", "--format", "--output"),
        "export": ("--output", "--rounds"),
        "import": ("--map", "--format", "问题清单"),
    }
    for option in expected.get(command[0] if command else "", ()):
        assert option in result.stdout


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


def test_cli_library_flow_ingest_search_clusters_summary_export(tmp_path):
    env = dict(os.environ, XUNCHA_DATA_DIR=str(tmp_path / "data"))
    env.pop("XUNCHA_DATABASE_URL", None)

    def xuncha(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "service", *args], capture_output=True, text=True, encoding="utf-8", cwd=tmp_path, env=env
        )

    files = [str(SAMPLES / row["file"]) for row in MANIFEST if row["doc_type"] == "feedback"][:6]
    ingest = xuncha("ingest", *files, "--format", "json")
    assert ingest.returncode == 0, ingest.stderr
    assert [r["status"] for r in json.loads(ingest.stdout)] == ["stored"] * len(files)
    search = xuncha("search", "违规发放补贴", "--format", "json", "--limit", "3")
    assert search.returncode == 0 and len(json.loads(search.stdout)) == 3
    clusters = xuncha("clusters", "--format", "json")
    assert clusters.returncode == 0
    shape = json.loads(clusters.stdout)
    assert set(shape) == {"clusters", "recurrences", "findings"} and isinstance(shape["recurrences"], list)
    placed = [f["finding_id"] for c in shape["clusters"] for f in c["findings"]]
    assert shape["clusters"] and len(placed) == len(set(placed)) == shape["findings"]  # each finding once
    assert all(c["title"] and "、" not in c["title"][:3] for c in shape["clusters"])
    report = xuncha("summary", "--format", "json")
    assert report.returncode == 0 and json.loads(report.stdout)["sections"]
    docx = xuncha("summary", "--format", "docx", "--output", str(tmp_path / "r.docx"))
    xlsx = xuncha("export", "--output", str(tmp_path / "q.xlsx"))
    assert docx.returncode == 0 and xlsx.returncode == 0
    assert (tmp_path / "r.docx").stat().st_size > 0 and (tmp_path / "q.xlsx").stat().st_size > 0
    empty = subprocess.run(
        [sys.executable, "-m", "service", "search", "违规"], capture_output=True, text=True, encoding="utf-8",
        cwd=tmp_path, env=dict(env, XUNCHA_DATA_DIR=str(tmp_path / "nothing")),
    )
    assert empty.returncode == 1 and "empty_library" in empty.stderr and "Traceback" not in empty.stderr
