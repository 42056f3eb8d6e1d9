"""The parts of a search index held per finding, as flat arrays that can live in memory-mapped files.

A :class:`nlp.search.SearchIndex` over a million findings held as Python objects (a dict of ids,
a list of texts, a tuple of concepts and a token set per finding) took gigabytes per process, and
every worker of every server held its own copy. Held as arrays instead — ids, texts as one UTF-8
buffer with offsets, concepts and their postings as CSR — the same parts are a few files that each
process maps read-only (:mod:`nlp.index_files`), so the operating system keeps one copy in its page
cache for all of them and only the pages a search touches are resident.

Each part has two constructors: ``of(...)`` from Python values (an index built in memory) and
``from_arrays(...)`` over arrays read back (possibly memory-mapped); both answer alike.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import overload

import numpy as np

_NONE = np.zeros(0, dtype=np.int64)


class IdMap:
    """Positions ↔ finding ids. Ids that are strictly increasing decimal numbers (a library's finding
    ids, read in id order) are held as one int64 array and found by binary search; any other ids (tests,
    scoring scripts) by a dict."""

    def __init__(self, ids: Sequence[str] | np.ndarray) -> None:
        self.numbers: np.ndarray | None = None
        self._list: list[str] = []
        self._dict: dict[str, int] = {}
        if isinstance(ids, np.ndarray):
            self.numbers = ids
            return
        numbers = _increasing_numbers(ids)
        if numbers is not None:
            self.numbers = numbers
            return
        self._list = list(ids)
        self._dict = {fid: i for i, fid in enumerate(self._list)}
        if len(self._dict) != len(self._list):
            raise ValueError("duplicate ids")

    def __len__(self) -> int:
        return int(self.numbers.shape[0]) if self.numbers is not None else len(self._list)

    def __getitem__(self, position: int) -> str:
        if self.numbers is not None:
            return str(int(self.numbers[position]))
        return self._list[position]

    def __iter__(self) -> Iterator[str]:
        return (self[i] for i in range(len(self)))

    def position(self, finding_id: str) -> int | None:
        """The position of ``finding_id``, or None when it is not indexed."""
        if self.numbers is None:
            return self._dict.get(finding_id)
        if not finding_id.isdecimal():
            return None
        number = int(finding_id)
        at = int(np.searchsorted(self.numbers, number))
        return at if at < len(self.numbers) and int(self.numbers[at]) == number else None


def _increasing_numbers(ids: Sequence[str]) -> np.ndarray | None:
    if not all(isinstance(i, str) and i.isdecimal() and (i == "0" or not i.startswith("0")) for i in ids):
        return None
    try:
        numbers = np.asarray([int(i) for i in ids], dtype=np.int64)
    except OverflowError:
        return None
    if numbers.size > 1 and not bool(np.all(numbers[1:] > numbers[:-1])):
        return None
    return numbers


class PackedTexts(Sequence[str]):
    """Texts as one UTF-8 buffer and their byte offsets (``offsets[i]:offsets[i + 1]`` is text ``i``)."""

    def __init__(self, buffer: np.ndarray, offsets: np.ndarray) -> None:
        self.buffer = buffer  # uint8
        self.offsets = offsets  # int64, len + 1
        self._bytes = memoryview(np.ascontiguousarray(buffer).data).cast("B") if buffer.size else memoryview(b"")

    @classmethod
    def of(cls, texts: Sequence[str]) -> PackedTexts:
        encoded = [t.encode("utf-8") for t in texts]
        offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
        np.cumsum([len(e) for e in encoded], out=offsets[1:])
        return cls(np.frombuffer(b"".join(encoded), dtype=np.uint8), offsets)

    def __len__(self) -> int:
        return int(self.offsets.shape[0]) - 1

    @overload
    def __getitem__(self, position: int) -> str: ...

    @overload
    def __getitem__(self, position: slice) -> list[str]: ...

    def __getitem__(self, position: int | slice) -> str | list[str]:
        if isinstance(position, slice):
            return [self[i] for i in range(*position.indices(len(self)))]
        start, end = int(self.offsets[position]), int(self.offsets[position + 1])
        return str(self._bytes[start:end], "utf-8")


@dataclass(frozen=True)
class Csr:
    """Rows of integers: row ``i`` is ``values[indptr[i]:indptr[i + 1]]``."""

    indptr: np.ndarray  # int64, rows + 1
    values: np.ndarray  # int64 (positions) or int32 (key numbers)

    @classmethod
    def of(cls, rows: Sequence[Sequence[int]], dtype: type = np.int64) -> Csr:
        indptr = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum([len(r) for r in rows], out=indptr[1:])
        values: np.ndarray = np.fromiter((v for r in rows for v in r), dtype=dtype, count=int(indptr[-1]))
        return cls(indptr, values)

    def __len__(self) -> int:
        return int(self.indptr.shape[0]) - 1

    def row(self, i: int) -> np.ndarray:
        return self.values[int(self.indptr[i]) : int(self.indptr[i + 1])]


class ConceptTable:
    """Each finding's thesaurus concepts, and the inverted lists concept → positions and family →
    positions that the concept signal and the concept candidates read."""

    def __init__(self, keys: Sequence[str], families: Sequence[str], by_finding: Csr, postings: Csr, family_postings: Csr) -> None:
        self.keys = list(keys)  # concept keys, numbered
        self.families = list(families)  # family names, numbered
        self.by_finding = by_finding  # position → concept numbers
        self._postings = {k: postings.row(i) for i, k in enumerate(self.keys)}
        self._family_postings = {f: family_postings.row(i) for i, f in enumerate(self.families)}
        self.postings_csr = postings
        self.family_postings_csr = family_postings

    @classmethod
    def of(cls, concepts: Sequence[Sequence[str]], family_of: Mapping[str, str]) -> ConceptTable:
        """From each finding's concept keys (those unknown to ``family_of`` dropped)."""
        keys: dict[str, int] = {}
        rows = [[keys.setdefault(c, len(keys)) for c in row if c in family_of] for row in concepts]
        names = list(keys)
        family_numbers: dict[str, int] = {}
        concept_family = [family_numbers.setdefault(family_of[k], len(family_numbers)) for k in names]
        postings: list[list[int]] = [[] for _ in names]
        family_postings: list[list[int]] = [[] for _ in family_numbers]
        for pos, row in enumerate(rows):
            for number in row:
                postings[number].append(pos)
            for fam in dict.fromkeys(concept_family[n] for n in row):
                family_postings[fam].append(pos)
        return cls(names, list(family_numbers), Csr.of(rows, np.int32), Csr.of(postings), Csr.of(family_postings))

    def of_finding(self, position: int) -> tuple[str, ...]:
        return tuple(self.keys[int(n)] for n in self.by_finding.row(position))

    def postings(self, concept: str) -> np.ndarray | None:
        return self._postings.get(concept)

    def family_postings(self, family: str) -> np.ndarray:
        return self._family_postings.get(family, _NONE)

    def counts(self) -> dict[str, int]:
        """Findings holding each concept (the concept weights' document frequencies)."""
        return {k: int(p.shape[0]) for k, p in self._postings.items()}
