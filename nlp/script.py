"""The analysis form of a text: Simplified script, pinyin glosses removed, offsets kept.

Real 巡察 texts reach the library as Traditional-script mirror copies (區委巡察組), some with pinyin
glosses typed inside words (區(qū)委, 嚴(yán)肅). Segmentation, the concept thesaurus, BM25 and the
embedder all work on Simplified text, but what is stored and shown stays what the report says. So
the pipeline analyses :func:`analysis_form` of a text and maps any span found there back to the
original with :attr:`AnalysisText.to_original`.

Conversion is OpenCC's ``t2s`` (phrase-aware Traditional → Simplified). It is applied only to the
runs of characters that need it and, where a phrase conversion would change a run's length, char by
char instead, so every converted character still stands on one original character.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

_TONED = "āáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜü"
# a pinyin gloss right after a CJK character: 區(qū), 嚴（yán）, 紀(jì)委 — tone marks make it unambiguous;
# toneless Latin in brackets after a character (PDF(pypdfium)) is left alone
PINYIN_GLOSS = re.compile(rf"(?<=[\u3400-\u9fff])[(（][a-zü{_TONED}]*[{_TONED}][a-zü{_TONED}]*[)）]")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")
# One toneless pinyin syllable (initial + final) in brackets after a character: 領(ling) where OCR lost
# the tone mark. Stripped only in a text that carries toned glosses already (a mirror copy), so Latin
# in brackets in an ordinary report is never taken for a gloss.
_SYLLABLE = r"(?:zh|ch|sh|[bpmfdtnlgkhjqxrzcsyw])?(?:iang|iong|uang|ueng|ang|eng|ing|ong|ian|iao|uai|uan|van|üan|ai|ei|ao|ou|an|en|er|ia|ie|iu|in|ua|uo|ui|un|ve|üe|ün|a|o|e|i|u|ü|v)"
TONELESS_GLOSS = re.compile(rf"(?<=[\u3400-\u9fff])[(（]{_SYLLABLE}[)）]")
MIN_TONED_GLOSSES = 3

_converter_lock = threading.Lock()


@dataclass(frozen=True)
class AnalysisText:
    """``text`` is the analysis form; ``to_original[i]`` the offset in the original of ``text[i]``
    (with one extra entry for the end)."""

    text: str
    to_original: tuple[int, ...]

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """The original span of ``text[start:end]``."""
        if end <= start:
            return self.to_original[start], self.to_original[start]
        return self.to_original[start], self.to_original[end - 1] + 1


@lru_cache(maxsize=1)
def _opencc() -> Any:
    import opencc

    return opencc.OpenCC("t2s")


def to_simplified(text: str) -> str:
    """Traditional → Simplified, same length as ``text`` (characters stay where they were)."""
    if not text or not _CJK.search(text):
        return text
    converter = _opencc()
    with _converter_lock:  # one converter per process; OpenCC objects are not documented thread-safe
        converted = converter.convert(text)
        if len(converted) == len(text):
            return str(converted)
        return "".join(c if len(c := converter.convert(ch)) == 1 else ch for ch in text)


def strip_glosses(text: str) -> tuple[str, list[int]]:
    """``text`` without pinyin glosses, and for each kept character its original offset."""
    keep: list[int] = []
    out: list[str] = []
    last = 0
    glosses = list(PINYIN_GLOSS.finditer(text))
    if len(glosses) >= MIN_TONED_GLOSSES:
        glosses = sorted(glosses + list(TONELESS_GLOSS.finditer(text)), key=lambda m: m.start())
    for m in glosses:
        out.append(text[last : m.start()])
        keep.extend(range(last, m.start()))
        last = m.end()
    out.append(text[last:])
    keep.extend(range(last, len(text)))
    return "".join(out), keep


def analysis_form(text: str) -> AnalysisText:
    """The Simplified, gloss-free form of ``text`` with its offset map."""
    stripped, keep = strip_glosses(text)
    return AnalysisText(to_simplified(stripped), tuple(keep) + (len(text),))


def simplified(text: str) -> str:
    """Just the analysis form's text (for embedding, segmentation and matching)."""
    return analysis_form(text).text if text else text
