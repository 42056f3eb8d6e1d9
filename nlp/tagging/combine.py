"""Merge lexicon, concept and classifier signals into a finding's ``tags``.

Three signals per label, combined as a noisy-OR, the classifier discounted (``CLASSIFIER_WEIGHT``, 0.35)
because it learns from few labels while a cue hit is direct evidence:
``score = 1 - (1 - lexicon) * (1 - concept) * (1 - w * classifier)``.

- lexicon: the taxonomy's cue phrases (``corpora/taxonomy.yaml``);
- concept: the family of the problem the finding leads with (the thesaurus, ``nlp/concepts.py``)
  carries a focus and a livelihood area; it votes for them with a strength that grows with the
  family's specificity (a concrete topic such as 三资 is surer evidence than a generic one such as 作风);
- classifier: TF-IDF + calibrated linear models trained on analysts' labels.

Evidence is the cue and concept spans; a label supported by the classifier alone gets as evidence the
words of the finding that weigh most in its model.

Focus, last: where a learned focus model is stored (``focus_model.py``: the finding's sentence vector
and the three rule scores above → calibrated probabilities, trained on real labelled findings), its
probabilities replace the rule scores of the focus rows; the rule evidence stays and the source gains
``+model``. Without the model, or without vectors of its embedder, the rule scores answer.

Single-label schemes (focus) always answer: when no label clears ``SINGLE_MIN`` the best one is still
given, and any answer below ``REVIEW_BELOW`` carries ``"review": true`` (needs an analyst's look).

Output, per scheme, best first::

    {"label": "全面从严治党", "score": 0.83, "source": "lexicon+classifier",
     "evidence": [{"text": "违规发放", "start": 120, "end": 124, "source": "lexicon"}]}

Single-label schemes list the labels scoring at least ``SINGLE_MIN`` (the first is the answer, see
above); multi-label schemes list every label scoring at least ``MULTI_MIN``.
"""

from __future__ import annotations

import logging
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from nlp.concepts import Family, Thesaurus, default_thesaurus, lead_family
from nlp.embedders import Embedder, make_embedder
from nlp.errors import BackendUnavailableError
from nlp.model import ReportDoc
from nlp.script import analysis_form, simplified
from nlp.tagging.classifier import TagClassifier
from nlp.tagging.focus_model import FocusModel, rule_focus_scores
from nlp.tagging.lexicon import Evidence, LexiconTagger
from nlp.tagging.livelihood import adjust_livelihood, inspection_field
from nlp.taxonomy import Taxonomy, default_taxonomy, load_taxonomy

MODEL_DIR = Path(__file__).resolve().parents[2] / "models"
CLASSIFIER_WEIGHT = 0.35  # chosen on the training dev split (0.2–0.5 all beat the lexicon alone there)
SINGLE_MIN = 0.3
MULTI_MIN = 0.5
REVIEW_BELOW = 0.5
# strength of a concept family's vote for its focus, by specificity (1 generic … 3 concrete topic)
CONCEPT_FOCUS = {1: 0.55, 2: 0.75, 3: 0.85}
CONCEPT_LIVELIHOOD = 0.8
CONCEPT_SCHEMES = ("focus", "livelihood")
DOCUMENT_HEAD = 3000  # where a report says what kind of inspection it reports


def default_model_dir() -> Path:
    return Path(os.environ.get("XUNCHA_MODEL_DIR") or MODEL_DIR)


class Tagger:
    def __init__(
        self,
        taxonomy: Taxonomy,
        classifier: TagClassifier | None = None,
        classifier_weight: float = CLASSIFIER_WEIGHT,
        thesaurus: Thesaurus | None = None,
        focus_model: FocusModel | None = None,
        embedder: Embedder | None = None,
    ) -> None:
        self.taxonomy = taxonomy
        self.lexicon = LexiconTagger(taxonomy)
        self.classifier = classifier
        self.classifier_weight = classifier_weight
        self.thesaurus = thesaurus
        usable = focus_model is not None and "focus" in taxonomy.schemes and set(focus_model.labels) == set(taxonomy.schemes["focus"].names)
        self.focus_model = focus_model if usable else None
        self._embedder = embedder

    @property
    def model_version(self) -> str | None:
        return self.classifier.meta.get("version") if self.classifier else None

    def tag_texts(
        self, texts: list[str], offsets: list[int] | None = None, vectors: np.ndarray | None = None
    ) -> list[dict[str, list[dict[str, Any]]]]:
        """Tags for each text; evidence offsets are shifted by ``offsets`` (document coordinates).
        ``vectors``: the texts' sentence vectors when the caller has them (else the focus model, if
        any, embeds the texts itself)."""
        offsets = offsets or [0] * len(texts)
        probs = self.classifier.predict(texts) if self.classifier else [{} for _ in texts]
        results = [self._tag_one(t, o, p) for t, o, p in zip(texts, offsets, probs, strict=True)]
        if self.focus_model is not None and texts:
            vectors = vectors if vectors is not None else self._vectors(texts)
            if vectors is not None:
                self._apply_focus_model(texts, offsets, results, vectors)
        return results

    def _vectors(self, texts: list[str]) -> np.ndarray | None:
        """The texts' vectors from the embedder the focus model was trained with, or None (the rule
        scores then answer) when that embedder is not available here."""
        assert self.focus_model is not None
        try:
            embedder = self._embedder or make_embedder()
        except BackendUnavailableError as exc:
            logging.getLogger(__name__).warning("聚焦模型所需的向量模型不可用，仅使用规则标注：%s", exc)
            return None
        if embedder.name != self.focus_model.embedder:
            logging.getLogger(__name__).warning(
                "聚焦模型由 %s 向量训练，当前为 %s，仅使用规则标注", self.focus_model.embedder, embedder.name
            )
            return None
        return embedder.embed(texts)

    def _apply_focus_model(
        self, texts: list[str], offsets: list[int], results: list[dict[str, list[dict[str, Any]]]], vectors: np.ndarray
    ) -> None:
        """Replace the rule scores of each text's focus rows with the model's probabilities."""
        assert self.focus_model is not None
        labels = self.focus_model.labels
        rules = np.array([rule_focus_scores(tags, labels) for tags in results])
        probabilities = self.focus_model.predict_proba(vectors, rules)
        for text, offset, tags, probs in zip(texts, offsets, results, probabilities, strict=True):
            by_label = {row["label"]: row for row in tags.get("focus", [])}
            order = sorted(range(len(labels)), key=lambda i: (-probs[i], labels[i]))
            kept = [i for i in order if probs[i] >= SINGLE_MIN] or order[:1]
            rows = []
            for i in kept:
                rule = by_label.get(labels[i])
                if rule is not None:
                    source, evidence = rule["source"] + "+model", rule["evidence"]
                else:  # the model alone: its classifier words (if any) are the evidence
                    source = "model"
                    evidence = [e.to_dict(offset) for e in self.classifier.explain(text, "focus", labels[i])] if self.classifier else []
                rows.append({"label": labels[i], "score": round(float(probs[i]), 4), "source": source, "evidence": evidence})
            if rows[0]["score"] < REVIEW_BELOW:
                rows[0]["review"] = True
            tags["focus"] = rows

    def tag(self, text: str, offset: int = 0) -> dict[str, list[dict[str, Any]]]:
        return self.tag_texts([text], [offset])[0]

    def tag_document(self, doc: ReportDoc, vectors: np.ndarray | None = None) -> None:
        """Fill ``tags`` of every finding of ``doc`` (one classifier call for the whole document); the
        livelihood area also looks at the finding's unit (``nlp/tagging/livelihood.py``)."""
        results = self.tag_texts([f.text for f in doc.findings], [f.start for f in doc.findings], vectors)
        known = set(self.taxonomy.schemes["livelihood"].names) if "livelihood" in self.taxonomy.schemes else set()
        field = inspection_field(simplified(doc.text[:DOCUMENT_HEAD])) if known and self.thesaurus is not None else None
        for finding, tags in zip(doc.findings, results, strict=True):
            if self.thesaurus is not None and known:
                form = analysis_form(finding.text)

                def locate(a: int, b: int, form: Any = form, finding: Any = finding) -> dict[str, Any]:
                    start, end = form.original_span(a, b)
                    return {"text": finding.text[start:end], "start": finding.start + start, "end": finding.start + end}

                adjust_livelihood(tags, self.lead_family(finding.text), finding.unit, known, form.text, locate, field)
            finding.tags = tags

    def lead_family(self, text: str) -> Family | None:
        """The thesaurus family of the problem ``text`` leads with."""
        if self.thesaurus is None:
            return None
        form = analysis_form(text)
        family_id = lead_family(self.thesaurus.match(form.text), form.text, self.thesaurus)
        return self.thesaurus.families[family_id] if family_id else None

    def concept_votes(self, text: str) -> dict[str, dict[str, tuple[float, list[Evidence]]]]:
        """Per scheme, the labels the finding's lead concept family votes for, with strength and evidence
        (spans of that family's concepts, in ``text``'s offsets)."""
        if self.thesaurus is None:
            return {}
        form = analysis_form(text)
        hits = self.thesaurus.match(form.text)
        family_id = lead_family(hits, form.text, self.thesaurus)
        if family_id is None:
            return {}
        family = self.thesaurus.families[family_id]
        evidence = []
        for h in hits:
            if h.family == family_id:
                a, b = form.original_span(h.start, h.end)
                evidence.append(Evidence(text[a:b], a, b, source="concept"))
        votes: dict[str, dict[str, tuple[float, list[Evidence]]]] = {
            "focus": {family.focus: (CONCEPT_FOCUS[family.specificity], evidence)}
        }
        if family.livelihood:
            votes["livelihood"] = {family.livelihood: (CONCEPT_LIVELIHOOD, evidence)}
        return votes

    def _tag_one(self, text: str, offset: int, probs: dict[str, dict[str, float]]) -> dict[str, list[dict[str, Any]]]:
        lexical = self.lexicon.score(text)
        concepts = self.concept_votes(text)
        out: dict[str, list[dict[str, Any]]] = {}
        for scheme_id, scheme in self.taxonomy.schemes.items():
            lex = {s.label: s for s in lexical.get(scheme_id, [])}
            votes = concepts.get(scheme_id, {}) if scheme_id in CONCEPT_SCHEMES else {}
            clf = probs.get(scheme_id, {})
            rows: list[dict[str, Any]] = []
            for name in scheme.names:
                lex_score = lex[name].score if name in lex else 0.0
                concept_score, concept_evidence = votes.get(name, (0.0, []))
                clf_score = clf.get(name)
                if lex_score == 0.0 and concept_score == 0.0 and not clf_score:
                    continue
                score = 1.0 - (1.0 - lex_score) * (1.0 - concept_score) * (1.0 - self.classifier_weight * (clf_score or 0.0))
                if lex_score or concept_score:
                    evidence: list[Evidence] = list(lex[name].evidence) if lex_score else []
                    evidence += [e for e in concept_evidence if not any(e.start < x.end and x.start < e.end for x in evidence)]
                    evidence.sort(key=lambda e: e.start)
                    parts = [p for p, on in (("lexicon", lex_score), ("concept", concept_score)) if on]
                    if clf_score is not None and clf_score >= 0.5:
                        parts.append("classifier")
                    source = "+".join(parts)
                else:  # the classifier alone: its weightiest words in this finding are the evidence
                    evidence = self.classifier.explain(text, scheme_id, name) if self.classifier else []
                    source = "classifier"
                rows.append(
                    {
                        "label": name,
                        "score": round(score, 4),
                        "source": source,
                        "evidence": [e.to_dict(offset) for e in evidence],
                    }
                )
            rows.sort(key=lambda r: (-r["score"], r["label"]))
            floor = MULTI_MIN if scheme.multi_label else SINGLE_MIN
            kept = [r for r in rows if r["score"] >= floor]
            if not scheme.multi_label:
                kept = kept or rows[:1]  # a single-label scheme always answers …
                if kept and kept[0]["score"] < REVIEW_BELOW:
                    kept[0]["review"] = True  # … and says when the answer is weak
            if kept:
                out[scheme_id] = kept
        return out


@lru_cache(maxsize=4)
def _cached_tagger(taxonomy_path: str | None, model_dir: str) -> Tagger:
    taxonomy = load_taxonomy(taxonomy_path) if taxonomy_path else default_taxonomy()
    return Tagger(
        taxonomy, TagClassifier.load(Path(model_dir)), thesaurus=default_thesaurus(), focus_model=FocusModel.load(Path(model_dir))
    )


def make_tagger(taxonomy_path: str | Path | None = None, model_dir: str | Path | None = None) -> Tagger:
    """The tagger for a taxonomy file and a model folder, built once per process."""
    return _cached_tagger(str(taxonomy_path) if taxonomy_path else None, str(model_dir or default_model_dir()))
