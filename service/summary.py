"""The common-issue report (共性问题分析报告): extractive, template-based, every sentence traceable.

``build_summary(session)`` reads the stored library and returns a JSON-able dict::

    {"title": ..., "scope": {...}, "statistics": [...],
     "opening": {"heading": "总体情况", "sentences": [...]},
     "sections": [{"heading": "一、…", "cluster_id": ..., "trend": "上升", ..., "sentences": [...]}, ...]}

Each sentence is ``{"text", "finding_ids", "document_ids"}``: the findings (and, for figures, the
documents) it was built from. Nothing is paraphrased: findings are quoted, figures are the ones the
documents state, and the connecting words come from fixed templates.

Statistics are aggregated per document first with :func:`nlp.stats.aggregate_statistics` (whose
rules know a total followed by its breakdown within one text), then summed across documents when the
units agree (all count words 个/项/条/件… count the same thing); rates and scope metrics are listed,
never summed, and ``other`` figures are left out of the opening.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from nlp.stats import aggregate_statistics
from nlp.stats.extract import NOT_SUMMED
from service.cluster_cache import cached_common_issues
from service.clusters import ClusterQuery
from service.library import EmptyLibraryError, finding_rows
from service.rounds import round_key
from service.store import models

TITLE = "巡察共性问题分析报告"

METRIC_NAMES: dict[str, str] = {
    "rounds": "巡察轮次",
    "units_inspected": "巡察党组织（单位）",
    "problems_found": "发现问题",
    "clues_transferred": "移交问题线索",
    "problems_rectified": "完成整改问题",
    "rectification_rate": "整改率",
    "systems_established": "建立完善制度",
    "people_disciplined": "给予党纪政务处分",
    "people_org_handled": "组织处理",
    "transferred_judicial": "移送司法机关",
    "funds_recovered": "挽回（追缴）经济损失",
}

COUNT_UNITS = frozenset({"个", "项", "条", "件", "处", "起", "宗"})
RATE_UNITS = frozenset({"%", "百分点"})
FOCUS, PROBLEM_TYPE = "focus", "problem_type"
CN_NUMERALS = "一二三四五六七八九十"
QUOTE_CHARS = 160  # a representative finding longer than this is quoted up to a sentence end


# --- scope ----------------------------------------------------------------------------------


def short_round(label: str | None) -> str:
    """``十四届县委第六轮`` → ``第六轮``; a label without 第…轮 is kept whole."""
    if not label:
        return "未标明轮次"
    m = re.search(r"第[0-9一二三四五六七八九十百]+轮", label)
    return m.group(0) if m else label


def _cn_index(i: int) -> str:
    if i <= 10:
        return CN_NUMERALS[i - 1]
    tens, ones = divmod(i, 10)
    return (CN_NUMERALS[tens - 1] if tens > 1 else "") + "十" + (CN_NUMERALS[ones - 1] if ones else "")


def _sentence(text: str, finding_ids: list[int] | None = None, document_ids: list[int] | None = None) -> dict[str, Any]:
    return {"text": text, "finding_ids": sorted(set(finding_ids or [])), "document_ids": sorted(set(document_ids or []))}


def _fmt(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def fmt_amount(value: float, unit: str | None) -> str:
    """A figure with its measure word as a report writes it: amounts of 10万元 or more in 万元 or
    亿元 (12605000元 → 1260.5万元, 267000000元 → 2.67亿元), counts as they are (312个, 47人)."""
    if unit == "元" and abs(value) >= 1e8:
        return f"{_fmt(round(value / 1e8, 4))}亿元"
    if unit == "元" and abs(value) >= 1e5:
        return f"{_fmt(round(value / 1e4, 2))}万元"
    return f"{_fmt(value)}{unit or ''}"


# --- statistics -------------------------------------------------------------------------------


def aggregate_documents(documents: list[models.Document]) -> list[dict[str, Any]]:
    """Per named metric: each document's figure (its own total, or its values) and the cross-document total."""
    per_metric: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for doc in documents:
        rows = [  # in extraction order, which ``part_of`` positions refer to
            {"metric": s.metric, "value": s.value, "unit": s.unit, "qualifier": s.qualifier, "quote": s.quote,
             "scope": s.scope, "part_of": s.part_of}
            for s in sorted(doc.statistics, key=lambda s: s.id)
        ]
        for metric, agg in aggregate_statistics(rows).items():
            if metric not in METRIC_NAMES:
                continue
            qualified = any(r["qualifier"] for r in rows if r["metric"] == metric)
            per_metric[metric].append(
                {
                    "document_id": doc.id,
                    "document": doc.source_name,
                    "total": agg["total"],
                    "why": agg.get("why"),
                    "values": agg["values"],
                    "unit": agg["unit"],
                    "quotes": agg["quotes"],
                    "approximate": qualified,
                }
            )
    out = []
    for metric in METRIC_NAMES:  # fixed, readable order
        docs = per_metric.get(metric)
        if not docs:
            continue
        out.append(
            {
                "metric": metric,
                "name": METRIC_NAMES[metric],
                **_cross_total(metric, docs),
                "documents": docs,
            }
        )
    return out


def _cross_total(metric: str, docs: list[dict[str, Any]]) -> dict[str, Any]:
    """The library's figure: each document's own total once, or no total and why not."""
    units = {d["unit"] for d in docs}
    unit = units.pop() if len(units) == 1 else None
    if metric in NOT_SUMMED:
        return {"total": None, "unit": unit, "why": "含义各异，不能相加"}
    if units & RATE_UNITS or unit in RATE_UNITS:
        return {"total": None, "unit": unit, "why": "比率不能相加"}
    missing = [d for d in docs if d["total"] is None]
    if missing:
        return {"total": None, "unit": unit, "why": f"{len(missing)}份文件自身无法得出总数（{missing[0]['why'] or '口径不一'}）"}
    if unit is None and not (units | {unit}) - {None} <= COUNT_UNITS:
        return {"total": None, "unit": None, "why": "计量单位不同，不能相加"}
    return {"total": sum(d["total"] for d in docs), "unit": unit or "个", "approximate": any(d["approximate"] for d in docs)}


def _with_approx(amount: str, approx: str) -> str:
    """余 goes before the measure word: 2.5万余个 / 1260.5万余元."""
    if not approx:
        return amount
    m = re.match(r"^([0-9.]+[万亿]?)(.*)$", amount)
    return f"{m.group(1)}{approx}{m.group(2)}" if m else amount + approx


def _statistics_sentence(stats: list[dict[str, Any]]) -> dict[str, Any] | None:
    if not stats:
        return None
    parts = []
    for s in stats:
        n = len(s["documents"])
        if s["total"] is not None:
            approx = "余" if s.get("approximate") else ""
            amount = fmt_amount(s["total"], s["unit"])
            parts.append(f"{s['name']}{_with_approx(amount, approx)}（{n}份文件合计）")
        else:
            values = "、".join(
                fmt_amount(v, d["unit"]) for d in s["documents"] for v in ([d["total"]] if d["total"] is not None else d["values"])
            )
            parts.append(f"{s['name']}{values}（{n}份文件分别表述，{s.get('why') or '未合计'}）")
    doc_ids = [d["document_id"] for s in stats for d in s["documents"]]
    return {**_sentence("据各文件所载数据，" + "，".join(parts) + "。", document_ids=doc_ids), "kind": "statistics"}


# --- tags -----------------------------------------------------------------------------------


def _categories(findings: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """The leading focus (two) and problem types (three) of a cluster's findings (rows of
    :func:`service.library.finding_rows`, whose ``tags`` are the effective labels already)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for scheme, keep in ((FOCUS, 2), (PROBLEM_TYPE, 3)):
        ids: dict[str, list[int]] = defaultdict(list)
        for f in findings:
            for label in f["tags"].get(scheme, []):
                ids[label].append(f["finding_id"])
        ranked = sorted(ids.items(), key=lambda kv: (-len(kv[1]), kv[0]))[:keep]
        out[scheme] = [{"label": label, "count": len(fids), "finding_ids": fids} for label, fids in ranked]
    return out


def _categories_sentence(categories: dict[str, list[dict[str, Any]]]) -> dict[str, Any] | None:
    parts, ids = [], []
    for scheme, title in ((FOCUS, "“三个聚焦”中主要属于"), (PROBLEM_TYPE, "问题类型主要为")):
        rows = categories.get(scheme) or []
        if rows:
            parts.append(title + "、".join(f"“{r['label']}”（{r['count']}条）" for r in rows))
            ids += [i for r in rows for i in r["finding_ids"]]
    if not parts:
        return None
    return _sentence("从问题归类看，" + "；".join(parts) + "。", ids)


# --- trend ----------------------------------------------------------------------------------


def trend(counts: list[int]) -> str:
    """上升 / 下降 / 持平 / 波动 from per-round counts in round order; 无法判断 with fewer than two rounds."""
    if len(counts) < 2:
        return "无法判断"
    steps = [b - a for a, b in zip(counts, counts[1:], strict=False)]
    if all(s == 0 for s in steps):
        return "持平"
    if all(s >= 0 for s in steps):
        return "上升"
    if all(s <= 0 for s in steps):
        return "下降"
    return "波动"


TREND_TEXT = {"上升": "呈上升趋势", "下降": "呈下降趋势", "持平": "各轮基本持平", "波动": "呈起伏波动"}


def _trend_sentence(findings: list[dict[str, Any]], scope_rounds: list[str]) -> tuple[dict[str, Any], str, dict[str, int]]:
    per_round = Counter(f["round"] for f in findings if f["round"])
    first = next((i for i, r in enumerate(scope_rounds) if per_round.get(r)), None)
    # from the first round the issue appears in to the last round in scope: a later zero is a fall
    shown = scope_rounds[first:] if first is not None else []
    counts = {r: per_round.get(r, 0) for r in shown}
    dated = [f["finding_id"] for f in findings if f["round"]]
    undated = len(findings) - len(dated)
    direction = trend(list(counts.values()))
    if not counts:
        text = "所涉文件均未标明巡察轮次，无法判断趋势。"
    elif len(counts) == 1:
        text = f"仅见于{short_round(shown[0])}（{counts[shown[0]]}条），尚无法判断趋势。"
    else:
        text = "分轮次看，" + "、".join(f"{short_round(r)}{n}条" for r, n in counts.items()) + f"，{TREND_TEXT[direction]}"
        if direction == "波动":
            first_n, last_n = counts[shown[0]], counts[shown[-1]]
            change = "有所增加" if last_n > first_n else "有所减少" if last_n < first_n else "持平"
            text += f"，{short_round(shown[-1])}较{short_round(shown[0])}{change}"
        text += "。"
    if undated:
        text = text[:-1] + f"（另有{undated}条所在文件未标明轮次）。"
    return _sentence(text, dated), direction, counts


# --- sections -------------------------------------------------------------------------------


def quote(text: str, limit: int = QUOTE_CHARS) -> str:
    """The finding text, cut after the last sentence end within ``limit`` characters (or at ``limit``)."""
    text = re.sub(r"\s+", "", text)
    if len(text) <= limit:
        return text
    cut = max(text.rfind(p, 0, limit) for p in "。；;")
    return text[: cut + 1] + "……" if cut >= limit // 3 else text[:limit] + "……"


def _representatives(cluster: dict[str, Any]) -> list[dict[str, Any]]:
    """Two or three quotes, most central first, preferring distinct units."""
    chosen: list[dict[str, Any]] = []
    units: set[str | None] = set()
    candidates = list(cluster["representatives"]) + [f for f in cluster["findings"] if f not in cluster["representatives"]]
    for distinct in (True, False):
        for f in candidates:
            if len(chosen) >= 3 or (len(chosen) >= 2 and not distinct):
                break
            if f in chosen or (distinct and f["unit"] in units):
                continue
            chosen.append(f)
            units.add(f["unit"])
    return chosen


def _section(
    index: int,
    cluster: dict[str, Any],
    by_id: dict[int, dict[str, Any]],
    scope_rounds: list[str],
    repeats: list[dict[str, Any]],
) -> dict[str, Any]:
    findings = [by_id[f["finding_id"]] for f in cluster["findings"]]
    ids = [f["finding_id"] for f in findings]
    units = list(cluster["units"])
    rounds = [r for r in cluster["rounds"] if r != "unknown"]
    sentences = [
        _sentence(
            f"该类问题共{len(findings)}条，涉及{len(units)}个单位（{'、'.join(units)}），"
            + (f"分布于{len(rounds)}个轮次。" if rounds else "所在文件未标明轮次。"),
            ids,
        )
    ]
    trend_sentence, direction, counts = _trend_sentence(findings, scope_rounds)
    sentences.append(trend_sentence)
    reps = []
    for r in _representatives(cluster):
        f = by_id[r["finding_id"]]
        rep: dict[str, Any] = {
            "finding_id": f["finding_id"],
            "unit": f["unit"],
            "round": f["round"],
            "document": f["document"],
            "page": f["page"],
            "text": f["text"],
            "quote": quote(f["text"]),
        }
        reps.append(rep)
        where = f"{rep['unit'] or '（单位未标明）'}（{short_round(rep['round'])}）"
        sentences.append(_sentence(f"{where}：“{rep['quote']}”〔问题编号{rep['finding_id']}〕", [rep["finding_id"]]))
    categories = _categories(findings)
    cat = _categories_sentence(categories)
    if cat:
        sentences.append(cat)
    mine = [r for r in repeats if r["earlier"]["finding_id"] in ids and r["later"]["finding_id"] in ids]
    if mine:
        parts = [
            f"{r['unit']}{short_round(r['earlier']['round'])}反馈的问题在{short_round(r['later']['round'])}再次出现"
            f"〔问题编号{r['earlier']['finding_id']}→{r['later']['finding_id']}〕"
            for r in mine
        ]
        sentences.append(
            _sentence(
                "同一单位跨轮次重复出现：" + "；".join(parts) + "，反映出整改不到位或问题反弹。",
                [i for r in mine for i in (r["earlier"]["finding_id"], r["later"]["finding_id"])],
            )
        )
    label = cluster["title"] or "其他问题"
    return {
        "heading": f"{_cn_index(index)}、{label}",
        "cluster_id": cluster["cluster_id"],
        "label": label,
        "concepts": cluster["concepts"],
        "size": len(findings),
        "units": units,
        "rounds": rounds,
        "per_round": counts,
        "trend": direction,
        "systemic_score": cluster["systemic_score"],
        "representatives": reps,
        "categories": categories,
        "recurrences": [
            {
                "unit": r["unit"],
                "earlier_round": r["earlier"]["round"],
                "later_round": r["later"]["round"],
                "earlier_id": r["earlier"]["finding_id"],
                "later_id": r["later"]["finding_id"],
                "similarity": r["similarity"],
            }
            for r in mine
        ],
        "finding_ids": ids,
        "sentences": sentences,
    }


# --- the report ---------------------------------------------------------------------------------


def _member_rows(session: Session, ids: list[int]) -> dict[int, dict[str, Any]]:
    """Rows (text, unit, round, document, page, effective labels) of the findings ``ids``, in chunks
    (a database caps the parameters of one statement). Plain rows, not ORM findings: the members of
    eight large clusters of a 20k library took 4.3 s to load as objects with their relations."""
    out: dict[int, dict[str, Any]] = {}
    unique = sorted(set(ids))
    for start in range(0, len(unique), 5000):
        out.update(finding_rows(session, unique[start : start + 5000]))
    return out


def build_summary(session: Session, rounds: list[str] | None = None, top: int = 8) -> dict[str, Any]:
    """The common-issue report over the stored findings (of the rounds whose labels contain ``rounds``).

    A library of work summaries alone (statistics, no findings) gets a report of its statistics.
    Raises :class:`EmptyLibraryError` when neither a finding nor a statistic is in scope.
    """
    # The scope is read as plain rows (one per finding); whole findings — tags, document — are loaded
    # only for the clusters the report describes: at 20k findings loading all as ORM objects took 9 s.
    F, U = models.Finding, models.Unit
    all_rounds = {r.id: r for r in session.scalars(select(models.InspectionRound))}
    scope = [
        (fid, document_id, unit, round_id)
        for fid, document_id, unit, round_id in session.execute(
            select(F.id, F.document_id, U.name, F.round_id).outerjoin(U, F.unit_id == U.id).order_by(F.id)
        )
        if not rounds or (round_id in all_rounds and any(r in all_rounds[round_id].label for r in rounds))
    ]
    scope_ids = [row[0] for row in scope]
    scope_documents = {row[1] for row in scope}
    round_of = {all_rounds[rid].label: all_rounds[rid] for *_, rid in scope if rid in all_rounds}
    doc_stmt = select(models.Document).options(selectinload(models.Document.statistics), selectinload(models.Document.round))
    documents = [
        d for d in session.scalars(doc_stmt.order_by(models.Document.id))
        if not rounds or (d.round and any(r in d.round.label for r in rounds)) or d.id in scope_documents
    ]
    if not scope and not any(d.statistics for d in documents):
        raise EmptyLibraryError("所选范围内没有问题，也没有统计数据")
    for d in documents:  # a work summary states figures but no findings: its round still counts
        if d.round:
            round_of.setdefault(d.round.label, d.round)
    scope_rounds = sorted(round_of, key=lambda r: round_key(round_of[r]))
    units = sorted({row[2] for row in scope if row[2]})
    stats = aggregate_documents(documents)

    if scope:
        issues = cached_common_issues(session, ClusterQuery(rounds=list(rounds or []), min_units=2, include_singletons=False),
                                      fresh=True)
    else:  # a library of work summaries: statistics only
        issues = {"clusters": [], "recurrences": []}
    clusters = [c for c in issues["clusters"] if not c["singleton"] and len(c["units"]) >= 2][:top]
    by_id = _member_rows(session, [f["finding_id"] for c in clusters for f in c["findings"]])
    findings = scope_ids  # what the opening counts and cites

    round_text = "、".join(short_round(r) for r in scope_rounds) if scope_rounds else "未标明轮次"
    opening = [
        _sentence(
            f"本报告汇总问题库中{len(documents)}份巡察文件（{round_text}），涉及{len(units)}个被巡察单位，"
            f"共提取问题{len(findings)}条。",
            scope_ids,
            [d.id for d in documents],
        )
    ]
    stat_sentence = _statistics_sentence(stats)
    if stat_sentence:
        opening.append(stat_sentence)
    if not findings:
        opening.append(_sentence("所选文件均为工作综述或报告，未提取到具体问题，以上为文件所载统计数据。"))
    elif clusters:
        covered = [f["finding_id"] for c in clusters for f in c["findings"]]
        opening.append(
            _sentence(
                f"经聚类比对，以下{len(clusters)}类问题在2个以上单位中反复出现，按涉及单位和轮次的广度排序，"
                f"合计{len(covered)}条，占全部问题的{round(100 * len(covered) / len(findings))}%。",
                covered,
            )
        )
    else:
        opening.append(_sentence("经聚类比对，未发现在2个以上单位中共同出现的问题。"))

    return {
        "title": TITLE,
        "scope": {
            "rounds": scope_rounds,
            "round_filter": list(rounds or []),
            "documents": [{"id": d.id, "name": d.source_name, "round": d.round.label if d.round else None} for d in documents],
            "units": units,
            "findings": len(findings),
        },
        "statistics": stats,
        "opening": {"heading": "总体情况", "sentences": opening},
        "sections": [_section(i, c, by_id, scope_rounds, issues["recurrences"]) for i, c in enumerate(clusters, 1)],
    }


# --- rendering ------------------------------------------------------------------------------


def _refs(sentence: dict[str, Any], limit: int = 8) -> str:
    ids = sentence["finding_ids"]
    if not ids or "〔问题编号" in sentence["text"]:
        return ""
    shown = "、".join(str(i) for i in ids[:limit])
    return f"〔问题编号{shown}{'等' + str(len(ids)) + '条' if len(ids) > limit else ''}〕"


def _stat_rows(summary: dict[str, Any]) -> list[list[str]]:
    rows = []
    for s in summary["statistics"]:
        if s["total"] is not None:
            total = _with_approx(fmt_amount(s["total"], s["unit"]), "余" if s.get("approximate") else "")
        else:
            total = f"—（{s['why']}）" if s.get("why") else "—"
        values = "；".join(
            f"{d['document']}：" + (fmt_amount(d["total"], d["unit"]) if d["total"] is not None
                                   else "、".join(fmt_amount(v, d["unit"]) for v in d["values"]))
            for d in s["documents"]
        )
        rows.append([s["name"], total, str(len(s["documents"])), values])
    return rows


STAT_HEADERS = ["指标", "合计", "文件数", "各文件所载数值"]


def render_markdown(summary: dict[str, Any]) -> str:
    lines = [f"# {summary['title']}", "", f"## {summary['opening']['heading']}", ""]
    rows = _stat_rows(summary)
    for s in summary["opening"]["sentences"]:
        lines += [s["text"] + _refs(s), ""]
        if s.get("kind") == "statistics" and rows:
            lines += ["| " + " | ".join(STAT_HEADERS) + " |", "|" + "---|" * len(STAT_HEADERS)]
            lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows]
            lines.append("")
    for section in summary["sections"]:
        lines += [f"## {section['heading']}", ""]
        for s in section["sentences"]:
            prefix = "> " if s["text"].endswith("〕") and "：“" in s["text"] else ""
            lines += [prefix + s["text"] + _refs(s), ""]
    return "\n".join(lines).rstrip() + "\n"


def render_docx(summary: dict[str, Any], path: str | Path) -> Path:
    """Write the report as a Word document (headings, paragraphs, a statistics table); returns the path."""
    from docx import Document
    from docx.oxml.ns import qn
    from docx.shared import Pt

    doc = Document()
    for name, font, size in (("Normal", "仿宋", 14), ("Title", "黑体", 20), ("Heading 1", "黑体", 16)):
        style = doc.styles[name]
        style.font.name = font
        style.font.size = Pt(size)
        rpr = style.element.get_or_add_rPr()
        rpr.get_or_add_rFonts().set(qn("w:eastAsia"), font)
    doc.add_heading(summary["title"], level=0)
    doc.add_heading(summary["opening"]["heading"], level=1)
    rows = _stat_rows(summary)
    for s in summary["opening"]["sentences"]:
        doc.add_paragraph(s["text"] + _refs(s))
        if s.get("kind") == "statistics" and rows:
            _stat_table(doc, rows)
    for section in summary["sections"]:
        doc.add_heading(section["heading"], level=1)
        for s in section["sentences"]:
            doc.add_paragraph(s["text"] + _refs(s))
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    doc.save(str(target))
    return target


def _stat_table(doc: Any, rows: list[list[str]]) -> None:
    table = doc.add_table(rows=1, cols=len(STAT_HEADERS))
    table.style = "Table Grid"
    for cell, text in zip(table.rows[0].cells, STAT_HEADERS, strict=True):
        cell.text = text
        for run in cell.paragraphs[0].runs:
            run.bold = True
    for row in rows:
        for cell, text in zip(table.add_row().cells, row, strict=True):
            cell.text = text
