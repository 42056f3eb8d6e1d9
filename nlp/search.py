"""Search over findings on their stored meaning representation: dense + BM25 + concepts, fused.

Pure: a :class:`SearchIndex` is built from findings' ids, texts, stored vectors and stored concept
keys (all computed once per finding at ingest, see :mod:`nlp.representation`) and answers with
ranked :class:`Hit` objects. Nothing here is fitted on the library, so adding findings never moves
the old ones.

The parts behind seams, each replaceable by one module:

- lexical: :class:`nlp.lexical.LexicalIndex` (bm25s over content tokens of the analysis form);
- dense: :class:`nlp.vector_index.VectorIndex` (exact float32 products; usearch's HNSW graph above 20k findings);
- concepts: the thesaurus (:mod:`nlp.concepts`), an inverted list concept → findings;
- fusion: :mod:`nlp.fusion` (weights, floor, grades).

A query is read in its analysis form (Simplified). Its concepts expand the BM25 query with their
official wording (at ``expansion_weight``) and its vector is that of the query text itself. The
candidates — the best of the dense and lexical rankings and the findings sharing a query concept —
are scored on all three signals, fused, cut at the relevance floor, and near-duplicates (the same
text once punctuation and spaces are dropped, or cosine ≥ the embedder's calibrated
``duplicate_cosine``) grouped under the best.
Each hit says why it matched: the query terms it holds and the concepts it shares.

Decisions: a blank query raises :class:`EmptyQueryError`; a query with nothing searchable returns
``[]``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum

import numpy as np

from nlp.concepts import Thesaurus, default_thesaurus
from nlp.embedders import Embedder
from nlp.errors import XunchaError
from nlp.fusion import (
    RankingConfig,
    concept_weights,
    dense_signal,
    fuse,
    grade,
    lexical_signal,
)
from nlp.index_parts import ConceptTable, IdMap
from nlp.lexical import Bm25Index, LexicalIndex, finding_tokens
from nlp.script import simplified
from nlp.segment import Segmenter, make_segmenter
from nlp.vector_index import VectorIndex, make_vector_index

QUERY_CACHE = 512
DENSE_POOL = 100  # nearest neighbours the dense side proposes (re-scored exactly with the other signals)
_NONE = np.zeros(0, dtype=np.int64)
TEXT_CHECK_COSINE = 0.95  # below this cosine two texts are never the same after normalisation
CONCEPT_POSTINGS_MAX = 5000  # a concept held by more findings than this adds no candidates (the other rankings do)


class EmptyQueryError(XunchaError):
    """The query is blank."""

    code = "empty_query"
    default_message = "检索词为空"


class UnknownFindingError(XunchaError):
    """A finding id that is not in the index."""

    code = "unknown_finding"
    default_message = "索引中没有该问题"


class BadIndexError(XunchaError):
    """Index parts that do not fit together (counts, ids, dimensions)."""

    code = "bad_search_index"
    default_message = "检索索引文件损坏或版本不符，请重建索引"


class SearchMode(StrEnum):
    HYBRID = "hybrid"
    LEXICAL = "lexical"
    SEMANTIC = "semantic"
    CONCEPT = "concept"


@dataclass(frozen=True)
class Hit:
    """One result: the fused score and its grade, each signal, why it matched, and the ids of
    near-duplicates grouped under it."""

    finding_id: str
    score: float
    relevance: str  # 高 / 中 / 低
    signals: dict[str, float]
    matched_terms: list[str]
    concepts: list[str]  # concept keys shared with the query
    duplicates: list[str] = field(default_factory=list)


_NOT_WORD = re.compile(r"[\W_]+")


def duplicate_key(text: str) -> str:
    """A cheap exact-duplicate key (no punctuation or spaces) for the search's hot loop; texts that
    differ only in script or width are caught by their cosine instead."""
    return _NOT_WORD.sub("", text)


def duplicate_keys(texts: Iterable[str]) -> np.ndarray:
    """A stable 64-bit digest of each text's :func:`duplicate_key`, computed once per finding (the
    search compares numbers, not texts; stable across processes, unlike ``hash``)."""
    return np.fromiter(
        (int.from_bytes(hashlib.blake2b(duplicate_key(t).encode("utf-8"), digest_size=8).digest(), "little", signed=True)
         for t in texts),
        dtype=np.int64,
    )


@dataclass
class _Query:
    terms: dict[str, float]  # BM25 terms and weights
    own_terms: list[str]  # the query's own tokens (what a hit is said to match)
    vector: np.ndarray | None
    concept_weights: dict[str, float]
    families: dict[str, str]


class SearchIndex:
    """Search over a fixed list of findings with their stored vectors and concepts."""

    def __init__(
        self,
        ids: Sequence[str],
        texts: Sequence[str],
        vectors: np.ndarray,
        concepts: Sequence[Sequence[str]],
        embedder: Embedder,
        *,
        thesaurus: Thesaurus | None = None,
        segmenter: Segmenter | None = None,
        config: RankingConfig | None = None,
        tokens: Sequence[Sequence[str]] | None = None,
        lexical: LexicalIndex | None = None,
        vector_index: VectorIndex | None = None,
    ) -> None:
        if not (len(ids) == len(texts) == len(concepts) == vectors.shape[0]):
            raise BadIndexError("问题编号、文本、向量与概念的数量不一致")
        if vectors.shape[0] and vectors.shape[1] != embedder.dim:
            raise BadIndexError(f"向量维度 {vectors.shape[1]} 与模型 {embedder.name} 的 {embedder.dim} 不符")
        self.embedder = embedder
        self.thesaurus = thesaurus or default_thesaurus()
        self.segmenter = segmenter or make_segmenter()
        self.config = config or RankingConfig()
        try:
            self.ids = IdMap(list(ids))
        except ValueError:
            raise BadIndexError("问题编号重复") from None
        self.texts: Sequence[str] = list(texts)
        if tokens is None:
            tokens = [finding_tokens(t, self.segmenter) for t in self.texts]
        self.lexical = lexical or Bm25Index.build(tokens)
        self.vectors = vector_index or make_vector_index(vectors)
        self.concepts = ConceptTable.of(concepts, {k: c.family for k, c in self.thesaurus.concepts.items()})
        self.duplicate_keys = duplicate_keys(self.texts)
        self._query_cache: dict[str, np.ndarray] = {}

    @classmethod
    def assemble(
        cls, ids: IdMap, texts: Sequence[str], lexical: LexicalIndex, vector_index: VectorIndex, concepts: ConceptTable,
        keys: np.ndarray, embedder: Embedder, *, thesaurus: Thesaurus | None = None, segmenter: Segmenter | None = None,
        config: RankingConfig | None = None,
    ) -> SearchIndex:
        """An index over parts read back from files (:mod:`nlp.index_files`), nothing rebuilt."""
        if not (len(ids) == len(texts) == len(lexical) == len(vector_index) == len(concepts.by_finding) == keys.shape[0]):
            raise BadIndexError("检索索引各部分的问题数不一致")
        index = cls.__new__(cls)
        index.embedder = embedder
        index.thesaurus = thesaurus or default_thesaurus()
        index.segmenter = segmenter or make_segmenter()
        index.config = config or RankingConfig()
        index.ids, index.texts, index.lexical, index.vectors, index.concepts = ids, texts, lexical, vector_index, concepts
        index.duplicate_keys = keys
        index._query_cache = {}
        return index

    @classmethod
    def from_texts(
        cls,
        findings: Iterable[tuple[str, str]],
        *,
        embedder: Embedder | None = None,
        thesaurus: Thesaurus | None = None,
        config: RankingConfig | None = None,
    ) -> SearchIndex:
        """An index over ``(id, text)`` pairs, computing their representation (tests, scoring scripts;
        the library reads stored representations instead)."""
        from nlp.embedders import make_embedder
        from nlp.representation import represent

        pairs = list(findings)
        emb = embedder or make_embedder()
        th = thesaurus or default_thesaurus()
        rep = represent([t for _, t in pairs], emb, th)
        return cls([i for i, _ in pairs], [t for _, t in pairs], rep.vectors, rep.concepts, emb, thesaurus=th, config=config)

    def __len__(self) -> int:
        return len(self.ids)

    def __contains__(self, finding_id: object) -> bool:
        return isinstance(finding_id, str) and self.ids.position(finding_id) is not None

    def position(self, finding_id: str) -> int | None:
        """Where ``finding_id`` is indexed (None: it is not)."""
        return self.ids.position(finding_id)

    # queries ----------------------------------------------------------------------------

    def _query(self, text: str, *, vector: np.ndarray | None = None, concepts: Sequence[str] | None = None, expand: bool = True) -> _Query:
        analysed = simplified(text)
        own = finding_tokens(analysed, self.segmenter)
        # single characters (不, 压, 实) say little; the dense side still reads them
        own = list(dict.fromkeys([t for t in own if len(t) > 1] or own))
        terms = dict.fromkeys(own, 1.0)
        found = list(concepts) if concepts is not None else self.thesaurus.concepts_in(analysed)
        found = [c for c in found if c in self.thesaurus.concepts]
        if expand:
            for key in found:
                for tok in finding_tokens(self.thesaurus.concepts[key].name, self.segmenter):
                    if len(tok) > 1:
                        terms.setdefault(tok, self.config.expansion_weight)
        terms = {t: w for t, w in terms.items() if self.lexical.has_term(t)}
        weights = concept_weights(found, self.concepts.counts(), len(self.ids))
        families = {c: self.thesaurus.concepts[c].family for c in found}
        return _Query(terms, own, vector, weights, families)

    def query_vector(self, text: str) -> np.ndarray:
        """The query's vector; the last few hundred are kept (an analyst pages, refines, repeats)."""
        cached = self._query_cache.get(text)
        if cached is None:
            encode_one = getattr(self.embedder, "embed_query", None)  # a faster single-text path, where one exists
            row = encode_one(text) if encode_one is not None else self.embedder.embed([text])[0]
            cached = np.asarray(row, dtype=np.float32)
            if len(self._query_cache) >= QUERY_CACHE:
                self._query_cache.pop(next(iter(self._query_cache)))
            self._query_cache[text] = cached
        return cached

    def search(
        self,
        query: str,
        limit: int = 10,
        filter_ids: Iterable[str] | None = None,
        *,
        mode: SearchMode | str = SearchMode.HYBRID,
        expand: bool = True,
        exclude_ids: Iterable[str] = (),
    ) -> list[Hit]:
        """The best ``limit`` findings for ``query`` above the relevance floor (near-duplicates grouped).

        ``filter_ids`` restricts the search to those findings (unknown ids are ignored);
        ``exclude_ids`` are never returned (findings deleted since the index was built).
        Raises :class:`EmptyQueryError` for a blank query.
        """
        if not query or not query.strip():
            raise EmptyQueryError()
        mode = SearchMode(mode)
        vector = self.query_vector(query) if mode in (SearchMode.HYBRID, SearchMode.SEMANTIC) else None
        q = self._query(query, vector=vector, expand=expand)
        return self._rank(q, limit, self._allowed(filter_ids, exclude_ids), mode)

    def representation(self, finding_id: str) -> tuple[str, np.ndarray, tuple[str, ...]]:
        """The text, stored vector and concepts of an indexed finding."""
        pos = self.ids.position(finding_id)
        if pos is None:
            raise UnknownFindingError(source=finding_id)
        return self.texts[pos], self.vectors.rows(np.asarray([pos]))[0], self.concepts.of_finding(pos)

    def more_like_this(
        self, finding_id: str, limit: int = 10, filter_ids: Iterable[str] | None = None,
        exclude_ids: Iterable[str] = (),
    ) -> list[Hit]:
        """Findings like ``finding_id`` (its stored vector, its terms and concepts), itself excluded."""
        text, vector, concepts = self.representation(finding_id)
        return self.similar_to(text, vector, concepts, limit, filter_ids, [*exclude_ids, finding_id])

    def similar_to(
        self, text: str, vector: np.ndarray, concepts: Sequence[str], limit: int = 10,
        filter_ids: Iterable[str] | None = None, exclude_ids: Iterable[str] = (),
    ) -> list[Hit]:
        """Findings like a finding given by its representation (which may be held by another index
        over the same library: the live library splits into a base and the findings added since)."""
        q = self._query(text, vector=vector, concepts=concepts)
        return self._rank(q, limit, self._allowed(filter_ids, exclude_ids), SearchMode.HYBRID)

    # ranking ----------------------------------------------------------------------------

    def _allowed(self, filter_ids: Iterable[str] | None, exclude_ids: Iterable[str] = ()) -> np.ndarray | None:
        """The mask of positions a search may return (``None``: all)."""
        excluded = [p for p in (self.ids.position(fid) for fid in exclude_ids) if p is not None]
        if filter_ids is None and not excluded:
            return None
        if filter_ids is None:
            allowed = np.ones(len(self.ids), dtype=bool)
        else:
            allowed = np.zeros(len(self.ids), dtype=bool)
            for fid in filter_ids:
                pos = self.ids.position(fid)
                if pos is not None:
                    allowed[pos] = True
        allowed[excluded] = False
        return allowed

    def _rank(self, q: _Query, limit: int, allowed: np.ndarray | None, mode: SearchMode) -> list[Hit]:
        """Candidates from each ranking, all three signals on them (vectorised), fused, floored; then
        the best ``pool`` scanned once for heads and their near-duplicates."""
        cfg = self.config
        if not self.ids:
            return []
        pool = max(200, 20 * limit)
        use_dense = q.vector is not None and mode in (SearchMode.HYBRID, SearchMode.SEMANTIC)
        use_lexical = bool(q.terms) and mode in (SearchMode.HYBRID, SearchMode.LEXICAL)
        use_concept = bool(q.concept_weights) and mode in (SearchMode.HYBRID, SearchMode.CONCEPT)
        candidates: list[np.ndarray] = []
        bm25 = self.lexical.top(q.terms, pool, allowed) if use_lexical else None
        if bm25 is not None:
            candidates.append(bm25.positions)
        if use_dense and q.vector is not None:
            candidates.append(self.vectors.top(q.vector, max(DENSE_POOL, 10 * limit), allowed)[0])
        if use_concept:
            for c in q.concept_weights:
                post = self.concepts.postings(c)
                if post is not None and len(post) <= CONCEPT_POSTINGS_MAX:
                    candidates.append(post if allowed is None else post[allowed[post]])
        cand = self._union(candidates)
        if cand.size == 0:
            return []
        dense = dense_signal(self.vectors.similarity(q.vector, cand), cfg) if use_dense and q.vector is not None else None
        lexical = lexical_signal(bm25.score_at(cand), cfg) if bm25 is not None else None
        concept = self._concept_signal(q, cand) if use_concept else None
        if mode is SearchMode.HYBRID:
            zeros = np.zeros(cand.size)
            fused = fuse(dense if dense is not None else zeros, lexical if lexical is not None else zeros, concept, cfg)
        else:
            fused = next(s for s in (dense, lexical, concept) if s is not None)
        floor = cfg.floor if mode is SearchMode.HYBRID else 1e-9
        above = np.flatnonzero(fused >= floor)
        if above.size > pool:
            above = above[np.argpartition(-fused[above], pool - 1)[:pool]]
        order = above[np.lexsort((cand[above], -fused[above]))]  # best first, ties by position
        heads, groups = self._heads(cand[order], limit)
        at = {int(cand[i]): int(i) for i in order}
        hits = []
        for pos in heads:
            i = at[pos]
            signals = {
                name: round(float(values[i]), 4)
                for name, values in (("dense", dense), ("lexical", lexical), ("concept", concept))
                if values is not None
            }
            score = float(fused[i])
            # the query's terms are content tokens: one is among the text's content tokens exactly when
            # it is among its tokens, so the stop-word and number filtering is not needed here
            held = set(self.segmenter.cut(simplified(self.texts[pos])))
            shared = set(self.concepts.of_finding(pos)) if use_concept else set()
            hits.append(
                Hit(
                    finding_id=self.ids[pos],
                    score=round(score, 4),
                    relevance=grade(score, cfg),
                    signals=signals,
                    matched_terms=[t for t in q.own_terms if t in held]
                    + [t for t, w in q.terms.items() if w < 1.0 and t in held and t not in q.own_terms],
                    concepts=[c for c in q.concept_weights if c in shared],
                    duplicates=groups[pos],
                )
            )
        return hits

    def _union(self, parts: list[np.ndarray]) -> np.ndarray:
        """Sorted distinct positions of ``parts`` (a mask over the index: linear, no sort)."""
        if not parts:
            return _NONE
        mask = np.zeros(len(self.ids), dtype=bool)
        for part in parts:
            mask[part] = True
        return np.flatnonzero(mask)

    def _member(self, positions: np.ndarray, cand: np.ndarray) -> np.ndarray:
        """Which of ``cand`` are in ``positions``."""
        mask = np.zeros(len(self.ids), dtype=bool)
        mask[positions] = True
        return mask[cand]

    def _concept_signal(self, q: _Query, cand: np.ndarray) -> np.ndarray:
        """The concept signal (see :mod:`nlp.fusion`) of every candidate at once, from the postings."""
        total = sum(q.concept_weights.values())
        got = np.zeros(cand.size, dtype=np.float64)
        if total <= 0:
            return got
        for concept, weight in q.concept_weights.items():
            post = self.concepts.postings(concept)
            holds = self._member(post if post is not None else _NONE, cand)
            in_family = self._member(self.concepts.family_postings(q.families.get(concept, "")), cand) & ~holds
            got += weight * holds + self.config.family_credit * weight * in_family
        return got / total

    def _heads(self, ranked: np.ndarray, limit: int) -> tuple[list[int], dict[int, list[str]]]:
        """The first ``limit`` positions of ``ranked`` that are no near-duplicate of an earlier head
        (cosine ≥ ``duplicate_cosine``, or the same text once punctuation and spaces are gone), each
        with the ids grouped under it."""
        if ranked.size == 0:
            return [], {}
        rows = self.vectors.rows(ranked)
        threshold = self.config.duplicate_cosine
        heads: list[int] = []
        head_rows: list[int] = []
        groups: dict[int, list[str]] = {}
        keys = self.duplicate_keys[ranked]
        sims = np.empty((ranked.size, 0), dtype=np.float32)  # cosines of every candidate to each head so far
        for j, pos in enumerate(ranked.tolist()):
            dup_of = None
            if head_rows:
                row = sims[j]
                k = int(row.argmax())
                best = float(row[k])
                if best >= threshold:
                    dup_of = heads[k]
                elif best >= TEXT_CHECK_COSINE:  # the same text has a near-1 cosine
                    dup_of = next((h for h, r in zip(heads, head_rows, strict=True) if keys[r] == keys[j]), None)
            if dup_of is not None:
                groups[dup_of].append(self.ids[pos])
                continue
            if len(heads) == limit:
                continue  # go on scanning: a later near-duplicate of a shown head is still grouped
            heads.append(pos)
            head_rows.append(j)
            groups[pos] = []
            sims = np.hstack([sims, (rows @ rows[j])[:, None]])
        return heads, groups


def merge_hits(parts: Sequence[tuple[SearchIndex, list[Hit]]], limit: int) -> list[Hit]:
    """One ranking from the hits of several indexes over disjoint parts of one library (the live
    library's base and the findings added since): best score first, and a hit that is a near-duplicate
    (cosine ≥ ``duplicate_cosine``) of a better hit from another part grouped under it."""
    scored = [(hit, index) for index, hits in parts for hit in hits]
    if len(parts) <= 1:
        return [hit for hit, _ in scored][:limit]
    scored.sort(key=lambda pair: -pair[0].score)
    kept: list[tuple[Hit, SearchIndex, np.ndarray]] = []
    folded: dict[int, list[str]] = {}
    for hit, index in scored:
        vector = index.representation(hit.finding_id)[1]
        threshold = index.config.duplicate_cosine
        for k, (_, head_index, head_vector) in enumerate(kept):
            if head_index is not index and float(head_vector @ vector) >= threshold:
                folded.setdefault(k, []).extend([hit.finding_id, *hit.duplicates])
                break
        else:
            if len(kept) < limit:
                kept.append((hit, index, vector))
    out = []
    for k, (head, _, _) in enumerate(kept):
        extra = folded.get(k)
        out.append(head if not extra else replace(head, duplicates=[*head.duplicates, *extra]))
    return out
