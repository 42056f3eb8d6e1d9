"""Search over findings: BM25 + dense vectors, fused by reciprocal rank, with query expansion.

Pure: an index is built from ``(finding_id, text)`` pairs and answers with ranked
:class:`Hit` objects; where the texts and vectors are stored is the caller's business
(``vectors`` is a plain numpy array, and :meth:`SearchIndex.save`/:meth:`SearchIndex.load`
write numpy arrays and a small JSON file, no pickle).

Two rankings are fused:

- **lexical** — BM25 (bm25s) over domain content tokens from :func:`nlp.segment.content_tokens`,
  handed to bm25s as token lists (it would otherwise split on whitespace, which Chinese lacks).
  The query is expanded with the taxonomy's synonym groups (``corpora/taxonomy.yaml``): a query
  containing 补助 also asks, at :data:`EXPANSION_WEIGHT`, for 补贴/津贴/津补贴 (the same synonyms,
  embedded, are added to the query vector at the same weight).
- **semantic** — an :class:`Embedder`. The default :class:`LsaEmbedder` is TF-IDF over word
  1-2 grams of content tokens plus character 2-3 grams, reduced by TruncatedSVD (≤128 dims) fitted
  on the corpus and L2-normalised; character n-grams are what let 离职补助 meet 补助, 领取 meet 领.
  A sentence-transformers model from a local folder can be plugged in with
  :class:`SentenceTransformerEmbedder` (never downloads).

Fusion is reciprocal rank fusion, ``score(d) = Σ 1/(k + rank_r(d))`` with ``k = 60`` and 1-based
ranks (:func:`reciprocal_rank_fusion`). Results whose vectors have cosine ≥ 0.95, or whose
normalised texts are identical, are grouped under the best-ranked one (``Hit.duplicates``).

Decisions: a blank query raises :class:`EmptyQueryError`; a query with nothing searchable
(only stop words or punctuation) returns ``[]``.

Dev scores (``evaluation/score_search.py``, 55 dev queries over 199 findings): hybrid with
expansion nDCG@10 0.838, recall@10 0.758 (BM25 alone 0.720, semantic alone 0.820); ~2 ms a query.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from nlp.errors import BackendUnavailableError, XunchaError
from nlp.segment import Segmenter, content_tokens, make_segmenter
from nlp.taxonomy import Taxonomy, default_taxonomy

RRF_K = 60
EXPANSION_WEIGHT = 0.5
DUPLICATE_COSINE = 0.95
SVD_DIMS = 128
FORMAT_VERSION = 1
ST_INSTALL_HINT = "pip install sentence-transformers"


class EmptyQueryError(XunchaError):
    """The query is blank."""

    code = "empty_query"
    default_message = "检索词为空"


class UnknownFindingError(XunchaError):
    """A finding id that is not in the index."""

    code = "unknown_finding"
    default_message = "索引中没有该问题"


class BadIndexError(XunchaError):
    """A saved index that cannot be read back (missing files, other version, wrong shapes)."""

    code = "bad_search_index"
    default_message = "检索索引文件损坏或版本不符，请重建索引"


class SearchMode(StrEnum):
    HYBRID = "hybrid"
    LEXICAL = "lexical"
    SEMANTIC = "semantic"


@dataclass(frozen=True)
class Hit:
    """One result: the fused score, each ranking's 1-based rank (None when it did not rank the
    finding) and the ids of near-duplicates grouped under it."""

    finding_id: str
    score: float
    lexical_rank: int | None
    semantic_rank: int | None
    duplicates: list[str] = field(default_factory=list)


# --- fusion -------------------------------------------------------------------------------


def reciprocal_rank_fusion(rankings: Iterable[Sequence[int]], k: int = RRF_K) -> dict[int, float]:
    """RRF of ranked lists of document indices (best first): ``Σ 1/(k + rank)``, rank from 1."""
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, doc in enumerate(ranking, start=1):
            scores[doc] = scores.get(doc, 0.0) + 1.0 / (k + rank)
    return scores


# --- text helpers -------------------------------------------------------------------------

_NOT_WORD = re.compile(r"[\W_]+")


def normalize_text(text: str) -> str:
    """Text for exact-duplicate checks: NFKC, lower case, no whitespace or punctuation."""
    return _NOT_WORD.sub("", unicodedata.normalize("NFKC", text).lower())


def _l2_normalize(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return matrix / norms


# --- embedders ----------------------------------------------------------------------------


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into L2-normalised vectors (one row per text)."""

    name: str

    def fit(self, texts: Sequence[str]) -> None:
        """Learn from the corpus (a pretrained model does nothing here)."""
        ...

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        ...


class LsaEmbedder:
    """TF-IDF (content-token 1-2 grams + char 2-3 grams) → TruncatedSVD → L2 normalisation.

    Its whole state is a vocabulary, an idf vector and the SVD components, so it saves as numpy
    arrays and JSON (:meth:`state`/:meth:`from_state`). On a corpus smaller than the requested
    dimensions the SVD keeps ``min(n_docs, n_features) - 1`` components.
    """

    name = "lsa"

    def __init__(
        self, segmenter: Segmenter | None = None, dims: int = SVD_DIMS, random_state: int = 0
    ) -> None:
        self.segmenter = segmenter
        self.dims = dims
        self.random_state = random_state
        self.vocabulary: dict[str, int] = {}
        self.idf: np.ndarray = np.zeros(0)
        self.components: np.ndarray | None = None

    def features(self, text: str) -> list[str]:
        """Word unigrams and bigrams of content tokens, char 2-3 grams of their concatenation."""
        tokens = content_tokens(self.segmenter or make_segmenter(), text)
        feats = [f"w:{t}" for t in tokens]
        feats += [f"w:{a} {b}" for a, b in zip(tokens, tokens[1:], strict=False)]
        joined = "".join(tokens)
        for n in (2, 3):
            feats += [f"c:{joined[i : i + n]}" for i in range(len(joined) - n + 1)]
        return feats

    def _tfidf(self, texts: Sequence[str]) -> Any:
        from scipy import sparse

        rows, cols, vals = [], [], []
        for row, text in enumerate(texts):
            counts: dict[int, int] = {}
            for feat in self.features(text):
                col = self.vocabulary.get(feat)
                if col is not None:
                    counts[col] = counts.get(col, 0) + 1
            for col, count in counts.items():
                rows.append(row)
                cols.append(col)
                vals.append((1.0 + np.log(count)) * self.idf[col])
        matrix = sparse.csr_matrix((vals, (rows, cols)), shape=(len(texts), len(self.vocabulary)))
        norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1))).ravel()
        norms[norms == 0] = 1.0
        return sparse.diags(1.0 / norms) @ matrix

    def fit(self, texts: Sequence[str]) -> None:
        from sklearn.decomposition import TruncatedSVD

        doc_freq: dict[str, int] = {}
        for text in texts:
            for feat in set(self.features(text)):
                doc_freq[feat] = doc_freq.get(feat, 0) + 1
        self.vocabulary = {feat: i for i, feat in enumerate(sorted(doc_freq))}
        n = len(texts)
        df = np.array([doc_freq[f] for f in sorted(doc_freq)], dtype=np.float64)
        self.idf = np.log((1.0 + n) / (1.0 + df)) + 1.0  # sklearn's smooth idf
        matrix = self._tfidf(texts)
        dims = min(self.dims, min(matrix.shape) - 1)
        if dims < 1:
            self.components = None  # one document or one feature: keep the tf-idf space
            return
        svd = TruncatedSVD(n_components=dims, random_state=self.random_state)
        svd.fit(matrix)
        self.components = svd.components_.astype(np.float32)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        matrix = self._tfidf(texts)
        dense = matrix @ self.components.T if self.components is not None else matrix.toarray()
        return _l2_normalize(np.asarray(dense, dtype=np.float32))

    def state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        arrays = {"idf": self.idf}
        if self.components is not None:
            arrays["components"] = self.components
        return {"dims": self.dims, "vocabulary": self.vocabulary}, arrays

    @classmethod
    def from_state(
        cls, meta: Mapping[str, Any], arrays: Mapping[str, np.ndarray], segmenter: Segmenter | None = None
    ) -> LsaEmbedder:
        emb = cls(segmenter, dims=int(meta["dims"]))
        emb.vocabulary = dict(meta["vocabulary"])
        emb.idf = arrays["idf"]
        emb.components = arrays.get("components")
        return emb


class SentenceTransformerEmbedder:
    """A sentence-transformers model read from a local folder (offline; nothing is downloaded)."""

    name = "sentence-transformers"

    def __init__(self, model_path: str | Path) -> None:
        self.model_path = Path(model_path)
        if not self.model_path.is_dir():
            raise BackendUnavailableError(
                f"向量模型路径不存在：{self.model_path}（离线运行，不会自动下载模型）", source=str(self.model_path)
            )
        self._model: Any = None

    def fit(self, texts: Sequence[str]) -> None:
        return None

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if self._model is None:
            try:
                from sentence_transformers import SentenceTransformer
            except ImportError as exc:
                raise BackendUnavailableError(
                    f"未安装 sentence-transformers：{ST_INSTALL_HINT}", source="sentence-transformers"
                ) from exc
            self._model = SentenceTransformer(str(self.model_path), local_files_only=True)
        vectors = self._model.encode(list(texts), normalize_embeddings=True)
        return np.asarray(vectors, dtype=np.float32)


# --- the index ----------------------------------------------------------------------------


class SearchIndex:
    """BM25 + embeddings over a fixed list of findings. Build with :meth:`build` or :meth:`load`."""

    def __init__(
        self,
        ids: Sequence[str],
        texts: Sequence[str],
        tokens: Sequence[Sequence[str]],
        vectors: np.ndarray,
        bm25: Any,
        embedder: Embedder,
        segmenter: Segmenter | None = None,
        taxonomy: Taxonomy | None = None,
    ) -> None:
        if not (len(ids) == len(texts) == len(tokens) == vectors.shape[0]):
            raise BadIndexError("ids、文本与向量数量不一致")
        self.ids = list(ids)
        self.texts = list(texts)
        self.tokens = [list(t) for t in tokens]
        self.vectors = vectors
        self.bm25 = bm25
        self.embedder = embedder
        self.segmenter = segmenter
        self.taxonomy = taxonomy
        self._position = {fid: i for i, fid in enumerate(self.ids)}
        if len(self._position) != len(self.ids):
            raise BadIndexError("问题编号重复")
        self._normalized = [normalize_text(t) for t in self.texts]

    # building -------------------------------------------------------------------------

    @classmethod
    def build(
        cls,
        findings: Iterable[tuple[str, str]],
        *,
        segmenter: Segmenter | None = None,
        taxonomy: Taxonomy | None = None,
        embedder: Embedder | None = None,
    ) -> SearchIndex:
        pairs = list(findings)
        if not pairs:
            raise ValueError("cannot build a search index over no findings")
        seg = segmenter or make_segmenter()
        ids = [fid for fid, _ in pairs]
        texts = [text for _, text in pairs]
        tokens = [content_tokens(seg, text) for text in texts]
        emb = embedder or LsaEmbedder(seg)
        emb.fit(texts)
        vectors = emb.embed(texts)
        return cls(ids, texts, tokens, vectors, _bm25_index(tokens), emb, seg, taxonomy)

    def __len__(self) -> int:
        return len(self.ids)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Query vectors in the index's space (L2-normalised)."""
        return self.embedder.embed(texts)

    # querying --------------------------------------------------------------------------

    def query_terms(self, query: str, expand: bool = True) -> dict[str, float]:
        """BM25 query tokens with weights: 1.0 for the query's own, EXPANSION_WEIGHT for synonyms.

        A synonym group applies when one of its words is a token of the query or, for words the
        segmenter splits (最低生活保障), appears in the query text.
        """
        seg = self.segmenter or make_segmenter()
        own = content_tokens(seg, query)
        # single characters (不, 压, 实) say little in a query; the vectors' char n-grams keep them
        terms = dict.fromkeys([t for t in own if len(t) > 1] or own, 1.0)
        if expand:
            tax = self.taxonomy or default_taxonomy()
            found: list[str] = [t for t in terms if tax.synonyms_of(t)]
            found += [w for group in tax.synonyms for w in group if len(w) > 1 and w in query]
            for word in dict.fromkeys(found):
                for synonym in tax.synonyms_of(word):
                    for tok in content_tokens(seg, synonym):
                        if len(tok) > 1:  # 不 of 不符合规定 is no synonym of 违规
                            terms.setdefault(tok, EXPANSION_WEIGHT)
        vocab = self.bm25.vocab_dict
        return {t: w for t, w in terms.items() if t in vocab}

    def query_vector(self, query: str, expand: bool = True) -> np.ndarray:
        """The query's vector; with ``expand``, plus EXPANSION_WEIGHT × its synonyms' vector."""
        qvec = self.embed([query])[0]
        if expand:
            extra = [t for t, w in self.query_terms(query, expand=True).items() if w < 1.0]
            if extra:
                qvec = qvec + EXPANSION_WEIGHT * self.embed(["，".join(extra)])[0]
                qvec = _l2_normalize(qvec[None, :])[0]
        return qvec

    def lexical_scores(self, terms: Mapping[str, float]) -> np.ndarray:
        scores = np.zeros(len(self.ids), dtype=np.float64)
        for term, weight in terms.items():
            scores += weight * self.bm25.get_scores([term])
        return scores

    def search(
        self,
        query: str,
        limit: int = 10,
        filter_ids: Iterable[str] | None = None,
        *,
        mode: SearchMode | str = SearchMode.HYBRID,
        expand: bool = True,
    ) -> list[Hit]:
        """The best ``limit`` findings for ``query`` (near-duplicates grouped, not counted).

        ``filter_ids`` restricts the search to those findings (unknown ids are ignored).
        Raises :class:`EmptyQueryError` for a blank query.
        """
        if not query or not query.strip():
            raise EmptyQueryError()
        mode = SearchMode(mode)
        allowed = self._allowed(filter_ids)
        lexical: list[int] = []
        semantic: list[int] = []
        if mode is not SearchMode.SEMANTIC:
            scores = self.lexical_scores(self.query_terms(query, expand))
            lexical = _ranked(scores, allowed, minimum=0.0, top=_pool(limit))
        if mode is not SearchMode.LEXICAL:
            qvec = self.query_vector(query, expand)
            if np.any(qvec):
                semantic = _ranked(self.vectors @ qvec, allowed, minimum=0.0, top=_pool(limit))
        return self._fuse(lexical, semantic, limit)

    def more_like_this(
        self, finding_id: str, limit: int = 10, filter_ids: Iterable[str] | None = None
    ) -> list[Hit]:
        """Findings like ``finding_id`` (its text as an expanded query, its own vector), itself excluded."""
        try:
            pos = self._position[finding_id]
        except KeyError:
            raise UnknownFindingError(source=finding_id) from None
        allowed = self._allowed(filter_ids)
        allowed[pos] = False
        terms = self.query_terms(self.texts[pos], expand=True)
        lexical = _ranked(self.lexical_scores(terms), allowed, minimum=0.0, top=_pool(limit))
        semantic = _ranked(self.vectors @ self.vectors[pos], allowed, minimum=0.0, top=_pool(limit))
        return self._fuse(lexical, semantic, limit)

    def _allowed(self, filter_ids: Iterable[str] | None) -> np.ndarray:
        if filter_ids is None:
            return np.ones(len(self.ids), dtype=bool)
        allowed = np.zeros(len(self.ids), dtype=bool)
        for fid in filter_ids:
            pos = self._position.get(fid)
            if pos is not None:
                allowed[pos] = True
        return allowed

    def _fuse(self, lexical: list[int], semantic: list[int], limit: int) -> list[Hit]:
        fused = reciprocal_rank_fusion([r for r in (lexical, semantic) if r])
        lex_rank = {doc: r for r, doc in enumerate(lexical, start=1)}
        sem_rank = {doc: r for r, doc in enumerate(semantic, start=1)}
        # ties: the better single rank first, then corpus order, so results are deterministic
        order = sorted(fused, key=lambda d: (-fused[d], min(lex_rank.get(d, 10**9), sem_rank.get(d, 10**9)), d))
        heads: list[int] = []
        groups: dict[int, list[str]] = {}
        # similarities among the candidates only (both rankings are cut to a pool of a few hundred)
        sims = self.vectors[order] @ self.vectors[order].T if order else np.zeros((0, 0))
        at = {doc: i for i, doc in enumerate(order)}
        for i, doc in enumerate(order):
            head = next(
                (h for h in heads if self._normalized[doc] == self._normalized[h] or sims[i, at[h]] >= DUPLICATE_COSINE),
                None,
            )
            if head is not None:
                groups[head].append(self.ids[doc])
                continue
            if len(heads) == limit:
                continue  # still scan the pool: a later duplicate of a shown head is grouped
            heads.append(doc)
            groups[doc] = []
        return [
            Hit(self.ids[d], fused[d], lex_rank.get(d), sem_rank.get(d), groups[d]) for d in heads
        ]

    # persistence -----------------------------------------------------------------------

    def save(self, directory: str | Path) -> None:
        """Write the index to ``directory``: ``index.json``, ``*.npy`` arrays and ``bm25/``."""
        if not isinstance(self.embedder, LsaEmbedder):
            embedder_meta: dict[str, Any] = {"name": self.embedder.name}
            arrays: dict[str, np.ndarray] = {}
        else:
            embedder_meta, arrays = self.embedder.state()
            embedder_meta["name"] = self.embedder.name
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        meta = {
            "version": FORMAT_VERSION,
            "ids": self.ids,
            "texts": self.texts,
            "tokens": self.tokens,
            "embedder": embedder_meta,
        }
        (out / "index.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
        np.save(out / "vectors.npy", self.vectors)
        for key, array in arrays.items():
            np.save(out / f"embedder_{key}.npy", array)
        self.bm25.save(str(out / "bm25"), show_progress=False)

    @classmethod
    def load(
        cls,
        directory: str | Path,
        *,
        segmenter: Segmenter | None = None,
        taxonomy: Taxonomy | None = None,
        embedder: Embedder | None = None,
    ) -> SearchIndex:
        """Read an index written by :meth:`save`. A non-LSA index needs its ``embedder`` passed."""
        import bm25s

        src = Path(directory)
        try:
            meta = json.loads((src / "index.json").read_text(encoding="utf-8"))
            if meta.get("version") != FORMAT_VERSION:
                raise BadIndexError(f"索引格式版本 {meta.get('version')} 不受支持", source=str(src))
            vectors = np.load(src / "vectors.npy")
            emb_meta = meta["embedder"]
            if embedder is None:
                if emb_meta["name"] != LsaEmbedder.name:
                    raise BadIndexError(f"该索引使用 {emb_meta['name']} 向量模型，加载时需提供", source=str(src))
                arrays = {
                    key: np.load(path)
                    for key in ("idf", "components")
                    if (path := src / f"embedder_{key}.npy").exists()
                }
                embedder = LsaEmbedder.from_state(emb_meta, arrays, segmenter)
            bm25 = bm25s.BM25.load(str(src / "bm25"), show_progress=False)
        except (OSError, KeyError, ValueError) as exc:
            raise BadIndexError(source=str(src)) from exc
        return cls(meta["ids"], meta["texts"], meta["tokens"], vectors, bm25, embedder, segmenter, taxonomy)


def _bm25_index(tokens: Sequence[Sequence[str]]) -> Any:
    import bm25s

    bm25 = bm25s.BM25()
    bm25.index([list(t) for t in tokens], show_progress=False)
    return bm25


def _pool(limit: int) -> int:
    """How many candidates each ranking contributes to fusion: enough for the results and the
    near-duplicates grouped under them, few enough that a query costs the same at 1k or 1M findings."""
    return max(200, 20 * limit)


def _ranked(scores: np.ndarray, allowed: np.ndarray, minimum: float, top: int | None = None) -> list[int]:
    """Indices of allowed documents scoring above ``minimum``, best first (stable on ties); only the
    best ``top`` when given, selected with argpartition so the cost stays linear in the corpus."""
    candidates = np.flatnonzero(allowed & (scores > minimum))
    if top is not None and len(candidates) > top:
        keep = np.argpartition(-scores[candidates], top - 1)[:top]
        candidates = np.sort(candidates[keep])
    order = np.argsort(-scores[candidates], kind="stable")
    return [int(i) for i in candidates[order]]
