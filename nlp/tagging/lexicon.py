"""Lexicon tagging: cue phrases from the taxonomy matched in a finding's text.

Matching is on characters, not tokens. Chinese token boundaries move with context (补贴 inside the
dictionary word 津补贴, 建设 inside 班子建设), so a token-level phrase matcher misses cues that an
analyst plainly sees; substring matching with negative cues (工程建设 is not 党的建设) is both more
complete and easier to explain. Each hit keeps its span, which becomes the tag's evidence.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from nlp.taxonomy import Scheme, Taxonomy


@dataclass(frozen=True)
class Evidence:
    text: str
    start: int
    end: int
    source: str = "lexicon"

    def to_dict(self, offset: int = 0) -> dict[str, object]:
        return {"text": self.text, "start": self.start + offset, "end": self.end + offset, "source": self.source}


@dataclass
class LabelScore:
    label: str
    score: float
    evidence: list[Evidence] = field(default_factory=list)


def cue_weight(cue: str) -> float:
    """Longer cues are more specific: 2 chars 0.55, 3 chars 0.65, 4 chars 0.75, 5+ chars 0.85."""
    return 0.35 + 0.1 * min(len(cue), 5)


def noisy_or(weights: list[float]) -> float:
    """Combine independent pieces of support: 1 - Π(1 - w)."""
    miss = 1.0
    for w in weights:
        miss *= 1.0 - w
    return 1.0 - miss


def _occurrences(text: str, phrase: str) -> list[tuple[int, int]]:
    spans = []
    start = text.find(phrase)
    while start >= 0:
        spans.append((start, start + len(phrase)))
        start = text.find(phrase, start + 1)
    return spans


class LexiconTagger:
    """Scores every label of every scheme from the cue phrases it finds."""

    def __init__(self, taxonomy: Taxonomy) -> None:
        self.taxonomy = taxonomy

    def score_scheme(self, scheme: Scheme, text: str) -> list[LabelScore]:
        """Labels with at least one cue, best first. Cues inside a negative cue do not count, and a
        cue contained in a longer cue hit of the same label is not counted twice."""
        out: list[LabelScore] = []
        for label in scheme.labels:
            blocked = [span for neg in label.negative_cues for span in _occurrences(text, neg)]
            hits: list[Evidence] = []
            for cue in sorted(set(label.cues), key=len, reverse=True):
                for start, end in _occurrences(text, cue):
                    if any(bs < end and start < be for bs, be in blocked):
                        continue
                    if any(h.start <= start and end <= h.end for h in hits):
                        continue
                    hits.append(Evidence(cue, start, end))
            if hits:
                hits.sort(key=lambda h: h.start)
                distinct = {h.text: cue_weight(h.text) for h in hits}
                out.append(LabelScore(label.name, noisy_or(list(distinct.values())), hits))
        out.sort(key=lambda s: (-s.score, s.label))
        return out

    def score(self, text: str) -> dict[str, list[LabelScore]]:
        return {sid: self.score_scheme(scheme, text) for sid, scheme in self.taxonomy.schemes.items()}
