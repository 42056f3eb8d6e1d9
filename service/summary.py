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

import math
import re
from collections import Counter, defaultdict
from decimal import ROUND_HALF_UP, Decimal
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


WAN, YI = 10_000, 100_000_000
MONEY_UNITS = {"元": 1, "万元": WAN, "亿元": YI}  # what an amount may be stated in, in 元


def _decimal(value: float, places: int = 2) -> str:
    """``value`` rounded half up to ``places`` decimals, without trailing zeros (1260.50 → 1260.5,
    3.20 → 3.2, 10.00 → 10): Decimal, because binary floats round 1.005 down."""
    exact = Decimal(repr(float(value))).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    text = format(exact.normalize(), "f")
    return "0" if text in ("-0", "") else text


def fmt_amount(value: float, unit: str | None) -> str:
    """A figure with its measure word as a report writes it. An amount of money of 10万元 or more is
    never written in 元 — a reader counts the digits of 12605000元 — but in 万元 or, from 1亿元, 亿元, with
    up to two decimals (12605000元 → 1260.5万元, 123456789元 → 1.23亿元); smaller amounts stay in 元
    (99999元). Amounts stated in 万元 or 亿元 are read the same way (12.5万元 → 12.5万元, 15000万元 →
    1.5亿元). Counts (312个, 47人) and rates (98.14%) are written as they are."""
    if unit not in MONEY_UNITS:
        return f"{_fmt(value)}{unit or ''}"
    yuan = float(value) * MONEY_UNITS[unit]
    wan = _decimal(yuan / WAN)
    if abs(yuan) >= YI or abs(Decimal(wan)) >= WAN:  # 99999999元 reads 1亿元, not 10000万元
        return f"{_decimal(yuan / YI)}亿元"
    if abs(yuan) >= 10 * WAN:
        return f"{wan}万元"
    return f"{_decimal(yuan)}元"


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


# One level down inside a quotation: “” become ‘’ and ‘’ become “” (the third level), as Chinese nesting
# requires — a finding that quotes “第一议题” is itself quoted by the report.
_ONE_LEVEL_DOWN = str.maketrans({"“": "‘", "”": "’", "‘": "“", "’": "”"})
_STRAIGHT_PAIR = re.compile(r'"([^"]*)"')


def quoted(text: str) -> str:
    """``text`` in Chinese quotation marks, the marks inside it nested correctly: outer “…”, inner ‘…’
    (straight "…" pairs inside are taken for inner quotes too)."""
    inner = _STRAIGHT_PAIR.sub(r"“\1”", text).translate(_ONE_LEVEL_DOWN)
    return f"“{inner}”"


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
        sentences.append(_sentence(f"{where}：{quoted(rep['quote'])}〔问题编号{rep['finding_id']}〕", [rep["finding_id"]]))
    categories = _categories(findings)
    cat = _categories_sentence(categories)
    if cat:
        sentences.append(cat)
    members = set(ids)  # a set: the recurrences of a 20k library number tens of thousands
    mine = [r for r in repeats if r["earlier"]["finding_id"] in members and r["later"]["finding_id"] in members]
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


# --- the DOCX as a 公文 (GB/T 9704-2012) -------------------------------------------------------------
# A report for the party committee is printed and filed as an official document, so its DOCX follows the
# national layout rather than Word's defaults (US Letter, Calibri, blue headings): A4, the type area
# 156 × 225 mm at the standard margins, 22 lines of 28 characters in 三号 仿宋, headings by level in
# 黑体 / 楷体 / 仿宋加粗, the title in 二号 小标宋, page numbers "— 1 —" in 4号 宋体 outside the type area.

PAGE_MM = (210, 297)
MARGINS_MM = {"top": 37, "bottom": 35, "left": 28, "right": 26}
LINES_PER_PAGE, CHARS_PER_LINE = 22, 28
BODY_PT = 16.0  # 三号
TITLE_PT = 22.0  # 二号
TABLE_PT = 12.0  # 小四: a four-column table does not fit 三号
PAGE_NUMBER_PT = 14.0  # 4号
LINE_PT = 28.95  # the 225 mm type area over 22 lines (637.8 pt / 22 = 28.99), as the usual 公文 templates round it
PAGE_NUMBER_GAP_MM = 7.0  # the page number's top edge below the type area

TITLE_FONT = "方正小标宋简体"
BODY_FONT = "仿宋_GB2312"
HEI_FONT = "黑体"
KAI_FONT = "楷体_GB2312"
SONG_FONT = "宋体"
# A machine without the GB2312-era fonts (most new installations) looks these up under the font table's
# alternative names, so the document falls back to the fonts Windows, WPS and LibreOffice ship.
FONT_FALLBACKS = {TITLE_FONT: "宋体", BODY_FONT: "仿宋", KAI_FONT: "楷体", HEI_FONT: "SimHei", SONG_FONT: "SimSun"}

# heading style, East Asian font, bold — by level: 一、 / （一） / 1.
HEADING_STYLES = {1: ("Heading 1", HEI_FONT, False), 2: ("Heading 2", KAI_FONT, False), 3: ("Heading 3", BODY_FONT, True)}
_HEADING_LEVELS = (
    (re.compile(r"^[一二三四五六七八九十百]+、"), 1),
    (re.compile(r"^[（(][一二三四五六七八九十百]+[)）]"), 2),
    (re.compile(r"^[0-9]+[.．]"), 3),
)
TABLE_STYLE = "表格文字"
STAT_WIDTHS_MM = (32, 34, 16, 74)  # 指标, 合计, 文件数, 各文件所载数值: 156 mm
# the run properties that follow w:spacing in CT_RPr (Word refuses a document whose children are out of order)
_AFTER_SPACING = ("w:w", "w:kern", "w:position", "w:sz", "w:szCs", "w:highlight", "w:u", "w:effect", "w:bdr", "w:shd",
                  "w:fitText", "w:vertAlign", "w:rtl", "w:cs", "w:em", "w:lang", "w:eastAsianLayout", "w:specVanish", "w:oMath")


def heading_level(text: str) -> int:
    """The level a heading's own number gives it (一、 → 1, （一） → 2, 1. → 3); an unnumbered heading
    such as 总体情况 stands at the first level."""
    for pattern, level in _HEADING_LEVELS:
        if pattern.match(text):
            return level
    return 1


def render_docx(summary: dict[str, Any], path: str | Path) -> Path:
    """Write the report as a 公文-style Word document (title, headings by level, body paragraphs, the
    statistics table, page numbers); returns the path."""
    from docx import Document

    doc = Document()
    doc.core_properties.title = summary["title"]
    doc.core_properties.language = "zh-CN"
    _setup_page(doc)
    _setup_styles(doc)
    _declare_font_fallbacks(doc)
    _add_page_numbers(doc)
    doc.add_heading(summary["title"], level=0)
    _add_heading(doc, summary["opening"]["heading"])
    rows = _stat_rows(summary)
    for s in summary["opening"]["sentences"]:
        doc.add_paragraph(s["text"] + _refs(s))
        if s.get("kind") == "statistics" and rows:
            _stat_table(doc, rows)
    for section in summary["sections"]:
        _add_heading(doc, section["heading"])
        for s in section["sentences"]:
            doc.add_paragraph(s["text"] + _refs(s))
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    doc.save(str(target))
    return target


def _add_heading(doc: Any, text: str) -> None:
    doc.add_paragraph(text, style=HEADING_STYLES[heading_level(text)][0])


def _setup_page(doc: Any) -> None:
    """A4 at the standard margins, with a line grid of 22 lines (Word's 文档网格; the paragraphs' exact
    line spacing keeps the 22 lines wherever a grid is ignored). No character grid: LibreOffice lays a
    三号 character that is wider than Word's compressed grid cell over two cells (14 to a line); the 28
    characters come from the body's character spacing instead (:func:`_character_spacing`)."""
    from docx.oxml.ns import qn
    from docx.shared import Emu, Mm, Pt

    section = doc.sections[0]
    section.page_width, section.page_height = Mm(PAGE_MM[0]), Mm(PAGE_MM[1])
    section.top_margin, section.bottom_margin = Mm(MARGINS_MM["top"]), Mm(MARGINS_MM["bottom"])
    section.left_margin, section.right_margin = Mm(MARGINS_MM["left"]), Mm(MARGINS_MM["right"])
    # the page number's line (exactly 4号 high) ends this far above the page's lower edge
    section.footer_distance = Emu(Mm(MARGINS_MM["bottom"] - PAGE_NUMBER_GAP_MM) - Pt(PAGE_NUMBER_PT))
    grid = section._sectPr.find(qn("w:docGrid"))
    if grid is None:
        grid = section._sectPr.makeelement(qn("w:docGrid"), {})
        section._sectPr.append(grid)
    grid.attrib.pop(qn("w:charSpace"), None)
    grid.set(qn("w:type"), "lines")
    grid.set(qn("w:linePitch"), str(round(LINE_PT * 20)))


def _type_width_pt(doc: Any) -> float:
    section = doc.sections[0]
    return float((section.page_width - section.left_margin - section.right_margin) / 12700)


def _character_spacing(width_pt: float) -> int:
    """The spacing, in twentieths of a point (w:spacing), that fits 28 三号 characters to a line of
    ``width_pt``: 156 mm holds 27.6 characters of 16 pt, so each is drawn 0.25 pt closer (the nearest
    step at or below the exact −0.21 pt: rounding up would push the 28th character to the next line)."""
    return math.floor((width_pt / CHARS_PER_LINE - BODY_PT) * 20)


def _set_fonts(rpr: Any, font: str) -> None:
    """Every script slot of ``rpr`` in ``font``, the theme fonts removed: a theme attribute wins over
    a named font, and Word's theme is Calibri / MS Mincho."""
    from docx.oxml.ns import qn

    fonts = rpr.get_or_add_rFonts()
    for attr in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
        fonts.attrib.pop(qn(attr), None)
    for attr in ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs"):
        fonts.set(qn(attr), font)


def _style_font(style: Any, font: str, size: float, bold: bool = False) -> None:
    from docx.shared import Pt, RGBColor

    style.font.size = Pt(size)
    style.font.bold = bold
    style.font.color.rgb = RGBColor(0, 0, 0)  # also drops the template's theme colour (blue headings)
    _set_fonts(style.element.get_or_add_rPr(), font)


def _lines(style: Any, indent: bool, line: float = LINE_PT) -> None:
    """Exact line spacing, nothing before or after, and the first-line indent of two characters."""
    from docx.enum.text import WD_LINE_SPACING
    from docx.oxml.ns import qn
    from docx.shared import Pt

    fmt = style.paragraph_format
    fmt.line_spacing_rule = WD_LINE_SPACING.EXACTLY
    fmt.line_spacing = Pt(line)
    fmt.space_before = fmt.space_after = Pt(0)
    fmt.first_line_indent = Pt(2 * BODY_PT) if indent else Pt(0)
    ind = style.element.get_or_add_pPr().get_or_add_ind()
    if indent:  # in characters too, so the indent follows a changed font size
        ind.set(qn("w:firstLineChars"), "200")
    else:
        ind.attrib.pop(qn("w:firstLineChars"), None)


def _setup_styles(doc: Any) -> None:
    from docx.enum.style import WD_STYLE_TYPE
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn
    from docx.shared import Pt

    _document_defaults(doc)
    normal = doc.styles["Normal"]
    _style_font(normal, BODY_FONT, BODY_PT)
    _lines(normal, indent=True)
    normal.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.JUSTIFY
    normal.paragraph_format.widow_control = False  # 公文 lines run on; a fixed 22 lines per page
    spacing = OxmlElement("w:spacing", {qn("w:val"): str(_character_spacing(_type_width_pt(doc)))})
    normal.element.get_or_add_rPr().insert_element_before(spacing, *_AFTER_SPACING)  # the schema's order
    title = doc.styles["Title"]
    _style_font(title, TITLE_FONT, TITLE_PT)
    _plain_title(title)
    _lines(title, indent=False)
    title.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.CENTER
    title.paragraph_format.space_after = Pt(LINE_PT)  # one empty line between the title and the text
    for style_name, font, bold in HEADING_STYLES.values():
        heading = doc.styles[style_name]
        _style_font(heading, font, BODY_PT, bold)
        heading.font.italic = False
        _lines(heading, indent=True)
        heading.paragraph_format.keep_with_next = True
    cells = doc.styles.add_style(TABLE_STYLE, WD_STYLE_TYPE.PARAGRAPH)
    cells.base_style = normal
    _style_font(cells, BODY_FONT, TABLE_PT)
    _lines(cells, indent=False, line=TABLE_PT * 1.5)
    cells.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.LEFT


def _plain_title(style: Any) -> None:
    """Without the template's blue rule under the title and its letter spacing."""
    from docx.oxml.ns import qn

    ppr, rpr = style.element.get_or_add_pPr(), style.element.get_or_add_rPr()
    for parent, tag in ((ppr, "w:pBdr"), (ppr, "w:contextualSpacing"), (rpr, "w:spacing"), (rpr, "w:kern")):
        for child in parent.findall(qn(tag)):
            parent.remove(child)


def _document_defaults(doc: Any) -> None:
    """Chinese as the East Asian language and 仿宋 as the default font (the template's are Japanese
    and its theme's), so text outside any style — table cells, footers — is not set in MS Mincho."""
    from docx.oxml.ns import qn

    styles = doc.styles.element
    rpr = styles.find(qn("w:docDefaults")).find(qn("w:rPrDefault")).find(qn("w:rPr"))
    _set_fonts(rpr, BODY_FONT)
    lang = rpr.find(qn("w:lang"))
    if lang is not None:
        lang.set(qn("w:eastAsia"), "zh-CN")
    settings = doc.settings.element
    theme_lang = settings.find(qn("w:themeFontLang"))
    if theme_lang is not None:
        theme_lang.set(qn("w:eastAsia"), "zh-CN")


def _declare_font_fallbacks(doc: Any) -> None:
    """Name the fonts in the font table with their alternative names and the GB2312 character set."""
    from lxml import etree

    part = next(p for p in doc.part.package.iter_parts() if str(p.partname) == "/word/fontTable.xml")
    root = etree.fromstring(part.blob)
    ns = root.nsmap["w"]
    w = f"{{{ns}}}"
    for font, alternative in FONT_FALLBACKS.items():
        entry = etree.SubElement(root, f"{w}font", {f"{w}name": font})
        etree.SubElement(entry, f"{w}altName", {f"{w}val": alternative})
        etree.SubElement(entry, f"{w}charset", {f"{w}val": "86"})  # GB2312
        etree.SubElement(entry, f"{w}family", {f"{w}val": "modern" if font in (HEI_FONT, SONG_FONT) else "roman"})
        etree.SubElement(entry, f"{w}pitch", {f"{w}val": "variable"})
    part._blob = etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)


def _add_page_numbers(doc: Any) -> None:
    """"— 1 —" in 4号 宋体 under the type area: odd pages at the right, even pages at the left, each
    one character in from the edge of the type area (GB/T 9704 7.5)."""
    from docx.enum.text import WD_ALIGN_PARAGRAPH

    doc.settings.odd_and_even_pages_header_footer = True
    section = doc.sections[0]
    for footer, align in ((section.footer, WD_ALIGN_PARAGRAPH.RIGHT), (section.even_page_footer, WD_ALIGN_PARAGRAPH.LEFT)):
        footer.is_linked_to_previous = False
        _page_number(footer.paragraphs[0], align)


def _page_number(paragraph: Any, align: Any) -> None:
    from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn
    from docx.shared import Pt, RGBColor

    fmt = paragraph.paragraph_format
    fmt.alignment = align
    fmt.first_line_indent = Pt(0)
    fmt.line_spacing_rule, fmt.line_spacing = WD_LINE_SPACING.EXACTLY, Pt(PAGE_NUMBER_PT)
    fmt.space_before = fmt.space_after = Pt(0)
    if align == WD_ALIGN_PARAGRAPH.RIGHT:
        fmt.right_indent = Pt(PAGE_NUMBER_PT)
    else:
        fmt.left_indent = Pt(PAGE_NUMBER_PT)

    def run(text: str | None = None, field: str | None = None, instruction: str | None = None) -> None:
        r = paragraph.add_run(text)
        r.font.size = Pt(PAGE_NUMBER_PT)
        r.font.color.rgb = RGBColor(0, 0, 0)
        _set_fonts(r._r.get_or_add_rPr(), SONG_FONT)
        if field:
            mark = OxmlElement("w:fldChar")
            mark.set(qn("w:fldCharType"), field)
            r._r.append(mark)
        if instruction:
            code = OxmlElement("w:instrText")
            code.set(qn("xml:space"), "preserve")
            code.text = instruction
            r._r.append(code)

    run("— ")
    run(field="begin")
    run(instruction=" PAGE ")
    run(field="separate")
    run("1")  # shown until the field is updated (Word updates PAGE as it lays out)
    run(field="end")
    run(" —")


def _stat_table(doc: Any, rows: list[list[str]]) -> None:
    from docx.enum.table import WD_TABLE_ALIGNMENT
    from docx.shared import Mm

    table = doc.add_table(rows=1, cols=len(STAT_HEADERS))
    table.style = "Table Grid"
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    table.autofit = False
    for cell, text in zip(table.rows[0].cells, STAT_HEADERS, strict=True):
        _cell_text(cell, text, HEI_FONT)
    for row in rows:
        for cell, text in zip(table.add_row().cells, row, strict=True):
            _cell_text(cell, text)
    for column, width in zip(table.columns, STAT_WIDTHS_MM, strict=True):  # the type area's width, the values widest
        column.width = Mm(width)  # the grid (LibreOffice, WPS) and each cell (Word)
        for cell in column.cells:
            cell.width = Mm(width)


def _cell_text(cell: Any, text: str, font: str | None = None) -> None:
    paragraph = cell.paragraphs[0]
    paragraph.style = TABLE_STYLE
    run = paragraph.add_run(text)
    if font:  # the header row in 黑体
        _set_fonts(run._r.get_or_add_rPr(), font)
