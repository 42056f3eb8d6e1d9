"""Sparse and dense representations of finding texts (pure: texts in, matrices out).

- :func:`fit_tfidf` — TF-IDF over domain content tokens (word 1-2 grams, through
  :func:`nlp.segment.content_tokens`, so no numbers, punctuation or stop words) stacked with
  character 2-3 grams (robust to segmentation differences and paraphrase: 整改不到位 / 未整改到位).
  Each half is L2-normalised and weighted, then the row is normalised again.
- :func:`fit_svd` — TruncatedSVD (LSA) of that matrix with L2-normalised rows, so a dot product
  is a cosine similarity.

Both return a fitted encoder next to the matrix of the texts they were fitted on; the encoders
``transform`` new texts, so a growing corpus is projected into the same space without refitting.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize

from nlp.segment import AUTO, content_tokens, make_segmenter


class ContentTokenizer:
    """``CountVectorizer(tokenizer=...)`` callable: domain content tokens of a text.

    Holds the segmenter *name*, not the segmenter, so a fitted vectorizer pickles and the
    dictionary loads on first use, never at construction.
    """

    def __init__(self, segmenter: str = AUTO) -> None:
        self.segmenter = segmenter

    def __call__(self, text: str) -> list[str]:
        return content_tokens(make_segmenter(self.segmenter), text)


@dataclass
class SparseEncoder:
    """A fitted word + character TF-IDF; ``transform`` maps texts to L2-normalised rows."""

    words: TfidfVectorizer
    chars: TfidfVectorizer
    word_weight: float = 0.5

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        w = normalize(self.words.transform(texts)) * np.sqrt(self.word_weight)
        c = normalize(self.chars.transform(texts)) * np.sqrt(1.0 - self.word_weight)
        return normalize(sp.hstack([w, c], format="csr"))


@dataclass
class DenseEncoder:
    """A fitted TF-IDF + SVD: ``transform(texts)`` gives unit-length dense rows."""

    sparse: SparseEncoder | None
    svd: TruncatedSVD

    @property
    def dim(self) -> int:
        return int(self.svd.n_components)

    def project(self, X: sp.spmatrix | np.ndarray) -> np.ndarray:
        """Rows of an already computed TF-IDF matrix in the dense space."""
        return normalize(self.svd.transform(X)).astype(np.float32)

    def transform(self, texts: Sequence[str]) -> np.ndarray:
        if self.sparse is None:
            raise ValueError("this DenseEncoder was fitted on a matrix without its SparseEncoder")
        return self.project(self.sparse.transform(texts))


def fit_tfidf(
    texts: Sequence[str],
    *,
    segmenter: str = AUTO,
    word_weight: float = 0.5,
    min_df: int = 1,
    max_features: int | None = 200_000,
) -> tuple[SparseEncoder, sp.csr_matrix]:
    """Fit word (1-2 gram content tokens) and character (2-3 gram) TF-IDF on ``texts``.

    ``word_weight`` is the share of the squared norm given to the word half (0.5: equal halves).
    Returns the encoder and the (n_texts, n_features) matrix of ``texts``.
    """
    if not texts:
        raise ValueError("fit_tfidf() needs at least one text")
    words = TfidfVectorizer(
        tokenizer=ContentTokenizer(segmenter),
        lowercase=False,
        token_pattern=None,
        ngram_range=(1, 2),
        min_df=min_df,
        max_features=max_features,
        sublinear_tf=True,
    )
    chars = TfidfVectorizer(
        analyzer="char_wb",
        ngram_range=(2, 3),
        min_df=min_df,
        max_features=max_features,
        sublinear_tf=True,
        preprocessor=_strip_for_chars,
    )
    words.fit(texts)
    chars.fit(texts)
    encoder = SparseEncoder(words, chars, word_weight)
    return encoder, encoder.transform(texts)


def fit_svd(
    X: sp.spmatrix | np.ndarray,
    dim: int = 128,
    *,
    encoder: SparseEncoder | None = None,
    seed: int = 0,
) -> tuple[DenseEncoder, np.ndarray]:
    """TruncatedSVD of ``X`` to at most ``dim`` components, rows L2-normalised (float32).

    ``dim`` is capped below the matrix rank bound (``min(X.shape) - 1``). Pass the
    :class:`SparseEncoder` that made ``X`` to get an encoder that can ``transform`` new texts.
    """
    n, m = X.shape
    k = max(1, min(dim, n - 1, m - 1))
    svd = TruncatedSVD(n_components=k, algorithm="randomized", n_iter=5, random_state=seed)
    svd.fit(X)
    dense = DenseEncoder(encoder, svd)
    return dense, dense.project(X)


def embed(texts: Sequence[str], dim: int = 128, *, segmenter: str = AUTO) -> tuple[DenseEncoder, np.ndarray]:
    """Both steps at once: the dense encoder and the unit-length vectors of ``texts``."""
    encoder, X = fit_tfidf(texts, segmenter=segmenter)
    return fit_svd(X, dim, encoder=encoder)


def _strip_for_chars(text: str) -> str:
    """Character n-grams see Chinese characters and letters only: digits and punctuation carry no topic."""
    return "".join(ch if ("\u4e00" <= ch <= "\u9fff" or ch.isalpha()) else " " for ch in text)
