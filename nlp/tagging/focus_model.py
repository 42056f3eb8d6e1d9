"""The focus (三个聚焦) decision learned from real labelled findings, on top of the rule signals.

Why a second stage: the cue lexicon and the concept families (``combine.py``) are direct evidence but
were written by hand; on real texts they disagree with how offices file borderline problems (两个责任,
意识形态, a bureau's own regulatory job). A multinomial logistic regression over

    [the finding's sentence vector (the stored e5 representation, 384-d), the rule tagger's score for
     each of the three focuses]

learns those conventions from real labelled findings (``corpora/training/real_labels.jsonl``: the
project's real dev sets, plus analysts' confirmed tags) while keeping the rules as features. Measured
with document-grouped 6-fold cross-validation on the 223 real labelled findings: focus macro-F1 0.895
(the rules alone 0.866 on the same texts, which they were partly written beside), and on the blind
held-out set (``evaluation/heldout``, never trained or tuned on) 0.909 against 0.874.

Its probabilities are the confidence shown to analysts: plain multinomial logistic regression was
the best calibrated of the variants tried in cross-validation (expected calibration error 0.08; Platt
and isotonic re-calibration did not improve it on 223 rows), and a finding whose best focus is
below 0.5 (12% of them) is right 38% of the time against 96% for the rest — so it is flagged for review.

The model is stored as ``focus_model.joblib`` + ``focus_model.json`` (labels, the embedder it was
trained with, data hash, scores). It is used only with vectors of that embedder; anything else and
the rule tagger answers alone.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

MODEL_FILE = "focus_model.joblib"
META_FILE = "focus_model.json"
REGULARISATION_C = 1.0  # chosen by grouped CV (0.3 / 1 / 3 / 10 → macro-F1 0.890 / 0.895 / 0.882 / 0.877)
MIN_PER_LABEL = 5


def rule_focus_scores(tags: dict[str, list[dict[str, Any]]], labels: Sequence[str]) -> list[float]:
    """The rule tagger's score for each focus label (0 where it gave none): the second half of the
    model's features, computed the same way in training and in use."""
    scores = {row["label"]: float(row["score"]) for row in tags.get("focus", [])}
    return [scores.get(label, 0.0) for label in labels]


def features(vectors: np.ndarray, rule_scores: np.ndarray) -> np.ndarray:
    return np.hstack([np.asarray(vectors, dtype=np.float64), np.asarray(rule_scores, dtype=np.float64)])


@dataclass
class FocusModel:
    labels: list[str]
    embedder: str
    model: Any
    meta: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def fit(cls, vectors: np.ndarray, rule_scores: np.ndarray, gold: Sequence[str], labels: Sequence[str], embedder: str) -> FocusModel:
        """Fit on rows of (vector, rule scores) with their gold focus; every label needs a few rows."""
        from sklearn.linear_model import LogisticRegression

        counts = {label: sum(1 for g in gold if g == label) for label in labels}
        thin = [label for label, n in counts.items() if n < MIN_PER_LABEL]
        if thin:
            raise ValueError(f"labels with fewer than {MIN_PER_LABEL} examples: {thin}")
        y = np.array([list(labels).index(g) for g in gold])
        model = LogisticRegression(C=REGULARISATION_C, max_iter=3000, class_weight="balanced")
        model.fit(features(vectors, rule_scores), y)
        return cls(labels=list(labels), embedder=embedder, model=model)

    def predict_proba(self, vectors: np.ndarray, rule_scores: np.ndarray) -> np.ndarray:
        """(n, len(labels)) probabilities, rows summing to 1."""
        if len(vectors) == 0:
            return np.zeros((0, len(self.labels)))
        return np.asarray(self.model.predict_proba(features(vectors, rule_scores)))

    def save(self, directory: Path) -> None:
        import joblib

        directory.mkdir(parents=True, exist_ok=True)
        tmp = directory / (MODEL_FILE + ".tmp")
        joblib.dump({"labels": self.labels, "embedder": self.embedder, "model": self.model}, tmp, compress=3)
        tmp.replace(directory / MODEL_FILE)  # atomic: a crash never leaves half a model
        (directory / META_FILE).write_text(json.dumps(self.meta, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, directory: Path) -> FocusModel | None:
        """The stored model, or None when there is none or it cannot be read (the rules then answer)."""
        path = directory / MODEL_FILE
        if not path.exists():
            return None
        import joblib

        try:
            data = joblib.load(path)
        except Exception as exc:  # another scikit-learn release, or a damaged file
            logging.getLogger(__name__).warning("聚焦模型无法加载（%s），仅使用规则标注：%s", path, exc)
            return None
        meta_path = directory / META_FILE
        meta = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.exists() else {}
        return cls(labels=list(data["labels"]), embedder=str(data["embedder"]), model=data["model"], meta=meta)


def rows_hash(texts: Sequence[str], gold: Sequence[str]) -> str:
    """sha256 over the sorted (text, label) pairs: the same data in any order gives the same hash."""
    lines = sorted(json.dumps([t, g], ensure_ascii=False) for t, g in zip(texts, gold, strict=True))
    return hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()
