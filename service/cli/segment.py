"""`xuncha segment`: show how the domain segmenter cuts a text (to check the user dictionary)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from nlp.segment import content_tokens, make_segmenter
from service.cli.output import print_json, stdout


class SegmenterChoice(StrEnum):
    AUTO = "auto"
    JIEBA = "jieba"
    RJIEBA = "rjieba"
    HANLP = "hanlp"


def segment_text(
    text: str, backend: SegmenterChoice, model_path: Path | None, content_only: bool
) -> list[str]:
    segmenter = make_segmenter(backend.value, model_path=model_path)
    return content_tokens(segmenter, text) if content_only else segmenter.cut(text)


def render_tokens(tokens: list[str], as_json: bool) -> None:
    if as_json:
        print_json(tokens)
    else:
        stdout.print(" / ".join(tokens), markup=False, highlight=False)
