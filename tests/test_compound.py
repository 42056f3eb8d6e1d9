"""Compound findings split by topic, and Traditional-script copies analysed in Simplified but kept as written."""

from __future__ import annotations

from pathlib import Path

from nlp.compound import clause_spans, topic_groups
from nlp.concepts import load_thesaurus
from nlp.pipeline import analyze_bytes

DATA = Path(__file__).parent / "data"


def pieces(text: str) -> list[str]:
    th = load_thesaurus(DATA / "mini_concepts.yaml")
    return [text[a:b] for a, b in topic_groups(text, 0, len(text), th)]


def test_compound_clauses_respect_quotes_and_brackets() -> None:
    text = "“三重一大，集体决策”制度执行不严，公车私用（含节假日，周末）问题突出"
    assert [text[a:b] for a, b in clause_spans(text, 0, len(text))] == [
        "“三重一大，集体决策”制度执行不严", "公车私用（含节假日，周末）问题突出"]


def test_compound_list_of_topics_becomes_one_finding_each() -> None:
    text = "“第一议题”学习以读代学，“三重一大”事项未经集体研究，公车私用问题突出，低保评定优亲厚友"
    assert pieces(text) == ["“第一议题”学习以读代学", "“三重一大”事项未经集体研究", "公车私用问题突出", "低保评定优亲厚友"]


def test_compound_same_topic_and_elaboration_stay_together() -> None:
    same = "“三重一大”事项未经集体研究，由一把手说了算，大额资金使用事后补签"
    assert pieces(same) == [same]  # one family throughout
    two = "“三重一大”事项未经集体研究，公车私用问题突出"
    assert pieces(two) == [two]  # two clauses are one statement


def test_compound_semicolon_items_split_after_a_problem() -> None:
    assert pieces("县域医共体推进不够有力;医养结合工作长期打不开局面") == ["县域医共体推进不够有力", "医养结合工作长期打不开局面"]
    assert pieces("公车私用问题突出；如节假日驾车外出") == ["公车私用问题突出；如节假日驾车外出"]  # an example, not an item


def test_compound_a_consequence_stays_with_its_problem() -> None:
    text = "“三重一大”事项未经集体研究，公车私用问题突出，存在较大廉政风险"
    assert pieces(text) == ["“三重一大”事项未经集体研究", "公车私用问题突出，存在较大廉政风险"]


TRADITIONAL = (
    "區(qū)委巡察組反饋巡察情況。\n"
    "一是“三重一大”事項未經集體研究決策。\n"
    "二是黨費收繳不規範。\n"
    "三是違規發放津補貼12.5萬元。\n"
)


def test_pipeline_reads_traditional_copies_and_keeps_their_text() -> None:
    doc = analyze_bytes(TRADITIONAL.encode("utf-8"), "mirror.txt")
    assert doc.text.startswith("區(qū)委")  # the text as published, glosses and all
    texts = [f.text for f in doc.findings]
    assert any("三重一大" in t and "事項" in t for t in texts), texts
    assert any("黨費收繳不規範" in t for t in texts), texts
    for f in doc.findings:
        assert doc.text[f.start : f.end] == f.text
        for rows in f.tags.values():
            for row in rows:
                for ev in row["evidence"]:
                    assert doc.text[ev["start"] : ev["end"]] == ev["text"]
    focus = {f.text: (f.tags.get("focus") or [{}])[0].get("label") for f in doc.findings}
    assert any(label == "党的建设" for t, label in focus.items() if "黨費" in t), focus
    (money,) = [s for s in doc.statistics if s["value"] == 125000]  # 12.5萬元 read through the Simplified form
    assert doc.text[money["start"] : money["end"]] == money["quote"] and "萬元" in money["quote"]


def test_compound_two_statements_split_only_outside_an_enumerated_item() -> None:
    """Two statements with subjects of their own are two findings in running text, one finding in an
    item the author enumerated (一是…) — the marker is the author's own segmentation — and a short,
    existential or back-pointing second clause describes the first (账目混乱, 存在…现象, 相关…)."""

    def findings(body: str) -> list[str]:
        text = f"县委第一巡察组对县农业农村局党组开展了常规巡察。巡察发现的主要问题：{body}\n"
        return [f.text.rstrip("。") for f in analyze_bytes(text.encode(), "a.txt", tagger=None).findings]

    assert findings("干部作风不实，服务群众意识淡薄。") == ["干部作风不实", "服务群众意识淡薄"]
    assert findings("一是干部作风不实，服务群众意识淡薄。二是食堂采购不规范。") == [
        "一是干部作风不实，服务群众意识淡薄", "二是食堂采购不规范"]
    assert findings("部分学校食堂采购不规范，账目混乱。") == ["部分学校食堂采购不规范，账目混乱"]
    assert findings("财务审核把关不严，存在白条入账现象。") == ["财务审核把关不严，存在白条入账现象"]
    assert findings("上轮巡察反馈的库存管理问题整改不到位，相关制度未真正落实。") == [
        "上轮巡察反馈的库存管理问题整改不到位，相关制度未真正落实"]  # 相关 points back
