"""Library totals that add up: each document's own total once (never its breakdown as well), amounts
in 万元/亿元, and a library of work summaries alone still gets a summary of its statistics — through
the real CLI (`xuncha ingest`, `xuncha summary --format json|docx`) and the statistics the page reads."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from docx import Document as DocxDocument

from service.summary import fmt_amount

SUMMARY_ONE = (
    "县委巡察工作领导小组办公室2024年巡察工作综述\n"
    "2024年，县委开展常规巡察2轮，对12个单位党组织进行了巡察，共发现问题100个，其中党的领导方面问题30个、"
    "党的建设方面问题40个、全面从严治党方面问题30个。推动挽回经济损失1260.5万元。\n"
)
SUMMARY_TWO = (
    "县委巡察工作领导小组办公室2023年巡察工作总结\n"
    "2023年，各巡察组发现问题50个，向县纪委监委移交问题线索5件，推动挽回经济损失3200000元。\n"
)


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, str], Path]:
    tmp = tmp_path_factory.mktemp("totals")
    env = dict(os.environ, XUNCHA_DATA_DIR=str(tmp / "data"))
    env.pop("XUNCHA_DATABASE_URL", None)
    for name, text in (("2024_summary.txt", SUMMARY_ONE), ("2023_summary.txt", SUMMARY_TWO)):
        (tmp / name).write_text(text, encoding="utf-8")
    run = subprocess.run([sys.executable, "-m", "service", "ingest", str(tmp / "2024_summary.txt"), str(tmp / "2023_summary.txt"),
                          "--format", "json"], capture_output=True, text=True, encoding="utf-8", cwd=tmp, env=env)
    assert run.returncode == 0, run.stderr
    return env, tmp


def xuncha(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "service", *args], capture_output=True, text=True, encoding="utf-8", cwd=cwd, env=env)


def test_totals_summary_json_adds_each_document_total_once(library: tuple[dict[str, str], Path]) -> None:
    env, tmp = library
    run = xuncha(env, tmp, "summary", "--format", "json")
    assert run.returncode == 0, run.stderr  # a library of work summaries alone still gets its summary
    report = json.loads(run.stdout)
    stats = {s["metric"]: s for s in report["statistics"]}
    found = stats["problems_found"]
    assert found["total"] == 150  # 100 + 50, not 100 + 30 + 40 + 30 + 50
    assert sorted(d["total"] for d in found["documents"]) == [50, 100]
    assert stats["funds_recovered"]["total"] == 12_605_000 + 3_200_000
    assert report["sections"] == [] and report["scope"]["findings"] == 0
    opening = " ".join(s["text"] for s in report["opening"]["sentences"])
    assert "发现问题150个" in opening and "1580.5万元" in opening
    assert not re.search(r"\d{6,}元", opening)  # no amount of 10万元 or more written in 元


def test_totals_docx_reads_the_same_figures(library: tuple[dict[str, str], Path]) -> None:
    env, tmp = library
    out = tmp / "report.docx"
    run = xuncha(env, tmp, "summary", "--format", "docx", "--output", str(out))
    assert run.returncode == 0, run.stderr
    doc = DocxDocument(str(out))
    text = "\n".join(p.text for p in doc.paragraphs) + "\n".join(c.text for t in doc.tables for r in t.rows for c in r.cells)
    assert "150个" in text and "1580.5万元" in text
    assert not re.search(r"\d{6,}元", text)


def test_totals_statistics_page_data(library: tuple[dict[str, str], Path], monkeypatch: pytest.MonkeyPatch) -> None:
    from service.settings import get_settings
    from service.statistics import library_statistics
    from service.store.db import session_factory

    env, _ = library
    monkeypatch.setenv("XUNCHA_DATA_DIR", env["XUNCHA_DATA_DIR"])
    monkeypatch.delenv("XUNCHA_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    try:
        with session_factory()() as session:
            stats = library_statistics(session)
    finally:
        get_settings.cache_clear()
    by_metric = {m["metric"]: m for m in stats["by_metric"]}
    assert by_metric["problems_found"]["total"] == 150 and by_metric["problems_found"]["display"] == "150个"
    assert by_metric["funds_recovered"]["display"] == "1580.5万元"
    assert sorted(d["display"] for d in by_metric["problems_found"]["per_document"]) == ["100个", "50个"]


@pytest.mark.parametrize(
    ("value", "unit", "text"),
    [(12_605_000, "元", "1260.5万元"), (267_000_000, "元", "2.67亿元"), (100_000, "元", "10万元"), (99_999, "元", "99999元"),
     (665_700, "元", "66.57万元"), (312, "个", "312个"), (47, "人", "47人"), (98.14, "%", "98.14%")],
)
def test_totals_amounts_read_in_wan_and_yi(value: float, unit: str, text: str) -> None:
    assert fmt_amount(value, unit) == text
