"""Upload through the API (background job), read documents back with findings, tags and statistics,
correct tags (confirmed tags kept apart from automatic ones), delete documents."""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from api_helpers import (
    GBK_TEXT,
    Api,
    all_findings,
    audit_rows,
    built_reports,
    running_app,
    sample,
    upload,
    upload_and_wait,
)

from service.accounts import Role
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
        from api_helpers import wait_for_job

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
    assert money["value"] == 125000 and money["unit"] == "元"

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
    row = next(r for r in rows[1:] if r[header.index("编号")] == corrected["before"]["id"])
    assert set(row[header.index("问题类型")].split("、")) == {"财务管理混乱", "违规吃喝"}
    assert not row[header.index("民生领域")]
    assert "confirmed" in row[header.index("标签来源")]
    other = next(r for r in rows[1:] if r[header.index("编号")] == finding_with(api, "以读代学")["id"])
    assert other[header.index("标签来源")] != "confirmed" and "理论学习不深入" in other[header.index("问题类型")]


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
