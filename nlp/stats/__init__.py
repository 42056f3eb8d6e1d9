"""Statistics stated in inspection reports (counts, rates, money) and their metric.

``extract_statistics(text)`` and ``aggregate_statistics(stats)`` are the public API; the number
grammar lives in ``numbers.py`` and the cue table in ``metrics.py``.
"""

from nlp.stats.extract import aggregate_statistics, extract_statistics
from nlp.stats.metrics import NAMED_METRICS, Metric
from nlp.stats.numbers import NumberMention, find_numbers

__all__ = [
    "NAMED_METRICS",
    "Metric",
    "NumberMention",
    "aggregate_statistics",
    "extract_statistics",
    "find_numbers",
]
