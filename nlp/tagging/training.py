"""Train the tag classifier and replace the stored model only when it is no worse.

Labels come from analysts (JSONL rows ``{"text", "focus": "…", "livelihood": [...], …}``), from the
bundled ``corpora/training/sample_labels.jsonl``, and — where no analyst label exists — from
confident lexicon tags on the sample corpus (bootstrapping, training split only).

A fixed share of the labelled rows, chosen by a hash of their text so it never moves between runs,
is held out as the dev split. The candidate tagger (lexicon + new classifier) and the current one
(lexicon + stored classifier, or the lexicon alone when nothing is stored) are scored on that same
split; the candidate is written only if its mean score over the schemes is not lower.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from nlp.errors import XunchaError
from nlp.tagging.classifier import Example, TagClassifier, data_hash, examples_from_rows
from nlp.tagging.combine import Tagger
from nlp.taxonomy import Taxonomy

BUNDLED_LABELS = Path(__file__).resolve().parents[2] / "corpora" / "training" / "sample_labels.jsonl"
DEV_SHARE = 5  # one row in five is held out
BOOTSTRAP_MIN_SCORE = 0.85


class LabelsFileError(XunchaError):
    code = "bad_labels_file"
    default_message = "标注文件格式错误"


def read_label_rows(path: Path, taxonomy: Taxonomy) -> list[dict[str, Any]]:
    """Rows of a labels JSONL file, checked against the taxonomy (line numbers in errors)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise LabelsFileError("标注文件不存在", source=str(path)) from None
    except UnicodeDecodeError:
        raise LabelsFileError("标注文件不是 UTF-8 编码", source=str(path)) from None
    rows = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise LabelsFileError(f"第 {number} 行不是合法 JSON（{exc.msg}）", source=str(path)) from None
        if not isinstance(row, dict) or not isinstance(row.get("text"), str) or not row["text"].strip():
            raise LabelsFileError(f"第 {number} 行缺少 text", source=str(path))
        for scheme_id, scheme in taxonomy.schemes.items():
            value = row.get(scheme_id)
            values = [value] if isinstance(value, str) else value or []
            unknown = [v for v in values if v not in scheme.names]
            if unknown:
                raise LabelsFileError(
                    f"第 {number} 行方案 {scheme_id} 的标签不在分类体系中：{'、'.join(map(str, unknown))}", source=str(path)
                )
        rows.append(row)
    return rows


def is_dev(text: str) -> bool:
    return int(hashlib.sha1(text.encode("utf-8")).hexdigest(), 16) % DEV_SHARE == 0


def score_tagger(tagger: Tagger, examples: list[Example]) -> dict[str, float]:
    """Per scheme: macro-F1 of the top label (single-label) or micro-F1 of the label sets (multi-label),
    over the examples labelled for that scheme; "mean" is their average."""
    results = tagger.tag_texts([e.text for e in examples])
    scores: dict[str, float] = {}
    for scheme_id, scheme in tagger.taxonomy.schemes.items():
        pairs = [(e.labels[scheme_id], r.get(scheme_id, [])) for e, r in zip(examples, results, strict=True) if scheme_id in e.labels]
        if not pairs:
            continue
        if scheme.multi_label:
            tp = fp = fn = 0
            for gold, pred in pairs:
                g, p = set(gold), {row["label"] for row in pred}
                tp, fp, fn = tp + len(g & p), fp + len(p - g), fn + len(g - p)
            scores[scheme_id] = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 1.0
        else:
            f1s = []
            for name in {g for gold, _ in pairs for g in gold}:
                tp = sum(1 for gold, pred in pairs if name in gold and pred and pred[0]["label"] == name)
                fp = sum(1 for gold, pred in pairs if name not in gold and pred and pred[0]["label"] == name)
                fn = sum(1 for gold, pred in pairs if name in gold and not (pred and pred[0]["label"] == name))
                f1s.append(2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0)
            scores[scheme_id] = sum(f1s) / len(f1s)
    scores["mean"] = sum(scores.values()) / len(scores) if scores else 0.0
    return scores


def bootstrap_examples(texts: list[str], taxonomy: Taxonomy, known: set[str]) -> list[Example]:
    """Pseudo-labels from confident lexicon tags for findings no analyst has labelled."""
    lexicon_only = Tagger(taxonomy)
    out = []
    for text, tags in zip(texts, lexicon_only.tag_texts(texts), strict=True):
        if text in known or is_dev(text):
            continue
        labels = {
            sid: [row["label"] for row in rows[: 1 if not taxonomy.schemes[sid].multi_label else None] if row["score"] >= BOOTSTRAP_MIN_SCORE]
            for sid, rows in tags.items()
        }
        labels = {k: v for k, v in labels.items() if v}
        if labels:
            out.append(Example(text, labels))
    return out


@dataclass
class TrainReport:
    replaced: bool
    reason: str
    candidate: dict[str, float]
    current: dict[str, float]
    n_train: int
    n_dev: int
    n_bootstrap: int
    version: str
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def train(
    taxonomy: Taxonomy,
    label_rows: list[dict[str, Any]],
    model_dir: Path,
    *,
    bootstrap_texts: list[str] | None = None,
    force: bool = False,
) -> TrainReport:
    schemes = {sid: s.names for sid, s in taxonomy.schemes.items()}
    by_text: dict[str, Example] = {}
    for example in examples_from_rows(label_rows, list(schemes)):
        by_text[example.text] = example  # later rows (the analyst's file) override earlier ones
    labelled = list(by_text.values())
    dev = [e for e in labelled if is_dev(e.text)]
    train_set = [e for e in labelled if not is_dev(e.text)]
    boot = bootstrap_examples(bootstrap_texts or [], taxonomy, set(by_text)) if bootstrap_texts else []
    if len(train_set) + len(boot) < 10:
        raise LabelsFileError(f"可用于训练的标注太少（{len(train_set)} 条），至少需要 10 条")
    candidate = TagClassifier.fit(train_set + boot, schemes)
    current = TagClassifier.load(model_dir)
    cand_scores = score_tagger(Tagger(taxonomy, candidate), dev) if dev else {"mean": 0.0}
    curr_scores = score_tagger(Tagger(taxonomy, current), dev) if dev else {"mean": 0.0}
    digest = data_hash(train_set + boot)
    version = f"tagger-{datetime.now(UTC):%Y%m%d%H%M%S}-{digest[:8]}"
    candidate.meta = {
        "version": version,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "training_data_sha256": digest,
        "taxonomy_sha256": hashlib.sha256(Path(taxonomy.path).read_bytes()).hexdigest() if taxonomy.path else None,
        "n_train": len(train_set),
        "n_bootstrap": len(boot),
        "n_dev": len(dev),
        "dev_scores": cand_scores,
        "replaced_model": current.meta.get("version") if current else None,
        "labels_with_model": {s: sorted(m) for s, m in candidate.models.items()},
    }
    better = cand_scores["mean"] >= curr_scores["mean"] - 1e-9
    if better or force:
        candidate.save(model_dir)
        reason = "forced" if force and not better else "candidate scores no worse on the dev split"
    else:
        reason = "candidate scores worse on the dev split; the stored model is kept"
    return TrainReport(
        replaced=better or force,
        reason=reason,
        candidate=cand_scores,
        current=curr_scores,
        n_train=len(train_set),
        n_dev=len(dev),
        n_bootstrap=len(boot),
        version=version,
        meta=candidate.meta,
    )
