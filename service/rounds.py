"""The order of inspection rounds: by the committee's term, then the round's number, never the label.

十三届县委第九轮 comes before 十四届县委第一轮, and 第五轮 before 第七轮 before 第十二轮, although their
labels sort the other way as text (七 < 五 < 六). Every reader of rounds — clusters and their trends,
statistics, the summary, the web page's server-ordered lists — uses this one key.
"""

from __future__ import annotations

import re

from nlp.cluster import round_order
from nlp.numerals import parse_int
from service.store import models

_TERM = re.compile(r"([0-9零〇一二两三四五六七八九十百]+)届")


def term_number(term: str | None) -> int | None:
    """The number of a committee term as stored with a round (十四届县委 → 14), or None."""
    m = _TERM.search(term or "")
    return parse_int(m.group(1)) if m else None


def round_key(inspection_round: models.InspectionRound | None) -> tuple[int, int, int, str]:
    """Sort key of a stored round (no round last)."""
    if inspection_round is None:
        return round_order(None, None)
    return round_order(inspection_round.label, inspection_round.number, term_number(inspection_round.term))
