"""Problem statements (nlp/statements.py): the items one sentence was split into, read back as the
report's statements — joined where they share a focus and an area, cut where the focus changes — in
`xuncha analyze`, and kept on each stored finding (findings.statement) so the library knows them too."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from nlp.model import Finding, ReportDoc
from nlp.pipeline import analyze_bytes
from nlp.statements import group_items, statements_of
from service.store import models
from service.store.db import session_factory
from service.store.repository import ingest_bytes

# one sentence listing six problems of three focuses, two of each, in the notice's usual order;
# then a lead statement with a list after 存在, and a second sentence
FEEDBACK = (
    "县委第二巡察组向某某镇党委反馈巡察情况\n"
    "巡察发现，某某镇党委存在理论学习不够扎实、贯彻落实上级部署要求有差距、执行组织生活制度不严格、选人用人不够严格、"
    "公务接待不规范、财务监督管理不健全等问题。此外，还发现整改主体责任落实不到位的问题。\n"
)


def focus(label: str, score: float = 0.9) -> dict[str, Any]:
    return {"label": label, "score": score, "source": "test", "evidence": []}


def item(text: str, doc: str, fid: str, focus_label: str | None, *, score: float = 0.9, areas: tuple[str, ...] = (),
         marker: str | None = None, unit: str | None = "某镇党委", detail: str | None = None) -> Finding:
    start = doc.index(text)
    tags: dict[str, Any] = {}
    if focus_label:
        tags["focus"] = [focus(focus_label, score)]
    if areas:
        tags["livelihood"] = [focus(a, 0.8) for a in areas]
    return Finding(id=fid, text=text, start=start, end=start + len(text), page=1, unit=unit, marker=marker, tags=tags,
                   detail=detail)


def runs(doc_text: str, findings: list[Finding]) -> list[list[str]]:
    return [[f.id for f in run] for run in group_items(doc_text, findings)]


def test_a_sentence_splits_where_the_focus_changes() -> None:
    text = "存在甲学习不深入、乙部署落实不力、丙选人用人不严、丁公务接待不规范等问题。"
    found = [item("甲学习不深入", text, "F001", "党的领导"), item("乙部署落实不力", text, "F002", "党的领导"),
             item("丙选人用人不严", text, "F003", "党的建设"), item("丁公务接待不规范", text, "F004", "全面从严治党")]
    assert runs(text, found) == [["F001", "F002"], ["F003"], ["F004"]]


@pytest.mark.parametrize(
    ("second", "why"),
    [
        ({"marker": "二是"}, "an enumerated item of its own"),
        ({"unit": "另一单位"}, "another unit's part"),
        ({"areas": ("教育",)}, "another livelihood area"),
        ({"detail": "问题表现……"}, "a titled problem with its 问题表现"),
        ({"focus_label": None}, "no focus to share"),
    ],
)
def test_items_stay_apart(second: dict[str, Any], why: str) -> None:
    text = "甲学习不深入、乙部署落实不力。"
    kwargs: dict[str, Any] = {"focus_label": "党的领导", **second}
    found = [item("甲学习不深入", text, "F001", "党的领导"), item("乙部署落实不力", text, "F002", **kwargs)]
    assert runs(text, found) == [["F001"], ["F002"]], why


def test_only_a_list_separator_joins() -> None:
    # the lead statement is followed by 存在: not a list separator, so it stays a statement of its own
    text = "整改力度不够，存在甲学习不深入、乙部署落实不力。丙学习不够。"
    found = [item("整改力度不够", text, "F001", "党的领导"), item("甲学习不深入", text, "F002", "党的领导"),
             item("乙部署落实不力", text, "F003", "党的领导"), item("丙学习不够", text, "F004", "党的领导")]
    assert runs(text, found) == [["F001"], ["F002", "F003"], ["F004"]]


def test_a_statement_reads_its_items_tags() -> None:
    text = "甲公务接待不规范、乙财务管理不健全。"
    found = [item("甲公务接待不规范", text, "F001", "全面从严治党", score=0.92, areas=("三资",)),
             item("乙财务管理不健全", text, "F002", "全面从严治党", score=0.30, areas=("三资",))]
    found[1].tags["focus"].append(focus("党的领导", 0.28))
    found[0].tags["problem_type"] = [focus("公务接待超标准", 0.7)]
    found[1].tags["problem_type"] = [focus("财务管理不规范", 0.6)]
    doc = ReportDoc(source="t.txt", media_type="txt", text=text, page_starts=[0], findings=found)  # type: ignore[arg-type]
    (statement,) = statements_of(doc)
    assert statement.text == "甲公务接待不规范、乙财务管理不健全"
    assert [f.id for f in statement.items] == ["F001", "F002"]
    # single-label: the label with the best mean probability, at that mean; not weak on average
    assert statement.tags["focus"] == [{**focus("全面从严治党", 0.61)}]
    # multi-label: every label an item carries
    assert {r["label"] for r in statement.tags["problem_type"]} == {"公务接待超标准", "财务管理不规范"}
    out = statement.to_dict()
    assert out["items"] == ["F001", "F002"] and [f["text"] for f in out["item_findings"]] == ["甲公务接待不规范", "乙财务管理不健全"]


def test_a_weak_statement_asks_for_review() -> None:
    text = "甲管理不严、乙管理不细。"
    found = [item("甲管理不严", text, "F001", "党的建设", score=0.45), item("乙管理不细", text, "F002", "党的建设", score=0.40)]
    doc = ReportDoc(source="t.txt", media_type="txt", text=text, page_starts=[0], findings=found)  # type: ignore[arg-type]
    (statement,) = statements_of(doc)
    assert statement.tags["focus"][0]["score"] == 0.425 and statement.tags["focus"][0]["review"] is True


def test_analyze_reports_statements_with_their_items(tmp_path: Path) -> None:
    path = tmp_path / "feedback.txt"
    path.write_text(FEEDBACK, encoding="utf-8")
    env = dict(os.environ, XUNCHA_DATA_DIR=str(tmp_path / "data"))
    run = subprocess.run([sys.executable, "-m", "service", "analyze", str(path), "--format", "json"],
                         capture_output=True, text=True, encoding="utf-8", env=env)
    assert run.returncode == 0, run.stderr
    (doc,) = json.loads(run.stdout)
    statements = doc["findings"]
    texts = [s["text"] for s in statements]
    assert "理论学习不够扎实、贯彻落实上级部署要求有差距" in texts
    assert "执行组织生活制度不严格、选人用人不够严格" in texts
    for s in statements:
        assert FEEDBACK[s["start"] : s["end"]] == s["text"]
        for sub in s.get("item_findings", []):
            assert s["start"] <= sub["start"] < sub["end"] <= s["end"]
            assert sub["tags"]["focus"][0]["label"] == s["tags"]["focus"][0]["label"]
    joined = [s for s in statements if len(s["items"]) > 1]
    assert len(joined) >= 2
    assert len({s["tags"]["focus"][0]["label"] for s in joined}) >= 2  # the sentence was cut where the focus changed
    table = subprocess.run([sys.executable, "-m", "service", "analyze", str(path)],
                           capture_output=True, text=True, encoding="utf-8", env=env)
    assert f"发现问题 {len(statements)} 条" in table.stdout and "F001–F002" in table.stdout


def test_the_library_keeps_each_items_statement(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'lib.db'}"
    data = FEEDBACK.encode("utf-8")
    doc = analyze_bytes(data, "feedback.txt")
    expected = {f.id: s.id for s in statements_of(doc) for f in s.items}
    with session_factory(url)() as session:
        ingest_bytes(session, data, "feedback.txt", doc, tmp_path / "files")
    with session_factory(url)() as session:
        stored = {f.local_id: f.statement for f in session.scalars(select(models.Finding))}
    assert stored == expected and len(stored) == len(doc.findings) == 7
    assert len(set(stored.values())) < len(stored)  # items of one statement share its id


def test_a_pinyin_gloss_after_an_item_does_not_keep_it_apart() -> None:
    text = "甲學習不嚴(yán)、乙部署落實不力。"
    found = [item("甲學習不嚴", text, "F001", "党的领导"), item("乙部署落實不力", text, "F002", "党的领导")]
    assert runs(text, found) == [["F001", "F002"]]
