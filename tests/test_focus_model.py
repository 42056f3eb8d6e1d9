"""The learned focus model: its probabilities decide the focus, the rules' evidence stays, a low answer
is flagged, an embedder it was not trained with is refused, and training holds documents out."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from nlp.concepts import default_thesaurus
from nlp.tagging.combine import Tagger, make_tagger
from nlp.tagging.focus_model import FocusModel, rule_focus_scores
from nlp.tagging.focus_training import (
    REAL_LABELS,
    FocusTrainingError,
    expected_calibration_error,
    train_focus_model,
)
from nlp.taxonomy import default_taxonomy
from service.cli.main import app as cli

LABELS = ["党的领导", "党的建设", "全面从严治党"]


class KeywordEmbedder:
    """Deterministic 3-d vectors: one axis per focus, set by a marker word (so a model fitted on
    them has an answer the rules do not share)."""

    name = "keyword-test"
    dim = 3

    def embed(self, texts):
        out = np.full((len(texts), 3), 0.01, dtype=np.float32)
        for i, text in enumerate(texts):
            for axis, word in enumerate(("甲类", "乙类", "丙类")):
                if word in text:
                    out[i, axis] = 1.0
        return out / np.linalg.norm(out, axis=1, keepdims=True)


def fitted_keyword_model(rules: Tagger) -> FocusModel:
    texts = [f"{word}事项{i}" for i in range(12) for word in ("甲类", "乙类", "丙类")]
    gold = [LABELS[i % 3] for i in range(len(texts))]
    vectors = KeywordEmbedder().embed(texts)
    scores = np.array([rule_focus_scores(t, LABELS) for t in rules.tag_texts(texts)])
    return FocusModel.fit(vectors, scores, gold, LABELS, KeywordEmbedder.name)


@pytest.fixture(scope="module")
def rules() -> Tagger:
    return Tagger(default_taxonomy(), thesaurus=default_thesaurus())


def test_focus_model_probabilities_replace_the_rule_scores_and_keep_their_evidence(rules: Tagger):
    model = fitted_keyword_model(rules)
    tagger = Tagger(default_taxonomy(), thesaurus=default_thesaurus(), focus_model=model, embedder=KeywordEmbedder())
    text = "丙类：违规发放津补贴"
    ruled = rules.tag(text, offset=5)["focus"][0]
    tags = tagger.tag(text, offset=5)["focus"]
    assert tags[0]["label"] == "全面从严治党" and tags[0]["source"] == ruled["source"] + "+model"
    assert tags[0]["evidence"] == ruled["evidence"] and tags[0]["evidence"]  # the rules' spans, shifted
    assert 0.5 <= tags[0]["score"] <= 1.0 and "review" not in tags[0]
    assert [r["score"] for r in tags] == sorted((r["score"] for r in tags), reverse=True)


def test_focus_model_flags_an_answer_it_is_unsure_of(rules: Tagger):
    model = fitted_keyword_model(rules)
    tagger = Tagger(default_taxonomy(), thesaurus=default_thesaurus(), focus_model=model, embedder=KeywordEmbedder())
    vague = tagger.tag("某项工作还有差距")["focus"]  # no marker, no cue
    assert len(vague) >= 1 and vague[0]["score"] < 0.5 and vague[0]["review"] is True


def test_focus_model_refuses_vectors_of_another_embedder(rules: Tagger, caplog):
    model = fitted_keyword_model(rules)

    class Other(KeywordEmbedder):
        name = "another-model"

    tagger = Tagger(default_taxonomy(), thesaurus=default_thesaurus(), focus_model=model, embedder=Other())
    with caplog.at_level(logging.WARNING):
        tags = tagger.tag("丙类：违规发放津补贴")["focus"]
    assert "model" not in tags[0]["source"] and "仅使用规则标注" in caplog.text
    assert tags == rules.tag("丙类：违规发放津补贴")["focus"]


def test_focus_model_round_trips_through_its_files(rules: Tagger, tmp_path: Path):
    model = fitted_keyword_model(rules)
    model.meta = {"version": "focus-test"}
    model.save(tmp_path)
    loaded = FocusModel.load(tmp_path)
    assert loaded is not None and loaded.labels == LABELS and loaded.embedder == "keyword-test"
    vectors = KeywordEmbedder().embed(["乙类问题"])
    assert np.allclose(loaded.predict_proba(vectors, np.zeros((1, 3))), model.predict_proba(vectors, np.zeros((1, 3))))
    (tmp_path / "focus_model.joblib").write_bytes(b"not a model")
    assert FocusModel.load(tmp_path) is None  # a damaged file: the rules answer, nothing crashes


def test_the_bundled_tagger_answers_focus_with_the_learned_model():
    tagger = make_tagger()
    assert tagger.focus_model is not None and tagger.focus_model.meta["n_rows"] >= 200
    tags = tagger.tag("党组落实全面从严治党主体责任不到位，对下属单位监督管理不严")["focus"]
    assert tags[0]["label"] == "全面从严治党" and "model" in tags[0]["source"]
    assert 0.5 <= tags[0]["score"] <= 1.0


def test_training_needs_enough_documents_and_labels(rules: Tagger, tmp_path: Path):
    rows = [{"text": f"甲类事项{i}", "focus": "党的领导", "doc": "a"} for i in range(10)]
    with pytest.raises(FocusTrainingError) as err:
        train_focus_model(rows, rules, KeywordEmbedder(), tmp_path)
    assert "聚焦标注太少" in err.value.message and not (tmp_path / "focus_model.joblib").exists()


def test_training_holds_whole_documents_out_and_stores_a_model_that_helps(rules: Tagger, tmp_path: Path):
    # the marker word decides the focus, the text carries no cue: only a learned model can get it right
    rows = [
        {"text": f"{word}事项第{i}项", "focus": LABELS[k], "doc": f"d{i % 8}"}
        for i in range(24) for k, word in enumerate(("甲类", "乙类", "丙类"))
    ]
    report = train_focus_model(rows, rules, KeywordEmbedder(), tmp_path)
    assert report.n_documents == 8 and report.n_rows == 72
    assert report.cv["macro_f1"] > 0.9 > report.rules_cv["macro_f1"]
    assert report.stored and (tmp_path / "focus_model.json").exists()
    meta = json.loads((tmp_path / "focus_model.json").read_text(encoding="utf-8"))
    assert meta["embedder"] == "keyword-test" and meta["grouped_cv"]["macro_f1"] == report.cv["macro_f1"]


def test_expected_calibration_error_is_zero_when_confidence_matches_accuracy():
    probs = np.array([[0.75, 0.25]] * 4)
    assert expected_calibration_error(probs, np.array([0, 0, 0, 1])) == pytest.approx(0.0)
    assert expected_calibration_error(probs, np.array([1, 1, 1, 1])) == pytest.approx(0.75)


def test_xuncha_train_learns_focus_from_the_real_labels(tmp_path: Path):
    model_dir = tmp_path / "model"
    result = CliRunner().invoke(
        cli, ["train", "--labels", str(REAL_LABELS), "--no-bundled", "--no-bootstrap", "--no-confirmed",
              "--model-dir", str(model_dir), "--format", "json"],
    )
    assert result.exit_code == 0, result.stderr
    focus = json.loads(result.stdout)["focus_model"]
    assert focus["n_rows"] >= 200 and focus["n_documents"] >= 20
    # across held-out documents the learned focus does at least as well as the rules (the real claim)
    assert focus["stored"] is True and focus["cv"]["macro_f1"] >= focus["rules_cv"]["macro_f1"]
    assert focus["heldout"]["n"] > 100 and (model_dir / "focus_model.joblib").exists()
