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

from collections.abc import Mapping, Sequence
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


class ConceptAnalyzer:
    """``TfidfVectorizer(analyzer=...)`` callable: the concepts whose cue phrases occur in a text.

    A concept is a taxonomy label or a synonym group; its cues are matched as substrings (every
    substring of cue length is looked up in a dict, so the cost is linear in text length).
    Paraphrases that share no word often share a concept: 以读代学 and 照本宣科 both mean
    理论学习不深入.
    """

    def __init__(self, concepts: Mapping[str, Sequence[str]]) -> None:
        self.index: dict[str, tuple[str, ...]] = {}
        grouped: dict[str, list[str]] = {}
        for name, cues in concepts.items():
            for cue in cues:
                if len(cue) >= 2:
                    grouped.setdefault(cue, []).append(name)
        self.index = {cue: tuple(names) for cue, names in grouped.items()}
        self.lengths = sorted({len(cue) for cue in self.index})

    def __call__(self, text: str) -> list[str]:
        found: set[str] = set()
        index = self.index
        for n in self.lengths:
            for i in range(len(text) - n + 1):
                names = index.get(text[i : i + n])
                if names:
                    found.update(names)
        return sorted(found)


def default_concepts() -> dict[str, tuple[str, ...]]:
    """Concepts of the bundled taxonomy: every problem_type label's cues and every synonym group."""
    from nlp.taxonomy import default_taxonomy

    tax = default_taxonomy()
    out: dict[str, tuple[str, ...]] = {}
    if "problem_type" in tax.schemes:
        for label in tax.scheme("problem_type").labels:
            out[f"type:{label.name}"] = label.cues
    for group in tax.synonyms:
        out[f"syn:{group[0]}"] = tuple(group)
    return out


@dataclass
class SparseEncoder:
    """A fitted word + character (+ concept) TF-IDF; ``transform`` maps texts to L2-normalised rows.

    Each block is L2-normalised and scaled by the square root of its weight, so the weights are
    each block's share of a row's squared norm (of the cosine similarity between two texts).
    """

    words: TfidfVectorizer
    chars: TfidfVectorizer
    concepts: TfidfVectorizer | None = None
    word_weight: float = 0.35
    concept_weight: float = 0.0

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        kw = self.concept_weight if self.concepts is not None else 0.0
        ww = (1.0 - kw) * self.word_weight
        cw = (1.0 - kw) * (1.0 - self.word_weight)
        blocks = [
            normalize(self.words.transform(texts)) * np.sqrt(ww),
            normalize(self.chars.transform(texts)) * np.sqrt(cw),
        ]
        if self.concepts is not None:
            blocks.append(normalize(self.concepts.transform(texts)) * np.sqrt(kw))
        return normalize(sp.hstack(blocks, format="csr"))


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
    word_weight: float = 0.35,
    concepts: Mapping[str, Sequence[str]] | None = None,
    concept_weight: float = 0.5,
    min_df: int = 1,
    max_features: int | None = 200_000,
) -> tuple[SparseEncoder, sp.csr_matrix]:
    """Fit word (1-2 gram content tokens) and character (2-3 gram) TF-IDF on ``texts``.

    ``word_weight`` is the word block's share of the words + characters norm. With
    ``concept_weight`` > 0 a third block of concept matches is added (``concepts``: name → cue
    phrases; default :func:`default_concepts`, the taxonomy's problem types and synonym groups),
    taking that share of the whole.
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
    concept_vec = None
    if concept_weight > 0:
        concept_vec = TfidfVectorizer(
            analyzer=ConceptAnalyzer(default_concepts() if concepts is None else concepts),
            sublinear_tf=True,
        )
        try:
            concept_vec.fit(texts)
        except ValueError:  # no concept in any text
            concept_vec = None
    encoder = SparseEncoder(words, chars, concept_vec, word_weight, concept_weight)
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


def embed(
    texts: Sequence[str], dim: int = 128, *, segmenter: str = AUTO, concept_weight: float = 0.5
) -> tuple[DenseEncoder, np.ndarray]:
    """Both steps at once: the dense encoder and the unit-length vectors of ``texts``."""
    encoder, X = fit_tfidf(texts, segmenter=segmenter, concept_weight=concept_weight)
    return fit_svd(X, dim, encoder=encoder)


def _strip_for_chars(text: str) -> str:
    """Character n-grams see Chinese characters and letters only: digits and punctuation carry no topic."""
    return "".join(ch if ("\u4e00" <= ch <= "\u9fff" or ch.isalpha()) else " " for ch in text)
