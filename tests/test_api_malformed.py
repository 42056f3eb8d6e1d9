"""Malformed requests to the API: each gets a specific 4xx JSON error and leaves the library as it was.

One app (real SQLite library, real upload job runner) in a sandbox folder; the data directory sits
four levels down (``sandbox/a/b/c/data``) so that anything a hostile file name could write outside
it (``../../x``) would land inside the sandbox, where the test looks for it. The app is configured
with small limits (1 MB per file, 3 MB per request, 5 files per upload) so the oversize cases stay
cheap. Before each malformed request the library already holds three sample reports; the row
counts, a checksum of the stored tables, the file store and the staging folder are compared before
and after. Everything runs on SQLite and, when ``XUNCHA_TEST_POSTGRES_URL`` is set, again on a fresh
PostgreSQL database (which refuses what SQLite takes: ids past int4, NUL in text).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import time
import uuid
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from builders import (
    _CONTENT_TYPES,
    _RELS,
    _tiny_png,
    make_docx,
    make_encrypted_pdf,
    make_pdf,
    make_scanned_pdf,
)
from conftest import REPORT_PAGES, REPORT_TEXT
from fastapi.testclient import TestClient
from sqlalchemy import text

from service.accounts import create_user
from service.api.app import create_app
from service.settings import Settings

API = "/api/v1"
REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "corpora" / "samples"
SEED = ["r5_chengguanzhen_feedback.txt", "r5_jiaoyuju_feedback.pdf", "r5_zhujianju_feedback.docx"]
MAX_FILE_MB, MAX_REQUEST_MB, MAX_FILES = 1, 3, 5
MB = 1024 * 1024
CONTENT_TABLES = ("documents", "findings", "tags", "statistics", "units", "inspection_rounds", "jobs", "job_items")
CHECKSUM_TABLES = ("documents", "findings", "tags", "statistics")
BOUNDARY = "xuncha-test-boundary"
POSTGRES = os.environ.get("XUNCHA_TEST_POSTGRES_URL")  # set by .ci/run after starting a server
W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"


# ---------------------------------------------------------------- the app and its library


@dataclass
class Lib:
    backend: str  # sqlite | postgresql
    client: TestClient
    auth: dict[str, str]
    settings: Settings
    sandbox: Path
    finding_id: int
    files: dict[str, bytes]  # built once: name -> bytes

    @property
    def data_dir(self) -> Path:
        return self.settings.data_dir

    def upload(self, files: list[tuple[str, bytes]], data: dict[str, str] | None = None) -> httpx.Response:
        return self.client.post(f"{API}/documents", headers=self.auth, files=[("files", f) for f in files], data=data)

    def raw(self, method: str, path: str, body: bytes | Iterator[bytes], content_type: str | None) -> httpx.Response:
        headers = dict(self.auth)
        if content_type:
            headers["content-type"] = content_type
        return self.client.request(method, f"{API}{path}", headers=headers, content=body)

    def get(self, path: str) -> httpx.Response:
        return self.client.get(f"{API}{path}", headers=self.auth)

    def wait_idle(self, job_id: str, timeout: float = 60) -> dict[str, Any]:
        """Poll the job until it is finished and the worker has cleaned up after it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = self.get(f"/jobs/{job_id}").json()
            if job["status"] in ("done", "failed") and self.client.app.state.runner.idle.wait(timeout=1):  # type: ignore[attr-defined]
                return job
            time.sleep(0.05)
        raise AssertionError(f"job {job_id} not finished after {timeout} s")


def multipart(parts: list[tuple[str, bytes | None, bytes]], boundary: str = BOUNDARY) -> tuple[bytes, str]:
    """A multipart body written byte by byte: (field name, raw filename or None for a plain field, content)."""
    out = io.BytesIO()
    for name, filename, content in parts:
        disposition = f'form-data; name="{name}"'.encode()
        if filename is not None:
            disposition += b'; filename="' + filename + b'"'
        out.write(b"--" + boundary.encode() + b"\r\nContent-Disposition: " + disposition)
        out.write(b"\r\nContent-Type: application/octet-stream\r\n\r\n" + content + b"\r\n")
    out.write(b"--" + boundary.encode() + b"--\r\n")
    return out.getvalue(), f"multipart/form-data; boundary={boundary}"


def _zip(members: dict[str, bytes | str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, body in members.items():
            zf.writestr(name, body)
    return buf.getvalue()


def _docx_bomb(inflated: int = 220 * MB) -> bytes:
    """A DOCX whose word/document.xml inflates to ``inflated`` bytes (whitespace) from ~1/1000 of it."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        zf.writestr("[Content_Types].xml", _CONTENT_TYPES)
        zf.writestr("_rels/.rels", _RELS)
        with zf.open("word/document.xml", "w", force_zip64=True) as member:
            member.write(f'<?xml version="1.0"?><w:document xmlns:w="{W_NS}"><w:body>'.encode())
            chunk = b" " * MB
            for _ in range(inflated // MB):
                member.write(chunk)
            member.write(b"<w:p><w:r><w:t>\xe5\xb7\xa1\xe5\xaf\x9f</w:t></w:r></w:p></w:body></w:document>")
    return buf.getvalue()


_LAUGHS = (  # "billion laughs": entities that expand exponentially if a parser resolved them
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">' for i in range(1, 10))
    + f']><w:document xmlns:w="{W_NS}"><w:body><w:p><w:r><w:t>&lol9;</w:t></w:r></w:p></w:body></w:document>'
)


def _build_files(folder: Path) -> dict[str, bytes]:
    good_pdf = make_pdf(folder / "good.pdf", REPORT_PAGES).read_bytes()
    good_docx = make_docx(folder / "good.docx", [p for page in REPORT_PAGES for p in page]).read_bytes()
    return {
        "good_pdf": good_pdf,
        "good_docx": good_docx,
        "encrypted_pdf": make_encrypted_pdf(folder / "locked.pdf").read_bytes(),
        "scanned_pdf": make_scanned_pdf(folder / "scan.pdf").read_bytes(),
        "docx_bomb": _docx_bomb(),
    }


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    return _build_files(tmp_path_factory.mktemp("inputs"))


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """None (SQLite in the data directory) or a new PostgreSQL database, dropped afterwards."""
    if request.param == "sqlite":
        yield None
        return
    if not POSTGRES:
        pytest.skip("XUNCHA_TEST_POSTGRES_URL not set (.ci/run starts a PostgreSQL server)")
    from sqlalchemy import create_engine
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
def lib(tmp_path_factory: pytest.TempPathFactory, files: dict[str, bytes], database_url: str | None) -> Iterator[Lib]:
    sandbox = tmp_path_factory.mktemp("sandbox")
    settings = Settings(
        data_dir=sandbox / "a" / "b" / "c" / "data", database_url=database_url, max_file_mb=MAX_FILE_MB,
        max_request_mb=MAX_REQUEST_MB, max_files_per_upload=MAX_FILES, run_jobs=True,
    )
    app = create_app(settings)
    with TestClient(app, raise_server_exceptions=False) as client:
        with app.state.make_session() as session:
            _, token = create_user(session, "admin", "correct-horse-42", "admin")
        auth = {"Authorization": f"Bearer {token}"}
        backend = "postgresql" if database_url else "sqlite"
        lib = Lib(backend, client, auth, settings, sandbox, 0, files)
        response = lib.upload([(name, (SAMPLES / name).read_bytes()) for name in SEED], {"round": "十四届县委第五轮"})
        assert response.status_code == 202, response.text
        job = lib.wait_idle(response.json()["job_id"])
        assert [i["status"] for i in job["items"]] == ["stored"] * len(SEED), job
        findings = lib.get("/findings?limit=5").json()["items"]
        assert findings
        lib.finding_id = findings[0]["id"]
        yield lib


def snapshot(lib: Lib) -> dict[str, Any]:
    """What a refused request must not change: rows, a checksum of the stored data, files, staging."""
    with lib.client.app.state.make_session() as session:  # type: ignore[attr-defined]
        counts = {t: session.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in CONTENT_TABLES}
        digest = hashlib.sha256()
        for table in CHECKSUM_TABLES:
            for row in session.execute(text(f"SELECT * FROM {table} ORDER BY id")):
                digest.update(repr(tuple(row)).encode())
    files = sorted(str(p.relative_to(lib.data_dir)) for p in (lib.data_dir / "files").rglob("*"))
    staged = sorted(str(p.relative_to(lib.data_dir)) for p in (lib.data_dir / "uploads").rglob("*"))
    return {"counts": counts, "checksum": digest.hexdigest(), "files": files, "staged": staged,
            "outside": outside_listing(lib)}


def outside_listing(lib: Lib) -> list[str]:
    """Everything in the sandbox except the data directory itself."""
    return sorted(str(p.relative_to(lib.sandbox)) for p in lib.sandbox.rglob("*")
                  if lib.data_dir not in p.parents and p != lib.data_dir)


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, f"{response.status_code} {response.text[:500]}"
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    error = body["error"]
    assert error["code"] == code, error
    assert isinstance(error["message"], str) and error["message"].strip()
    assert "Traceback" not in response.text and "File \"" not in response.text
    return error


# ---------------------------------------------------------------- the malformed requests


@dataclass(frozen=True)
class Bad:
    id: str
    send: Callable[[Lib], httpx.Response]
    status: int
    code: str
    names: str | None = None  # for invalid_request: the field the message must name
    postgresql: tuple[int, str] | None = None  # (status, code) when PostgreSQL answers otherwise


def _upload(name: str, data: bytes | Callable[[Lib], bytes], form: dict[str, str] | None = None) -> Callable[[Lib], httpx.Response]:
    return lambda lib: lib.upload([(name, data(lib) if callable(data) else data)], form)


def _good_text() -> bytes:
    return REPORT_TEXT.encode("utf-8")


def _garbage(n: int = 4096) -> bytes:
    return bytes((i * 7919 + 13) % 256 for i in range(n))


def _pdf_over_limit(lib: Lib) -> bytes:
    pdf = lib.files["good_pdf"]
    return pdf + b"\n%" + b"x" * (MAX_FILE_MB * MB + 1 - len(pdf))  # a comment after %%EOF: still a valid PDF


def _chunked_body() -> Iterator[bytes]:
    head, _ = multipart([("files", b"big.txt", b"")])
    yield head[: head.index(b"\r\n\r\n") + 4]
    for _ in range(MAX_REQUEST_MB + 1):
        yield "巡察".encode() * (MB // 6)


BINARIES = {
    "png_header_then_zeros": b"\x89PNG\r\n\x1a\n" + bytes(256),  # an image format, but no image
    "zip": _zip({"readme.txt": "not a report", "data/a.csv": "1,2,3"}),
    "elf": b"\x7fELF\x02\x01\x01\x00" + bytes(512),
    "exe": b"MZ\x90\x00\x03\x00\x00\x00\x04\x00" + bytes(512),
    "gzip": b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03" + _garbage(256),
}

UPLOAD_CASES: list[Bad] = [
    Bad("corrupt_pdf", _upload("report.pdf", b"%PDF-1.7\n" + _garbage()), 422, "corrupt_pdf"),
    Bad("truncated_pdf", _upload("report.pdf", lambda lib: lib.files["good_pdf"][: len(lib.files["good_pdf"]) // 2]),
        422, "corrupt_pdf"),
    Bad("encrypted_pdf", _upload("locked.pdf", lambda lib: lib.files["encrypted_pdf"]), 422, "encrypted_pdf"),
    Bad("empty_pdf_0_bytes", _upload("empty.pdf", b""), 422, "empty_file"),
    Bad("pdf_header_only", _upload("header.pdf", b"%PDF-1.4\n"), 422, "corrupt_pdf"),
    *[
        Bad(f"{kind}_named_{ext}", _upload(f"report.{ext}", data), *((422, "corrupt_image") if kind.startswith("png") else (415, "unsupported_type")))
        for kind, data in BINARIES.items() for ext in ("pdf", "docx", "txt")
    ],
    Bad("docx_zip_bomb_document_xml", _upload("bomb.docx", lambda lib: lib.files["docx_bomb"]), 422, "docx_too_large"),
    Bad("docx_without_document_xml",
        _upload("report.docx", _zip({"[Content_Types].xml": _CONTENT_TYPES, "_rels/.rels": _RELS, "word/styles.xml": "<x/>"})),
        415, "unsupported_type"),
    Bad("docx_truncated", _upload("report.docx", lambda lib: lib.files["good_docx"][: len(lib.files["good_docx"]) // 2]),
        422, "corrupt_docx"),
    Bad("docx_zip_header_then_garbage", _upload("report.docx", b"PK\x03\x04" + _garbage()), 422, "corrupt_docx"),
    Bad("docx_broken_xml",
        _upload("report.docx", _zip({"[Content_Types].xml": _CONTENT_TYPES, "_rels/.rels": _RELS, "word/document.xml": "<w:document><<"})),
        422, "corrupt_docx"),
    Bad("docx_billion_laughs",
        _upload("report.docx", _zip({"[Content_Types].xml": _CONTENT_TYPES, "_rels/.rels": _RELS, "word/document.xml": _LAUGHS})),
        422, "corrupt_docx"),
    Bad("pdf_over_max_file_mb", _upload("big.pdf", _pdf_over_limit), 413, "file_too_large"),
    Bad("huge_text_over_max_file_mb", _upload("huge.txt", "巡察发现的问题。".encode() * (int(2.5 * MB) // 24)),
        413, "file_too_large"),
    Bad("request_over_max_request_mb_content_length",
        lambda lib: lib.raw("POST", "/documents", *multipart([("files", b"big.txt", b"a" * (MAX_REQUEST_MB + 1) * MB)])),
        413, "request_too_large"),
    Bad("request_over_max_request_mb_chunked",
        lambda lib: lib.raw("POST", "/documents", _chunked_body(), multipart([])[1]), 413, "request_too_large"),
    Bad("binary_garbage_txt", _upload("notes.txt", _garbage()), 415, "unsupported_type"),
    Bad("unknown_encoding_latin1", _upload("odd.txt", "café résumé naïve déjà vu, über straße. ".encode("latin-1") * 20),
        422, "unknown_encoding"),
    Bad("unknown_encoding_big5", _upload("odd.txt", "巡察發現的問題：黨建工作不到位，財務管理不規範。".encode("big5") * 5),
        422, "unknown_encoding"),
    Bad("unknown_encoding_shift_jis", _upload("japanese.txt", "東京都の会議で、予算案が可決されました。担当者は説明した。".encode("shift_jis") * 5),
        422, "unknown_encoding"),  # decodes as GBK into rare characters: refused, not stored as mojibake
    Bad("whitespace_only_txt", _upload("blank.txt", "\u3000 \n\t\r\n".encode()), 422, "empty_file"),
    Bad("traversal_name_with_garbage", _upload("../../etc/passwd", _garbage()), 415, "unsupported_type"),
    Bad("two_files_both_bad", lambda lib: lib.upload([("a.pdf", b"%PDF-1.4\n"), ("b.txt", _garbage())]), 422, "corrupt_pdf"),
    Bad("no_files_field", lambda lib: lib.raw("POST", "/documents", *multipart([("round", None, "第一轮".encode())])),
        422, "no_files"),
    Bad("wrong_field_name", lambda lib: lib.client.post(f"{API}/documents", headers=lib.auth,
                                                        files=[("file", ("a.txt", _good_text()))]), 422, "no_files"),
    Bad("json_body", lambda lib: lib.raw("POST", "/documents", b'{"files": ["a.txt"]}', "application/json"),
        415, "expected_multipart"),
    Bad("urlencoded_body", lambda lib: lib.raw("POST", "/documents", b"files=a.txt", "application/x-www-form-urlencoded"),
        415, "expected_multipart"),
    Bad("no_body_no_content_type", lambda lib: lib.raw("POST", "/documents", b"", None), 415, "expected_multipart"),
    Bad("empty_filename", lambda lib: lib.raw("POST", "/documents", *multipart([("files", b"", _good_text())])),
        422, "missing_filename"),
    Bad("files_as_plain_field", lambda lib: lib.raw("POST", "/documents", *multipart([("files", None, _good_text())])),
        422, "missing_filename"),
    Bad("multipart_without_boundary", lambda lib: lib.raw("POST", "/documents", b"--x\r\n", "multipart/form-data"),
        400, "malformed_body"),
    Bad("multipart_truncated", lambda lib: lib.raw("POST", "/documents", multipart([("files", b"a.txt", _good_text())])[0][:60],
                                                   multipart([])[1]), 422, "no_files"),  # an unfinished part is dropped
    Bad("date_not_a_date", _upload("a.txt", _good_text(), {"date": "昨天"}), 422, "invalid_date"),
    Bad("date_impossible", _upload("a.txt", _good_text(), {"date": "2023-02-30"}), 422, "invalid_date"),
    Bad("date_too_long", _upload("a.txt", _good_text(), {"date": "2023-06-10T00:00:00"}), 422, "invalid_request", "date"),
    Bad("round_with_nul", _upload("a.txt", _good_text(), {"round": "第\x00轮"}), 422, "invalid_characters"),
    Bad("unit_with_escape_char", _upload("a.txt", _good_text(), {"unit": "县\x1b[2J局"}), 422, "invalid_characters"),
    Bad("kind_unknown", _upload("a.txt", _good_text(), {"kind": "随便"}), 422, "invalid_kind"),
    Bad("round_too_long", _upload("a.txt", _good_text(), {"round": "轮" * 101}), 422, "invalid_request", "round"),
    Bad("too_many_files", lambda lib: lib.upload([(f"{i}.txt", _good_text() + str(i).encode()) for i in range(MAX_FILES + 1)]),
        413, "too_many_files"),
]


def _patch_tags(body: bytes | Any, finding: int | str | None = None) -> Callable[[Lib], httpx.Response]:
    def send(lib: Lib) -> httpx.Response:
        target = lib.finding_id if finding is None else finding
        raw = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
        return lib.raw("PATCH", f"/findings/{target}/tags", raw, "application/json")

    return send


def _get(path: str) -> Callable[[Lib], httpx.Response]:
    return lambda lib: lib.get(path)


def _post_json(path: str, body: bytes | Any) -> Callable[[Lib], httpx.Response]:
    raw = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
    return lambda lib: lib.raw("POST", path, raw, "application/json")


HUGE = str(2**64)

OTHER_CASES: list[Bad] = [
    Bad("tags_malformed_json", _patch_tags(b'{"tags": {"focus": ["'), 422, "malformed_json"),
    Bad("tags_unknown_scheme", _patch_tags({"tags": {"no_such_scheme": ["党的建设"]}}), 422, "invalid_tags"),
    Bad("tags_unknown_label", _patch_tags({"tags": {"focus": ["不存在的标签"]}}), 422, "invalid_tags"),
    Bad("tags_two_labels_single_label_scheme", _patch_tags({"tags": {"focus": ["党的建设", "党的领导"]}}), 422, "invalid_tags"),
    Bad("tags_empty", _patch_tags({"tags": {}}), 422, "invalid_tags"),
    Bad("tags_not_a_dict", _patch_tags({"tags": ["focus", "党的建设"]}), 422, "invalid_request", "tags"),
    Bad("tags_labels_not_a_list", _patch_tags({"tags": {"focus": "党的建设"}}), 422, "invalid_request", "tags"),
    Bad("tags_missing", _patch_tags({"labels": {"focus": ["党的建设"]}}), 422, "invalid_request", "tags"),
    Bad("tags_body_is_array", _patch_tags([1, 2]), 422, "invalid_request"),
    Bad("tags_nonexistent_finding", _patch_tags({"tags": {"focus": ["党的建设"]}}, 999_999_999), 404, "unknown_finding"),
    Bad("tags_non_integer_id", _patch_tags({"tags": {"focus": ["党的建设"]}}, "abc"), 422, "invalid_request", "finding_id"),
    Bad("tags_huge_id", _patch_tags({"tags": {"focus": ["党的建设"]}}, HUGE), 422, "invalid_request", "finding_id"),
    Bad("tags_id_past_int4", _patch_tags({"tags": {"focus": ["党的建设"]}}, 3_000_000_000), 422, "invalid_request", "finding_id"),
    Bad("finding_id_past_int4", _get("/findings/3000000000"), 422, "invalid_request", "finding_id"),
    Bad("similar_id_past_int4", _get("/findings/3000000000/similar"), 422, "invalid_request", "finding_id"),
    Bad("document_id_past_int4", _get("/documents/3000000000"), 422, "invalid_request", "document_id"),
    Bad("finding_non_integer_id", _get("/findings/1.5"), 422, "invalid_request", "finding_id"),
    Bad("finding_huge_id", _get(f"/findings/{HUGE}"), 422, "invalid_request", "finding_id"),
    Bad("similar_non_integer_id", _get("/findings/x/similar"), 422, "invalid_request", "finding_id"),
    Bad("document_non_integer_id", _get("/documents/abc"), 422, "invalid_request", "document_id"),
    Bad("document_huge_id", _get(f"/documents/{HUGE}"), 422, "invalid_request", "document_id"),
    Bad("document_nonexistent", _get("/documents/999999999"), 404, "unknown_document"),
    Bad("job_bad_id", _get("/jobs/not-a-job!"), 404, "unknown_job"),
    Bad("job_traversal_id", _get("/jobs/..%2F..%2Fetc%2Fpasswd"), 404, "not_found"),
    Bad("job_retry_unknown", lambda lib: lib.raw("POST", "/jobs/0123abcd/retry", b"", None), 404, "unknown_job"),
    Bad("documents_negative_limit", _get("/documents?limit=-1"), 422, "invalid_request", "limit"),
    Bad("documents_huge_limit", _get(f"/documents?limit={HUGE}"), 422, "invalid_request", "limit"),
    Bad("documents_negative_offset", _get("/documents?offset=-5"), 422, "invalid_request", "offset"),
    Bad("findings_huge_offset", _get(f"/findings?offset={HUGE}"), 422, "invalid_request", "offset"),
    Bad("findings_limit_not_a_number", _get("/findings?limit=ten"), 422, "invalid_request", "limit"),
    Bad("search_overlong_q", _get("/search?q=" + "巡" * 501), 422, "invalid_request", "q"),
    Bad("search_blank_q", _get("/search?q=%20%20"), 422, "empty_query"),
    Bad("search_missing_q", _get("/search"), 422, "invalid_request", "q"),
    Bad("search_zero_limit", _get("/search?q=财务&limit=0"), 422, "invalid_request", "limit"),
    Bad("clusters_rounds_not_a_list", _post_json("/clusters", {"rounds": "第五轮"}), 422, "invalid_request", "rounds"),
    Bad("clusters_min_units_not_int", _post_json("/clusters", {"min_units": "many"}), 422, "invalid_request", "min_units"),
    Bad("clusters_min_units_zero", _post_json("/clusters", {"min_units": 0}), 422, "invalid_request", "min_units"),
    Bad("clusters_limit_huge", _post_json("/clusters", {"limit": 10**30}), 422, "invalid_request", "limit"),
    Bad("clusters_body_is_array", _post_json("/clusters", [1, 2]), 422, "invalid_request"),
    Bad("clusters_malformed_json", _post_json("/clusters", b"{rounds: }"), 422, "malformed_json"),
    Bad("login_nul_in_user_name", lambda lib: lib.client.post(f"{API}/auth/login", json={"username": "a\x00b", "password": "x"}),
        422, "invalid_request", "username"),
    Bad("summary_unknown_format", _get("/summaries/common-issues?format=pdf"), 422, "invalid_request", "format"),
    Bad("summary_top_zero", _get("/summaries/common-issues?top=0"), 422, "invalid_request", "top"),
]

CASES = UPLOAD_CASES + OTHER_CASES


def test_api_malformed_has_enough_distinct_cases() -> None:
    assert len(CASES) >= 30
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_api_malformed_request_is_refused_and_changes_nothing(lib: Lib, case: Bad) -> None:
    before = snapshot(lib)
    response = case.send(lib)
    assert response.status_code < 500, response.text[:500]
    status, code = case.postgresql if case.postgresql and lib.backend == "postgresql" else (case.status, case.code)
    error = assert_error(response, status, code)
    if case.names:
        assert case.names in error["message"], error
    assert snapshot(lib) == before


def test_api_scan_or_photo_with_no_writing_is_accepted_then_fails_its_job_storing_nothing(lib: Lib) -> None:
    """A scan or a photo is read by OCR in the background job, not refused at upload (OCR takes seconds
    a page); when it holds no writing, its job item says no_text_found and nothing is stored."""
    def stored(lib: Lib) -> dict[str, int]:  # the job and its items are rows too: what matters is the library
        return {t: n for t, n in snapshot(lib)["counts"].items() if not t.startswith("job")}

    before = stored(lib)
    response = lib.upload([("scan.pdf", lib.files["scanned_pdf"]), ("photo.png", _tiny_png(64))])
    assert response.status_code == 202, response.text[:500]
    job = lib.wait_idle(response.json()["job_id"], timeout=120)
    assert job["status"] == "failed"
    assert [i["error"]["code"] for i in job["items"]] == ["no_text_found", "no_text_found"]
    assert all("文字" in i["error"]["message"] for i in job["items"])
    assert stored(lib) == before and "documents" in before


NUL_QUERIES = [  # (id, path, params, status on SQLite, status on PostgreSQL): refused alike at the edge
    ("search", "/search", {"q": "财务\x00管理"}, 422, 422),
    ("findings_text", "/findings", {"text": "整改\x00"}, 422, 422),
    ("findings_unit", "/findings", {"unit": "\x00"}, 422, 422),
    ("audit_user", "/audit", {"user": "ad\x00min"}, 422, 422),
    ("summary_rounds", "/summaries/common-issues", {"rounds": "第\x00轮"}, 422, 422),
]


@pytest.mark.parametrize(("path", "params", "on_sqlite", "on_postgresql"), [q[1:] for q in NUL_QUERIES],
                         ids=[q[0] for q in NUL_QUERIES])
def test_api_nul_in_query_text_is_never_a_server_error(
    lib: Lib, path: str, params: dict[str, str], on_sqlite: int, on_postgresql: int
) -> None:
    """A NUL in a query value is refused before any database sees it (PostgreSQL cannot store one): 422."""
    before = snapshot(lib)
    response = lib.client.get(f"{API}{path}", headers=lib.auth, params=params)
    assert response.status_code < 500, response.text[:500]
    expected = on_postgresql if lib.backend == "postgresql" else on_sqlite
    assert response.status_code == expected, response.text[:500]
    if expected == 422:
        assert_error(response, 422, "invalid_characters")
    assert snapshot(lib) == before


# ---------------------------------------------------------------- hostile file names


HOSTILE_NAMES = [
    ("dotdot_etc_passwd", b"../../etc/passwd", "passwd"),
    ("deep_dotdot", b"../../../../../../../../tmp/xuncha-evil.txt", "xuncha-evil.txt"),
    ("windows_dotdot", b"..\\..\\x.txt", "x.txt"),
    ("windows_absolute", b"C:\\Windows\\System32\\evil.txt", "evil.txt"),
    ("absolute_etc_passwd", b"/etc/passwd", "passwd"),
    ("nul_in_name", b"a\x00b.txt", "ab.txt"),
    ("control_chars", b"ctl\x01\x07\x1b[31m\x7f.txt", "ctl[31m.txt"),
    ("only_dots", b"..", "未命名文件"),
    ("hidden_file", b".bashrc", "bashrc"),
    ("percent_encoded_traversal", b"%2e%2e%2f%2e%2e%2fetc%2fpasswd", "%2e%2e%2f%2e%2e%2fetc%2fpasswd"),
    ("overlong", b"\xe5\xb7\xa1" * 300 + b".txt", "巡" * 200),
]
ALLOWED_IN_DATA_DIR = re.compile(
    r"^(xuncha\.db(-wal|-shm|-journal)?|files(/[0-9a-f]{2}(/[0-9a-f]{64}\.(txt|pdf|docx|html))?)?"
    r"|uploads(/[0-9a-f]{16}(/\d{4}\.bin)?)?|index(/.*)?)$"
)


@pytest.mark.parametrize(("raw_name", "display"), [(n, d) for _, n, d in HOSTILE_NAMES], ids=[i for i, _, _ in HOSTILE_NAMES])
def test_api_hostile_file_name_is_stored_under_a_safe_name(lib: Lib, raw_name: bytes, display: str) -> None:
    passwd = os.stat("/etc/passwd")
    cwd_before = set(os.listdir(Path.cwd()))
    outside = outside_listing(lib)
    content = (REPORT_TEXT + f"\n（测试文件 {hashlib.sha256(raw_name).hexdigest()[:12]}）\n").encode("utf-8")
    response = lib.raw("POST", "/documents", *multipart([("files", raw_name, content)]))
    assert response.status_code == 202, response.text[:500]
    job_id = response.json()["job_id"]
    assert re.fullmatch(r"[0-9a-f]{16}", job_id)
    assert response.json()["items"][0]["name"] == display
    job = lib.wait_idle(job_id)
    item = job["items"][0]
    assert item["status"] == "stored" and item["name"] == display, job
    document = lib.get(f"/documents/{item['document_id']}").json()
    assert document["source_name"] == display
    assert document["text"].strip() == content.decode().strip()
    for name in (item["name"], document["source_name"]):
        assert "/" not in name and "\\" not in name and not name.startswith(".")
        assert not any(ord(ch) < 32 or ord(ch) == 127 for ch in name)
    with lib.client.app.state.make_session() as session:  # type: ignore[attr-defined]
        stored = session.execute(text("SELECT stored_path FROM documents WHERE id = :i"), {"i": item["document_id"]}).scalar_one()
        staged = session.execute(text("SELECT staged_path FROM job_items WHERE job_id = :j"), {"j": job_id}).scalar_one()
    digest = hashlib.sha256(content).hexdigest()
    assert stored == f"{digest[:2]}/{digest}.txt"
    assert Path(staged).resolve() == (lib.settings.uploads_dir / job_id / "0000.bin").resolve()
    for path in lib.data_dir.rglob("*"):
        assert ALLOWED_IN_DATA_DIR.match(path.relative_to(lib.data_dir).as_posix()), path
    assert outside_listing(lib) == outside
    after = os.stat("/etc/passwd")
    assert (after.st_size, after.st_mtime_ns) == (passwd.st_size, passwd.st_mtime_ns)
    assert not (set(os.listdir(Path.cwd())) - cwd_before) & {display, "passwd", "x.txt", "evil.txt", "xuncha-evil.txt"}
    assert not Path("/tmp/xuncha-evil.txt").exists()


# ---------------------------------------------------------------- positive control


def test_api_gbk_text_without_bom_is_accepted_and_stored_correctly(lib: Lib) -> None:
    report = REPORT_TEXT.replace("区委第七轮", "区委第八轮") + "（GBK 编码、无 BOM 的正向对照）\n"
    data = report.encode("gbk")
    assert not data.startswith((b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff"))
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    before = snapshot(lib)["counts"]["documents"]
    response = lib.upload([("gbk报告.txt", data)])
    assert response.status_code == 202, response.text[:500]
    job = lib.wait_idle(response.json()["job_id"])
    item = job["items"][0]
    assert item["status"] == "stored" and item["findings"] >= 4, job
    document = lib.get(f"/documents/{item['document_id']}").json()
    assert document["encoding"] == "gbk"
    assert document["text"] == report  # no mojibake: the exact text back
    assert "\ufffd" not in document["text"]
    assert any("白条入账" in f["text"] for f in document["findings"])
    assert snapshot(lib)["counts"]["documents"] == before + 1
