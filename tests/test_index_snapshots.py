"""The search index's base on disk, shared by every process (service/index_snapshots.py,
service/index_builder.py, nlp/index_files.py).

Real SQLite libraries built from the sample reports, real builder processes (``python -m
service.index_builder``), killed with SIGKILL where the test says so. Each test checks what a search
returns: the base opened from disk answers exactly as the one built in memory, a damaged or foreign
base is never used, and a build killed at any moment loses nothing.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select
from test_live_index import FEEDBACK, add, finding_texts

from nlp import vector_index
from nlp.index_files import open_index, save_index
from nlp.search import BadIndexError, SearchIndex
from service import live_index
from service.index_snapshots import POINTER, SnapshotStore
from service.library import Filters, search_library
from service.live_index import IndexBuildingError, current_view, forget_views, keep_index_in
from service.store import models
from service.store.db import session_factory

QUERIES = ["违反中央八项规定精神", "选人用人不规范", "财务管理不规范", "整改不到位", "干部违规领取补贴"]
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def library(tmp_path: Path) -> tuple[str, Path]:
    url = f"sqlite:///{tmp_path / 'lib.db'}"
    for name in FEEDBACK[:3]:
        add(url, tmp_path / "files", name)
    return url, tmp_path


def _answers(session, queries=QUERIES) -> list[list[tuple[str, float, tuple[str, ...]]]]:  # type: ignore[no-untyped-def]
    out = []
    for q in queries:
        hits = search_library(session, q, Filters(), limit=10)
        out.append([(h["finding_id"], h["score"], tuple(h["matched_terms"])) for h in hits])
    return out


def _texts(url: str) -> list[tuple[str, str]]:
    with session_factory(url)() as session:
        return [(str(i), t) for i, t in session.execute(select(models.Finding.id, models.Finding.text).order_by(models.Finding.id))]


@pytest.mark.parametrize("graph", [False, True])
def test_saved_index_answers_exactly_as_the_one_built(library: tuple[str, Path], tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch, graph: bool) -> None:
    url, _ = library
    if graph:
        monkeypatch.setattr(vector_index, "EXACT_MAX", 10)  # the HNSW graph, viewed from its file
    built = SearchIndex.from_texts(_texts(url))
    save_index(built, tmp_path / "saved")
    opened = open_index(tmp_path / "saved", built.embedder, built.thesaurus)
    assert type(opened.vectors) is type(built.vectors) and (type(built.vectors).__name__ == "HnswVectorIndex") == graph
    numbers = opened.ids.numbers
    assert numbers is not None and not numbers.flags["OWNDATA"] and not numbers.flags["WRITEABLE"]  # the file's mapping
    some = built.ids[3]
    for q in QUERIES:
        a, b = built.search(q, 10), opened.search(q, 10)
        assert a, q
        assert [(h.finding_id, h.score, h.matched_terms, h.concepts, h.duplicates) for h in a] == \
               [(h.finding_id, h.score, h.matched_terms, h.concepts, h.duplicates) for h in b]
        allowed = list(built.ids)[::2]
        assert [h.finding_id for h in built.search(q, 5, allowed, exclude_ids=[some])] == \
               [h.finding_id for h in opened.search(q, 5, allowed, exclude_ids=[some])]
    assert [h.finding_id for h in built.more_like_this(some)] == [h.finding_id for h in opened.more_like_this(some)]
    assert opened.representation(some)[0] == built.representation(some)[0]
    assert some in opened and "no-such-id" not in opened and "999999999" not in opened


def test_damaged_or_foreign_folder_is_refused_with_its_reason(library: tuple[str, Path], tmp_path: Path) -> None:
    url, _ = library
    built = SearchIndex.from_texts(_texts(url))
    folder = tmp_path / "saved"
    save_index(built, folder)
    (folder / "vectors.npy").write_bytes((folder / "vectors.npy").read_bytes()[:200])  # truncated by a crash
    with pytest.raises(BadIndexError, match="已损坏|不一致"):
        open_index(folder, built.embedder, built.thesaurus)
    meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    (folder / "meta.json").write_text(json.dumps({**meta, "embedder": "another-model"}), encoding="utf-8")
    with pytest.raises(BadIndexError, match="另一模型"):
        open_index(folder, built.embedder, built.thesaurus)
    (folder / "meta.json").unlink()
    with pytest.raises(BadIndexError, match="meta.json"):
        open_index(folder, built.embedder, built.thesaurus)


def test_a_second_process_opens_the_base_and_catches_up(library: tuple[str, Path]) -> None:
    url, data = library
    keep_index_in(data, url, serving=False)
    with session_factory(url)() as session:
        first = current_view(session, background=False)  # built here and published
        assert first.snapshot is not None
        expected = _answers(session)
    store = SnapshotStore(data / "index" / next(p.name for p in (data / "index").iterdir()))
    assert store.current() is not None and store.current().name == first.snapshot  # type: ignore[union-attr]
    forget_views()  # a fresh process
    with session_factory(url)() as session:
        opened = current_view(session, background=False)
        assert opened.snapshot == first.snapshot and opened.delta is None and opened.size == first.size
        assert _answers(session) == expected
    new_doc = add(url, data / "files", FEEDBACK[3])
    fid, text = next(iter(finding_texts(url, new_doc).items()))
    forget_views()
    with session_factory(url)() as session:  # a base older than the library: the rest replayed on top
        later = current_view(session, background=False)
        assert later.snapshot == first.snapshot and later.delta is not None and str(fid) in later.delta
        top = search_library(session, text, Filters(), limit=3)[0]
        assert top["finding_id"] == fid or fid in [d["finding_id"] for d in top["duplicates"]]


def test_base_of_a_replaced_database_is_not_used(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'lib.db'}"
    keep_index_in(tmp_path, url, serving=False)
    add(url, tmp_path / "files", FEEDBACK[0])
    with session_factory(url)() as session:
        old = current_view(session, background=False)
        assert old.snapshot is not None
    forget_views()
    from service.store.db import get_engine

    get_engine(url).dispose()
    (tmp_path / "lib.db").unlink()
    for suffix in ("-wal", "-shm"):
        (tmp_path / f"lib.db{suffix}").unlink(missing_ok=True)
    from service.store.db import _engine_for

    _engine_for.cache_clear()  # a new process would open the new file afresh
    add(url, tmp_path / "files2", FEEDBACK[1])  # another library at the same path, as many changes or more
    add(url, tmp_path / "files2", FEEDBACK[2])
    with session_factory(url)() as session:
        fresh = current_view(session, background=False)
        assert fresh.snapshot != old.snapshot
        ids = {str(i) for i in session.scalars(select(models.Finding.id))}
        assert fresh.size == len(ids) and all(i in fresh.base for i in ids)


def test_damaged_base_on_disk_is_removed_and_rebuilt(library: tuple[str, Path]) -> None:
    url, data = library
    keep_index_in(data, url, serving=False)
    with session_factory(url)() as session:
        first = current_view(session, background=False)
        expected = _answers(session)
    root = next((data / "index").iterdir())
    (root / str(first.snapshot) / "postings_values.npy").write_bytes(b"not an array")
    forget_views()
    with session_factory(url)() as session:
        again = current_view(session, background=False)
        assert again.snapshot not in (None, first.snapshot)
        assert _answers(session) == expected
    assert not (root / str(first.snapshot)).exists()


def _builder(root: Path, url: str, after: int = 0) -> subprocess.Popen[bytes]:
    env = {**os.environ, "XUNCHA_DATABASE_URL": url}
    return subprocess.Popen([sys.executable, "-m", "service.index_builder", str(root), "--after", str(after)],
                            env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def test_large_library_is_built_beside_the_server_which_says_so(library: tuple[str, Path],
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    url, data = library
    monkeypatch.setattr(live_index, "INLINE_BUILD_MAX", 5)
    keep_index_in(data, url, serving=True)
    with session_factory(url)() as session:
        with pytest.raises(IndexBuildingError) as raised:
            current_view(session)
        assert raised.value.code == "index_building" and "条问题" in raised.value.message
        held = live_index._held(session.get_bind().engine)
        assert held.builder is not None
        assert held.builder.wait(timeout=300) == 0
        view = current_view(session)
        assert view.snapshot is not None and view.size == len(_texts(url))
        assert _answers(session)[0]


def test_one_builder_at_a_time_and_none_when_the_base_is_current(library: tuple[str, Path]) -> None:
    url, data = library
    root = data / "index" / "lib"
    store = SnapshotStore(root)
    with store.lock():
        busy = _builder(root, url)
        assert busy.wait(timeout=300) == 0
        assert store.current() is None  # it found the lock held and left
    first = _builder(root, url)
    assert first.wait(timeout=300) == 0, first.stderr.read().decode() if first.stderr else ""
    info = store.current()
    assert info is not None and info.count == len(_texts(url))
    again = _builder(root, url, after=info.seq)
    assert again.wait(timeout=300) == 0
    assert store.current() == info  # already as of that change: nothing rebuilt


def test_builder_killed_at_any_moment_loses_nothing(library: tuple[str, Path]) -> None:
    url, data = library
    keep_index_in(data, url, serving=False)
    with session_factory(url)() as session:
        current_view(session, background=False)
    root = next((data / "index").iterdir())
    store = SnapshotStore(root)
    before = store.current()
    assert before is not None
    add(url, data / "files", FEEDBACK[3])
    everything = {i for i, _ in _texts(url)}
    killed_at = []
    for delay in (0.3, 1.0, 2.0, 3.0):
        builder = _builder(root, url, after=before.seq + 1)
        time.sleep(delay)
        if builder.poll() is None:
            builder.send_signal(signal.SIGKILL)
            killed_at.append(delay)
        builder.wait(timeout=60)
        now = store.current()
        assert now is not None  # the pointer is the old base or a complete new one, never missing
        forget_views()
        with session_factory(url)() as session:
            view = current_view(session, background=False)
            held = {i for i in everything if view.holds(i)}
            assert held == everything and view.size == len(everything)
    assert killed_at  # at least one build was cut short
    finished = _builder(root, url, after=before.seq + 1)
    assert finished.wait(timeout=300) == 0
    info = store.current()
    assert info is not None and info.count == len(everything) and info.seq > before.seq
    assert (root / POINTER).is_file() and (root / info.name / "meta.json").is_file()


def test_search_through_the_api_says_the_index_is_building_then_answers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from api_helpers import ingest_samples, running_app

    with running_app(tmp_path, warm_search_index=False, inline_build_max=5) as api:
        ingest_samples(api)
        first = api.call("GET", "/search", params={"q": "公务接待超标准"})
        assert first.status_code == 503, first.text
        error = first.json()["error"]
        assert error["code"] == "index_building" and "检索索引正在建立" in error["message"]
        deadline = time.monotonic() + 300
        while (answer := api.call("GET", "/search", params={"q": "公务接待超标准"})).status_code == 503:
            assert time.monotonic() < deadline, "the builder never published the base"
            time.sleep(0.5)
        assert answer.status_code == 200 and answer.json()["results"], answer.text
        pointers = list((tmp_path / "index").glob(f"*/{POINTER}"))
        assert len(pointers) == 1
        with api.make_session() as session:
            assert current_view(session).snapshot == json.loads(pointers[0].read_text(encoding="utf-8"))["name"]

