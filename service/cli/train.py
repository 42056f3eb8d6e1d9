"""`xuncha train --labels FILE.jsonl`: retrain the tag classifier and the focus model.

The classifier replaces the stored one only when it scores no worse on the held dev split
(see ``nlp.tagging.training``). The focus model (``nlp.tagging.focus_training``) learns from the real
labelled findings bundled in ``corpora/training/real_labels.jsonl``, the label files given and the
analysts' confirmed tags, and is stored only when, across held-out documents, it does no worse than
the rules. The report says which happened and why.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.table import Table

from nlp.concepts import default_thesaurus
from nlp.embedders import make_embedder
from nlp.tagging.classifier import TagClassifier
from nlp.tagging.combine import Tagger, default_model_dir
from nlp.tagging.focus_training import REAL_LABELS, FocusReport, train_focus_model
from nlp.tagging.training import BUNDLED_LABELS, TrainReport, read_label_rows, train
from nlp.taxonomy import load_taxonomy
from service.cli.output import stderr, stdout

SAMPLES_DIR = Path(__file__).resolve().parents[2] / "corpora" / "samples"
HELDOUT_TAGS = Path(__file__).resolve().parents[2] / "evaluation" / "heldout" / "gold_tags.jsonl"


def sample_corpus_findings() -> list[str]:
    """Finding texts of the bundled sample corpus, for bootstrapping from confident lexicon tags."""
    from nlp.pipeline import analyze_file

    texts: list[str] = []
    for path in sorted(SAMPLES_DIR.glob("*")):
        if path.suffix.lower() in (".pdf", ".docx", ".txt"):
            texts.extend(f.text for f in analyze_file(path, tagger=None).findings)
    return texts


def library_confirmed_rows() -> list[dict[str, Any]]:
    """Analysts' confirmed tags from the findings library (``PATCH /findings/{id}/tags`` or the web page).

    A library that does not exist yet (no SQLite file) contributes nothing and is not created.
    """
    from service.settings import get_settings
    from service.store.db import session_factory
    from service.tags import confirmed_label_rows

    settings = get_settings()
    if settings.database_url is None and not (settings.data_dir / "xuncha.db").exists():
        return []
    with session_factory()() as session:
        return confirmed_label_rows(session)


def run_training(
    label_files: list[Path], model_dir: Path | None, taxonomy_path: Path | None, use_bundled: bool, bootstrap: bool, force: bool,
    use_confirmed: bool = True,
    use_focus: bool = True,
) -> tuple[TrainReport, FocusReport | None]:
    taxonomy = load_taxonomy(taxonomy_path)
    directory = model_dir or default_model_dir()
    rows = []
    if use_bundled and BUNDLED_LABELS.exists():
        rows.extend(read_label_rows(BUNDLED_LABELS, taxonomy))
    given = [row for path in label_files for row in read_label_rows(path, taxonomy)]
    rows.extend(given)
    confirmed = library_confirmed_rows() if use_confirmed else []
    if confirmed:  # last, so an analyst's confirmation overrides a bundled label of the same text
        stderr.print(f"使用问题库中分析员确认的标签 {len(confirmed)} 条", markup=False)
    rows.extend(confirmed)
    with stderr.status("训练分类模型…"):
        report = train(
            taxonomy,
            rows,
            directory,
            bootstrap_texts=sample_corpus_findings() if bootstrap else None,
            force=force,
        )
    if not use_focus or "focus" not in taxonomy.schemes:
        return report, None
    real = read_label_rows(REAL_LABELS, taxonomy) if REAL_LABELS.exists() else []
    heldout = read_label_rows(HELDOUT_TAGS, taxonomy) if HELDOUT_TAGS.exists() else None
    rules = Tagger(taxonomy, TagClassifier.load(directory), thesaurus=default_thesaurus())
    with stderr.status("训练聚焦模型（按文档交叉验证）…"):
        focus = train_focus_model(real + given + confirmed, rules, make_embedder(), directory, heldout=heldout, force=force)
    return report, focus


def render_report(report: TrainReport) -> None:
    table = Table(title="开发集得分（候选 vs 当前）")
    table.add_column("方案")
    table.add_column("候选", justify="right")
    table.add_column("当前", justify="right")
    for key in report.candidate:
        table.add_row(key, f"{report.candidate[key]:.3f}", f"{report.current.get(key, 0.0):.3f}")
    stdout.print(table)
    verdict = "已替换模型" if report.replaced else "保留原模型"
    stdout.print(f"{verdict}：{report.reason}（训练 {report.n_train} 条 + 自举 {report.n_bootstrap} 条，开发集 {report.n_dev} 条；{report.version}）")


def render_focus_report(report: FocusReport) -> None:
    cv, rules = report.cv, report.rules_cv
    stdout.print(
        f"聚焦模型（{report.n_rows} 条，{report.n_documents} 篇，按文档交叉验证）：宏 F1 {cv['macro_f1']:.3f}"
        f"（规则 {rules['macro_f1']:.3f}），校准误差 {cv['ece']:.3f}，需复核 {cv['review_share']:.0%}"
        f"（其准确率 {cv['accuracy_flagged']:.0%}，其余 {cv['accuracy_unflagged']:.0%}）"
    )
    if report.heldout:
        held = report.heldout
        stdout.print(f"  留出集 {int(held['n'])} 条：宏 F1 {held['macro_f1']:.3f}（规则 {held['rules_macro_f1']:.3f}）")
    stdout.print(("已保存" if report.stored else "未保存") + f"：{report.reason}（{report.meta.get('version')}）")
