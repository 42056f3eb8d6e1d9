"""Train the focus model (``focus_model.py``) and say, on documents it was not fitted on, what it adds.

Rows are real labelled findings ``{"text", "focus", "doc"?, "set"?}``: the bundled
``corpora/training/real_labels.jsonl`` (the real dev sets) and analysts' confirmed tags. Scores are
measured by document-grouped cross-validation (all findings of one document are held out together,
so a document's wording never helps score itself) and, when given, on a separate held-out set. The
candidate is stored only when its cross-validated macro-F1 is not below the rules' own on the same
rows — a model that adds nothing is not shipped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from nlp.embedders import Embedder
from nlp.errors import XunchaError
from nlp.normalize import fold_text
from nlp.tagging.combine import Tagger
from nlp.tagging.focus_model import FocusModel, rows_hash, rule_focus_scores

REAL_LABELS = Path(__file__).resolve().parents[2] / "corpora" / "training" / "real_labels.jsonl"
FOLDS = 6
REVIEW_BELOW = 0.5


class FocusTrainingError(XunchaError):
    code = "focus_training_failed"
    default_message = "聚焦模型训练失败"


@dataclass
class FocusReport:
    stored: bool
    reason: str
    n_rows: int
    n_documents: int
    cv: dict[str, float]
    rules_cv: dict[str, float]
    heldout: dict[str, float] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def _macro_f1(gold: list[str], predicted: list[str], labels: list[str]) -> float:
    from sklearn.metrics import f1_score

    return float(f1_score(gold, predicted, labels=labels, average="macro", zero_division=0))


def expected_calibration_error(probabilities: np.ndarray, gold: np.ndarray, bins: int = 10) -> float:
    """How far the best label's probability is from how often it is right (10 equal-width bins)."""
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == gold
    error = 0.0
    for b in range(bins):
        in_bin = (confidence > b / bins) & (confidence <= (b + 1) / bins)
        if in_bin.any():
            error += float(in_bin.mean()) * abs(float(correct[in_bin].mean()) - float(confidence[in_bin].mean()))
    return error


def _review_figures(probabilities: np.ndarray, gold: np.ndarray) -> dict[str, float]:
    low = probabilities.max(axis=1) < REVIEW_BELOW
    correct = probabilities.argmax(axis=1) == gold
    return {
        "review_share": float(low.mean()),
        "accuracy_flagged": float(correct[low].mean()) if low.any() else 0.0,
        "accuracy_unflagged": float(correct[~low].mean()) if (~low).any() else 0.0,
    }


def train_focus_model(
    rows: list[dict[str, Any]],
    rules: Tagger,
    embedder: Embedder,
    model_dir: Path,
    *,
    heldout: list[dict[str, Any]] | None = None,
    force: bool = False,
) -> FocusReport:
    """Fit, score (grouped CV, held-out) and store the focus model. ``rules`` is the rule tagger whose
    scores are features (it must not itself carry a focus model)."""
    from sklearn.model_selection import GroupKFold

    labels = list(rules.taxonomy.schemes["focus"].names)
    by_text: dict[str, dict[str, Any]] = {}
    for row in rows:
        if isinstance(row.get("focus"), str) and row["focus"] in labels and str(row.get("text", "")).strip():
            by_text[fold_text(row["text"])] = row  # a later row (an analyst's confirmation) overrides an earlier one
    usable = list(by_text.values())
    groups = [f"{r.get('set', '')}/{r.get('doc') or r['text']}" for r in usable]
    if len(set(groups)) < FOLDS or any(sum(1 for r in usable if r["focus"] == label) < 5 for label in labels):
        raise FocusTrainingError(f"聚焦标注太少（{len(usable)} 条，{len(set(groups))} 篇），每个聚焦至少 5 条、至少 {FOLDS} 篇文档")
    texts = list(by_text)  # in the width-folded form the pipeline tags
    gold = [r["focus"] for r in usable]
    y = np.array([labels.index(g) for g in gold])
    vectors = embedder.embed(texts)
    rule_scores = np.array([rule_focus_scores(tags, labels) for tags in rules.tag_texts(texts)])

    cv_probs = np.zeros((len(usable), len(labels)))
    for train_idx, test_idx in GroupKFold(n_splits=FOLDS).split(vectors, y, groups):
        fold = FocusModel.fit(vectors[train_idx], rule_scores[train_idx], [gold[i] for i in train_idx], labels, embedder.name)
        cv_probs[test_idx] = fold.predict_proba(vectors[test_idx], rule_scores[test_idx])
    rule_pred = [labels[int(i)] for i in rule_scores.argmax(axis=1)]
    cv = {
        "macro_f1": _macro_f1(gold, [labels[int(i)] for i in cv_probs.argmax(axis=1)], labels),
        "ece": expected_calibration_error(cv_probs, y),
        **_review_figures(cv_probs, y),
    }
    rules_cv = {"macro_f1": _macro_f1(gold, rule_pred, labels)}

    model = FocusModel.fit(vectors, rule_scores, gold, labels, embedder.name)
    held: dict[str, float] = {}
    if heldout:
        h_rows = [r for r in heldout if r.get("focus") in labels]
        h_texts = [fold_text(r["text"]) for r in h_rows]
        h_rules = np.array([rule_focus_scores(tags, labels) for tags in rules.tag_texts(h_texts)])
        h_probs = model.predict_proba(embedder.embed(h_texts), h_rules)
        h_gold = [r["focus"] for r in h_rows]
        held = {
            "n": float(len(h_rows)),
            "macro_f1": _macro_f1(h_gold, [labels[int(i)] for i in h_probs.argmax(axis=1)], labels),
            "rules_macro_f1": _macro_f1(h_gold, [labels[int(i)] for i in h_rules.argmax(axis=1)], labels),
        }
    digest = rows_hash(texts, gold)
    model.meta = {
        "version": f"focus-{datetime.now(UTC):%Y%m%d%H%M%S}-{digest[:8]}",
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "embedder": embedder.name,
        "labels": labels,
        "training_data_sha256": digest,
        "n_rows": len(usable),
        "n_documents": len(set(groups)),
        "grouped_cv": cv,
        "rules_grouped_cv": rules_cv,
        "heldout": held,
    }
    adds = cv["macro_f1"] >= rules_cv["macro_f1"] - 1e-9
    if adds or force:
        model.save(model_dir)
        reason = "forced" if force and not adds else "cross-validated macro-F1 not below the rules'"
    else:
        reason = "cross-validated macro-F1 below the rules'; not stored"
    return FocusReport(
        stored=adds or force, reason=reason, n_rows=len(usable), n_documents=len(set(groups)),
        cv=cv, rules_cv=rules_cv, heldout=held, meta=model.meta,
    )
