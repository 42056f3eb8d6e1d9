"""Search, similar findings, common-issue clusters, the summary report, statistics and the XLSX export
through the API, over ten sample notices of three rounds uploaded once for the module; the audit
log they leave; an empty library; and a whole session with every outbound connection refused."""

from __future__ import annotations

import io
import re
import socket
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from api_helpers import (
    SAMPLE_ROUNDS,
    Api,
    all_findings,
    audit_rows,
    built_reports,
    ingest_samples,
    running_app,
    sample,
    upload_and_wait,
)

from service.accounts import Role

ROUNDS = list(SAMPLE_ROUNDS)  # 第五轮, 第六轮, 第七轮
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    with running_app(tmp_path_factory.mktemp("analysis") / "data") as api:
        ingest_samples(api)
        yield api


@pytest.fixture(scope="module")
def findings(api: Api) -> list[dict[str, Any]]:
    return all_findings(api)


def search(api: Api, q: str, role: Role = Role.VIEWER, **params: Any) -> list[dict[str, Any]]:
    return api.ok("GET", "/search", role, params={"q": q, **params})["results"]


# --- search ----------------------------------------------------------------------------------------


def test_library_holds_every_uploaded_notice(api: Api, findings: list[dict[str, Any]]):
    docs = api.ok("GET", "/documents", params={"limit": 100})
    assert docs["total"] == sum(len(v) for v in SAMPLE_ROUNDS.values())
    for doc in docs["items"]:
        round_label = next(r for r, names in SAMPLE_ROUNDS.items() if doc["source_name"] in names)
        assert doc["round"] == round_label and doc["findings"] >= 3
    assert len(findings) == sum(d["findings"] for d in docs["items"]) >= 60
    assert all(f["round"] in ROUNDS for f in findings)


def test_documents_filter_and_sort_by_round_unit_kind_and_date(api: Api):
    everything = api.ok("GET", "/documents", params={"limit": 100})
    facets = everything["facets"]
    assert facets["rounds"] == ROUNDS  # by round number (五 < 六 < 七), only rounds in use, no 未标明轮次: all have one
    assert facets["units"] and facets["units"] == sorted(facets["units"]) and set(facets["kinds"]) <= {"常规", "专项", "机动", "回头看", "交叉", "提级", "联动", "延伸", "村(社区)"}
    by_round = api.ok("GET", "/documents", params={"limit": 100, "sort": "round", "order": "asc"})["items"]
    keys = [ROUNDS.index(d["round"]) for d in by_round]
    assert keys == sorted(keys) and len(set(keys)) == 3
    desc = api.ok("GET", "/documents", params={"limit": 100, "sort": "round", "order": "desc"})["items"]
    assert [ROUNDS.index(d["round"]) for d in desc] == sorted(keys, reverse=True)
    sixth = api.ok("GET", "/documents", params={"round": "第六轮", "limit": 100})
    assert sixth["total"] == len(SAMPLE_ROUNDS[ROUNDS[1]]) and {d["round"] for d in sixth["items"]} == {ROUNDS[1]}
    unit = facets["units"][0]
    of_unit = api.ok("GET", "/documents", params={"unit": unit, "limit": 100})["items"]
    assert of_unit and all(unit in d["units"] for d in of_unit) and len(of_unit) < everything["total"]
    kind = next(d["kind"] for d in everything["items"] if d["kind"])
    assert {d["kind"] for d in api.ok("GET", "/documents", params={"kind": kind, "limit": 100})["items"]} == {kind}
    dated = sorted(d["date"] for d in everything["items"] if d["date"])
    days = sorted(set(dated))
    assert len(days) >= 3
    window = api.ok("GET", "/documents", params={"date_from": days[1], "date_to": days[-2], "sort": "date", "order": "asc", "limit": 100})
    assert [d["date"] for d in window["items"]] == [d for d in dated if days[1] <= d <= days[-2]]
    assert days[0] not in {d["date"] for d in window["items"]}
    by_findings = [d["findings"] for d in api.ok("GET", "/documents", params={"sort": "findings", "limit": 100})["items"]]
    assert by_findings == sorted(by_findings, reverse=True)
    assert api.ok("GET", "/documents", params={"round": "未标明轮次"})["total"] == 0
    bad = api.call("GET", "/documents", params={"date_from": "2024-13-01"})
    assert bad.status_code == 422 and "日期" in bad.json()["error"]["message"]


def test_search_finds_official_reception_findings(api: Api):
    results = search(api, "公务接待")
    assert 3 <= len(results) <= 10
    top = results[:5]
    assert sum(1 for r in top if "接待" in r["text"]) >= 3, [r["text"] for r in top]
    assert "接待" in results[0]["text"]
    for r in results:
        assert {"finding_id", "document_id", "text", "score", "relevance", "signals", "matched_terms", "matched_concepts",
                "highlights", "unit", "round", "document", "page", "tags", "duplicates"} <= set(r)
        assert r["relevance"] in {"高", "中", "低"}
        for span in r["highlights"]:
            assert 0 <= span["start"] < span["end"] <= len(r["text"])
    scores = [r["score"] for r in results]
    assert scores == sorted(scores, reverse=True)
    assert len({r["finding_id"] for r in results}) == len(results)


def test_search_result_points_at_its_finding(api: Api):
    hit = search(api, "公务接待", limit=1)[0]
    finding = api.ok("GET", f"/findings/{hit['finding_id']}")
    assert finding["text"] == hit["text"] and finding["document_id"] == hit["document_id"]
    doc = api.ok("GET", f"/documents/{hit['document_id']}")
    assert doc["source_name"] == hit["document"]
    assert doc["text"][finding["start"] : finding["end"]] == hit["text"]


@pytest.mark.parametrize(
    ("param", "value", "field"),
    [("round", "第七轮", "round"), ("round", "十四届县委第五轮", "round"), ("unit", "教育局", "unit"), ("unit", "城关镇", "unit")],
)
def test_search_filters_by_round_and_unit(api: Api, param: str, value: str, field: str):
    results = search(api, "公务接待 违规发放补贴", **{param: value, "limit": 20})
    assert results
    assert all(value in (r[field] or "") for r in results), [(r[field], r["text"][:20]) for r in results]
    for r in results:
        for d in r["duplicates"]:
            assert value in (d[field] or "")


def test_search_filters_by_label(api: Api, findings: list[dict[str, Any]]):
    label = "公务接待超标准"
    tagged = {f["id"] for f in findings if label in f["labels"].get("problem_type", [])}
    assert len(tagged) >= 2
    results = search(api, "接待", label=label, limit=50)
    assert {r["finding_id"] for r in results} | {d["finding_id"] for r in results for d in r["duplicates"]} <= tagged
    assert all(label in r["tags"]["problem_type"] for r in results)
    combined = search(api, "接待", label=label, round="第七轮", limit=50)
    assert combined and all("第七轮" in r["round"] and label in r["tags"]["problem_type"] for r in combined)


def test_search_with_filters_matching_nothing_is_empty(api: Api):
    assert search(api, "公务接待", unit="没有这个单位") == []
    assert search(api, "公务接待", round="第九十九轮") == []


@pytest.mark.parametrize(
    ("params", "code"),
    [({"q": "   "}, "empty_query"), ({}, "invalid_request"), ({"q": "x", "limit": 0}, "invalid_request"),
     ({"q": "x" * 501}, "invalid_request")],
)
def test_search_rejects_bad_queries(api: Api, params: dict[str, Any], code: str):
    response = api.get("/search", params=params)
    assert response.status_code == 422 and response.json()["error"]["code"] == code


def test_similar_excludes_the_finding_itself(api: Api):
    hit = search(api, "公务接待", limit=1)[0]
    response = api.ok("GET", f"/findings/{hit['finding_id']}/similar", Role.VIEWER, params={"limit": 8})
    assert response["finding_id"] == hit["finding_id"]
    similar = response["results"]
    assert similar and len(similar) <= 8
    ids = [r["finding_id"] for r in similar] + [d["finding_id"] for r in similar for d in r["duplicates"]]
    assert hit["finding_id"] not in ids
    assert any("接待" in r["text"] for r in similar[:3]), [r["text"] for r in similar[:3]]


def test_similar_honours_filters(api: Api):
    hit = search(api, "公务接待", round="第五轮", limit=1)[0]
    other_rounds = api.ok("GET", f"/findings/{hit['finding_id']}/similar", params={"round": "第七轮"})["results"]
    assert other_rounds and all("第七轮" in r["round"] for r in other_rounds)


def test_similar_of_unknown_finding_is_404(api: Api):
    response = api.get("/findings/999999/similar")
    assert response.status_code == 404 and response.json()["error"]["code"] == "unknown_finding"


# --- clusters ----------------------------------------------------------------------------------------


def clusters(api: Api, **body: Any) -> dict[str, Any]:
    """Every cluster with every finding (the API pages by default: 100 clusters, 20 findings each)."""
    return api.ok("POST", "/clusters", Role.VIEWER, json={"limit": None, "members": None, "recurrences": None, **body})


def test_clusters_are_ranked_by_systemic_score(api: Api, findings: list[dict[str, Any]]):
    result = clusters(api)
    assert result["findings"] == len(findings)
    found = result["clusters"]
    assert len(found) >= 5 and not any(c["singleton"] for c in found)
    scores = [c["systemic_score"] for c in found]
    assert scores == sorted(scores, reverse=True)
    by_id = {f["id"]: f for f in findings}
    for c in found:
        assert c["size"] == len(c["findings"]) >= 2 and c["label"]
        assert set(c["units"]) == {by_id[f["finding_id"]]["unit"] for f in c["findings"]} - {None}
        assert set(c["rounds"]) == {by_id[f["finding_id"]]["round"] for f in c["findings"]}
        assert sum(c["per_round"].values()) == c["size"]
        assert list(c["per_round"]) == [r for r in ROUNDS if r in c["per_round"]]  # round order
        assert {r["finding_id"] for r in c["representatives"]} <= {f["finding_id"] for f in c["findings"]}
    reception = [c for c in found if sum("接待" in f["text"] for f in c["findings"]) >= 2]
    assert reception and len(reception[0]["units"]) >= 2


def test_clusters_honour_min_units_rounds_units_and_limit(api: Api):
    wide = clusters(api, min_units=3)["clusters"]
    assert wide and all(len(c["units"]) >= 3 for c in wide)
    assert len(wide) < len(clusters(api)["clusters"])
    fifth = clusters(api, rounds=["第五轮"])
    assert fifth["findings"] < clusters(api)["findings"]
    assert all(f["round"] == ROUNDS[0] for c in fifth["clusters"] for f in c["findings"])
    towns = clusters(api, units=["镇"], include_singletons=True)
    assert all("镇" in f["unit"] for c in towns["clusters"] for f in c["findings"])
    assert len(clusters(api, limit=2)["clusters"]) == 2


def test_clusters_with_singletons_keep_every_finding(api: Api, findings: list[dict[str, Any]]):
    result = clusters(api, include_singletons=True)
    assert any(c["singleton"] for c in result["clusters"])
    ids = [f["finding_id"] for c in result["clusters"] for f in c["findings"]]
    assert sorted(ids) == sorted(f["id"] for f in findings)


def test_clusters_report_recurrences_in_round_order(api: Api):
    repeats = clusters(api)["recurrences"]
    assert repeats, "the 第五轮 allowance finding of 县教育局党组 recurs in its 第七轮 回头看"
    for r in repeats:
        assert ROUNDS.index(r["earlier"]["round"]) < ROUNDS.index(r["later"]["round"])
        assert r["earlier"]["unit"] == r["later"]["unit"] == r["unit"]
    allowance = [r for r in repeats if "津补贴" in r["earlier"]["text"] and "津补贴" in r["later"]["text"]]
    assert any(r["unit"] == "县教育局党组" and r["earlier"]["round"] == "十四届县委第五轮"
               and r["later"]["round"] == "十四届县委第七轮" for r in allowance), repeats


def test_clusters_page_slices_one_kept_result(api: Api, findings: list[dict[str, Any]]):
    whole = clusters(api, include_singletons=True)
    default = api.ok("POST", "/clusters", Role.VIEWER, json={"include_singletons": True})
    assert default["clusters_total"] == whole["clusters_total"] == len(whole["clusters"]) > 3
    assert len(default["clusters"]) == min(100, whole["clusters_total"])
    assert default["as_of_change"] == whole["as_of_change"] > 0 and default["stale"] is False
    big = max(whole["clusters"], key=lambda c: c["size"])
    assert big["size"] >= 3
    small = api.ok("POST", "/clusters", Role.VIEWER, json={"include_singletons": True, "members": 2, "limit": 2, "offset": 1})
    assert [c["cluster_id"] for c in small["clusters"]] == [c["cluster_id"] for c in whole["clusters"][1:3]]
    assert all(len(c["findings"]) == min(2, c["size"]) for c in small["clusters"])
    one = api.ok("POST", "/clusters", Role.VIEWER, json={"include_singletons": True, "cluster_id": big["cluster_id"], "members": None})
    assert [c["cluster_id"] for c in one["clusters"]] == [big["cluster_id"]]
    assert [f["finding_id"] for f in one["clusters"][0]["findings"]] == [f["finding_id"] for f in big["findings"]]
    assert len(one["clusters"][0]["findings"]) == big["size"]
    none = api.ok("POST", "/clusters", Role.VIEWER, json={"recurrences": 0})
    assert none["recurrences"] == [] and none["recurrences_total"] == len(clusters(api)["recurrences"]) >= 1


@pytest.mark.parametrize(("body", "status", "code"), [
    ({"units": ["没有这个单位"]}, 404, "empty_library"),
    ({"min_units": 0}, 422, "invalid_request"),
    ({"rounds": "第五轮"}, 422, "invalid_request"),
])
def test_clusters_bad_requests(api: Api, body: dict[str, Any], status: int, code: str):
    response = api.call("POST", "/clusters", json=body)
    assert response.status_code == status and response.json()["error"]["code"] == code


# --- summary --------------------------------------------------------------------------------------


def test_summary_json_is_traceable(api: Api, findings: list[dict[str, Any]]):
    report = api.ok("GET", "/summaries/common-issues", Role.VIEWER)
    assert "共性问题" in report["title"]
    assert report["scope"]["findings"] == len(findings) and report["scope"]["rounds"] == ROUNDS
    assert 1 <= len(report["sections"]) <= 8
    ids = {f["id"] for f in findings}
    for sentence in report["opening"]["sentences"]:
        assert set(sentence["finding_ids"]) <= ids
    for section in report["sections"]:
        assert section["sentences"] and set(section["finding_ids"]) <= ids
    top3 = api.ok("GET", "/summaries/common-issues", params={"top": 3})
    assert len(top3["sections"]) <= 3


def test_summary_markdown_and_docx(api: Api):
    markdown = api.get("/summaries/common-issues", Role.VIEWER, params={"format": "markdown"})
    assert markdown.status_code == 200 and markdown.headers["content-type"].startswith("text/markdown")
    assert markdown.text.startswith("# ") and "共性问题" in markdown.text and "## 总体情况" in markdown.text

    response = api.get("/summaries/common-issues", Role.VIEWER, params={"format": "docx"})
    assert response.status_code == 200 and response.headers["content-type"] == DOCX
    assert "attachment" in response.headers["content-disposition"]
    assert "filename*=UTF-8''" in response.headers["content-disposition"]
    import docx

    document = docx.Document(io.BytesIO(response.content))
    text = "\n".join(p.text for p in document.paragraphs)
    assert "共性问题" in text and "总体情况" in text


def test_summary_of_one_round(api: Api):
    report = api.ok("GET", "/summaries/common-issues", params={"rounds": "第六轮"})
    assert report["scope"]["rounds"] == [ROUNDS[1]]
    assert {d["round"] for d in report["scope"]["documents"]} == {ROUNDS[1]}


def test_summary_bad_format_and_empty_scope(api: Api):
    bad = api.get("/summaries/common-issues", params={"format": "pdf"})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_request"
    empty = api.get("/summaries/common-issues", params={"rounds": "第九十九轮"})
    assert empty.status_code == 404 and empty.json()["error"]["code"] == "empty_library"


# --- statistics and export ------------------------------------------------------------------------


def test_statistics_aggregate_the_library(api: Api, findings: list[dict[str, Any]]):
    stats = api.ok("GET", "/statistics", Role.VIEWER)
    assert stats["documents"] == 10 and stats["findings"] == len(findings)
    assert stats["rounds"] == ROUNDS
    by_round = {r["round"]: r for r in stats["by_round"]}
    assert {r: by_round[r]["documents"] for r in ROUNDS} == {r: len(n) for r, n in SAMPLE_ROUNDS.items()}
    with_round = [f for f in findings if f["round"]]
    # the rows add up to the header totals: what names no round is its own 未标明轮次 row (round null)
    assert sum(r["findings"] for r in stats["by_round"]) == stats["findings"]
    assert sum(r["documents"] for r in stats["by_round"]) == stats["documents"]
    unassigned = [r for r in stats["by_round"] if r["round"] is None]
    expected = {"round": None, "name": "未标明轮次", "documents": 0, "findings": len(findings) - len(with_round)}
    assert unassigned == ([expected] if expected["findings"] else [])
    assert {r: by_round[r]["findings"] for r in ROUNDS} == dict(Counter(f["round"] for f in with_round))
    assert {u["unit"]: u["findings"] for u in stats["by_unit"]} == dict(Counter(f["unit"] for f in findings if f["unit"]))
    for scheme, rows in stats["by_label"].items():
        assert {r["label"]: r["count"] for r in rows} == dict(Counter(x for f in findings for x in f["labels"].get(scheme, [])))
        per_round: Counter[str] = Counter()
        for counts in stats["label_by_round"][scheme].values():
            per_round.update(counts)
        assert per_round == Counter({r["label"]: r["count"] for r in rows}), scheme
    metrics = {m["metric"]: m for m in stats["by_metric"]}
    assert "problems_found" in metrics and metrics["problems_found"]["documents"] >= 2
    assert all(d["document_id"] for m in stats["by_metric"] for d in m["per_document"])


def test_single_label_schemes_count_one_label_per_finding(api: Api, findings: list[dict[str, Any]]):
    """三个聚焦 and 四个落实 put each finding in one category: the tagger's runner-up is no label."""
    stats = api.ok("GET", "/statistics")
    for scheme in ("focus", "four_implementations"):
        assert all(len(f["labels"].get(scheme, [])) <= 1 for f in findings), scheme
        labelled = sum(1 for f in findings if f["labels"].get(scheme))
        assert sum(r["count"] for r in stats["by_label"][scheme]) == labelled <= len(findings)
    runner_up = [f for f in findings if len(f["tags"]["auto"].get("focus", [])) > 1]
    assert runner_up, "the sample corpus has findings with a runner-up focus label"
    second = runner_up[0]["tags"]["auto"]["focus"][1]["label"]
    listed = api.ok("GET", "/findings", params={"label": second, "limit": 500})
    assert runner_up[0]["id"] not in [f["id"] for f in listed["items"]]
    assert listed["total"] == len(listed["items"]) == sum(1 for f in findings if f["labels"].get("focus") == [second])
    checked = 0
    for section in api.ok("GET", "/summaries/common-issues")["sections"]:
        for sentence in section["sentences"]:
            if "“三个聚焦”中主要属于" in sentence["text"]:
                focus_part = sentence["text"].split("“三个聚焦”中主要属于")[1].split("；")[0]
                counts = [int(n) for n in re.findall(r"（(\d+)条）", focus_part)]
                assert sum(counts) <= len(section["finding_ids"]), (sentence["text"], section["finding_ids"])
                checked += 1
    assert checked


def read_xlsx(content: bytes) -> dict[str, list[tuple[Any, ...]]]:
    from openpyxl import load_workbook

    workbook = load_workbook(io.BytesIO(content))
    return {ws.title: [r for r in ws.iter_rows(values_only=True) if any(v is not None for v in r)] for ws in workbook}


def test_export_has_a_row_per_finding(api: Api, findings: list[dict[str, Any]]):
    response = api.get("/exports/findings.xlsx", Role.VIEWER)
    assert response.status_code == 200 and response.headers["content-type"] == XLSX
    assert "filename*=UTF-8''" in response.headers["content-disposition"]
    sheets = read_xlsx(response.content)
    listing, ledger = sheets["问题清单"], sheets["整改台账"]
    header = list(listing[0])
    assert header[:6] == ["问题编号", "被巡察单位", "轮次", "文件", "页码", "问题"]
    assert len(listing) - 1 == len(findings) == len(ledger) - 1
    by_id = {f["id"]: f for f in findings}
    for row in listing[1:]:
        finding = by_id[row[0]]
        assert row[5] == finding["text"] and row[2] == finding["round"] and (row[1] or None) == finding["unit"]
    assert sorted(r[0] for r in listing[1:]) == sorted(by_id)
    fifth = read_xlsx(api.get("/exports/findings.xlsx", params={"rounds": "第五轮"}).content)["问题清单"]
    assert {r[2] for r in fifth[1:]} == {ROUNDS[0]}
    assert len(fifth) - 1 == sum(1 for f in findings if f["round"] == ROUNDS[0])


# --- audit -----------------------------------------------------------------------------------------


def test_reads_are_audited_with_user_and_target(api: Api):
    search(api, "公车私用", Role.ANALYST, round="第五轮")
    api.get("/exports/findings.xlsx", Role.ANALYST)
    api.get("/statistics", Role.ANALYST)
    rows = audit_rows(api, user="analyst")
    actions = [r["action"] for r in rows]
    assert actions[:3] == ["statistics", "export", "search"]
    searched = rows[2]
    assert searched["target"] == "公车私用" and searched["detail"]["filters"] == {"round": "第五轮"}
    assert searched["detail"]["results"] >= 1 and searched["ok"] is True
    assert rows[1]["target"] == "findings.xlsx" and rows[1]["detail"]["bytes"] > 1000
    assert all(r["user"] == "analyst" and r["at"] for r in rows)
    uploads = [r for r in rows if r["action"] == "document_uploaded"]
    assert len(uploads) == len(SAMPLE_ROUNDS)


def test_audit_filters_by_user_and_action(api: Api):
    search(api, "违规发放补贴", Role.VIEWER)
    search(api, "违规发放补贴", Role.ANALYST)
    searches = audit_rows(api, action="search")
    assert searches and all(r["action"] == "search" for r in searches)
    assert {r["user"] for r in searches} >= {"viewer", "analyst"}
    mine = audit_rows(api, user="viewer", action="search")
    assert mine and all(r["user"] == "viewer" and r["action"] == "search" for r in mine)
    assert audit_rows(api, user="nobody") == []
    everything = audit_rows(api)
    ids = [r["id"] for r in everything]
    assert ids == sorted(ids, reverse=True)  # newest first
    page = api.ok("GET", "/audit", params={"limit": 2, "offset": 1})  # skips the entry of the read above
    assert [r["id"] for r in page["items"]] == ids[:2]
    assert page["actions"]["search"] == "检索"
    future = api.ok("GET", "/audit", params={"since": "2999-01-01T00:00:00"})["items"]
    assert future == []
    beijing = timezone(timedelta(hours=8))  # what a browser in China sends
    for moment in (datetime.now(beijing), datetime.now(UTC), datetime.now(UTC).replace(tzinfo=None)):
        recent = api.ok("GET", "/audit", params={"since": (moment - timedelta(minutes=10)).isoformat(), "limit": 1000})["items"]
        assert len(recent) >= len(everything), moment
        later = api.ok("GET", "/audit", params={"since": (moment + timedelta(minutes=10)).isoformat()})["items"]
        assert later == [], moment
    assert audit_rows(api, action="audit_viewed")[0]["user"] == "admin"


# --- empty library ---------------------------------------------------------------------------------


def test_empty_library(tmp_path: Path):
    with running_app(tmp_path) as empty:
        response = empty.get("/search", params={"q": "公务接待"})
        assert response.status_code == 200 and response.json() == {"query": "公务接待", "results": []}
        for method, path in (("POST", "/clusters"), ("GET", "/summaries/common-issues")):
            response = empty.call(method, path, json={} if method == "POST" else None)
            assert response.status_code == 404 and response.json()["error"]["code"] == "empty_library", path
        assert empty.get("/findings/1/similar").status_code == 404
        stats = empty.ok("GET", "/statistics")
        assert stats["documents"] == 0 and stats["findings"] == 0 and stats["by_round"] == []
        sheets = read_xlsx(empty.get("/exports/findings.xlsx").content)
        assert len(sheets["问题清单"]) == 1  # the header only
        assert empty.ok("GET", "/documents") == {"total": 0, "limit": 50, "offset": 0, "items": [], "facets": {"kinds": [], "rounds": [], "units": []}}


# --- no outbound network ---------------------------------------------------------------------------


def _local(family: int, address: Any) -> bool:
    if family == getattr(socket, "AF_UNIX", None):
        return True
    host = address[0] if isinstance(address, tuple) else address
    return host in ("127.0.0.1", "::1", "localhost") or str(host).startswith("127.")


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every connection to another host raises; the attempts are recorded."""
    attempts: list[Any] = []
    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex

    def connect(self: socket.socket, address: Any) -> Any:
        if not _local(self.family, address):
            attempts.append(address)
            raise OSError(f"outbound connection blocked by the test: {address!r}")
        return real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> Any:
        if not _local(self.family, address):
            attempts.append(address)
            raise OSError(f"outbound connection blocked by the test: {address!r}")
        return real_connect_ex(self, address)

    def create_connection(address: Any, *args: Any, **kwargs: Any) -> Any:
        attempts.append(address)
        raise OSError(f"outbound connection blocked by the test: {address!r}")

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    monkeypatch.setattr(socket, "create_connection", create_connection)
    return attempts


def test_guard_blocks_outbound_connections(no_network: list[Any]):
    with pytest.raises(OSError, match="blocked"):
        socket.create_connection(("example.org", 443), timeout=1)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s, pytest.raises(OSError, match="blocked"):
        s.connect(("93.184.216.34", 80))
    assert len(no_network) == 2
    no_network.clear()


def test_whole_flow_without_network(tmp_path: Path, no_network: list[Any]):
    from nlp.tagging.combine import _cached_tagger

    _cached_tagger.cache_clear()  # the tagger model is loaded again, under the guard
    with running_app(tmp_path / "data") as app:
        reports = built_reports(tmp_path / "reports")
        job = upload_and_wait(app, [*reports.items(), sample("r5_jiaoyuju_feedback.pdf"), sample("r7_jiaoyuju_huitoukan_feedback.pdf"),
                                    ("broken.pdf", b"%PDF-1.4 broken")])
        assert job["status"] == "done" and [i["status"] for i in job["items"]] == ["stored"] * 5 + ["error"]
        hits = app.ok("GET", "/search", params={"q": "公务接待 白条入账"})["results"]
        assert hits and any("接待" in h["text"] for h in hits[:3])
        similar = app.ok("GET", f"/findings/{hits[0]['finding_id']}/similar")["results"]
        assert similar and hits[0]["finding_id"] not in [s["finding_id"] for s in similar]
        found = app.ok("POST", "/clusters", json={"include_singletons": True})
        assert found["clusters"] and found["findings"] >= 20
        summary = app.get("/summaries/common-issues", params={"format": "docx"})
        assert summary.status_code == 200 and summary.content[:2] == b"PK"
        export = app.get("/exports/findings.xlsx")
        assert export.status_code == 200 and len(read_xlsx(export.content)["问题清单"]) - 1 == found["findings"]
        stats = app.ok("GET", "/statistics")
        assert stats["documents"] == 5 and stats["findings"] == found["findings"]
        docs = app.client.get("/docs")
        assert docs.status_code == 200 and "https://" not in docs.text
    assert no_network == []
