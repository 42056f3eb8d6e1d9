"""The e5 embedder makes every model call on one thread of its own (``nlp.embedders._EncoderThread``):
libgomp keeps an OpenMP team per calling thread, so calls from the server's many request threads
each woke a different team. Real model, real threads, a real forked child."""

from __future__ import annotations

import multiprocessing
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from nlp.embedders import _EncoderThread, make_embedder

TEXTS = ["违规发放津补贴", "村干部优亲厚友，低保评定不公开", "选人用人把关不严", "落实中央八项规定精神不到位"]


def test_calls_from_many_threads_run_on_one_encoder_thread_and_agree() -> None:
    embedder = make_embedder()
    embedder.forget_recent()  # type: ignore[attr-defined]
    alone = embedder.embed(TEXTS)
    embedder.forget_recent()  # type: ignore[attr-defined]
    seen: list[str] = []
    model = embedder._model  # type: ignore[attr-defined]
    original = model.query

    def spy(texts):  # type: ignore[no-untyped-def]
        seen.append(threading.current_thread().name)
        return original(texts)

    model.query = spy
    try:
        with ThreadPoolExecutor(8) as pool:
            rows = list(pool.map(lambda t: embedder.embed([t])[0], TEXTS))
    finally:
        del model.query
    assert len(seen) == len(TEXTS) and set(seen) == {"xuncha-e5"}
    assert np.allclose(np.stack(rows), alone, atol=1e-6)


def test_an_error_in_the_model_call_is_raised_in_the_caller_and_the_thread_goes_on() -> None:
    encoder = _EncoderThread()

    def fail(_: object) -> None:
        raise ValueError("坏输入")

    with pytest.raises(ValueError, match="坏输入"):
        encoder.run(fail, None)
    assert encoder.run(len, [1, 2, 3]) == 3


def _child(queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    embedder = make_embedder()
    embedder.forget_recent()  # type: ignore[attr-defined]
    queue.put(embedder.embed(TEXTS[:1])[0].tolist())


def test_a_forked_child_starts_its_own_encoder_thread() -> None:
    parent = make_embedder()
    parent.embed(TEXTS[:1])  # the parent's encoder thread is running; a fork does not copy it
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_child, args=(queue,))
    child.start()
    vector = queue.get(timeout=120)
    child.join(timeout=60)
    assert child.exitcode == 0
    parent.forget_recent()  # type: ignore[attr-defined]
    assert np.allclose(vector, parent.embed(TEXTS[:1])[0], atol=1e-6)
