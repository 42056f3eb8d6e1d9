"""The API's response models (service/api/schemas.py, service/api/analysis_schemas.py) on the real app.

1. Every API route that answers JSON declares a Pydantic response model; the file downloads and the
   204 answers declare none.
2. On a library holding the sample notices, the JSON each main route answers is exactly the route's
   raw result (what the route function returned, captured before FastAPI serialises it through the
   model): no key dropped or added, no value changed — an integer stays an integer, a null stays null,
   the keys keep their order — and it round-trips through its model unchanged.
3. The OpenAPI document the app serves lists the shared ``Finding`` schema once and references it
   from several routes (and the cluster and search shapes of a finding likewise).

It runs on SQLite and, when ``XUNCHA_TEST_POSTGRES_URL`` is set, again on a fresh PostgreSQL database.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import fastapi.routing
import pytest
from api_helpers import API, Api, ingest_samples, running_app, upload_and_wait, wait_for_job
from fastapi.datastructures import DefaultPlaceholder
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel

from service.accounts import Role
from service.cluster_cache import wait_for_refresh

POSTGRES = os.environ.get("XUNCHA_TEST_POSTGRES_URL")  # set by .ci/run after starting a server
UNROUNDED = ("unrounded.txt", "巡察发现的问题：一是党建工作不到位，“三会一课”制度落实不严格。".encode())
SHEET = ("清单.csv", "问题描述,被巡察单位\n公车私用问题突出,县水利局\n,县林业局\n".encode())


# --- a library with the samples, and the raw result of each call ---------------------------------


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> Iterator[str | None]:
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
def api(tmp_path_factory: pytest.TempPathFactory, database_url: str | None) -> Iterator[Api]:
    """The sample notices in three rounds, and a short notice without a round (the statistics' row of
    findings without one)."""
    with running_app(tmp_path_factory.mktemp("response-models") / "data", database_url=database_url) as api:
        ingest_samples(api)
        job = upload_and_wait(api, [UNROUNDED])
        assert job["status"] == "done", job
        yield api


class Recorder:
    """What each route function returned, as FastAPI hands it to ``serialize_response``."""

    def __init__(self) -> None:
        self.raw: list[Any] = []
        self.response: Any = None  # the last call's response

    def wrap(self, original: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        async def recording(*, response_content: Any, **kwargs: Any) -> Any:
            self.raw.append(jsonable_encoder(response_content))  # a deep copy, as plain JSON values
            return await original(response_content=response_content, **kwargs)

        return recording


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    recorder = Recorder()
    monkeypatch.setattr(fastapi.routing, "serialize_response", recorder.wrap(fastapi.routing.serialize_response))
    return recorder


def api_routes(api: Api) -> list[tuple[str, APIRoute]]:
    """(full path, route) of every APIRoute of the app. FastAPI 0.16x keeps an included router as one
    entry of ``app.routes`` (``iter_route_contexts`` walks them); earlier versions copied its routes in."""
    routes = api.client.app.routes  # type: ignore[attr-defined]
    try:
        from fastapi.routing import iter_route_contexts  # type: ignore[attr-defined]
    except ImportError:
        return [(r.path, r) for r in routes if isinstance(r, APIRoute)]
    return [(c.path, c.original_route) for c in iter_route_contexts(routes) if isinstance(c.original_route, APIRoute)]


def route_of(api: Api, method: str, path: str) -> APIRoute:
    """The API route that answers ``method path`` (path as sent, without the /api/v1 prefix)."""
    for template, route in api_routes(api):
        if method in route.methods and re.fullmatch(re.sub(r"\{[^}]+\}", "[^/]+", template), API + path):
            return route
    raise AssertionError(f"no route for {method} {path}")


def same(got: Any, want: Any, where: str = "$") -> None:
    """``got == want`` with the JSON types too (1 is not 1.0, nor True) and the keys in the same order."""
    assert type(got) is type(want), f"{where}: {type(got).__name__} {got!r:.80} ≠ {type(want).__name__} {want!r:.80}"
    if isinstance(want, dict):
        assert list(got) == list(want), f"{where}: keys {list(got)} ≠ {list(want)}"
        for key in want:
            same(got[key], want[key], f"{where}.{key}")
    elif isinstance(want, list):
        assert len(got) == len(want), f"{where}: {len(got)} items ≠ {len(want)}"
        for i, (a, b) in enumerate(zip(got, want, strict=True)):
            same(a, b, f"{where}[{i}]")
    else:
        assert got == want, f"{where}: {got!r:.80} ≠ {want!r:.80}"


def checked(api: Api, recorder: Recorder, method: str, path: str, role: Role = Role.ADMIN, status: int = 200,
            **kwargs: Any) -> Any:
    """Call the route; its JSON must be its raw result exactly, and round-trip through its model."""
    recorder.raw.clear()
    response = recorder.response = api.call(method, path, role, **kwargs)
    assert response.status_code == status, (method, path, response.status_code, response.text[:300])
    body = response.json()
    assert len(recorder.raw) == 1, f"{method} {path}: {len(recorder.raw)} raw results recorded"
    same(body, recorder.raw[0])
    model = route_of(api, method, path).response_model
    assert isinstance(model, type) and issubclass(model, BaseModel), (method, path, model)
    same(model.model_validate(body).model_dump(mode="json"), body)
    return body


# --- 1. every JSON route has a model ---------------------------------------------------------------


def test_every_json_route_declares_a_response_model(api: Api) -> None:
    routes = [(path, route) for path, route in api_routes(api) if path.startswith(API)]
    assert len(routes) >= 25
    for path, route in routes:
        name = f"{sorted(route.methods)} {path}"
        if route.status_code == 204:  # no body
            assert route.response_model is None, name
            continue
        answers_json = isinstance(route.response_class, DefaultPlaceholder) or issubclass(route.response_class, JSONResponse)
        if not answers_json:  # a file: its media types are documented instead
            content = route.responses[200]["content"]
            assert content and all("json" not in media for media in content), name
            continue
        model = route.response_model
        assert isinstance(model, type) and issubclass(model, BaseModel), f"{name}: response_model {model!r}"


# --- 2. the JSON is the route's result, and its model's --------------------------------------------


def test_documents_and_their_findings(api: Api, recorder: Recorder) -> None:
    page = checked(api, recorder, "GET", "/documents", params={"limit": 500})
    assert page["total"] == len(page["items"]) >= 11 and page["facets"]["rounds"][-1] == "未标明轮次"
    for item in page["items"]:
        detail = checked(api, recorder, "GET", f"/documents/{item['id']}", Role.VIEWER)
        assert detail["findings"] and detail["findings"][0]["tags"]["auto"]
    with_figures = [d for d in page["items"] if checked(api, recorder, "GET", f"/documents/{d['id']}")["statistics"]]
    assert with_figures  # the samples state figures: the statistic rows are checked too
    checked(api, recorder, "GET", "/documents", params={"round": "未标明轮次", "sort": "findings", "order": "asc"})


def test_findings_a_finding_and_a_tag_correction(api: Api, recorder: Recorder) -> None:
    page = checked(api, recorder, "GET", "/findings", Role.VIEWER, params={"limit": 500})
    assert page["total"] == len(page["items"]) > 50
    first = page["items"][0]
    same(checked(api, recorder, "GET", f"/findings/{first['id']}", Role.VIEWER), first)
    corrected = checked(api, recorder, "PATCH", f"/findings/{first['id']}/tags", Role.ANALYST,
                        json={"tags": {"livelihood": []}})
    assert corrected["tags"]["confirmed"] == {"livelihood": []} and corrected["labels"].get("livelihood", []) == []
    checked(api, recorder, "GET", "/findings", params={"label": "党的建设", "limit": 5})
    checked(api, recorder, "GET", "/taxonomy", Role.VIEWER)


def test_search_and_similar(api: Api, recorder: Recorder) -> None:
    found = checked(api, recorder, "GET", "/search", Role.VIEWER, params={"q": "三重一大 集体决策 落实不到位", "limit": 100})
    assert found["results"] and found["results"][0]["highlights"] and found["results"][0]["signals"]
    checked(api, recorder, "GET", "/search", params={"q": "违规发放津补贴", "round": "第五轮"})
    similar = checked(api, recorder, "GET", f"/findings/{found['results'][0]['finding_id']}/similar", params={"limit": 100})
    assert similar["results"]


def test_statistics_clusters_and_the_summary(api: Api, recorder: Recorder) -> None:
    stats = checked(api, recorder, "GET", "/statistics", Role.VIEWER)
    unassigned = stats["by_round"][-1]
    assert unassigned["round"] is None and unassigned["name"] == "未标明轮次" and unassigned["documents"] >= 1
    assert all("name" not in row for row in stats["by_round"][:-1]) and stats["by_metric"]
    whole = checked(api, recorder, "POST", "/clusters", json={"members": None, "recurrences": None, "limit": None})
    assert whole["clusters"] and whole["recurrences"], "the samples hold units inspected in two rounds"
    assert wait_for_refresh()
    paged = checked(api, recorder, "POST", "/clusters", Role.VIEWER,
                    json={"min_units": 2, "limit": 3, "offset": 1, "members": 2, "recurrences": 1})
    assert paged["clusters_total"] >= len(paged["clusters"]) and len(paged["recurrences"]) <= 1
    one = whole["clusters"][0]["cluster_id"]
    checked(api, recorder, "POST", "/clusters", json={"cluster_id": one, "include_singletons": True})
    report = checked(api, recorder, "GET", "/summaries/common-issues", Role.VIEWER)
    assert report["sections"] and report["statistics"]
    kinds = [s.get("kind") for s in report["opening"]["sentences"]]
    assert kinds.count("statistics") == 1 and kinds.count(None) == len(kinds) - 1
    checked(api, recorder, "GET", "/summaries/common-issues", params={"rounds": ["第七轮"], "top": 2})


def test_jobs_uploads_and_imports(api: Api, recorder: Recorder) -> None:
    accepted = checked(api, recorder, "POST", "/documents", Role.ANALYST, status=202,
                       files=[("files", ("again.txt", UNROUNDED[1])), ("files", ("empty.txt", b""))])
    assert list(accepted)[0] == "job_id" and accepted["items"][1]["error"]["code"] == "empty_file"
    assert recorder.response.headers["location"] == f"{API}/jobs/{accepted['job_id']}"
    wait_for_job(api.client, accepted["job_id"], api.headers())
    done = checked(api, recorder, "GET", f"/jobs/{accepted['job_id']}", Role.VIEWER)
    assert done["finished_at"] and done["items"][0]["status"] == "duplicate" and done["items"][0]["pages"] is None
    checked(api, recorder, "POST", f"/jobs/{accepted['job_id']}/cancel", Role.ANALYST)
    imported = checked(api, recorder, "POST", "/imports", Role.ANALYST, status=202, files={"file": (*SHEET, "text/csv")})
    assert imported["rows"] == 1 and imported["columns"]["问题描述"] == "问题描述"
    assert recorder.response.headers["location"] == f"{API}/jobs/{imported['job_id']}"
    wait_for_job(api.client, imported["job_id"], api.headers())
    checked(api, recorder, "POST", f"/jobs/{imported['job_id']}/retry", Role.ANALYST, status=202)
    wait_for_job(api.client, imported["job_id"], api.headers())


def test_accounts_audit_and_health(api: Api, recorder: Recorder) -> None:
    checked(api, recorder, "GET", "/health", None)
    checked(api, recorder, "GET", "/auth/me", Role.VIEWER)
    created = checked(api, recorder, "POST", "/users", status=201,
                      json={"name": "temp.user", "password": "Another-horse-43", "role": "analyst", "temporary": True})
    assert created["token"] and created["must_change_password"] is True
    users = checked(api, recorder, "GET", "/users")
    assert {u["name"] for u in users["items"]} >= {"admin", "analyst", "viewer", "temp.user"}
    log = checked(api, recorder, "GET", "/audit", params={"limit": 1000})
    assert {row["action"] for row in log["items"]} >= {"document_uploaded", "search", "tags_changed", "user_created"}
    assert any(row["detail"] for row in log["items"]) and any(row["target"] is None for row in log["items"])
    checked(api, recorder, "GET", "/audit", params={"action": "search", "limit": 5})


# --- 3. the OpenAPI document ------------------------------------------------------------------------


def _refs(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {node["$ref"].rsplit("/", 1)[-1]} if isinstance(node.get("$ref"), str) else set()
        return found.union(*(_refs(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(_refs(v) for v in node))
    return set()


def test_openapi_lists_the_finding_shapes_once_and_routes_reference_them(api: Api) -> None:
    response = api.client.get("/openapi.json", headers=api.headers(Role.VIEWER))
    assert response.status_code == 200
    document = response.json()
    schemas = document["components"]["schemas"]
    for shape in ("Finding", "FindingRef", "FindingRow", "SearchResult"):
        variants = [n for n in schemas if n.split("-")[0].rsplit("__", 1)[-1] == shape]
        assert variants == [shape], variants  # one schema, not one per route or an -Input/-Output pair

    def reachable(name: str, seen: set[str] | None = None) -> set[str]:
        seen = seen if seen is not None else set()
        for ref in _refs(schemas[name]) - seen:
            seen.add(ref)
            reachable(ref, seen)
        return seen

    users: dict[str, set[str]] = {}  # schema → the operations whose JSON answer contains it
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            for status, answer in operation.get("responses", {}).items():
                schema = answer.get("content", {}).get("application/json", {}).get("schema")
                if status.startswith("2") and schema:
                    direct = _refs(schema)
                    for name in direct.union(*(reachable(n) for n in direct)):
                        users.setdefault(name, set()).add(f"{method.upper()} {path}")
    assert users["Finding"] >= {
        f"GET {API}/findings", f"GET {API}/findings/{{finding_id}}", f"PATCH {API}/findings/{{finding_id}}/tags",
        f"GET {API}/documents/{{document_id}}", f"PATCH {API}/documents/{{document_id}}",
    }
    assert users["FindingRow"] >= {f"GET {API}/search", f"GET {API}/findings/{{finding_id}}/similar"}
    assert f"POST {API}/clusters" in users["FindingRef"]
    finding = schemas["Finding"]
    assert list(finding["properties"]) == ["id", "document_id", "local_id", "text", "start", "end", "page", "unit",
                                           "round", "section", "marker", "detail", "statement", "tags", "labels"]
    assert finding["properties"]["unit"]["description"] and set(finding["required"]) == set(finding["properties"])
    xlsx = document["paths"][f"{API}/exports/findings.xlsx"]["get"]["responses"]["200"]["content"]
    assert list(xlsx) == ["application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"]
