"""Import a 问题清单 or 整改台账 (xlsx, csv, jsonl): one finding per row, tagged and indexed like any other.

Offices keep years of findings in spreadsheets. A sheet has a column per field; only the problem's
description is required. Headers are matched by the variants offices use (问题描述 / 存在问题 / 问题表现 …,
被巡察单位 / 责任单位 …), after width folding and without spaces, marks such as ``*`` or （必填）; a
header no variant covers is mapped with ``--map 列名=字段``.

One file becomes one document (idempotent by its bytes, like any report): its text is the rows'
descriptions one per line, each finding's span points into it, and each finding keeps its own unit and
round (rows of one sheet come from many units and rounds). A row that cannot be read — no
description, a date or inspection type that is not one — is reported with its row number and left
out; the good rows are stored in one transaction, so a failure never leaves half a sheet.
"""

from __future__ import annotations

import csv
import io
import json
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from nlp.errors import XunchaError
from nlp.extract.text import decode_text
from nlp.model import Finding, MediaType, ReportDoc
from nlp.numerals import parse_int

FIELDS = ("text", "unit", "round", "kind", "date", "status")
FIELD_NAMES = {"text": "问题描述", "unit": "被巡察单位", "round": "巡察轮次", "kind": "巡察类型", "date": "日期", "status": "整改状态"}
# header variants per field, as offices write them (compared after _header_key)
HEADER_VARIANTS: dict[str, tuple[str, ...]] = {
    "text": ("问题描述", "问题", "问题内容", "存在问题", "存在的问题", "问题表现", "具体问题", "问题详情", "问题事项",
             "发现问题", "巡察发现问题", "反馈问题", "问题清单", "主要问题", "问题情况", "问题具体表现"),
    "unit": ("被巡察单位", "被巡察党组织", "被巡察对象", "单位", "单位名称", "责任单位", "所属单位", "被巡视单位", "党组织"),
    "round": ("巡察轮次", "轮次", "巡察批次", "批次", "巡视轮次", "巡察届次轮次"),
    "kind": ("巡察类型", "巡察方式", "类型", "巡察形式", "巡视类型"),
    "date": ("日期", "时间", "发现时间", "反馈时间", "反馈日期", "巡察时间", "巡察日期", "发现日期"),
    "status": ("整改状态", "整改情况", "整改进展", "完成情况", "是否整改", "整改进度", "整改结果"),
}
KINDS = ("常规", "专项", "机动", "回头看", "交叉", "提级", "联动", "村(社区)", "延伸")
MAX_ROWS = 200_000
MAX_TEXT_CHARS = 5_000
HEADER_SCAN_ROWS = 20  # a title or notes may stand above the header row
FULL_LOAD_BYTES = 20 * 1024 * 1024  # workbooks up to this size are loaded whole (merged cells known)


class ImportFormatError(XunchaError):
    code = "bad_import_file"
    default_message = "无法读取问题清单"


@dataclass
class RowError:
    row: int
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"row": self.row, "message": self.message}


@dataclass
class ImportRow:
    row: int  # as the user sees it: the sheet's row number, the CSV/JSONL line number
    text: str
    unit: str | None = None
    round: str | None = None
    kind: str | None = None
    date: str | None = None
    status: str | None = None


@dataclass
class Table:
    headers: list[str]
    rows: list[tuple[int, list[Any]]]  # (row number, cells)
    sheet: str | None = None


@dataclass
class ParsedSheet:
    rows: list[ImportRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    columns: dict[str, str] = field(default_factory=dict)  # field -> header it was read from


def _header_key(header: Any) -> str:
    text = unicodedata.normalize("NFKC", str(header or ""))
    text = re.sub(r"[（(][^）)]*[）)]", "", text)  # （必填）, (可选)
    return re.sub(r"[\s*:：#]", "", text)


def parse_mapping(items: Iterable[str]) -> dict[str, str]:
    """``列名=字段`` pairs (字段: a field name such as 问题描述 or its id ``text``) → header key → field id."""
    by_name = {name: fid for fid, name in FIELD_NAMES.items()} | {fid: fid for fid in FIELDS}
    out: dict[str, str] = {}
    for item in items:
        header, sep, target = item.partition("=")
        if not sep or not header.strip() or target.strip() not in by_name:
            raise ImportFormatError(f"--map 的写法应为 列名=字段，字段可选：{'、'.join(FIELD_NAMES.values())}（收到：{item}）")
        out[_header_key(header)] = by_name[target.strip()]
    return out


def match_columns(headers: list[str], mapping: dict[str, str] | None = None) -> dict[str, int]:
    """Field id → column index. Explicit mappings first, then exact variants, then a header that
    contains a variant (问题描述（简要） ← 问题描述)."""
    keys = [_header_key(h) for h in headers]
    found: dict[str, int] = {}
    for i, key in enumerate(keys):
        target = (mapping or {}).get(key)
        if target and target not in found:
            found[target] = i
    for fid in FIELDS:
        if fid in found:
            continue
        exact = [i for i, key in enumerate(keys) if key in HEADER_VARIANTS[fid] and i not in found.values()]
        if exact:
            found[fid] = exact[0]
    for fid in FIELDS:
        if fid in found:
            continue
        loose = [i for i, key in enumerate(keys) if i not in found.values() and any(v in key for v in HEADER_VARIANTS[fid] if len(v) >= 3)]
        if loose:
            found[fid] = loose[0]
    return found


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return unicodedata.normalize("NFKC", str(value)).strip() if not isinstance(value, str) else value.strip()


_DATE = re.compile(r"^(?P<y>(?:19|20)\d{2})\s*[-/.年]\s*(?P<m>\d{1,2})(?:\s*[-/.月]\s*(?P<d>\d{1,2})\s*日?)?\s*月?$")


def parse_date(value: Any) -> str | None:
    """``YYYY-MM-DD`` (``YYYY-MM`` when no day is given) from a cell: a spreadsheet date, 2024-05-08,
    2024/5/8, 2024年5月8日, 2024年5月; raises ValueError for anything else."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    text = unicodedata.normalize("NFKC", str(value)).strip()
    m = _DATE.match(text)
    if not m:
        raise ValueError(text)
    y, mo = int(m.group("y")), int(m.group("m"))
    if m.group("d"):
        return date(y, mo, int(m.group("d"))).isoformat()
    if not 1 <= mo <= 12:
        raise ValueError(text)
    return f"{y:04d}-{mo:02d}"


def parse_kind(value: str) -> str | None:
    """One of :data:`KINDS` from 常规巡察 / 专项 / 村（社区）巡察 …; raises ValueError when it is none."""
    if not value:
        return None
    text = unicodedata.normalize("NFKC", value).replace("巡察", "").replace("巡视", "").strip()
    for kind in KINDS:
        if text == kind or text.startswith(kind) or (kind == "村(社区)" and text in ("村", "社区", "村级")):
            return kind
    raise ValueError(value)


def read_table(data: bytes, source: str, mapping: dict[str, str] | None = None) -> Table:
    """The header row and data rows of a workbook's first sheet that has one, a CSV or a JSONL file
    (``mapping``: the user's header → field mapping, which also tells which row is the header)."""
    suffix = Path(source).suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        return _read_xlsx(data, source, mapping)
    if suffix in (".csv", ".tsv", ".txt"):
        return _read_csv(data, source, mapping)
    if suffix in (".jsonl", ".ndjson", ".json"):
        return _read_jsonl(data, source)
    if suffix == ".xls":
        raise ImportFormatError("不支持旧版 .xls 工作簿，请在 Excel/WPS 中另存为 .xlsx 或 .csv", source=source)
    raise ImportFormatError(f"不支持的清单格式：{suffix or '无扩展名'}（支持 .xlsx、.csv、.jsonl）", source=source)


def _with_header(rows: list[tuple[int, list[Any]]], sheet: str | None, mapping: dict[str, str] | None) -> Table | None:
    """The table under its header row: among the first rows, the one naming the most fields, one of
    them the description (a title line above it, 某某问题清单, names one field at most)."""
    best: tuple[int, int] | None = None  # (fields named, row index)
    for k, (_, cells) in enumerate(rows[:HEADER_SCAN_ROWS]):
        headers = [_cell(c) for c in cells]
        named = match_columns(headers, mapping)
        if "text" in named and (best is None or len(named) > best[0]):
            best = (len(named), k)
    if best is None:
        return None
    k = best[1]
    return Table(headers=[_cell(c) for c in rows[k][1]], rows=rows[k + 1 :], sheet=sheet)


def _read_xlsx(data: bytes, source: str, mapping: dict[str, str] | None) -> Table:
    import zipfile

    from openpyxl import load_workbook

    # merged cells (a unit written once beside all its rows) are only known to a fully loaded workbook;
    # a very large one is streamed instead, and its merged cells read as written (top-left only)
    streamed = len(data) > FULL_LOAD_BYTES
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=streamed, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise ImportFormatError(f"不是有效的 .xlsx 工作簿（{type(exc).__name__}）", source=source) from None
    first_headers: list[str] = []
    try:
        for sheet in workbook.worksheets:
            if not streamed and sheet.max_row > MAX_ROWS + HEADER_SCAN_ROWS:
                raise ImportFormatError(f"工作表“{sheet.title}”超过 {MAX_ROWS} 行，请拆分后导入", source=source)
            rows: list[tuple[int, list[Any]]] = []
            for number, cells in enumerate(sheet.iter_rows(values_only=True), 1):
                if number > MAX_ROWS + HEADER_SCAN_ROWS:
                    raise ImportFormatError(f"工作表“{sheet.title}”超过 {MAX_ROWS} 行，请拆分后导入", source=source)
                rows.append((number, list(cells)))
            if not streamed:
                _fill_merged(sheet, rows)
            table = _with_header(rows, sheet.title, mapping)
            if table is not None:
                return table
            if not first_headers and rows:
                first_headers = [_cell(c) for c in rows[0][1] if _cell(c)]
    finally:
        workbook.close()
    raise _no_text_column(first_headers, source)


def _fill_merged(sheet: Any, rows: list[tuple[int, list[Any]]]) -> None:
    """Give every cell of a merged range the value its top-left cell holds, as the reader sees it."""
    for merged in sheet.merged_cells.ranges:
        value = sheet.cell(row=merged.min_row, column=merged.min_col).value
        for r in range(merged.min_row, min(merged.max_row, len(rows)) + 1):
            cells = rows[r - 1][1]
            for c in range(merged.min_col, merged.max_col + 1):
                while len(cells) < c:
                    cells.append(None)
                cells[c - 1] = value


def _no_text_column(headers: list[str], source: str) -> ImportFormatError:
    seen = "、".join(headers[:12]) or "（无）"
    return ImportFormatError(
        f"找不到“问题描述”列（表头：{seen}）；可用 --map 列名=问题描述 指定哪一列是问题描述", source=source
    )


def _read_csv(data: bytes, source: str, mapping: dict[str, str] | None) -> Table:
    text, _ = decode_text(data, source)
    sample = text[:20000]
    try:
        dialect: Any = csv.Sniffer().sniff(sample, delimiters=",\t;，")
    except csv.Error:
        dialect = csv.excel_tab if sample.count("\t") > sample.count(",") else csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    rows: list[tuple[int, list[Any]]] = []
    try:
        for cells in reader:
            if len(rows) > MAX_ROWS + HEADER_SCAN_ROWS:
                raise ImportFormatError(f"清单超过 {MAX_ROWS} 行，请拆分后导入", source=source)
            rows.append((reader.line_num, cells))
    except csv.Error as exc:
        raise ImportFormatError(f"CSV 第 {reader.line_num} 行格式错误（{exc}）", source=source) from None
    table = _with_header(rows, None, mapping)
    if table is None:
        raise _no_text_column([_cell(c) for c in rows[0][1]] if rows else [], source)
    return table


def _read_jsonl(data: bytes, source: str) -> Table:
    text, _ = decode_text(data, source)
    objects: list[tuple[int, dict[str, Any]]] = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ImportFormatError(f"第 {number} 行不是合法 JSON（{exc.msg}）", source=source) from None
        if not isinstance(obj, dict):
            raise ImportFormatError(f"第 {number} 行应为 JSON 对象", source=source)
        objects.append((number, obj))
        if len(objects) > MAX_ROWS:
            raise ImportFormatError(f"清单超过 {MAX_ROWS} 行，请拆分后导入", source=source)
    headers = list(dict.fromkeys(k for _, obj in objects for k in obj))
    return Table(headers=headers, rows=[(n, [obj.get(h) for h in headers]) for n, obj in objects])


def parse_rows(table: Table, mapping: dict[str, str] | None, source: str) -> ParsedSheet:
    """Rows → findings to store and row errors (blank rows are skipped silently)."""
    columns = match_columns(table.headers, mapping)
    if "text" not in columns:
        raise _no_text_column([h for h in table.headers if h], source)
    parsed = ParsedSheet(columns={fid: table.headers[i] for fid, i in columns.items()})

    def value(cells: list[Any], fid: str) -> Any:
        i = columns.get(fid)
        return cells[i] if i is not None and i < len(cells) else None

    for number, cells in table.rows:
        if not any(_cell(c) for c in cells):
            continue
        text = re.sub(r"\s*\n\s*", "", _cell(value(cells, "text")))  # a line break typed inside a cell
        if not text:
            parsed.errors.append(RowError(number, f"第 {number} 行缺少问题描述"))
            continue
        if len(text) > MAX_TEXT_CHARS:
            parsed.errors.append(RowError(number, f"第 {number} 行问题描述超过 {MAX_TEXT_CHARS} 字"))
            continue
        try:
            when = parse_date(value(cells, "date"))
        except ValueError as exc:
            parsed.errors.append(RowError(number, f"第 {number} 行日期“{exc}”无法识别（应如 2024-05-08 或 2024年5月8日）"))
            continue
        try:
            kind = parse_kind(_cell(value(cells, "kind")))
        except ValueError as exc:
            parsed.errors.append(RowError(number, f"第 {number} 行巡察类型“{exc}”无法识别（可选：{'、'.join(KINDS)}）"))
            continue
        parsed.rows.append(ImportRow(
            row=number, text=text, unit=_cell(value(cells, "unit")) or None, round=_round_label(_cell(value(cells, "round"))),
            kind=kind, date=when, status=_cell(value(cells, "status")) or None,
        ))
    return parsed


def _round_label(value: str) -> str | None:
    """A round as written; a bare number (6, 六) becomes 第六轮-style 第6轮 so it orders and reads as one."""
    if not value:
        return None
    if re.fullmatch(r"[0-9一二三四五六七八九十百]+", value) and parse_int(value) is not None:
        return f"第{parse_int(value)}轮"
    return value


def build_document(parsed: ParsedSheet, source: str) -> ReportDoc:
    """A document whose text is the rows' descriptions, one per line, with one finding per row."""
    lines: list[str] = []
    findings: list[Finding] = []
    pos = 0
    for k, row in enumerate(parsed.rows, 1):
        findings.append(Finding(
            id=f"F{k:03d}", text=row.text, start=pos, end=pos + len(row.text), page=1, unit=row.unit,
            section=f"第 {row.row} 行", detail=f"整改状态：{row.status}" if row.status else None,
        ))
        lines.append(row.text)
        pos += len(row.text) + 1
    doc = ReportDoc(source=source, media_type=MediaType.TEXT, text="\n".join(lines), page_starts=[0])
    doc.title = Path(source).stem
    doc.kind = "问题清单"
    doc.findings = findings
    return doc


@dataclass
class ImportResult:
    source: str
    status: str  # stored | duplicate
    document_id: int
    findings: int
    skipped: list[RowError]
    columns: dict[str, str]

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source, "status": self.status, "document_id": self.document_id, "findings": self.findings,
            "skipped": [e.to_dict() for e in self.skipped], "columns": {FIELD_NAMES[k]: v for k, v in self.columns.items()},
        }


@dataclass
class PreparedSheet:
    """A 问题清单 read, tagged and represented, ready to store: what the upload worker's analysis
    process hands back (plain data: the rows, the document, its vectors, the taggers' version)."""

    parsed: ParsedSheet
    doc: ReportDoc | None  # None when no row could be imported
    vectors: Any  # numpy array, one row per finding
    tagger_version: str | None


def prepare_sheet(
    data: bytes, source: str, mapping: dict[str, str] | None = None, progress: Callable[[int, int], None] | None = None,
    tagger: Any = None,
) -> PreparedSheet:
    """Read, tag and represent a 问题清单 (no database): the slow part, about 40 findings/s embedded on
    2 cores, which the upload worker runs in its analysis process so searches beside it are not held."""
    import numpy as np

    from nlp.tagging import make_tagger
    from service.representations import configured_embedder

    parsed = parse_rows(read_table(data, source, mapping), mapping, source)
    if not parsed.rows:
        return PreparedSheet(parsed, None, None, None)
    doc = build_document(parsed, source)
    embedder = configured_embedder()
    texts = [f.text for f in doc.findings]
    chunks = []
    step = 256
    for start in range(0, len(texts), step):
        chunks.append(embedder.embed(texts[start : start + step]))
        if progress:
            progress(min(start + step, len(texts)), len(texts))
    vectors = np.vstack(chunks)
    tagger = tagger or make_tagger()
    tagger.tag_document(doc, vectors)
    return PreparedSheet(parsed, doc, vectors, tagger.model_version)


def import_bytes(
    session: Any,
    data: bytes,
    source: str,
    files_root: Path,
    *,
    mapping: dict[str, str] | None = None,
    progress: Callable[[int, int], None] | None = None,
    prepared: Callable[[], PreparedSheet] | None = None,
) -> ImportResult:
    """Read, tag, represent and store a 问题清单 in one transaction; ``progress(done, total)`` is
    called as findings are embedded. ``prepared``: how to get the sheet prepared elsewhere (the upload
    worker's analysis process, under its budget), called only when the file is not stored already."""
    from service.store.files import sha256_of
    from service.store.repository import find_document, ingest_bytes

    existing = find_document(session, sha256_of(data))
    if existing is not None:
        parsed = parse_rows(read_table(data, source, mapping), mapping, source)
        return ImportResult(source, "duplicate", existing.id, len(existing.findings), parsed.errors, parsed.columns)
    session.commit()  # no read transaction held open for the minutes a large sheet takes to prepare
    sheet = prepared() if prepared is not None else prepare_sheet(data, source, mapping, progress)
    parsed, doc = sheet.parsed, sheet.doc
    if doc is None:
        raise ImportFormatError("清单中没有可导入的问题（每一行都缺少问题描述或有错误）", source=source)
    result = ingest_bytes(
        session, data, source, doc, files_root, tagger_version=sheet.tagger_version, vectors=sheet.vectors,
        finding_rounds=[(r.round, r.kind, r.date) for r in parsed.rows],
    )
    return ImportResult(source, result.status, result.document_id, result.findings, parsed.errors, parsed.columns)
