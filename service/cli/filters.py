"""One rule for a round or unit filter that names nothing in the library, in every command.

`search`, `clusters`, `summary` and `export` all take ``--round`` / ``--unit`` as parts of a round
label or unit name (any of the repeated values may match). A value that matches no stored round or
unit is almost always a typo (第六论, 区财政), so it is named in a Chinese warning on stderr; the
command then gives its empty result (no hits, no clusters, an empty report or workbook) and exits 0,
because "nothing of that round" is an answer, not a failure. Scripts read the result from stdout and
the warning from stderr. (An empty *library* is different: there is nothing to search at all, and
that stays ``empty_library`` with exit 1.)
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.cli.output import stderr
from service.store import models


def unknown_values(session: Session, rounds: Sequence[str] = (), units: Sequence[str] = ()) -> dict[str, list[str]]:
    """The given values that are part of no round label / unit name, by kind (轮次, 单位)."""
    unknown: dict[str, list[str]] = {}
    for kind, values, column in (("轮次", rounds, models.InspectionRound.label), ("单位", units, models.Unit.name)):
        if not values:
            continue
        names = list(session.scalars(select(column)))
        missing = [v for v in values if not any(v in name for name in names)]
        if missing:
            unknown[kind] = missing
    return unknown


def warn_unknown(session: Session, rounds: Sequence[str] = (), units: Sequence[str] = ()) -> bool:
    """Warn about unknown filter values; True when a filter matches nothing at all, so the result is
    certainly empty (every value given for the rounds, or for the units, is unknown)."""
    if (rounds or units) and session.scalar(select(models.Document.id).limit(1)) is None:
        return False  # an empty library: the command's own empty_library error says so, not a filter warning
    unknown = unknown_values(session, rounds, units)
    given = {"轮次": rounds, "单位": units}
    empty = False
    for kind, missing in unknown.items():
        listed = "、".join(f"“{v}”" for v in missing)
        none_left = len(missing) == len(given[kind])
        empty = empty or none_left
        outcome = "结果为空" if none_left else f"只按其余{kind}筛选"
        stderr.print(f"警告：问题库中没有名称包含 {listed} 的{kind}，{outcome}（请检查拼写）", markup=False, highlight=False)
    return empty
