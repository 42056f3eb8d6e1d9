"""The findings library: real SQLite through SQLAlchemy, migrations, idempotent one-transaction ingest."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, select

from nlp.pipeline import analyze_bytes
from service.store import models
from service.store.db import make_engine, session_factory, upgrade
from service.store.repository import Overrides, ingest_bytes

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "corpora" / "samples"
MANIFEST = [json.loads(x) for x in (SAMPLES / "manifest.jsonl").read_text(encoding="utf-8").splitlines() if x]


POSTGRES = os.environ.get("XUNCHA_TEST_POSTGRES_URL")  # set by .ci/run after starting a server


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    """A fresh, empty database: SQLite in tmp_path, or a new PostgreSQL database when a server is given."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'lib.db'}"
        return
    if not POSTGRES:
        pytest.skip("XUNCHA_TEST_POSTGRES_URL not set (.ci/run starts a PostgreSQL server)")
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"xuncha_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield make_url(POSTGRES).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()


def ingest(url: str, path: Path, files: Path, overrides: Overrides | None = None):
    data = path.read_bytes()
    doc = analyze_bytes(data, str(path))
    with session_factory(url)() as session:
        return ingest_bytes(session, data, str(path), doc, files, overrides)


def count(url: str, model) -> int:
    with session_factory(url)() as session:
        return session.scalar(select(func.count()).select_from(model))


def test_store_migrations_match_the_models(db_url):
    engine = make_engine(db_url)
    upgrade(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), models.Base.metadata)
    assert diff == []
    if db_url.startswith("sqlite"):
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    engine.dispose()


def test_store_ingest_is_idempotent_and_keeps_everything(db_url, tmp_path):
    path = SAMPLES / MANIFEST[0]["file"]
    first = ingest(db_url, path, tmp_path / "files")
    second = ingest(db_url, path, tmp_path / "files")
    assert first.status == "stored" and second.status == "duplicate"
    assert first.document_id == second.document_id and first.findings == second.findings > 0
    assert count(db_url, models.Document) == 1
    with session_factory(db_url)() as session:
        doc = session.scalar(select(models.Document))
        stored = tmp_path / "files" / doc.stored_path
        assert stored.read_bytes() == path.read_bytes() and doc.sha256 in stored.name
        assert all(doc.text[f.start : f.end] == f.text for f in doc.findings)
        assert any(t.scheme == "focus" and t.source == "auto" and t.evidence for f in doc.findings for t in f.tags)
        assert doc.round is not None or MANIFEST[0]["round"]


def test_store_overrides_win_over_the_text(db_url, tmp_path):
    path = SAMPLES / MANIFEST[0]["file"]
    ingest(db_url, path, tmp_path / "files", Overrides(round="十五届县委第一轮", unit="测试单位党组", kind="专项", date="2025-01-02"))
    with session_factory(db_url)() as session:
        doc = session.scalar(select(models.Document))
        assert (doc.round.label, doc.round.number, doc.round.year, doc.kind, doc.date) == ("十五届县委第一轮", 1, 2025, "专项", "2025-01-02")


def test_store_failure_mid_document_leaves_nothing_half_stored(db_url, tmp_path, monkeypatch):
    good, bad = SAMPLES / MANIFEST[0]["file"], SAMPLES / MANIFEST[1]["file"]
    ingest(db_url, good, tmp_path / "files")
    before = (count(db_url, models.Document), count(db_url, models.Finding), count(db_url, models.Tag))

    real = models.Statistic.__init__

    def explode(self, *args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(models.Statistic, "__init__", explode)
    with pytest.raises(RuntimeError):
        ingest(db_url, bad, tmp_path / "files")
    monkeypatch.setattr(models.Statistic, "__init__", real)
    assert (count(db_url, models.Document), count(db_url, models.Finding), count(db_url, models.Tag)) == before
    assert ingest(db_url, bad, tmp_path / "files").status == "stored"  # the re-run completes


def test_store_failure_after_a_new_round_leaves_no_round_behind(db_url, tmp_path, monkeypatch):
    """The round is created in the document's transaction (no SAVEPOINT that pysqlite would commit)."""
    from service.store import repository

    def explode(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(repository, "_unit", explode)
    with pytest.raises(RuntimeError):
        ingest(db_url, SAMPLES / MANIFEST[0]["file"], tmp_path / "files", Overrides(round="测试第九轮"))
    assert (count(db_url, models.InspectionRound), count(db_url, models.Document)) == (0, 0)


def test_store_concurrent_new_round_is_retried_not_failed(db_url, tmp_path, monkeypatch):
    """Another process inserting the same new round between our read and our commit: we retry."""
    from service.store import repository

    real = repository._get_or_create
    calls = {"n": 0}

    def racing(session, model, key, extra):
        if model is models.InspectionRound and calls["n"] == 0:
            calls["n"] += 1
            with session_factory(db_url)() as other:  # the other process wins the race
                other.add(models.InspectionRound(**key, **extra))
                other.commit()
            obj = model(**key, **extra)
            session.add(obj)
            return obj
        return real(session, model, key, extra)

    monkeypatch.setattr(repository, "_get_or_create", racing)
    result = ingest(db_url, SAMPLES / MANIFEST[0]["file"], tmp_path / "files", Overrides(round="测试第十轮"))
    assert result.status == "stored"
    assert count(db_url, models.InspectionRound) == 1


def test_store_cli_ingest_batch_with_a_bad_file(tmp_path, db_url):
    bad = tmp_path / "encrypted-looking.pdf"
    bad.write_bytes(b"%PDF-1.4 this is not a pdf")
    files = [SAMPLES / MANIFEST[0]["file"], bad, SAMPLES / MANIFEST[2]["file"]]
    env = dict(os.environ, XUNCHA_DATA_DIR=str(tmp_path / "data"), XUNCHA_DATABASE_URL=db_url)
    run = subprocess.run(
        [sys.executable, "-m", "service", "ingest", *map(str, files), "--format", "json"],
        capture_output=True, text=True, encoding="utf-8", cwd=tmp_path, env=env,
    )
    assert run.returncode == 1
    results = json.loads(run.stdout)
    assert [r["status"] for r in results] == ["stored", "error", "stored"]
    assert results[1]["error"]["code"] == "corrupt_pdf"
    assert "Traceback" not in run.stderr and len(run.stderr.strip().splitlines()) == 1
    assert count(db_url, models.Document) == 2
    again = subprocess.run(
        [sys.executable, "-m", "service", "ingest", str(files[0]), "--format", "json"],
        capture_output=True, text=True, encoding="utf-8", cwd=tmp_path, env=env,
    )
    assert again.returncode == 0 and json.loads(again.stdout)[0]["status"] == "duplicate"


@pytest.mark.parametrize("order", [1, -1], ids=["definition-first", "short-name-first"])
def test_store_units_resolve_aliases_across_documents(db_url, tmp_path, order):
    for row in [r for r in MANIFEST if "yibaoju" in r["file"]][::order]:
        ingest(db_url, SAMPLES / row["file"], tmp_path / "files")
    with session_factory(db_url)() as session:
        names = {u.name: u.aliases for u in session.scalars(select(models.Unit))}
    assert "县医疗保障局党组" in names and "县医保局党组" in names["县医疗保障局党组"]
    assert "县医保局党组" not in names
    with session_factory(db_url)() as session:
        assert all(f.unit is None or f.unit.name == "县医疗保障局党组" for f in session.scalars(select(models.Finding)))


def test_store_settings_default_to_sqlite_under_the_data_dir(monkeypatch, tmp_path):
    from service.settings import Settings

    monkeypatch.delenv("XUNCHA_DATABASE_URL", raising=False)
    monkeypatch.setenv("XUNCHA_DATA_DIR", str(tmp_path / "d"))
    settings = Settings()
    assert settings.resolved_database_url == f"sqlite:///{(tmp_path / 'd' / 'xuncha.db').as_posix()}"
    assert settings.files_dir == tmp_path / "d" / "files"


def test_statistics_label_counts_in_sql_follow_the_effective_labels(db_url: str, tmp_path: Path, report_text: str):
    """The SQL counts of GET /statistics agree with ``finding_labels`` finding by finding, on both
    engines, after an analyst replaces one finding's focus and clears another's problem types."""
    from collections import Counter

    from sqlalchemy.orm import selectinload

    from nlp.taxonomy import default_taxonomy
    from service.statistics import library_statistics
    from service.tags import finding_labels, set_confirmed_tags

    path = tmp_path / "report.txt"
    path.write_text(report_text, encoding="utf-8")
    ingest(db_url, path, tmp_path / "files", Overrides(round="十四届区委第七轮"))
    with session_factory(db_url)() as session:
        first, second = session.scalars(select(models.Finding).order_by(models.Finding.id)).all()[:2]
        set_confirmed_tags(session, first, {"focus": ["党的建设"]}, default_taxonomy(), "analyst")
        set_confirmed_tags(session, second, {"problem_type": []}, default_taxonomy(), "analyst")
        session.commit()
    with session_factory(db_url)() as session:
        stats = library_statistics(session)
        findings = session.scalars(select(models.Finding).options(selectinload(models.Finding.tags))).all()
        for scheme in ("focus", "livelihood", "problem_type", "four_implementations"):
            expected = Counter(t.label for f in findings for t in finding_labels(f, scheme))
            assert {r["label"]: r["count"] for r in stats["by_label"][scheme]} == dict(expected), scheme
            assert stats["label_by_round"][scheme].get("十四届区委第七轮", {}) == dict(expected), scheme
    assert stats["findings"] == len(findings) >= 4 and stats["by_round"] == [{"round": "十四届区委第七轮", "documents": 1, "findings": len(findings)}]
    assert {r["label"]: r["count"] for r in stats["by_label"]["focus"]}.get("党的建设", 0) >= 1


def test_store_snapshot_reads_one_state_while_another_session_commits(db_url, tmp_path):
    """Statistics and the summary read several queries; an upload committed between them must not show
    in some and not others (it did on PostgreSQL: a round seen by the findings query but not by the
    rounds query gave a 500 under load)."""
    from service.store.db import snapshot

    ingest(db_url, SAMPLES / MANIFEST[0]["file"], tmp_path / "files")
    before = count(db_url, models.Finding)
    assert before > 0
    with session_factory(db_url)() as outer, snapshot(outer) as reader:
        first = reader.scalar(select(func.count(models.Finding.id)))
        ingest(db_url, SAMPLES / MANIFEST[1]["file"], tmp_path / "files")  # commits on its own connection
        second = reader.scalar(select(func.count(models.Finding.id)))
        rounds = reader.scalar(select(func.count(models.InspectionRound.id)))
    assert first == second == before
    assert count(db_url, models.Finding) > before  # the upload did land, the snapshot just did not see it
    with session_factory(db_url)() as session:
        assert session.scalar(select(func.count(models.InspectionRound.id))) >= rounds


def test_statistics_by_round_has_a_row_for_what_names_no_round(db_url: str, tmp_path: Path, report_text: str):
    """The per-round rows add up to the header totals: a document (and its findings) without a round is
    the 未标明轮次 row, not left out (17 / 148 under a 19 / 163 header before)."""
    from service.statistics import library_statistics

    for name, text, round_label in (("a.txt", report_text, "十四届区委第七轮"), ("b.txt", report_text + "\n附：无", None)):
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        ingest(db_url, path, tmp_path / "files", Overrides(round=round_label))
    with session_factory(db_url)() as session:
        second = session.scalars(select(models.Document).order_by(models.Document.id.desc())).first()
        assert second is not None
        second.round_id = None
        for f in second.findings:
            f.round_id = None
        unassigned = len(second.findings)
        session.commit()
        stats = library_statistics(session)
    assert unassigned >= 4 and stats["documents"] == 2
    assert stats["by_round"] == [
        {"round": "十四届区委第七轮", "documents": 1, "findings": stats["findings"] - unassigned},
        {"round": None, "name": "未标明轮次", "documents": 1, "findings": unassigned},
    ]
    assert stats["rounds"] == ["十四届区委第七轮"]  # the chart's round axis stays real rounds


def test_store_summary_in_a_snapshot_still_upgrades_stale_representations(db_url, tmp_path):
    """The summary reads in a read-only snapshot, but the clusters it needs may store what the library
    lacks (concepts of an older thesaurus): that write happens in its own session, so the summary of an
    upgraded library works on PostgreSQL too (a read-only transaction refuses an UPDATE)."""
    from service.cluster_cache import forget
    from service.store.db import snapshot
    from service.summary import build_summary

    for entry in MANIFEST[:3]:
        ingest(db_url, SAMPLES / entry["file"], tmp_path / "files")
    with session_factory(db_url)() as session:
        rows = list(session.scalars(select(models.FindingRepresentation)))
        assert rows
        for row in rows:
            row.thesaurus = "older"
        session.commit()
    forget()
    with session_factory(db_url)() as outer, snapshot(outer) as reader:
        report = build_summary(reader)
    assert report["sections"], report.keys()
    with session_factory(db_url)() as session:
        versions = set(session.scalars(select(models.FindingRepresentation.thesaurus)))
    assert "older" not in versions and len(versions) == 1


def test_store_keeps_each_findings_lead_family_and_fills_rows_from_before_it(db_url, tmp_path):
    """Clustering places a finding by the concept family it leads with; that is stored at ingest (and
    filled in for rows written before it was), and is what matching the text again would give."""
    from nlp.concepts import default_thesaurus, dominant_family
    from service.representations import load_library

    for entry in MANIFEST[:2]:
        ingest(db_url, SAMPLES / entry["file"], tmp_path / "files")
    th = default_thesaurus()
    with session_factory(db_url)() as session:
        rows = list(session.scalars(select(models.FindingRepresentation)))
        with_concepts = [r for r in rows if r.concepts]
        assert with_concepts and all(r.lead_family for r in with_concepts)
        texts = {f.id: f.text for f in session.scalars(select(models.Finding))}
        assert all(r.lead_family == dominant_family(texts[r.finding_id], r.concepts, th) for r in with_concepts)
        assert all(r.lead_family is None for r in rows if not r.concepts)
        for row in rows:  # as a library upgraded from before the column
            row.lead_family = None
        session.commit()
    with session_factory(db_url)() as session:
        library = load_library(session)
        assert len(library.leads) == len(library.ids) == len(rows)
        assert sum(1 for lead in library.leads if lead) == len(with_concepts)
    with session_factory(db_url)() as session:
        refilled = {r.finding_id: r.lead_family for r in session.scalars(select(models.FindingRepresentation))}
    assert all(refilled[r.finding_id] for r in with_concepts)
