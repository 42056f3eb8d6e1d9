"""Statistical tagging: word and character n-gram TF-IDF with one calibrated linear model per label.

Why per label (one-vs-rest) even for single-label schemes: analysts' labels arrive a few at a time,
some labels have only a handful of examples, and a binary model per label can be trained as soon as
that label has enough positives, while the others stay lexicon-only. Single-label schemes rank the
per-label probabilities.

A model is stored as ``tagger.joblib`` (the fitted objects) next to ``tagger.json`` (version,
training-data hash, taxonomy hash, sizes and held-out scores), so a deployment can always say which
data a tag came from.
"""

from __future__ import annotations

import hashlib
import json
import logging
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from nlp.segment import content_tokens, make_segmenter
from nlp.tagging.lexicon import Evidence

MODEL_FILE = "tagger.joblib"
META_FILE = "tagger.json"
MIN_POSITIVES = 3  # a label with fewer positive examples gets no classifier (the lexicon still tags it)


def segment_tokens(text: str) -> list[str]:
    """Content tokens for the word-level vectorizer (module-level so fitted models pickle by reference)."""
    return content_tokens(make_segmenter("auto"), text)


@dataclass
class Example:
    """One labelled finding: scheme id -> label names (one for single-label schemes)."""

    text: str
    labels: dict[str, list[str]]


def examples_from_rows(rows: list[dict[str, Any]], schemes: list[str]) -> list[Example]:
    """Rows of a labels JSONL file (``{"text", "<scheme>": label | [labels]}``) to examples."""
    out = []
    for row in rows:
        labels: dict[str, list[str]] = {}
        for scheme in schemes:
            value = row.get(scheme)
            if value is None:
                continue
            labels[scheme] = [value] if isinstance(value, str) else [v for v in value if isinstance(v, str)]
        if row.get("text") and labels:
            out.append(Example(text=str(row["text"]), labels=labels))
    return out


def data_hash(examples: list[Example]) -> str:
    """sha256 over the sorted examples: the same data in any order gives the same hash."""
    lines = sorted(json.dumps([e.text, sorted((k, sorted(v)) for k, v in e.labels.items())], ensure_ascii=False) for e in examples)
    return hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()


@dataclass
class TagClassifier:
    """Fitted vectorizers and per-(scheme, label) calibrated models."""

    vectorizer: Any = None
    word_vectorizer: Any = None
    models: dict[str, dict[str, Any]] = field(default_factory=dict)  # scheme -> label -> model
    explainers: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)  # scheme -> label -> token weight
    meta: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def fit(cls, examples: list[Example], schemes: dict[str, list[str]]) -> TagClassifier:
        from sklearn.calibration import CalibratedClassifierCV
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import FeatureUnion

        texts = [e.text for e in examples]
        word = TfidfVectorizer(tokenizer=segment_tokens, token_pattern=None, lowercase=False, ngram_range=(1, 2), sublinear_tf=True, min_df=1)
        char = TfidfVectorizer(analyzer="char", ngram_range=(2, 3), sublinear_tf=True, min_df=1)
        union = FeatureUnion([("word", word), ("char", char)])
        X = union.fit_transform(texts)
        word_names = list(union.transformer_list[0][1].get_feature_names_out())
        clf = cls(vectorizer=union, word_vectorizer=None)
        for scheme, names in schemes.items():
            for name in names:
                y = np.array([1 if name in e.labels.get(scheme, []) else 0 for e in examples])
                labelled = np.array([scheme in e.labels for e in examples])
                pos, neg = int(y[labelled].sum()), int((1 - y[labelled]).sum())
                if pos < MIN_POSITIVES or neg < MIN_POSITIVES:
                    continue
                Xs, ys = X[labelled], y[labelled]
                base = LogisticRegression(C=4.0, class_weight="balanced", max_iter=2000)
                folds = min(3, pos, neg)
                model = CalibratedClassifierCV(base, method="sigmoid", cv=folds)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    model.fit(Xs, ys)
                clf.models.setdefault(scheme, {})[name] = model
                coefs = np.mean([c.estimator.coef_[0] for c in model.calibrated_classifiers_], axis=0)
                top = np.argsort(coefs[: len(word_names)])[::-1][:200]
                clf.explainers.setdefault(scheme, {})[name] = {
                    word_names[i]: float(coefs[i]) for i in top if coefs[i] > 0
                }
        return clf

    def predict(self, texts: list[str]) -> list[dict[str, dict[str, float]]]:
        """For each text: scheme -> label -> calibrated probability (labels without a model absent)."""
        if not texts or self.vectorizer is None:
            return [{} for _ in texts]
        X = self.vectorizer.transform(texts)
        out: list[dict[str, dict[str, float]]] = [{} for _ in texts]
        for scheme, models in self.models.items():
            for name, model in models.items():
                probs = model.predict_proba(X)[:, 1]
                for i, p in enumerate(probs):
                    out[i].setdefault(scheme, {})[name] = float(p)
        return out

    def explain(self, text: str, scheme: str, label: str, limit: int = 3) -> list[Evidence]:
        """Words of ``text`` that pushed the model towards ``label`` most (its evidence)."""
        weights = self.explainers.get(scheme, {}).get(label, {})
        found: list[tuple[float, Evidence]] = []
        for token, weight in weights.items():
            phrase = token.replace(" ", "")
            start = text.find(phrase)
            if start >= 0 and len(phrase) >= 2:
                found.append((weight, Evidence(phrase, start, start + len(phrase), source="classifier")))
        found.sort(key=lambda t: -t[0])
        chosen: list[Evidence] = []
        for _, ev in found:
            if not any(ev.start < c.end and c.start < ev.end for c in chosen):
                chosen.append(ev)
            if len(chosen) >= limit:
                break
        return sorted(chosen, key=lambda e: e.start)

    def save(self, directory: Path) -> None:
        import joblib

        directory.mkdir(parents=True, exist_ok=True)
        tmp = directory / (MODEL_FILE + ".tmp")
        joblib.dump({"vectorizer": self.vectorizer, "models": self.models, "explainers": self.explainers}, tmp, compress=3)
        tmp.replace(directory / MODEL_FILE)  # atomic: a crash never leaves half a model
        (directory / META_FILE).write_text(json.dumps(self.meta, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, directory: Path) -> TagClassifier | None:
        """The stored model, or None when there is none (the lexicon then tags alone)."""
        path = directory / MODEL_FILE
        if not path.exists():
            return None
        import joblib

        try:
            data = joblib.load(path)
        except Exception as exc:  # a model from another scikit-learn release, or a damaged file
            logging.getLogger(__name__).warning("分类模型无法加载（%s），仅使用词典标注：%s", path, exc)
            return None
        meta_path = directory / META_FILE
        meta = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.exists() else {}
        return cls(vectorizer=data["vectorizer"], models=data["models"], explainers=data["explainers"], meta=meta)
