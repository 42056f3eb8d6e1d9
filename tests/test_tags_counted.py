"""``tags.counted``: each finding's label per scheme, kept where tags are written and counted by the
statistics with one aggregate (service/tags.py ``mark_counted``, migration 0010).

Real SQLite libraries from the sample reports: after ingest, after an analyst confirms tags (and
says "none applies"), and in a library written before the column, upgraded in place.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from sqlalchemy import select, text
from sqlalchemy.orm import selectinload
from test_live_index import FEEDBACK, add

from nlp.taxonomy import default_taxonomy
from service.statistics import library_statistics
from service.store import models
from service.store.db import session_factory
from service.tags import effective_tags, set_confirmed_tags, single_label_schemes


def _by_rule(session) -> dict[tuple[int, str], set[str]]:  # type: ignore[no-untyped-def]
    """What effective_tags (read in Python) keeps per finding and scheme."""
    single = set(single_label_schemes())
    out: dict[tuple[int, str], set[str]] = {}
    for f in session.scalars(select(models.Finding).options(selectinload(models.Finding.tags))):
        for scheme in {t.scheme for t in f.tags}:
            kept = effective_tags([t for t in f.tags if t.scheme == scheme], scheme, scheme in single)
            out[(f.id, scheme)] = {t.label for t in kept}
    return out


def _marked(session) -> dict[tuple[int, str], set[str]]:  # type: ignore[no-untyped-def]
    out: dict[tuple[int, str], set[str]] = {}
    for fid, scheme, label, counted in session.execute(select(models.Tag.finding_id, models.Tag.scheme, models.Tag.label, models.Tag.counted)):
        out.setdefault((fid, scheme), set())
        if counted:
            out[(fid, scheme)].add(label)
    return out


def test_ingest_marks_what_the_rule_keeps_and_statistics_count_it(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'lib.db'}"
    for name in FEEDBACK[:3]:
        add(url, tmp_path / "files", name)
    with session_factory(url)() as session:
        rule = _by_rule(session)
        assert rule and _marked(session) == rule
        assert any(len(v) > 1 for (_, s), v in rule.items() if s == "livelihood" or s == "problem_type")  # multi-label kept whole
        assert all(len(v) <= 1 for (_, s), v in rule.items() if s in single_label_schemes())
        focus = Counter(label for (_, s), labels in rule.items() if s == "focus" for label in labels)
        stats = library_statistics(session)
        assert {r["label"]: r["count"] for r in stats["by_label"]["focus"]} == dict(focus)


def test_confirmed_tags_move_the_count_and_none_applies_counts_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'lib.db'}"
    add(url, tmp_path / "files", FEEDBACK[0])
    taxonomy = default_taxonomy()
    with session_factory(url)() as session:
        first, second = session.scalars(select(models.Finding).order_by(models.Finding.id).limit(2)).all()
        before = Counter({r["label"]: r["count"] for r in library_statistics(session)["by_label"]["focus"]})
        old_focus = next(t.label for t in first.tags if t.scheme == "focus" and t.counted)
        second_focus = next(t.label for t in second.tags if t.scheme == "focus" and t.counted)
        new_focus = next(n for n in taxonomy.schemes["focus"].names if n != old_focus)
        set_confirmed_tags(session, first, {"focus": [new_focus]}, taxonomy, "analyst")
        set_confirmed_tags(session, second, {"focus": []}, taxonomy, "analyst")  # none of the three applies
        assert _marked(session) == _by_rule(session)
        assert {t.label for t in first.tags if t.scheme == "focus" and t.counted} == {new_focus}
        assert not any(t.counted for t in second.tags if t.scheme == "focus")
        after = Counter({r["label"]: r["count"] for r in library_statistics(session)["by_label"]["focus"]})
    expected = before.copy()
    expected[old_focus] -= 1
    expected[new_focus] += 1
    expected[second_focus] -= 1
    assert after == +expected


def test_a_library_from_before_the_column_is_marked_on_upgrade(tmp_path: Path) -> None:
    from alembic import command
    from alembic.config import Config

    from service.store.db import MIGRATIONS, make_engine

    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = make_engine(url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0009")
        conn.execute(text("INSERT INTO documents (id, sha256, source_name, stored_path, size, media_type, text, page_starts, created_at) "
                          "VALUES (1, 'x', 'a.txt', '', 0, 'txt', '', '[]', '2026-01-01')"))
        conn.execute(text("INSERT INTO findings (id, document_id, local_id, text, start, \"end\", page) VALUES "
                          "(1, 1, 'F001', '甲', 0, 1, 1), (2, 1, 'F002', '乙', 0, 1, 1)"))
        rows = [  # finding, scheme, label, score, source
            (1, "focus", "党的建设", 0.9, "auto"), (1, "focus", "党的领导", 0.6, "auto"),
            (1, "livelihood", "教育", 0.8, "auto"), (1, "livelihood", "医疗", 0.7, "auto"),
            (2, "focus", "党的建设", 0.9, "auto"), (2, "focus", "全面从严治党", 1.0, "confirmed"),
            (2, "livelihood", "教育", 0.8, "auto"), (2, "livelihood", "", 1.0, "confirmed"),
        ]
        for fid, scheme, label, score, source in rows:
            conn.execute(text("INSERT INTO tags (finding_id, scheme, label, score, evidence, source, created_at) "
                              "VALUES (:f, :s, :l, :sc, '[]', :so, '2026-01-01')"),
                         {"f": fid, "s": scheme, "l": label, "sc": score, "so": source})
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
    with session_factory(url)() as session:
        assert _marked(session) == _by_rule(session) == {
            (1, "focus"): {"党的建设"}, (1, "livelihood"): {"教育", "医疗"},
            (2, "focus"): {"全面从严治党"}, (2, "livelihood"): set(),
        }


def test_search_rows_carry_the_labels_the_rule_keeps_after_confirmation(tmp_path: Path) -> None:
    """finding_rows reads the marked tags in the rule's order: a confirmed focus replaces the automatic
    ones, "none applies" drops the scheme, multi-label schemes keep every label best first."""
    from service.library import finding_rows

    url = f"sqlite:///{tmp_path / 'lib.db'}"
    add(url, tmp_path / "files", FEEDBACK[0])
    taxonomy = default_taxonomy()
    with session_factory(url)() as session:
        first, second = session.scalars(select(models.Finding).order_by(models.Finding.id).limit(2)).all()
        new_focus = next(n for n in taxonomy.schemes["focus"].names
                         if n != next(t.label for t in first.tags if t.scheme == "focus" and t.counted))
        set_confirmed_tags(session, first, {"focus": [new_focus]}, taxonomy, "analyst")
        set_confirmed_tags(session, second, {"focus": []}, taxonomy, "analyst")
        ids = [f.id for f in session.scalars(select(models.Finding))]
        rows = finding_rows(session, ids)
        single = set(single_label_schemes())
        for f in session.scalars(select(models.Finding).options(selectinload(models.Finding.tags))):
            expected = {}
            for scheme in sorted({t.scheme for t in f.tags}):
                kept = [t.label for t in effective_tags([t for t in f.tags if t.scheme == scheme], scheme, scheme in single)]
                if kept:
                    expected[scheme] = kept
            assert rows[f.id]["tags"] == expected
        assert rows[first.id]["tags"]["focus"] == [new_focus]
        assert "focus" not in rows[second.id]["tags"]
        assert any(len(r["tags"].get("livelihood", [])) + len(r["tags"].get("problem_type", [])) > 2 for r in rows.values())
