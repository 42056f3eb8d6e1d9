"""Each upload is analysed in a child process under a time and a memory budget (service/analysis_worker.py).

What is checked, on real files and the real analysis process: a scan over its time budget fails
alone with ``processing_timeout``; over its memory budget with ``processing_memory``; the same file
passes with the default budget; the child is replaced and the next file is analysed; a failed item is
not tried again at restart; a cancel stops an item mid-OCR, stores nothing and removes its staged
file; the child refuses outbound connections. Through the real app on SQLite and, when
``XUNCHA_TEST_POSTGRES_URL`` is set, on a fresh PostgreSQL database.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from api_helpers import GBK_TEXT, Api, running_app, upload, upload_and_wait, wait_for_job
from ocr_builders import PageStyle, cjk_font_path, degrade, fitted, render_page, scanned_pdf_bytes
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from service.accounts import Role
from service.analysis_worker import (
    AnalysisProcess,
    Budget,
    ItemCancelledError,
    ItemMemoryError,
    ItemTimeoutError,
)
from service.store import models

POSTGRES = os.environ.get("XUNCHA_TEST_POSTGRES_URL")  # set by .ci/run after starting a server
PARAGRAPHS = [
    "区委第五巡察组对区水利局党组开展了常规巡察。",
    "一是落实全面从严治党主体责任不到位，党组会议研究党风廉政建设工作次数偏少。",
    "二是工程项目管理不规范，部分项目先施工后招标，涉及资金36.5万元。",
    "三是干部队伍建设有差距，年轻干部培养力度不够。",
]
TXT = ("jiaotong.txt", GBK_TEXT.encode("gbk"))


def scan(pages: int, seed: int = 3) -> bytes:
    """A PDF of ``pages`` degraded 200-dpi page images with Chinese text and no text layer."""
    style = fitted(PARAGRAPHS, PageStyle())
    return scanned_pdf_bytes([degrade(render_page(PARAGRAPHS, style), seed=seed + k) for k in range(pages)])


@pytest.fixture(scope="module")
def scans(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    if cjk_font_path() is None:
        pytest.skip("Noto CJK font missing (apt install fonts-noto-cjk; .ci/install-browser.sh installs it)")
    folder = tmp_path_factory.mktemp("scans")
    out = {}
    for pages in (1, 3, 8):
        out[pages] = folder / f"scan{pages}.pdf"
        out[pages].write_bytes(scan(pages))
    return out


@pytest.fixture
def process() -> Iterator[AnalysisProcess]:
    """A fresh analysis child of the test's own (not the process-wide one), closed afterwards."""
    handle = AnalysisProcess()
    yield handle
    handle.close()


@pytest.fixture(scope="module")
def child() -> Iterator[AnalysisProcess]:
    """One analysis child for the tests that need none fresh (a start-up with its taggers costs ~5 s);
    a test that kills it leaves the next one to start another."""
    handle = AnalysisProcess()
    yield handle
    handle.close()


# ---------------------------------------------------------------- the analysis process alone


def test_scan_over_its_time_budget_fails_alone_and_the_next_file_passes(child: AnalysisProcess, scans: dict[int, Path],
                                                                      tmp_path: Path) -> None:
    txt = tmp_path / TXT[0]
    txt.write_bytes(TXT[1])
    assert child.analyze(str(txt), txt.name, 10 << 20, Budget(120, 2048)).doc.findings  # warm: taggers loaded
    first = child.pid
    started = time.monotonic()
    with pytest.raises(ItemTimeoutError) as caught:
        child.analyze(str(scans[3]), "scan3.pdf", 10 << 20, Budget(1.5, 2048))
    assert time.monotonic() - started < 5  # stopped at its budget, not after the three pages
    assert caught.value.code == "processing_timeout" and "1.5 秒" in caught.value.message
    assert child.pid is None  # the child was killed
    again = child.analyze(str(txt), txt.name, 10 << 20, Budget(120, 2048))
    assert again.doc.findings and again.tagger_version and child.pid not in (None, first)


def test_scan_over_its_memory_budget_fails_and_passes_with_the_default(process: AnalysisProcess, scans: dict[int, Path]) -> None:
    # A fresh child has not loaded the OCR models: reading the scan needs ~1 GB of address space more
    with pytest.raises(ItemMemoryError) as caught:
        process.analyze(str(scans[1]), "scan1.pdf", 10 << 20, Budget(120, 300))
    assert caught.value.code == "processing_memory" and "300 MB" in caught.value.message
    analysed = process.analyze(str(scans[1]), "scan1.pdf", 10 << 20, Budget(120, 2048))
    texts = "".join(f.text for f in analysed.doc.findings)
    assert "先施工后招标" in texts and "年轻干部" in texts


def test_warm_loads_the_taggers_in_the_child_before_the_first_file(process: AnalysisProcess, tmp_path: Path) -> None:
    assert process.pid is None
    version = process.warm()
    assert version and version.startswith("tagger-") and process.pid is not None
    txt = tmp_path / TXT[0]
    txt.write_bytes(TXT[1])
    started = time.monotonic()
    analysed = process.analyze(str(txt), txt.name, 10 << 20, Budget(60, 2048))
    assert analysed.tagger_version == version and analysed.doc.findings
    assert time.monotonic() - started < 30  # no start-up left to pay (a cold child takes ~5 s on an idle machine)


def test_bad_input_keeps_its_own_error_and_the_child(child: AnalysisProcess, tmp_path: Path) -> None:
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.4 broken")
    with pytest.raises(Exception) as caught:
        child.analyze(str(broken), broken.name, 10 << 20, Budget(60, 2048))
    assert getattr(caught.value, "code", None) == "corrupt_pdf", caught.value
    alive = child.pid
    assert alive is not None  # a refused file is no reason to restart
    with pytest.raises(FileNotFoundError):
        child.analyze(str(tmp_path / "gone.pdf"), "gone.pdf", 10 << 20, Budget(60, 2048))
    assert child.pid == alive


def test_the_parent_environment_reaches_a_child_started_earlier(child: AnalysisProcess, scans: dict[int, Path],
                                                                 tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    txt = tmp_path / TXT[0]
    txt.write_bytes(TXT[1])
    child.analyze(str(txt), txt.name, 10 << 20, Budget(60, 2048))
    monkeypatch.setenv("XUNCHA_MAX_OCR_PAGES", "2")
    with pytest.raises(Exception) as caught:
        child.analyze(str(scans[3]), "scan3.pdf", 10 << 20, Budget(60, 2048))
    assert getattr(caught.value, "code", None) == "ocr_page_limit", caught.value


def test_cancel_stops_an_analysis_mid_way(child: AnalysisProcess, scans: dict[int, Path]) -> None:
    pages: list[int] = []
    started = time.monotonic()
    with pytest.raises(ItemCancelledError):
        child.analyze(str(scans[8]), "scan8.pdf", 10 << 20, Budget(300, 2048), progress=lambda done, total: pages.append(done),
                        cancelled=lambda: bool(pages))
    assert pages and max(pages) < 8 and time.monotonic() - started < 60
    assert child.pid is None


def test_the_analysis_child_refuses_the_network() -> None:
    """The audit hook the child installs: an outbound connection or name lookup is refused, loopback is not."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        script = (
            "import socket, sys\n"
            "from service.analysis_worker import _refuse_network\n"
            "sys.addaudithook(_refuse_network)\n"
            f"socket.create_connection(('127.0.0.1', {port}), timeout=5).close()\n"
            "print('loopback ok')\n"
            "for target in (('203.0.113.7', 80), ('example.org', 443)):\n"
            "    try:\n"
            "        socket.create_connection(target, timeout=2)\n"
            "    except PermissionError as exc:\n"
            "        print('refused', exc)\n"
        )
        run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0] == "loopback ok"
    assert [line.split()[0] for line in lines[1:]] == ["refused", "refused"]
    assert "203.0.113.7" in lines[1] and "example.org" in lines[2] and "不允许" in lines[1]


# ---------------------------------------------------------------- through the real app


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """None (SQLite in the data directory) or a new PostgreSQL database, dropped afterwards."""
    if request.param == "sqlite":
        yield None
        return
    if not POSTGRES:
        pytest.skip("XUNCHA_TEST_POSTGRES_URL not set (.ci/run starts a PostgreSQL server)")
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


def _items(api: Api) -> list[models.JobItem]:
    with api.make_session() as session:
        return list(session.scalars(select(models.JobItem).order_by(models.JobItem.id)))


def test_a_slow_file_fails_alone_and_is_not_retried_at_restart(tmp_path: Path, scans: dict[int, Path],
                                                               database_url: str | None) -> None:
    data = tmp_path / "data"
    with running_app(data, database_url=database_url, item_seconds=2.0) as api:
        job = upload_and_wait(api, [("scan8.pdf", scans[8].read_bytes()), TXT])
        scan_item, txt_item = job["items"]
        assert scan_item["status"] == "error" and scan_item["error"]["code"] == "processing_timeout", scan_item
        assert "2 秒" in scan_item["error"]["message"]
        assert txt_item["status"] == "stored" and txt_item["findings"] >= 3
        assert job["status"] == "done" and job["failed"] == 1 and job["done"] == 2
        assert api.ok("GET", "/documents")["total"] == 1
    # a restart does not try the poison file again (it would otherwise hold the worker each time)
    with running_app(data, users=False, database_url=database_url, item_seconds=2.0) as again:
        time.sleep(1.0)
        items = _items(again)
        assert [(i.status, i.error_code, i.attempts) for i in items] == [("error", "processing_timeout", 1), ("stored", None, 1)]


def test_cancel_stops_the_running_scan_and_stores_nothing(tmp_path: Path, scans: dict[int, Path], database_url: str | None) -> None:
    with running_app(tmp_path / "data", database_url=database_url) as api:
        upload_and_wait(api, [TXT])  # the child is started and its taggers loaded
        response = upload(api, [("scan8.pdf", scans[8].read_bytes())])
        assert response.status_code == 202, response.text
        job_id = response.json()["job_id"]
        deadline = time.monotonic() + 120
        while True:  # until OCR is under way
            job = api.ok("GET", f"/jobs/{job_id}", Role.ANALYST)
            pages = job["items"][0]["pages"]
            if job["items"][0]["status"] == "running" and pages and pages["done"] >= 1:
                break
            assert time.monotonic() < deadline and job["items"][0]["status"] in ("queued", "running"), job
            time.sleep(0.1)
        cancelled = api.ok("POST", f"/jobs/{job_id}/cancel", Role.ANALYST)
        assert (cancelled["cancelled"], cancelled["stopping"]) == (0, 1)  # not queued: asked to stop
        stopped_at = time.monotonic()
        job = wait_for_job(api.client, job_id, api.headers(Role.ANALYST), timeout=30)
        assert time.monotonic() - stopped_at < 10  # stopped mid-OCR, not after the eight pages
        item: dict[str, Any] = job["items"][0]
        assert item["status"] == "error" and item["error"]["code"] == "cancelled" and item["document_id"] is None
        assert item["pages"]["done"] < 8
        assert api.ok("GET", "/documents")["total"] == 1  # the text notice only
        staged = [i.staged_path for i in _items(api) if i.job_id == job_id]
        assert staged == [None]
        assert not list((api.settings.uploads_dir / job_id).glob("*.bin"))
        # the worker goes on: the next upload is analysed by a new child
        later = upload_and_wait(api, [("scan1.pdf", scans[1].read_bytes())])
        assert later["items"][0]["status"] == "stored", later


def test_a_sheet_is_read_embedded_and_tagged_in_the_child(child: AnalysisProcess, tmp_path: Path) -> None:
    sheet = tmp_path / "问题清单.csv"
    rows = ["被巡察单位,问题描述", "县水利局,工程项目先施工后招标", "县教育局,违规发放津补贴", "县民政局,"]
    sheet.write_text("\n".join(rows) + "\n", encoding="gbk")
    prepared = child.prepare_sheet(str(sheet), sheet.name, None, Budget(60, 2048))
    assert [f.text for f in prepared.doc.findings] == ["工程项目先施工后招标", "违规发放津补贴"]
    assert prepared.vectors.shape == (2, 384) and prepared.tagger_version
    assert all(f.tags.get("focus") for f in prepared.doc.findings)
    assert [e.row for e in prepared.parsed.errors] == [4]  # the row without a description, by its number
    bad = tmp_path / "坏清单.csv"
    bad.write_text("序号,备注\n1,无\n", encoding="utf-8")
    with pytest.raises(Exception) as caught:
        child.prepare_sheet(str(bad), bad.name, None, Budget(60, 2048))
    assert getattr(caught.value, "code", None) == "bad_import_file" and "问题描述" in str(caught.value)
