"""`xuncha import`: a 问题清单 / 整改台账 (real xlsx made with openpyxl, GBK CSV, JSONL) becomes one finding
per row, tagged, with its own unit and round, searchable; bad rows are reported by number and skipped;
bad files are refused in Chinese and leave the library as it was."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook
from typer.testing import CliRunner

from service.cli.main import app as cli
from service.importer import match_columns, parse_date, parse_kind
from service.settings import get_settings


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    folder = tmp_path / "data"
    monkeypatch.setenv("XUNCHA_DATA_DIR", str(folder))
    monkeypatch.delenv("XUNCHA_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    yield folder
    get_settings.cache_clear()


def xuncha(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args))


def rows_of(db: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchall()


def workbook(path: Path) -> Path:
    wb = Workbook()
    ws = wb.active
    ws.title = "问题清单"
    ws.append(["十四届县委第五轮、第六轮巡察发现问题清单"])  # a title line above the header
    ws.append(["序号", "被巡察单位", "巡察轮次", "巡察类型", "存在问题（必填）", "反馈时间", "整改情况"])
    ws.append([1, "县教育局党组", "十四届县委第五轮", "常规巡察", "违规发放津补贴，以“加班费”名义发放", datetime(2024, 5, 8), "已整改"])
    ws.append([2, "县卫生健康局党组", "十四届县委第五轮", "常规", "“三重一大”事项未经集体研究决定", "2024/5/9", "整改中"])
    ws.append([3, "城关镇党委", "十四届县委第六轮", "专项", "", "2024-06-01", ""])  # no description
    ws.append([4, "桥头村党支部", "6", "村（社区）巡察", "村级财务管理混乱，\n白条入账", "2024年6月", ""])
    ws.append([5, "县民政局党组", "6", "飞行检查", "低保审核把关不严，优亲厚友", "2024-06-02", ""])  # unknown kind
    ws.append([6, "县民政局党组", "6", "常规", "养老服务补贴发放不及时", "明天", ""])  # not a date
    ws.append([None, None, None, None, None, None, None])  # a blank row is no error
    wb.save(path)
    return path


def test_import_an_xlsx_stores_each_good_row_as_a_tagged_finding_and_reports_the_bad_ones(data_dir: Path, tmp_path: Path):
    sheet = workbook(tmp_path / "清单.xlsx")
    result = xuncha("import", str(sheet), "--format", "json")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)  # stdout is the JSON alone
    assert report["status"] == "stored" and report["findings"] == 3
    assert [(s["row"], s["message"][:8]) for s in report["skipped"]] == [(5, "第 5 行缺少问"), (7, "第 7 行巡察类"), (8, "第 8 行日期“")]
    assert "飞行检查" in report["skipped"][1]["message"] and "第 8 行" in result.stderr
    assert report["columns"] == {"问题描述": "存在问题（必填）", "被巡察单位": "被巡察单位", "巡察轮次": "巡察轮次",
                                 "巡察类型": "巡察类型", "日期": "反馈时间", "整改状态": "整改情况"}
    db = data_dir / "xuncha.db"
    stored = rows_of(db, "select f.text, u.name, r.label, r.number, r.kind, f.section, f.detail from findings f "
                         "join units u on u.id = f.unit_id join inspection_rounds r on r.id = f.round_id order by f.id")
    assert stored == [
        ("违规发放津补贴，以“加班费”名义发放", "县教育局党组", "十四届县委第五轮", 5, "常规", "第 3 行", "整改状态：已整改"),
        ("“三重一大”事项未经集体研究决定", "县卫生健康局党组", "十四届县委第五轮", 5, "常规", "第 4 行", "整改状态：整改中"),
        ("村级财务管理混乱，白条入账", "桥头村党支部", "第6轮", 6, "村(社区)", "第 6 行", None),
    ]
    tags = dict(rows_of(db, "select f.local_id || t.scheme, t.label from tags t join findings f on f.id = t.finding_id "
                            "where t.scheme in ('focus', 'livelihood')"))
    assert tags["F001focus"] == "全面从严治党" and tags["F002focus"] == "党的建设"
    assert tags["F003livelihood"] == "农村集体三资"  # a village's finances, as for a report's finding
    assert rows_of(db, "select count(*) from finding_representations")[0][0] == 3
    assert rows_of(db, "select kind, round_id from documents") == [("问题清单", None)]  # rows of two rounds
    # the common issues are computed once and stored: no server clusters the library on its first request
    assert rows_of(db, "select seq from common_issue_results") == rows_of(db, "select max(seq) from library_changes")

    found = json.loads(xuncha("search", "发放津补贴", "--format", "json").stdout)
    assert found and found[0]["text"] == "违规发放津补贴，以“加班费”名义发放" and found[0]["unit"] == "县教育局党组"
    assert list((data_dir / "index").glob("*/CURRENT.json"))  # the search left its base index for the next command

    again = xuncha("import", str(sheet), "--format", "json")
    assert again.exit_code == 0 and json.loads(again.stdout)["status"] == "duplicate"
    assert rows_of(db, "select count(*) from findings")[0][0] == 3


def test_import_a_gbk_csv_with_other_header_words(data_dir: Path, tmp_path: Path):
    text = "单位,轮次,问题,整改进展\n县住建局党组,第三轮,建筑市场违法转包分包查处不力,已完成\n县住建局党组,第三轮,公车私用问题突出,未完成\n"
    sheet = tmp_path / "台账.csv"
    sheet.write_bytes(text.encode("gbk"))
    result = xuncha("import", str(sheet), "--format", "json")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["findings"] == 2 and report["skipped"] == []
    assert report["columns"] == {"问题描述": "问题", "被巡察单位": "单位", "巡察轮次": "轮次", "整改状态": "整改进展"}
    assert rows_of(data_dir / "xuncha.db", "select text from findings order by id") == [("建筑市场违法转包分包查处不力",), ("公车私用问题突出",)]


def test_import_jsonl_with_a_mapped_column(data_dir: Path, tmp_path: Path):
    sheet = tmp_path / "rows.jsonl"
    lines = [{"情况说明": "理论学习中心组学习流于形式", "部门": "县医保局党组"}, {"情况说明": "医保基金监管不严", "部门": "县医保局党组"}]
    sheet.write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines), encoding="utf-8")
    without = xuncha("import", str(sheet))
    assert without.exit_code == 1 and "找不到“问题描述”列" in without.stderr and "情况说明" in without.stderr
    assert "--map" in without.stderr
    result = xuncha("import", str(sheet), "--map", "情况说明=问题描述", "--map", "部门=被巡察单位", "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["findings"] == 2
    assert rows_of(data_dir / "xuncha.db", "select distinct u.name from findings f join units u on u.id = f.unit_id") == [("县医保局党组",)]
    bad_map = xuncha("import", str(sheet), "--map", "情况说明=备注")
    assert bad_map.exit_code == 1 and "列名=字段" in bad_map.stderr


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("old.xls", b"\xd0\xcf\x11\xe0 old workbook", "另存为 .xlsx"),
        ("broken.xlsx", b"PK\x03\x04 not really a zip", "不是有效的 .xlsx"),
        ("notes.docx", b"whatever", "不支持的清单格式"),
        ("empty.csv", "问题描述,单位\n,县财政局\n".encode(), "没有可导入的问题"),
        ("bad.jsonl", '{"问题描述": "a"}\nnot json\n'.encode(), "第 2 行不是合法 JSON"),
    ],
)
def test_import_refuses_bad_files_in_chinese_and_stores_nothing(data_dir: Path, tmp_path: Path, name: str, content: bytes, message: str):
    first = workbook(tmp_path / "good.xlsx")
    assert xuncha("import", str(first)).exit_code == 0
    before = rows_of(data_dir / "xuncha.db", "select count(*) from findings")
    path = tmp_path / name
    path.write_bytes(content)
    result = xuncha("import", str(path), "--format", "json")
    assert result.exit_code == 1 and message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
    assert rows_of(data_dir / "xuncha.db", "select count(*) from findings") == before


def test_import_cell_grammar():
    assert parse_date(datetime(2024, 5, 8)) == "2024-05-08" and parse_date("2024/5/9") == "2024-05-09"
    assert parse_date("2024年6月") == "2024-06" and parse_date("２０２４年６月１日") == "2024-06-01" and parse_date("") is None
    with pytest.raises(ValueError):
        parse_date("2024-13")
    assert parse_kind("村（社区）巡察") == "村(社区)" and parse_kind("专项巡察") == "专项" and parse_kind("回头看") == "回头看"
    with pytest.raises(ValueError):
        parse_kind("飞行检查")
    assert match_columns(["序号", "问题描述（简要）", "责任单位"]) == {"text": 1, "unit": 2}


def test_post_imports_checks_the_sheet_at_once_and_stores_it_in_the_background(tmp_path: Path):
    from api_helpers import all_findings, running_app, wait_for_job

    from service.accounts import Role

    sheet = workbook(tmp_path / "清单.xlsx").read_bytes()
    with running_app(tmp_path / "lib") as api:
        files = {"file": ("清单.xlsx", sheet, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")}
        viewer = api.call("POST", "/imports", Role.VIEWER, files=files)
        assert viewer.status_code == 403
        accepted = api.call("POST", "/imports", Role.ANALYST, files=files)
        assert accepted.status_code == 202, accepted.text
        body = accepted.json()
        assert body["rows"] == 3 and [s["row"] for s in body["skipped"]] == [5, 7, 8]
        assert body["columns"]["问题描述"] == "存在问题（必填）"
        job = wait_for_job(api.client, body["job_id"], api.headers(Role.ANALYST))
        assert [(i["status"], i["findings"]) for i in job["items"]] == [("stored", 3)], job
        findings = all_findings(api)
        assert sorted((f["unit"], f["round"]) for f in findings) == [
            ("县卫生健康局党组", "十四届县委第五轮"), ("县教育局党组", "十四届县委第五轮"), ("桥头村党支部", "第6轮")]
        hits = api.ok("GET", "/search", Role.VIEWER, params={"q": "发放津补贴"})
        assert hits["results"][0]["text"] == "违规发放津补贴，以“加班费”名义发放"

        no_column = api.call("POST", "/imports", Role.ANALYST, files={"file": ("x.csv", "甲,乙\n1,2\n".encode(), "text/csv")})
        assert no_column.status_code == 422 and "找不到“问题描述”列" in no_column.json()["error"]["message"]
        mapped = api.call("POST", "/imports", Role.ANALYST, files={"file": ("x.csv", "甲,乙\n公车私用,县水利局\n".encode(), "text/csv")},
                          data={"map": ["甲=问题描述", "乙=被巡察单位"]})
        assert mapped.status_code == 202 and mapped.json()["rows"] == 1
        second = wait_for_job(api.client, mapped.json()["job_id"], api.headers(Role.ANALYST))
        assert [(i["status"], i["findings"]) for i in second["items"]] == [("stored", 1)]
        assert ("县水利局", "公车私用") in {(f["unit"], f["text"]) for f in all_findings(api)}


def test_import_a_csv_whose_header_only_the_map_names(data_dir: Path, tmp_path: Path):
    sheet = tmp_path / "odd.csv"
    sheet.write_text("备注\n甲,乙\n公务接待超标准,县水利局党组\n", encoding="utf-8")  # a note line above the header
    result = xuncha("import", str(sheet), "--map", "甲=问题描述", "--map", "乙=被巡察单位", "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["columns"] == {"问题描述": "甲", "被巡察单位": "乙"}
    assert rows_of(data_dir / "xuncha.db", "select f.text, u.name from findings f join units u on u.id = f.unit_id") == [
        ("公务接待超标准", "县水利局党组")]


def test_import_reads_a_unit_merged_across_its_rows(data_dir: Path, tmp_path: Path):
    wb = Workbook()
    ws = wb.active
    ws.append(["被巡察单位", "问题描述"])
    ws.append(["县医保局党组", "医保基金监管不严，违规报销"])
    ws.append([None, "定点医药机构串换项目"])
    ws.append(["县财政局党组", "预算执行不严格"])
    ws.merge_cells("A2:A3")  # the unit written once beside both its problems
    path = tmp_path / "merged.xlsx"
    wb.save(path)
    assert xuncha("import", str(path)).exit_code == 0
    assert rows_of(data_dir / "xuncha.db", "select f.text, u.name from findings f join units u on u.id = f.unit_id order by f.id") == [
        ("医保基金监管不严，违规报销", "县医保局党组"), ("定点医药机构串换项目", "县医保局党组"), ("预算执行不严格", "县财政局党组")]
