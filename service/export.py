"""Spreadsheet export of the stored findings: 问题清单 (the list) and 整改台账 (the rectification ledger).

Every text cell is written as a plain string: a value starting with ``= + - @`` (or a tab / carriage
return) would be read by Excel or WPS as a formula (CSV/formula injection), so such cells are forced to
the string type and marked with a quote prefix, which shows the text as it is and keeps it text when
edited. Characters that XML cannot hold are dropped.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from service.store import models
from service.tags import finding_labels

FINDINGS_SHEET = "问题清单"
LEDGER_SHEET = "整改台账"
# One id column: 问题编号 is the finding's number in the library, the one the web page, search, the
# summary report (〔问题编号59〕) and the API show; a row counter beside it (序号) read as a second id.
ID_HEADER = "问题编号"
FINDINGS_HEADERS: list[tuple[str, int]] = [  # (header, column width in characters)
    (ID_HEADER, 9),
    ("被巡察单位", 22),
    ("轮次", 18),
    ("文件", 28),
    ("页码", 6),
    ("问题", 60),
    ("三个聚焦", 14),
    ("四个落实", 14),
    ("问题类型", 22),
    ("民生领域", 14),
    ("依据", 24),
    ("标签来源", 12),
    # the problem statement a finding shares with the findings of its document listed under it (同一句中
    # 同一聚焦的几项具体表现, findings.statement); blank when the finding is a statement of its own
    ("所属表述", 10),
]
LEDGER_HEADERS: list[tuple[str, int]] = [
    (ID_HEADER, 9),
    ("被巡察单位", 22),
    ("轮次", 18),
    ("问题", 60),
    ("整改责任人", 12),
    ("整改措施", 36),
    ("整改时限", 12),
    ("完成情况", 12),
    ("销号日期", 12),
    ("备注", 20),
]
STATUSES = ("未整改", "整改中", "已完成", "长期坚持")
SPARE_ROWS = 200  # ledger rows below the findings that still get the status list
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
SCHEMES = ("focus", "four_implementations", "problem_type", "livelihood")  # in the columns' order
SINGLE = ("focus", "four_implementations")  # one label per finding in these columns
SOURCE_NAMES = {"auto": "自动", "confirmed": "人工确认"}  # Tag.source, as an office reads it


def set_text(cell: Cell, value: Any) -> None:
    """Write ``value``; strings always as plain text, never as a formula."""
    if value is None or isinstance(value, (int, float)):
        cell.value = value
        return
    text = ILLEGAL_CHARACTERS_RE.sub("", str(value))
    cell.value = text
    if text.startswith(FORMULA_STARTS):
        cell.data_type = "s"  # openpyxl took it for a formula; it is text
        cell.quotePrefix = True


def _sheet(ws: Worksheet, headers: list[tuple[str, int]], rows: list[list[Any]]) -> None:
    bold = Font(bold=True)
    fill = PatternFill("solid", fgColor="DDEBF7")
    wrap = Alignment(wrap_text=True, vertical="top")
    for col, (name, width) in enumerate(headers, 1):
        cell = ws.cell(row=1, column=col)
        set_text(cell, name)
        cell.font, cell.fill = bold, fill
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        ws.column_dimensions[get_column_letter(col)].width = width
    for r, row in enumerate(rows, 2):
        for col, value in enumerate(row, 1):
            cell = ws.cell(row=r, column=col)
            set_text(cell, value)
            cell.alignment = wrap
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = f"A1:{get_column_letter(len(headers))}{max(1, len(rows) + 1)}"


def _tag_columns(f: models.Finding) -> list[str]:
    """三个聚焦, 四个落实, 问题类型, 民生领域, 依据 (evidence of the shown tags), 标签来源 (自动 / 人工确认)."""
    out, evidence, sources = [], [], set()
    for scheme in SCHEMES:
        tags = finding_labels(f, scheme)
        if scheme in SINGLE:
            tags = tags[:1]
        out.append("、".join(t.label for t in tags))
        for t in tags[:1]:  # evidence of the top tag of each scheme
            sources.add(t.source)
            for e in t.evidence or []:
                word = e.get("text") if isinstance(e, dict) else str(e)
                if word and word not in evidence:
                    evidence.append(word)
        sources |= {t.source for t in tags}
    named = [SOURCE_NAMES.get(s, s) for s in sorted(sources, key=lambda s: (s != "confirmed", s))]
    return [*out, "、".join(evidence), "、".join(named)]


def export_xlsx(session: Session, path: str | Path, rounds: list[str] | None = None) -> Path:
    """Write the findings (of the rounds whose labels contain one of ``rounds``) to an XLSX workbook."""
    stmt = select(models.Finding).options(
        selectinload(models.Finding.unit),
        selectinload(models.Finding.round),
        selectinload(models.Finding.tags),
        selectinload(models.Finding.document),
    )
    findings = [
        f for f in session.scalars(stmt.order_by(models.Finding.document_id, models.Finding.start))
        if not rounds or (f.round and any(r in f.round.label for r in rounds))
    ]
    statement_sizes: Counter[tuple[int, str | None]] = Counter((f.document_id, f.statement) for f in findings if f.statement)
    listing, ledger = [], []
    for f in findings:
        unit = f.unit.name if f.unit else ""
        round_label = f.round.label if f.round else ""
        shared = f.statement if f.statement and statement_sizes[(f.document_id, f.statement)] > 1 else ""
        listing.append([f.id, unit, round_label, f.document.source_name, f.page, f.text, *_tag_columns(f), shared])
        ledger.append([f.id, unit, round_label, f.text, None, None, None, None, None, None])

    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = FINDINGS_SHEET
    _sheet(ws, FINDINGS_HEADERS, listing)
    led = wb.create_sheet(LEDGER_SHEET)
    _sheet(led, LEDGER_HEADERS, ledger)
    status_col = get_column_letter([h for h, _ in LEDGER_HEADERS].index("完成情况") + 1)
    date_col = get_column_letter([h for h, _ in LEDGER_HEADERS].index("销号日期") + 1)
    last = len(ledger) + 1 + SPARE_ROWS
    dv = DataValidation(
        type="list",
        formula1='"' + ",".join(STATUSES) + '"',
        allow_blank=True,
        showErrorMessage=True,
        errorTitle="完成情况",
        error="请从列表中选择：" + "、".join(STATUSES),
    )
    dv.add(f"{status_col}2:{status_col}{last}")
    led.add_data_validation(dv)
    for r in range(2, len(ledger) + 2):
        led[f"{date_col}{r}"].number_format = "yyyy-mm-dd"
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    wb.save(str(target))
    return target
