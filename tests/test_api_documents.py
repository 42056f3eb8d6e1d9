"""Upload through the API (background job), read documents back with findings, tags and statistics,
correct tags (confirmed tags kept apart from automatic ones), correct a document's round, unit, kind
and date (its findings follow), delete documents."""

from __future__ import annotations

import io
import os
import re
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from api_helpers import (
    API,
    CSRF,
    GBK_TEXT,
    PASSWORD,
    Api,
    all_findings,
    audit_rows,
    built_reports,
    ingest_samples,
    running_app,
    sample,
    upload,
    upload_and_wait,
    wait_for_job,
)
from fastapi.testclient import TestClient
from sqlalchemy import select

from service.accounts import Role
from service.live_index import current_view
from service.store import models
from service.store.changes import UPDATE, changes_after, latest_change
from service.summary import fmt_amount
from service.tags import confirmed_label_rows

SAMPLE = "r7_shuiliju_liangshi_feedback.pdf"
TRUNCATED_DOCX = (Path(__file__).resolve().parents[1] / "corpora" / "samples" / "r5_zhujianju_feedback.docx").read_bytes()[:4000]


@pytest.fixture(scope="module")
def lib(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """One upload of three built reports, a sample notice and two corrupt files."""
    folder = tmp_path_factory.mktemp("documents")
    with running_app(folder / "data") as api:
        reports = built_reports(folder / "reports")
        files = [*reports.items(), sample(SAMPLE), ("broken.pdf", b"%PDF-1.7\n1 0 obj garbage"), ("cut.docx", TRUNCATED_DOCX)]
        response = upload(api, files)
        assert response.status_code == 202, response.text
        accepted = response.json()
        job = wait_for_job(api.client, accepted["job_id"], api.headers(Role.ANALYST))
        docs = {i["name"]: i["document_id"] for i in job["items"] if i["document_id"]}
        yield {"api": api, "accepted": accepted, "job": job, "docs": docs, "reports": reports}


@pytest.fixture(scope="module")
def api(lib: dict[str, Any]) -> Api:
    return lib["api"]


def detail(api: Api, name_or_id: str | int, lib: dict[str, Any] | None = None) -> dict[str, Any]:
    document_id = lib["docs"][name_or_id] if lib and isinstance(name_or_id, str) else name_or_id
    return api.ok("GET", f"/documents/{document_id}", Role.VIEWER)


def finding_with(api: Api, text: str) -> dict[str, Any]:
    found = api.ok("GET", "/findings", params={"text": text})["items"]
    assert len(found) == 1, (text, found)
    return found[0]


# --- the upload job ------------------------------------------------------------------------------


def test_upload_is_accepted_at_once_with_the_refused_files_named(lib: dict[str, Any]):
    accepted = lib["accepted"]
    assert accepted["job_id"] == accepted["id"] and accepted["total"] == 6
    assert accepted["created_by"] == "analyst"
    early = {i["name"]: i for i in accepted["items"]}
    assert early["broken.pdf"]["status"] == "error" and early["broken.pdf"]["error"]["code"] == "corrupt_pdf"
    assert early["cut.docx"]["error"]["code"] == "corrupt_docx"
    assert all(early[n]["status"] in ("queued", "running", "stored") for n in (*lib["reports"], SAMPLE))


def test_job_finishes_with_one_result_per_file(lib: dict[str, Any]):
    job = lib["job"]
    assert job["status"] == "done" and job["finished_at"]
    assert (job["total"], job["done"], job["failed"]) == (6, 6, 2)
    items = {i["name"]: i for i in job["items"]}
    assert [i["index"] for i in job["items"]] == list(range(6))
    for name in [*lib["reports"], SAMPLE]:
        assert items[name]["status"] == "stored" and items[name]["document_id"] and items[name]["findings"] >= 3, items[name]
        assert items[name]["error"] is None
    for name, code in (("broken.pdf", "corrupt_pdf"), ("cut.docx", "corrupt_docx")):
        assert items[name]["status"] == "error" and items[name]["document_id"] is None
        assert items[name]["error"]["code"] == code and items[name]["error"]["message"]


def test_stored_documents_are_listed(api: Api, lib: dict[str, Any]):
    listing = api.ok("GET", "/documents", Role.VIEWER)
    assert listing["total"] == 4
    by_name = {d["source_name"]: d for d in listing["items"]}
    items = {i["name"]: i for i in lib["job"]["items"]}
    assert set(by_name) == set(lib["docs"])
    for name, doc in by_name.items():
        assert doc["id"] == items[name]["document_id"] and doc["findings"] == items[name]["findings"]
    assert by_name["nongye.pdf"]["media_type"] == "pdf" and by_name["caizheng.docx"]["media_type"] == "docx"
    assert by_name["jiaotong.txt"]["units"] == ["区交通运输局党组"]
    assert set(by_name[SAMPLE]["units"]) == {"县水利局党组", "县粮食和物资储备中心党支部"}
    page = api.ok("GET", "/documents", params={"limit": 2, "offset": 2})
    assert page["total"] == 4 and len(page["items"]) == 2


@pytest.mark.parametrize("name", ["nongye.pdf", "caizheng.docx", "jiaotong.txt", SAMPLE])
def test_document_detail_offsets_point_into_the_text(api: Api, lib: dict[str, Any], name: str):
    doc = detail(api, name, lib)
    text = doc["text"]
    assert doc["source_name"] == name and len(doc["findings"]) >= 3
    for f in doc["findings"]:
        assert text[f["start"] : f["end"]] == f["text"], f
        assert f["document_id"] == doc["id"] and f["unit"] in doc["units"]
        assert f["tags"]["auto"] and f["tags"]["confirmed"] == {}
        for scheme, rows in f["tags"]["auto"].items():
            single = scheme in {"focus", "four_implementations"}  # one label per finding: the best
            assert f["labels"][scheme] == [r["label"] for r in rows][: 1 if single else None]
            for row in rows:
                assert row["evidence"], (scheme, row)
                for e in row["evidence"]:
                    if e["source"] == "unit":  # a livelihood area from the unit's service: the unit is the evidence
                        assert e["text"] == f["unit"]
                        continue
                    assert f["start"] <= e["start"] < e["end"] <= f["end"]
                    assert text[e["start"] : e["end"]] == e["text"], e
    for s in doc["statistics"]:
        assert text[s["start"] : s["end"]] == s["quote"], s
    for page, start in enumerate(doc["page_starts"], 1):
        assert all(f["page"] >= page for f in doc["findings"] if f["start"] >= start)


def test_pdf_docx_and_gbk_text_are_read_correctly(api: Api, lib: dict[str, Any]):
    pdf = detail(api, "nongye.pdf", lib)
    assert len(pdf["page_starts"]) == 3 and pdf["backend"]
    pages = {f["text"][:4]: f["page"] for f in pdf["findings"]}
    assert pages == {"一是落实": 1, "二是财务": 2, "三是干部": 2, "四是巡察": 3}
    money = next(s for s in pdf["statistics"] if "12.5万元" in s["quote"])
    assert money["value"] == 125000 and money["unit"] == "元" and money["display"] == "12.5万元"  # never 125000元

    docx = detail(api, "caizheng.docx", lib)
    assert any(s["metric"] == "problems_found" and s["value"] == 8 for s in docx["statistics"])
    assert docx["findings"][0]["text"].startswith("一是“第一议题”制度落实不严格")

    txt = detail(api, "jiaotong.txt", lib)
    assert txt["encoding"] and txt["encoding"].lower() in ("gbk", "gb2312", "gb18030")
    assert "区交通运输局党组开展了常规巡察" in txt["text"]
    assert [f["text"][:2] for f in txt["findings"]] == ["一是", "二是", "三是"]
    assert txt["date"] == "2023-08-08" and txt["kind"] == "常规"


def test_findings_carry_sensible_automatic_tags(api: Api):
    reception = finding_with(api, "白条入账")
    assert "公务接待超标准" in reception["labels"]["problem_type"]
    assert reception["labels"]["focus"][0] == "全面从严治党"
    study = finding_with(api, "以读代学")
    assert study["labels"]["focus"][0] == "党的领导" and "理论学习不深入" in study["labels"]["problem_type"]


def test_document_view_is_audited(api: Api, lib: dict[str, Any]):
    doc_id = lib["docs"]["caizheng.docx"]
    detail(api, doc_id)
    rows = audit_rows(api, user="viewer", action="document_viewed")
    assert rows[0]["target"] == f"document:{doc_id} caizheng.docx" and rows[0]["ok"] is True
    uploaded = audit_rows(api, user="analyst", action="document_uploaded")
    assert any(r["detail"].get("job_id") == lib["job"]["id"] and r["detail"]["files"] == 6 for r in uploaded)
    assert "nongye.pdf" in uploaded[-1]["target"]


def test_unknown_document_and_job_are_404(api: Api):
    for path, code in (("/documents/999999", "unknown_document"), ("/jobs/ffff0000", "unknown_job"), ("/jobs/NOT-HEX", "unknown_job")):
        response = api.get(path)
        assert response.status_code == 404 and response.json()["error"]["code"] == code, path
    assert api.get("/documents/abc").status_code == 422


# --- metadata, duplicates, refusals --------------------------------------------------------------


def test_overrides_of_round_kind_and_date_apply(api: Api):
    data = GBK_TEXT.replace("区交通运输局", "区审计局").encode("gbk")
    job = upload_and_wait(api, [("shenji.txt", data)], round="十四届区委第九轮", kind="专项", date="2024-05-06")
    doc = detail(api, job["items"][0]["document_id"])
    assert (doc["round"], doc["kind"], doc["date"]) == ("十四届区委第九轮", "专项", "2024-05-06")
    assert doc["findings"] and all(f["round"] == "十四届区委第九轮" for f in doc["findings"])
    listed = api.ok("GET", "/findings", params={"round": "十四届区委第九轮"})
    assert {f["document_id"] for f in listed["items"]} == {doc["id"]}


def test_unit_override_applies_to_the_findings(api: Api):
    data = GBK_TEXT.replace("区交通运输局", "区统计局").encode("gbk")
    job = upload_and_wait(api, [("tongji.txt", data)], unit="区统计局党组（改）")
    doc = detail(api, job["items"][0]["document_id"])
    assert doc["units"] == ["区统计局党组（改）"]


def test_same_file_twice_is_one_document(api: Api, lib: dict[str, Any]):
    before = api.ok("GET", "/documents")["total"]
    again = upload_and_wait(api, [sample(SAMPLE)])
    item = again["items"][0]
    assert item["status"] == "duplicate" and item["document_id"] == lib["docs"][SAMPLE]
    assert item["findings"] == next(i["findings"] for i in lib["job"]["items"] if i["name"] == SAMPLE)
    assert again["status"] == "done" and again["failed"] == 0
    twice = upload_and_wait(api, [("copy-a.txt", "巡察发现的问题：一是廉政教育不到位。".encode()),
                                  ("copy-b.txt", "巡察发现的问题：一是廉政教育不到位。".encode())])
    statuses = sorted(i["status"] for i in twice["items"])
    assert statuses == ["duplicate", "stored"]
    assert len({i["document_id"] for i in twice["items"]}) == 1
    assert api.ok("GET", "/documents")["total"] == before + 1


def test_upload_of_only_bad_files_is_refused_with_items(api: Api):
    before = api.ok("GET", "/documents")["total"]
    response = upload(api, [("broken.pdf", b"%PDF-1.4 nonsense"), ("empty.txt", b""), ("tool.exe", b"MZ\x90\x00" + bytes(200))])
    assert 400 <= response.status_code < 500
    error = response.json()["error"]
    assert error["code"] == "corrupt_pdf" and error["message"]
    assert [(i["name"], i["error"]["code"]) for i in error["items"]] == [
        ("broken.pdf", "corrupt_pdf"), ("empty.txt", "empty_file"), ("tool.exe", "unsupported_type")]
    single = upload(api, [("tool.exe", b"MZ\x90\x00" + bytes(200))])
    assert single.status_code == 415 and single.json()["error"]["code"] == "unsupported_type"
    assert api.ok("GET", "/documents")["total"] == before
    refused = audit_rows(api, user="analyst", action="document_uploaded")[0]
    assert refused["ok"] is False and refused["target"] == "tool.exe"


@pytest.mark.parametrize(
    ("form", "code"),
    [({"date": "2024/05/06"}, "invalid_date"), ({"kind": "随便"}, "invalid_kind"), ({"round": "轮" * 101}, "invalid_request")],
)
def test_bad_upload_form_is_422(api: Api, form: dict[str, str], code: str):
    response = upload(api, [("ok.txt", "巡察发现的问题：一是学习不深入。".encode())], **form)
    assert response.status_code == 422 and response.json()["error"]["code"] == code


def test_upload_without_files_is_refused(api: Api):
    response = api.call("POST", "/documents", Role.ANALYST, data={"round": "x"}, files={"note": ("n.txt", b"x")})
    assert response.status_code == 422 and response.json()["error"]["code"] in ("no_files", "invalid_request")
    assert "files" in response.json()["error"]["message"]
    not_a_form = api.call("POST", "/documents", Role.ANALYST, json={"files": []})
    assert not_a_form.status_code in (415, 422) and not_a_form.json()["error"]["code"]


def test_round_named_in_the_title_is_read(api: Api, lib: dict[str, Any]):
    assert detail(api, "nongye.pdf", lib)["round"] == "区委第九轮"


def test_upload_file_names_are_made_safe(api: Api):
    job = upload_and_wait(api, [("../../etc/名单.txt", "巡察发现的问题：一是档案管理不规范。".encode())])
    assert job["items"][0]["name"] == "名单.txt" and job["items"][0]["status"] == "stored"
    assert not (api.settings.data_dir.parent / "etc").exists()


# --- tags ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def corrected(api: Api) -> dict[str, Any]:
    """The 白条入账 finding with problem_type corrected and livelihood set to "none" by the analyst."""
    before = finding_with(api, "白条入账")
    assert before["labels"].get("livelihood"), before["labels"]  # the tagger saw a livelihood area
    after = api.ok("PATCH", f"/findings/{before['id']}/tags", Role.ANALYST,
                   json={"tags": {"problem_type": ["财务管理混乱", "违规吃喝"], "livelihood": []}})
    return {"before": before, "after": after}


def test_confirmed_tags_are_kept_apart_from_automatic_ones(api: Api, corrected: dict[str, Any]):
    before, after = corrected["before"], corrected["after"]
    assert after["tags"]["auto"] == before["tags"]["auto"]
    assert after["tags"]["confirmed"] == {"problem_type": ["财务管理混乱", "违规吃喝"], "livelihood": []}
    assert sorted(after["labels"]["problem_type"]) == ["财务管理混乱", "违规吃喝"]
    assert after["labels"]["livelihood"] == []
    assert after["labels"]["focus"] == before["labels"]["focus"]  # schemes not named are untouched
    assert api.ok("GET", f"/findings/{before['id']}", Role.VIEWER) == after


def test_changing_confirmed_tags_again_replaces_them(api: Api):
    finding = finding_with(api, "年轻干部培养")
    url = f"/findings/{finding['id']}/tags"
    api.ok("PATCH", url, Role.ANALYST, json={"tags": {"focus": ["党的领导"]}})
    again = api.ok("PATCH", url, Role.ADMIN, json={"tags": {"focus": ["党的建设"]}})
    assert again["tags"]["confirmed"] == {"focus": ["党的建设"]} and again["labels"]["focus"] == ["党的建设"]
    changes = audit_rows(api, action="tags_changed")
    assert changes[0]["user"] == "admin" and changes[0]["target"] == f"finding:{finding['id']}"
    assert changes[0]["detail"] == {"focus": {"before": ["党的领导"], "after": ["党的建设"]}}
    assert changes[1]["user"] == "analyst" and changes[1]["detail"]["focus"]["after"] == ["党的领导"]


@pytest.mark.parametrize(
    ("tags", "status", "code"),
    [
        ({"problem_type": ["不存在的标签"]}, 422, "invalid_tags"),
        ({"no_such_scheme": ["党的建设"]}, 422, "invalid_tags"),
        ({"focus": ["党的领导", "党的建设"]}, 422, "invalid_tags"),  # single-label scheme
        ({"focus": ["党的建设"], "livelihood": ["火星"]}, 422, "invalid_tags"),  # nothing is half-applied
        ({}, 422, "invalid_tags"),
        ({"focus": "党的建设"}, 422, "invalid_request"),
    ],
)
def test_invalid_tags_are_refused_and_change_nothing(api: Api, tags: dict[str, Any], status: int, code: str):
    finding = finding_with(api, "部分项目化整为零")
    response = api.call("PATCH", f"/findings/{finding['id']}/tags", Role.ANALYST, json={"tags": tags})
    assert response.status_code == status and response.json()["error"]["code"] == code, response.text
    assert api.ok("GET", f"/findings/{finding['id']}") == finding


def test_tags_of_unknown_finding_is_404(api: Api):
    response = api.call("PATCH", "/findings/999999/tags", Role.ANALYST, json={"tags": {"focus": ["党的建设"]}})
    assert response.status_code == 404 and response.json()["error"]["code"] == "unknown_finding"


def test_confirmed_tags_show_in_search_results(api: Api, corrected: dict[str, Any]):
    fid = corrected["before"]["id"]
    results = api.ok("GET", "/search", params={"q": "白条入账 公务接待", "limit": 5})["results"]
    hit = next(r for r in results if r["finding_id"] == fid)
    assert sorted(hit["tags"]["problem_type"]) == ["财务管理混乱", "违规吃喝"]
    assert "livelihood" not in hit["tags"]
    confirmed = api.ok("GET", "/search", params={"q": "白条入账", "label": "违规吃喝"})["results"]
    assert [r["finding_id"] for r in confirmed] == [fid]


def test_search_label_filter_ignores_replaced_automatic_tags(api: Api, corrected: dict[str, Any]):
    fid = corrected["before"]["id"]
    replaced = corrected["before"]["labels"]["livelihood"][0]
    results = api.ok("GET", "/search", params={"q": "白条入账", "label": replaced})["results"]
    assert fid not in [r["finding_id"] for r in results]


def test_findings_label_filter_total_matches_items(api: Api, corrected: dict[str, Any]):
    replaced = corrected["before"]["labels"]["livelihood"][0]
    listed = api.ok("GET", "/findings", params={"label": replaced})
    assert corrected["before"]["id"] not in [f["id"] for f in listed["items"]]
    assert listed["total"] == len(listed["items"])
    assert all(replaced in f["labels"]["livelihood"] for f in listed["items"])
    confirmed = api.ok("GET", "/findings", params={"label": "违规吃喝", "limit": 1})
    assert confirmed["total"] == 1 and confirmed["items"][0]["id"] == corrected["before"]["id"]


def test_confirmed_tags_in_the_xlsx_export(api: Api, corrected: dict[str, Any]):
    from openpyxl import load_workbook

    response = api.get("/exports/findings.xlsx", Role.VIEWER)
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.content))["问题清单"]
    rows = list(sheet.iter_rows(values_only=True))
    header = list(rows[0])
    row = next(r for r in rows[1:] if r[header.index("问题编号")] == corrected["before"]["id"])
    assert set(row[header.index("问题类型")].split("、")) == {"财务管理混乱", "违规吃喝"}
    assert not row[header.index("民生领域")]
    assert "人工确认" in row[header.index("标签来源")]
    other = next(r for r in rows[1:] if r[header.index("问题编号")] == finding_with(api, "以读代学")["id"])
    assert other[header.index("标签来源")] == "自动" and "理论学习不深入" in other[header.index("问题类型")]


def test_statistics_by_label_count_effective_labels(api: Api, corrected: dict[str, Any]):
    stats = api.ok("GET", "/statistics", Role.VIEWER)
    findings = all_findings(api)
    for scheme, rows in stats["by_label"].items():
        expected = Counter(label for f in findings for label in f["labels"].get(scheme, []))
        assert {r["label"]: r["count"] for r in rows} == dict(expected), scheme
    problem = {r["label"]: r["count"] for r in stats["by_label"]["problem_type"]}
    assert problem["违规吃喝"] >= 1


def test_confirmed_tags_become_training_rows(api: Api, corrected: dict[str, Any]):
    with api.make_session() as session:
        rows = confirmed_label_rows(session)
    fid = corrected["before"]["id"]
    row = next(r for r in rows if r["source"] == f"finding:{fid}")
    assert row["text"] == corrected["before"]["text"]
    assert sorted(row["problem_type"]) == ["财务管理混乱", "违规吃喝"] and row["livelihood"] == []
    assert "focus" not in row  # only what an analyst confirmed
    assert all(r["source"].startswith("finding:") and r["text"] for r in rows)


# --- delete ----------------------------------------------------------------------------------------


def test_delete_removes_the_document_its_findings_and_its_file(api: Api, lib: dict[str, Any]):
    doc = detail(api, "jiaotong.txt", lib)
    ids = [f["id"] for f in doc["findings"]]
    hits = api.ok("GET", "/search", params={"q": "公车私用", "limit": 50})["results"]
    assert set(ids) & {r["finding_id"] for r in hits}
    stored = list((api.settings.files_dir).rglob(f"{doc['sha256']}*"))
    assert len(stored) == 1

    response = api.call("DELETE", f"/documents/{doc['id']}", Role.ADMIN)
    assert response.status_code == 204 and not response.content

    gone = api.get(f"/documents/{doc['id']}")
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "unknown_document"
    for fid in ids:
        assert api.get(f"/findings/{fid}").status_code == 404
    assert api.ok("GET", "/findings", params={"unit": "区交通运输局"})["total"] == 0
    hits = api.ok("GET", "/search", params={"q": "公车私用", "limit": 50})["results"]
    assert not set(ids) & {r["finding_id"] for r in hits}
    assert doc["id"] not in [d["id"] for d in api.ok("GET", "/documents")["items"]]
    assert api.call("DELETE", f"/documents/{doc['id']}", Role.ADMIN).status_code == 404
    assert not stored[0].exists()
    row = audit_rows(api, action="document_deleted")[0]
    assert row["user"] == "admin" and row["target"] == f"document:{doc['id']} jiaotong.txt"


def test_deleted_file_can_be_uploaded_again(api: Api, lib: dict[str, Any]):
    again = upload_and_wait(api, [("jiaotong.txt", lib["reports"]["jiaotong.txt"])])
    assert again["items"][0]["status"] == "stored"
    assert detail(api, again["items"][0]["document_id"])["text"].count("区交通运输局党组") >= 2


def test_statistics_forget_a_round_whose_documents_are_deleted(api: Api):
    data = GBK_TEXT.replace("区交通运输局", "区民政局").encode("gbk")
    job = upload_and_wait(api, [("minzheng.txt", data)], round="十四届区委第十轮")
    document_id = job["items"][0]["document_id"]
    stats = api.ok("GET", "/statistics")
    assert "十四届区委第十轮" in stats["rounds"]
    assert api.call("DELETE", f"/documents/{document_id}", Role.ADMIN).status_code == 204
    stats = api.ok("GET", "/statistics")
    assert "十四届区委第十轮" not in stats["rounds"]
    assert "十四届区委第十轮" not in [r["round"] for r in stats["by_round"]]
    assert all(r["documents"] or r["findings"] for r in stats["by_round"])


# --- correcting a document's round, unit, kind and date (PATCH) -------------------------------------
# On SQLite and, when XUNCHA_TEST_POSTGRES_URL is set, again on a fresh PostgreSQL database: the edit
# looks rounds and units up (or creates them) inside one transaction, which the two handle differently.

POSTGRES = os.environ.get("XUNCHA_TEST_POSTGRES_URL")  # set by .ci/run after starting a server
EDITED = "r6_hekouzhen_jidong_feedback.txt"  # one unit in its text: its findings all name it
KEPT = "r5_chengguanzhen_feedback.txt"  # an unedited neighbour in another round
OLD_ROUND, NEW_ROUND = "十四届县委第六轮", "十四届县委第八轮"
OLD_UNIT, NEW_UNIT = "河口镇党委", "县河口镇党委"  # the unit as the text names it, and its full name


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def edit_database(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """None (SQLite in the data directory) or a new PostgreSQL database, dropped afterwards."""
    if request.param == "sqlite":
        yield None
        return
    if not POSTGRES:
        pytest.skip("XUNCHA_TEST_POSTGRES_URL not set (.ci/run starts a PostgreSQL server)")
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"xuncha_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(POSTGRES).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="module")
def edits(tmp_path_factory: pytest.TempPathFactory, edit_database: str | None) -> Iterator[dict[str, Any]]:
    """Two sample notices in two rounds, uploaded with their round given; the first is then corrected
    by an analyst (round, unit, kind and date in one PATCH)."""
    folder = tmp_path_factory.mktemp("edits")
    with running_app(folder / "data", database_url=edit_database) as api:
        items = ingest_samples(api, {OLD_ROUND: [EDITED], "十四届县委第五轮": [KEPT]})
        doc_id, kept_id = items[EDITED]["document_id"], items[KEPT]["document_id"]
        before = detail(api, doc_id)
        clusters_before = all_clusters(api)  # computed and kept: the PATCH must make it stale
        with api.make_session() as session:
            seq_before = latest_change(session)
            view_before = current_view(session)
        body = {"round": NEW_ROUND, "unit": NEW_UNIT, "kind": "专项", "date": "2024-05-06"}
        response = api.call("PATCH", f"/documents/{doc_id}", Role.ANALYST, json=body)
        assert response.status_code == 200, response.text
        yield {"api": api, "doc_id": doc_id, "kept_id": kept_id, "before": before, "after": response.json(), "body": body,
               "clusters_before": clusters_before, "seq_before": seq_before, "view_before": view_before}


def all_clusters(api: Api) -> dict[str, Any]:
    body = {"include_singletons": True, "limit": None, "members": None}
    return api.ok("POST", "/clusters", Role.VIEWER, json=body)


def cluster_rows(result: dict[str, Any], ids: set[int]) -> list[tuple[int, str | None, str | None]]:
    return sorted((f["finding_id"], f["round"], f["unit"]) for c in result["clusters"] for f in c["findings"]
                  if f["finding_id"] in ids)


def test_patch_changes_what_the_document_shows(edits: dict[str, Any]):
    api, before, after = edits["api"], edits["before"], edits["after"]
    assert (before["round"], before["kind"]) == (OLD_ROUND, "机动") and before["units"] == [OLD_UNIT]
    shown = detail(api, edits["doc_id"])
    assert shown == after  # the PATCH answers with what GET shows
    assert (shown["round"], shown["kind"], shown["date"], shown["units"]) == (NEW_ROUND, "专项", "2024-05-06", [NEW_UNIT])
    assert len(shown["findings"]) == len(before["findings"]) >= 3
    assert {(f["round"], f["unit"]) for f in shown["findings"]} == {(NEW_ROUND, NEW_UNIT)}
    assert [f["id"] for f in shown["findings"]] == [f["id"] for f in before["findings"]]  # moved, not re-made
    listed = {d["id"]: d for d in api.ok("GET", "/documents", Role.VIEWER)["items"]}
    assert (listed[edits["doc_id"]]["round"], listed[edits["doc_id"]]["units"]) == (NEW_ROUND, [NEW_UNIT])
    kept = detail(api, edits["kept_id"])  # the other document is untouched
    assert kept["round"] == "十四届县委第五轮" and {f["round"] for f in kept["findings"]} == {"十四届县委第五轮"}


def test_patched_findings_are_found_under_the_new_round_and_unit(edits: dict[str, Any]):
    api, ids = edits["api"], {f["id"] for f in edits["after"]["findings"]}
    for params in ({"round": NEW_ROUND}, {"round": "第八轮"}, {"unit": NEW_UNIT}):
        assert {f["id"] for f in all_findings(api, **params)} == ids, params
    assert not ids & {f["id"] for f in all_findings(api, round=OLD_ROUND)}
    one = api.ok("GET", f"/findings/{min(ids)}", Role.VIEWER)
    assert (one["round"], one["unit"]) == (NEW_ROUND, NEW_UNIT)
    text = edits["after"]["findings"][0]["text"][:12]
    hits = api.ok("GET", "/search", Role.VIEWER, params={"q": text, "round": "第八轮", "limit": 50})["results"]
    assert hits and {h["finding_id"] for h in hits} <= ids  # the round filter reads the database
    assert all((h["round"], h["unit"]) == (NEW_ROUND, NEW_UNIT) for h in hits)
    assert not ids & {h["finding_id"] for h in api.ok("GET", "/search", params={"q": text, "round": "第六轮", "limit": 50})["results"]}


def test_statistics_count_the_document_under_its_new_round_and_unit(edits: dict[str, Any]):
    stats = edits["api"].ok("GET", "/statistics", Role.VIEWER)
    by_round = {r["round"]: r for r in stats["by_round"]}
    assert OLD_ROUND not in by_round and OLD_ROUND not in stats["rounds"]  # no document is left in it
    assert by_round[NEW_ROUND] == {"round": NEW_ROUND, "documents": 1, "findings": len(edits["after"]["findings"])}
    assert {u["unit"]: u["findings"] for u in stats["by_unit"]}[NEW_UNIT] == len(edits["after"]["findings"])
    assert OLD_UNIT not in {u["unit"] for u in stats["by_unit"]}


def test_patch_is_audited_with_before_and_after(edits: dict[str, Any]):
    row = audit_rows(edits["api"], action="document_edited", user="analyst")[0]
    assert row["ok"] is True and row["action_name"] == "修改文档信息"
    assert row["target"] == f"document:{edits['doc_id']} {EDITED}"
    assert row["detail"] == {
        "round": {"before": OLD_ROUND, "after": NEW_ROUND},
        "unit": {"before": [OLD_UNIT], "after": [NEW_UNIT]},
        "kind": {"before": "机动", "after": "专项"},
        "date": {"before": edits["before"]["date"], "after": "2024-05-06"},
    }


def test_patch_is_logged_so_the_clusters_are_recomputed(edits: dict[str, Any]):
    """The common issues are kept per process at a change number; the moved findings are logged as
    ``update``, so the kept clusters are served as stale and recomputed with the new round and unit —
    while the search index, which holds no round or unit, is not re-read."""
    from service import cluster_cache

    api, ids = edits["api"], {f["id"] for f in edits["after"]["findings"]}
    assert {(r, u) for _, r, u in cluster_rows(edits["clusters_before"], ids)} == {(OLD_ROUND, OLD_UNIT)}
    with api.make_session() as session:
        logged = changes_after(session, edits["seq_before"])
        view = current_view(session)
    assert {f for _, f, c in logged if c == UPDATE} == ids and {c for *_, c in logged} == {UPDATE}
    before = edits["view_before"]
    assert view.seq >= logged[-1][0] > before.seq
    assert view.base is before.base and view.delta_rows is before.delta_rows  # in step, nothing re-read
    kept = all_clusters(api)  # answered at once from the kept result, marked stale, recomputed beside
    assert kept["stale"] is True and kept["as_of_change"] < logged[-1][0]
    assert {(r, u) for _, r, u in cluster_rows(kept, ids)} == {(OLD_ROUND, OLD_UNIT)}
    assert cluster_cache.wait_for_refresh(120)
    fresh = all_clusters(api)
    assert fresh["stale"] is False and fresh["as_of_change"] >= logged[-1][0]
    assert {(r, u) for _, r, u in cluster_rows(fresh, ids)} == {(NEW_ROUND, NEW_UNIT)}


def test_patch_only_the_given_fields_and_clear_with_null(edits: dict[str, Any]):
    api, doc_id = edits["api"], edits["doc_id"]
    dated = api.ok("PATCH", f"/documents/{doc_id}", Role.ADMIN, json={"date": "2024-06-01"})
    assert (dated["round"], dated["kind"], dated["date"], dated["units"]) == (NEW_ROUND, "专项", "2024-06-01", [NEW_UNIT])
    cleared = api.ok("PATCH", f"/documents/{doc_id}", Role.ANALYST, json={"round": None, "kind": ""})
    assert (cleared["round"], cleared["kind"], cleared["date"]) == (None, None, "2024-06-01")
    assert {f["round"] for f in cleared["findings"]} == {None}
    # back into a round that exists: the same row, not a second one of the same name
    again = api.ok("PATCH", f"/documents/{doc_id}", Role.ANALYST, json={"round": "十四届县委第五轮", "kind": "村（社区）巡察"})
    assert again["round"] == "十四届县委第五轮" and again["kind"] == "村(社区)"
    assert {f["round"] for f in again["findings"]} == {"十四届县委第五轮"}
    with api.make_session() as session:
        rounds = list(session.scalars(select(models.InspectionRound).where(models.InspectionRound.label.like("%第五轮"))))
        eighth = session.scalar(select(models.InspectionRound).where(models.InspectionRound.label == NEW_ROUND))
    assert len(rounds) == 1
    assert eighth is not None and (eighth.term, eighth.number, eighth.year) == ("十四届县委", 8, 2024)  # parsed as at ingest
    stats = api.ok("GET", "/statistics")
    assert {r["round"]: r["documents"] for r in stats["by_round"]}["十四届县委第五轮"] == 2
    restored = api.ok("PATCH", f"/documents/{doc_id}", Role.ANALYST, json=edits["body"])
    assert (restored["round"], restored["kind"], restored["date"]) == (NEW_ROUND, "专项", "2024-05-06")


@pytest.mark.parametrize(
    ("body", "code", "words"),
    [
        ({"kind": "随便"}, "invalid_kind", "巡察类型"),
        ({"date": "2024/05/06"}, "invalid_date", "日期"),
        ({"date": "2023-02-30"}, "invalid_date", "真实存在"),
        ({"round": "第七轮\x00"}, "invalid_characters", "控制字符"),
        ({"unit": "县\x07水利局"}, "invalid_characters", "控制字符"),
        ({"round": "第九轮", "kind": "未知"}, "invalid_kind", "巡察类型"),  # nothing is half-applied
        ({}, "nothing_to_change", "至少"),
        ({"title": "新标题"}, "invalid_request", "title"),
        ({"round": "轮" * 101}, "invalid_request", "round"),
        ({"round": 7}, "invalid_request", "round"),
    ],
)
def test_bad_patch_is_refused_in_chinese_and_changes_nothing(edits: dict[str, Any], body: dict[str, Any], code: str, words: str):
    api, doc_id = edits["api"], edits["doc_id"]
    before = detail(api, doc_id)
    response = api.call("PATCH", f"/documents/{doc_id}", Role.ANALYST, json=body)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == code and words in error["message"] and re.search(r"[\u4e00-\u9fff]", error["message"])
    assert "Traceback" not in response.text
    assert detail(api, doc_id) == before
    if code != "invalid_request":  # refused by the service after validation: audited as a failed write
        row = audit_rows(api, action="document_edited")[0]
        assert row["ok"] is False and row["detail"]["refused"] == code and row["target"] == f"document:{doc_id}"


def test_viewer_cannot_patch_and_unknown_documents_are_404(edits: dict[str, Any]):
    api, doc_id = edits["api"], edits["doc_id"]
    before = detail(api, doc_id)
    refused = api.call("PATCH", f"/documents/{doc_id}", Role.VIEWER, json={"kind": "常规"})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    assert "分析员" in refused.json()["error"]["message"]
    assert detail(api, doc_id) == before
    denied = audit_rows(api, action="access_denied", user="viewer")[0]
    assert denied["target"] == f"PATCH /api/v1/documents/{doc_id}"
    for bad_id, status in ((999999, 404), (2**31, 422)):
        response = api.call("PATCH", f"/documents/{bad_id}", Role.ANALYST, json={"kind": "常规"})
        assert response.status_code == status, response.text
    missing = api.call("PATCH", "/documents/999999", Role.ANALYST, json={"kind": "常规"}).json()["error"]
    assert missing == {"code": "unknown_document", "message": "没有这个文档"}
    assert api.call("PATCH", "/documents/abc", Role.ANALYST, json={"kind": "常规"}).status_code == 422


def test_cookie_patch_needs_the_csrf_header(edits: dict[str, Any]):
    api, doc_id = edits["api"], edits["doc_id"]
    browser = TestClient(api.client.app)  # its own cookie jar; the app is already started
    try:
        assert browser.post(f"{API}/auth/login", json={"username": "analyst", "password": PASSWORD}).status_code == 200
        url = f"{API}/documents/{doc_id}"
        refused = browser.patch(url, json={"date": "2024-07-07"})
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "csrf_check_failed"
        assert detail(api, doc_id)["date"] == "2024-05-06"
        accepted = browser.patch(url, json={"date": "2024-07-07"}, headers=CSRF)
        assert accepted.status_code == 200 and accepted.json()["date"] == "2024-07-07"
        assert browser.patch(url, json={"date": "2024-05-06"}, headers=CSRF).status_code == 200
    finally:
        browser.close()


def test_findings_with_their_own_round_keep_it(edits: dict[str, Any]):
    """An imported 问题清单 whose rows name their rounds: a row that named one keeps it; the rows in the
    document's round (none named) follow the correction."""
    api = edits["api"]
    sheet = "问题描述,被巡察单位,巡察轮次\n公务用车管理混乱，私车公养,县林业局,十四届县委第三轮\n食堂账目不清，白条抵账,县林业局,\n"
    accepted = api.call("POST", "/imports", Role.ANALYST, files={"file": ("林业清单.csv", sheet.encode(), "text/csv")})
    assert accepted.status_code == 202, accepted.text
    job = wait_for_job(api.client, accepted.json()["job_id"], api.headers(Role.ANALYST))
    doc_id = job["items"][0]["document_id"]
    before = {f["text"][:4]: f["round"] for f in detail(api, doc_id)["findings"]}
    assert before["公务用车"] == "十四届县委第三轮" and before["食堂账目"] is None
    after = api.ok("PATCH", f"/documents/{doc_id}", Role.ANALYST, json={"round": "十四届县委第九轮"})
    rounds = {f["text"][:4]: f["round"] for f in after["findings"]}
    assert rounds == {"公务用车": "十四届县委第三轮", "食堂账目": "十四届县委第九轮"}
    assert api.call("DELETE", f"/documents/{doc_id}", Role.ADMIN).status_code == 204


def test_document_statistics_read_amounts_in_wan(edits: dict[str, Any]):
    """A document's figures carry the display the page shows: amounts of 10万元 or more in 万元/亿元."""
    for doc_id in (edits["doc_id"], edits["kept_id"]):
        for s in detail(edits["api"], doc_id)["statistics"]:
            assert s["display"] == fmt_amount(s["value"], s["unit"])
            assert not re.search(r"\d{6,}(?:\.\d+)?元", s["display"]), s


def test_the_kinds_a_person_may_give_are_the_ones_the_analysis_reads():
    """One vocabulary: the kinds PATCH and upload accept are those nlp.structure recognises in a text
    and the 问题清单 importer reads, so a corrected document is never in a kind of its own spelling."""
    from nlp.structure import KIND_CUES
    from service.documents import KINDS, normalize_kind
    from service.importer import KINDS as IMPORT_KINDS

    assert set(KINDS) == {label for label, _ in KIND_CUES} == set(IMPORT_KINDS)
    assert [normalize_kind(k) for k in ("专项巡察", " 回头看 ", "村（社区）", "村(社区)巡察")] == ["专项", "回头看", "村(社区)", "村(社区)"]


# --- cancelling a job, reads audited ------------------------------------------------------------


def _notice(i: int) -> bytes:
    return (
        f"关于县委第九轮巡察县第{i}试点局党组的反馈通报\n巡察发现的主要问题：\n"
        f"一是落实全面从严治党主体责任不到位，第{i}次党组会议未研究党风廉政建设。\n"
        f"二是财务管理不规范，存在白条入账{i}笔。\n"
    ).encode()


def test_cancel_stops_the_queued_files_and_never_half_stores_one(tmp_path: Path) -> None:
    with running_app(tmp_path) as api:
        files = [(f"notice-{i}.txt", _notice(i)) for i in range(12)]
        response = upload(api, files)
        assert response.status_code == 202, response.text
        job_id = response.json()["job_id"]
        cancelled = api.ok("POST", f"/jobs/{job_id}/cancel", Role.ANALYST)
        assert cancelled["cancelled"] >= 1 and cancelled["stopping"] <= 1, cancelled  # the runner cannot have read twelve notices already
        job = wait_for_job(api.client, job_id, api.headers(Role.ANALYST))
        statuses = Counter(item["status"] for item in job["items"])
        # the one being analysed when the cancel came is stopped too, unless it was already being stored
        assert job["status"] == ("done" if statuses["stored"] else "failed") and job["finished_at"]
        codes = Counter(item["error"]["code"] for item in job["items"] if item["error"])
        # the queued ones, and the one being analysed unless it was already being stored
        assert set(codes) == {"cancelled"}
        assert cancelled["cancelled"] <= codes["cancelled"] <= cancelled["cancelled"] + cancelled["stopping"]
        assert statuses["stored"] + statuses["error"] == 12
        documents = api.ok("GET", "/documents", Role.VIEWER, params={"limit": 100})
        assert documents["total"] == statuses["stored"]  # each stored file whole, nothing of a cancelled one
        staged = list((tmp_path / "uploads" / job_id).glob("*.bin")) if (tmp_path / "uploads" / job_id).exists() else []
        assert len(staged) <= statuses["stored"]  # a cancelled file's upload is removed
        again = api.ok("POST", f"/jobs/{job_id}/cancel", Role.ANALYST)
        assert again["cancelled"] == again["stopping"] == 0
        retried = api.client.post(f"{API}/jobs/{job_id}/retry", headers=api.headers(Role.ANALYST))
        assert retried.status_code == 202
        assert Counter(i["status"] for i in wait_for_job(api.client, job_id, api.headers(Role.ANALYST))["items"]) == statuses
        assert api.client.post(f"{API}/jobs/{job_id}/cancel", headers=api.headers(Role.VIEWER)).status_code == 403
        assert api.client.post(f"{API}/jobs/ffff/cancel", headers=api.headers(Role.ANALYST)).status_code == 404
        actions = [r["action"] for r in audit_rows(api)]
        assert "job_cancelled" in actions and "documents_listed" in actions and "job_viewed" in actions
