"""The common-issue report and the XLSX export over a library built from the sample feedback notices."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from sqlalchemy import select

from nlp.pipeline import analyze_bytes
from service.export import FINDINGS_SHEET, LEDGER_SHEET, export_xlsx
from service.library import EmptyLibraryError
from service.store import models
from service.store.db import session_factory
from service.store.repository import Overrides, ingest_bytes
from service.summary import build_summary, render_docx, render_markdown, trend

SAMPLES = Path(__file__).resolve().parents[1] / "corpora" / "samples"
MANIFEST = [json.loads(x) for x in (SAMPLES / "manifest.jsonl").read_text(encoding="utf-8").splitlines() if x]
FEEDBACK = [row for row in MANIFEST if row["doc_type"] == "feedback"]


def add(url: str, files: Path, row: dict) -> None:
    """Ingest one sample with its round given, as ``xuncha ingest --round`` would."""
    data = (SAMPLES / row["file"]).read_bytes()
    with session_factory(url)() as session:
        ingest_bytes(session, data, row["file"], analyze_bytes(data, row["file"]), files, Overrides(round=row["round"]))


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("summary")
    url = f"sqlite:///{tmp_path / 'lib.db'}"
    for row in FEEDBACK:
        add(url, tmp_path / "files", row)
    return url


@pytest.fixture(scope="module")
def summary(library):
    with session_factory(library)() as session:
        return build_summary(session)


def stored_finding_ids(url: str) -> set[int]:
    with session_factory(url)() as session:
        return set(session.scalars(select(models.Finding.id)))


def test_summary_opening_has_scope_and_aggregated_statistics(summary):
    json.dumps(summary, ensure_ascii=False)  # JSON-able
    texts = [s["text"] for s in summary["opening"]["sentences"]]
    assert f"{len(FEEDBACK)}份巡察文件" in texts[0] and f"共提取问题{summary['scope']['findings']}条" in texts[0]
    found = next(s for s in summary["statistics"] if s["metric"] == "problems_found")
    assert found["name"] == "发现问题" and found["total"] == sum(
        d["total"] for d in found["documents"]
    ) and len(found["documents"]) >= 2
    assert any("发现问题" in t and "合计" in t for t in texts)


def test_summary_sections_span_units_and_are_traceable(summary, library):
    sections = summary["sections"]
    assert len(sections) >= 2
    assert [s["heading"][:2] for s in sections[:2]] == ["一、", "二、"]
    scores = [s["systemic_score"] for s in sections]
    assert scores == sorted(scores, reverse=True)
    stored = stored_finding_ids(library)
    for section in sections:
        assert len(section["units"]) >= 2
        assert 2 <= len(section["representatives"]) <= 3
        assert all(r["unit"] and r["round"] for r in section["representatives"])
        assert section["trend"] in {"上升", "下降", "持平", "波动", "无法判断"}
        assert any(re.search(r"第[五六七]轮\d+条", s["text"]) or "仅见于" in s["text"] for s in section["sentences"])
        for sentence in section["sentences"]:
            assert sentence["finding_ids"] and set(sentence["finding_ids"]) <= set(section["finding_ids"])
        assert set(section["finding_ids"]) <= stored
    for sentence in summary["opening"]["sentences"]:
        assert set(sentence["finding_ids"]) <= stored


def test_summary_quotes_are_extractive(summary, library):
    with session_factory(library)() as session:
        for section in summary["sections"]:
            for r in section["representatives"]:
                text = session.get(models.Finding, r["finding_id"]).text
                assert re.sub(r"\s+", "", text).startswith(r["quote"].removesuffix("……"))


def test_summary_recurrence_sentence(library, monkeypatch):
    """A recurrence touching a section's findings is reported in that section with both ids."""
    import service.summary as summary_module

    real = summary_module.cached_common_issues

    def with_recurrence(session, query, **kwargs):
        issues = dict(real(session, query, **kwargs))  # a copy: the kept result is shared
        cluster = issues["clusters"][0]
        early, late = cluster["findings"][0], cluster["findings"][1]
        issues["recurrences"] = [{"unit": early["unit"], "earlier": early, "later": late, "similarity": 0.9}]
        return issues

    monkeypatch.setattr(summary_module, "cached_common_issues", with_recurrence)
    with session_factory(library)() as session:
        first = build_summary(session, top=1)["sections"][0]
    assert len(first["recurrences"]) == 1
    rec = first["recurrences"][0]
    sentence = next(s for s in first["sentences"] if "重复出现" in s["text"])
    assert sentence["finding_ids"] == sorted({rec["earlier_id"], rec["later_id"]})
    assert f"{rec['earlier_id']}→{rec['later_id']}" in sentence["text"]


@pytest.mark.parametrize(
    ("counts", "expected"),
    [([1, 2, 3], "上升"), ([3, 1, 0], "下降"), ([2, 2], "持平"), ([1, 0, 1], "波动"), ([4], "无法判断")],
)
def test_summary_trend(counts, expected):
    assert trend(counts) == expected


def test_summary_round_filter_and_empty_scope(library):
    with session_factory(library)() as session:
        seventh = build_summary(session, rounds=["第七轮"], top=3)
        assert seventh["scope"]["rounds"] == ["十四届县委第七轮"] and len(seventh["sections"]) <= 3
        with pytest.raises(EmptyLibraryError):
            build_summary(session, rounds=["第九十九轮"])


def test_summary_markdown_and_docx(summary, tmp_path):
    from docx import Document

    md = render_markdown(summary)
    assert md.startswith("# 巡察共性问题分析报告")
    assert "## 总体情况" in md and "| 指标 | 合计 |" in md
    for section in summary["sections"]:
        assert f"## {section['heading']}" in md
    path = render_docx(summary, tmp_path / "report.docx")
    doc = Document(str(path))
    headings = [p.text for p in doc.paragraphs if p.style is not None and p.style.name.startswith(("Heading", "Title"))]
    assert "总体情况" in headings and all(s["heading"] in headings for s in summary["sections"])
    assert doc.tables and doc.tables[0].rows[0].cells[0].text == "指标"
    assert any(row.cells[0].text == "发现问题" for row in doc.tables[0].rows)


def test_export_xlsx_sheets_rows_and_headers(library, tmp_path):
    from openpyxl import load_workbook

    with session_factory(library)() as session:
        path = export_xlsx(session, tmp_path / "out.xlsx")
    wb = load_workbook(path)
    assert wb.sheetnames == [FINDINGS_SHEET, LEDGER_SHEET]
    listing, ledger = wb[FINDINGS_SHEET], wb[LEDGER_SHEET]
    assert [c.value for c in listing[1]] == [
        "序号", "编号", "被巡察单位", "轮次", "文件", "页码", "问题", "三个聚焦", "问题类型", "民生领域", "依据", "标签来源",
    ]
    assert [c.value for c in ledger[1]][:5] == ["序号", "编号", "被巡察单位", "轮次", "问题"]
    assert "完成情况" in [c.value for c in ledger[1]]
    stored = stored_finding_ids(library)
    ids = [row[1] for row in listing.iter_rows(min_row=2, values_only=True)]
    assert sorted(ids) == sorted(stored)
    assert [row[1] for row in ledger.iter_rows(min_row=2, values_only=True)] == ids
    assert listing.freeze_panes == "A2" and listing["A1"].font.b
    assert any("已完成" in (dv.formula1 or "") for dv in ledger.data_validations.dataValidation)
    assert all(row[11] in {"auto", "confirmed", "auto/confirmed", None} for row in listing.iter_rows(min_row=2, values_only=True))


def test_export_xlsx_text_is_never_a_formula(tmp_path):
    from openpyxl import load_workbook

    url = f"sqlite:///{tmp_path / 'lib.db'}"
    add(url, tmp_path / "files", FEEDBACK[0])
    evil = '=HYPERLINK("http://example.com","点击")'
    with session_factory(url)() as session:
        finding = session.scalars(select(models.Finding).order_by(models.Finding.start)).first()
        finding.text = evil
        finding.unit.name = "+县教育局党组"
        session.commit()
        path = export_xlsx(session, tmp_path / "out.xlsx")
    wb = load_workbook(path)
    for sheet, col in ((FINDINGS_SHEET, 7), (LEDGER_SHEET, 5)):
        cell = wb[sheet].cell(row=2, column=col)
        assert cell.value == evil and cell.data_type == "s"
        assert wb[sheet].cell(row=2, column=3).data_type == "s"
