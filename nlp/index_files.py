"""A search index written to a folder and opened again memory-mapped, by any number of processes.

Every part of a :class:`nlp.search.SearchIndex` is an array (:mod:`nlp.index_parts`) or a kept
engine's own file: bm25s's score matrix (saved and loaded with ``mmap``), usearch's HNSW graph
(``Index.restore(view=True)``), the float32 rows and the id, text and concept arrays as ``.npy``.
Opening is therefore reading a small JSON file and mapping the rest: milliseconds, and pages
shared by every worker on the machine instead of one copy each.

A folder is written whole or not at all by its caller (written under a temporary name, renamed
into place); :func:`open_index` checks that the parts fit together and raises
:class:`nlp.search.BadIndexError` for a folder that is damaged, partial or of another format.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from nlp.concepts import Thesaurus
from nlp.embedders import Embedder
from nlp.index_parts import ConceptTable, Csr, IdMap, PackedTexts
from nlp.lexical import Bm25Index
from nlp.search import BadIndexError, SearchIndex
from nlp.vector_index import ExactVectorIndex, HnswVectorIndex, VectorIndex

FORMAT = 1
META = "meta.json"


def save_index(index: SearchIndex, folder: Path) -> None:
    """Write ``index`` into ``folder`` (created; files flushed to disk before this returns). Only an
    index over numeric, increasing ids (a library's) can be saved."""
    if index.ids.numbers is None:
        raise ValueError("only an index over a library's numeric finding ids is saved")
    if not isinstance(index.lexical, Bm25Index):
        raise ValueError("only a bm25s lexical index is saved")
    folder.mkdir(parents=True)
    texts = index.texts if isinstance(index.texts, PackedTexts) else PackedTexts.of(list(index.texts))
    concepts = index.concepts
    # the rows as the vector index holds them (float32, or float16 beside an HNSW graph)
    held = getattr(index.vectors, "vectors", None)
    rows = held if held is not None else index.vectors.rows(np.arange(len(index), dtype=np.int64))
    if not len(index):
        rows = np.zeros((0, index.embedder.dim), np.float32)
    arrays: dict[str, np.ndarray] = {
        "ids": np.asarray(index.ids.numbers, dtype=np.int64),
        "texts": np.asarray(texts.buffer, dtype=np.uint8),
        "text_offsets": np.asarray(texts.offsets, dtype=np.int64),
        "vectors": np.ascontiguousarray(rows),
        "concept_indptr": concepts.by_finding.indptr,
        "concept_values": concepts.by_finding.values,
        "postings_indptr": concepts.postings_csr.indptr,
        "postings_values": concepts.postings_csr.values,
        "family_indptr": concepts.family_postings_csr.indptr,
        "family_values": concepts.family_postings_csr.values,
        "duplicate_keys": np.asarray(index.duplicate_keys, dtype=np.int64),
    }
    for name, array in arrays.items():
        np.save(folder / f"{name}.npy", array, allow_pickle=False)
    index.lexical.save(folder / "bm25")
    graph = isinstance(index.vectors, HnswVectorIndex)
    if isinstance(index.vectors, HnswVectorIndex):
        index.vectors.save(folder / "vectors.usearch")
    meta = {
        "format": FORMAT, "count": len(index), "dim": int(arrays["vectors"].shape[1]), "embedder": index.embedder.name,
        "thesaurus": index.thesaurus.version, "graph": graph,
        "concept_keys": concepts.keys, "families": concepts.families,
    }
    (folder / META).write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
    _sync_tree(folder)


def read_meta(folder: Path) -> dict[str, Any]:
    try:
        meta = json.loads((folder / META).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BadIndexError(f"检索索引 {folder.name} 缺少或无法读取 {META}：{exc}") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise BadIndexError(f"检索索引 {folder.name} 的格式不是本版本的格式")
    return meta


def open_index(folder: Path, embedder: Embedder, thesaurus: Thesaurus) -> SearchIndex:
    """The index saved in ``folder``, its arrays memory-mapped read-only."""
    meta = read_meta(folder)
    if meta.get("embedder") != embedder.name or meta.get("dim") != embedder.dim or meta.get("thesaurus") != thesaurus.version:
        raise BadIndexError(f"检索索引 {folder.name} 由另一模型或概念表版本建立")
    try:
        a = {name: _mapped(folder / f"{name}.npy") for name in (
            "ids", "texts", "text_offsets", "vectors", "concept_indptr", "concept_values",
            "postings_indptr", "postings_values", "family_indptr", "family_values", "duplicate_keys")}
        count = int(meta["count"])
        vectors: VectorIndex
        if meta.get("graph"):
            vectors = HnswVectorIndex.viewed(a["vectors"], folder / "vectors.usearch")
        else:
            vectors = ExactVectorIndex(a["vectors"])
        lexical = Bm25Index.load(folder / "bm25", count, mmap=True)
        concepts = ConceptTable(
            meta["concept_keys"], meta["families"], Csr(a["concept_indptr"], a["concept_values"]),
            Csr(a["postings_indptr"], a["postings_values"]), Csr(a["family_indptr"], a["family_values"]),
        )
        if not (a["ids"].shape[0] == count == a["vectors"].shape[0] and a["text_offsets"].shape[0] == count + 1
                and int(a["text_offsets"][-1]) == a["texts"].shape[0] and len(concepts.keys) == len(concepts.postings_csr)
                and a["duplicate_keys"].shape[0] == count):
            raise BadIndexError(f"检索索引 {folder.name} 各部分的长度不一致")
        return SearchIndex.assemble(IdMap(a["ids"]), PackedTexts(a["texts"], a["text_offsets"]), lexical, vectors,
                                    concepts, a["duplicate_keys"], embedder, thesaurus=thesaurus)
    except BadIndexError:
        raise
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as exc:
        raise BadIndexError(f"检索索引 {folder.name} 已损坏：{exc}") from None


def _mapped(path: Path) -> np.ndarray:
    """An ``.npy`` file mapped read-only (an empty array is read: there is nothing to map), as a plain
    array over the mapping: ``np.memmap``'s own indexing costs microseconds a call, which the search's
    hot loops (texts, postings) paid tens of thousands of times a second."""
    try:
        return np.asarray(np.load(path, mmap_mode="r", allow_pickle=False))
    except ValueError:
        return np.load(path, allow_pickle=False)


def _sync_tree(folder: Path) -> None:
    """fsync every file under ``folder`` and the folders themselves: a crash after the caller renames
    the folder into place must not leave it holding empty files."""
    for root, _dirs, files in os.walk(folder):
        for name in files:
            fd = os.open(os.path.join(root, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        fd = os.open(root, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
