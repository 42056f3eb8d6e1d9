"""Category tags for findings, each with a score and the evidence that supports it.

Two signals: ``lexicon`` (cue phrases from the taxonomy, exact and explainable) and ``classifier``
(TF-IDF + calibrated linear models trained from analysts' labels); ``combine`` merges them into the
``tags`` of a finding. Training and model replacement live in ``training``.
"""

from nlp.tagging.combine import Tagger, make_tagger

__all__ = ["Tagger", "make_tagger"]
