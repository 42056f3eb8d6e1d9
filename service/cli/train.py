"""`xuncha train --labels FILE.jsonl`: retrain the tag classifier from analysts' confirmed tags.

The new model replaces the stored one only when it scores no worse on the held dev split
(see ``nlp.tagging.training``); the report says which happened and why.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.table import Table

from nlp.tagging.combine import default_model_dir
from nlp.tagging.training import BUNDLED_LABELS, TrainReport, read_label_rows, train
from nlp.taxonomy import load_taxonomy
from service.cli.output import stderr, stdout

SAMPLES_DIR = Path(__file__).resolve().parents[2] / "corpora" / "samples"


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
) -> TrainReport:
    taxonomy = load_taxonomy(taxonomy_path)
    rows = []
    if use_bundled and BUNDLED_LABELS.exists():
        rows.extend(read_label_rows(BUNDLED_LABELS, taxonomy))
    for path in label_files:
        rows.extend(read_label_rows(path, taxonomy))
    if use_confirmed:  # last, so an analyst's confirmation overrides a bundled label of the same text
        confirmed = library_confirmed_rows()
        if confirmed:
            stderr.print(f"使用问题库中分析员确认的标签 {len(confirmed)} 条", markup=False)
        rows.extend(confirmed)
    with stderr.status("训练分类模型…"):
        return train(
            taxonomy,
            rows,
            model_dir or default_model_dir(),
            bootstrap_texts=sample_corpus_findings() if bootstrap else None,
            force=force,
        )


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
