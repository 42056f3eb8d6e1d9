"""Common-issue results stored in the database: computed once, read by every process and node.

:mod:`service.cluster_cache` keeps the last result per selection in each process. Without a stored
copy every worker, every node and every restart clustered the whole library again on its first
request (2.2 s at 20k findings, most of a minute at 100k). The result is therefore also written to
``common_issue_results`` — compact: each cluster and recurrence names its findings by id, and the
findings' text, unit and round are read back when it is loaded, so a stored result never holds a
stale copy of a finding's text and stays a few hundred kilobytes at 20k findings.

A stored result carries the change number it is as of; the cache serves it as stale when the library
has moved on, exactly as it serves its own kept result.
"""

from __future__ import annotations

import hashlib
import json
import logging
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, delete, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from service.store import models

log = logging.getLogger(__name__)
READ_ALL_ABOVE = 5000  # more ids than this are read with the whole findings table, not an IN list


@dataclass(frozen=True)
class StoredResult:
    seq: int
    computed_at: float
    result: dict[str, Any]


def scope_key(rounds: Sequence[str], units: Sequence[str]) -> str:
    """The stored row's key for a selection (what it clusters; how it is filtered and paged is not part
    of it) under this release's embedder, thesaurus and clustering: a result computed by another
    release (another thesaurus version, another clustering) is another row, never served as this one's."""
    from importlib.metadata import PackageNotFoundError, version

    from nlp.concepts import default_thesaurus
    from service.representations import configured_embedder

    try:
        release = version("xuncha")
    except PackageNotFoundError:
        release = "dev"
    raw = json.dumps({"rounds": list(rounds), "units": list(units), "embedder": configured_embedder().name,
                      "thesaurus": default_thesaurus().version, "release": release}, ensure_ascii=False, sort_keys=True)
    return hashlib.sha1(raw.encode("utf-8")).hexdigest()


def compact(result: dict[str, Any]) -> dict[str, Any]:
    """``result`` with every finding replaced by its id."""
    return {
        **result,
        "clusters": [
            {**c, "findings": [f["finding_id"] for f in c["findings"]],
             "representatives": [f["finding_id"] for f in c["representatives"]]}
            for c in result["clusters"]
        ],
        "recurrences": [{**r, "earlier": r["earlier"]["finding_id"], "later": r["later"]["finding_id"]} for r in result["recurrences"]],
    }


def save(engine: Engine, scope: str, seq: int, computed_at: float, result: dict[str, Any]) -> None:
    """Store ``result`` for ``scope`` unless a result as of a later change is stored already (two
    workers finishing at once: the later change wins, and a lost race is no error)."""
    body = zlib.compress(json.dumps(compact(result), ensure_ascii=False, separators=(",", ":")).encode("utf-8"), 6)
    R = models.CommonIssueResult
    try:
        with Session(engine) as session, session.begin():
            held = session.scalar(select(R.seq).where(R.scope == scope))
            if held is not None and held > seq:
                return
            session.execute(delete(R).where(R.scope == scope))
            session.add(R(scope=scope, seq=seq, computed_at=computed_at, body=body))
    except SQLAlchemyError:
        log.info("共性问题结果已由另一进程写入", exc_info=True)


def stored_seq(session: Session, scope: str) -> int | None:
    """The change number the stored result of ``scope`` is as of (None: none stored): one small read."""
    R = models.CommonIssueResult
    return session.scalar(select(R.seq).where(R.scope == scope))


def load(session: Session, scope: str) -> StoredResult | None:
    """The stored result for ``scope`` with its findings read back (None: none stored, or unreadable)."""
    R = models.CommonIssueResult
    row = session.execute(select(R.seq, R.computed_at, R.body).where(R.scope == scope)).one_or_none()
    if row is None:
        return None
    try:
        stored = json.loads(zlib.decompress(row.body).decode("utf-8"))
    except (zlib.error, ValueError, UnicodeDecodeError):
        log.warning("存储的共性问题结果无法读取，将重新计算")
        return None
    return StoredResult(int(row.seq), float(row.computed_at), _hydrate(session, stored))


def _hydrate(session: Session, stored: dict[str, Any]) -> dict[str, Any]:
    """Read the findings a compact result names back in: what :func:`service.clusters.common_issues`
    gives for each. A finding deleted since is left out (the result is stale then, and recomputed)."""
    wanted = {i for c in stored["clusters"] for i in c["findings"]} | {i for r in stored["recurrences"] for i in (r["earlier"], r["later"])}
    found = _findings(session, wanted)
    clusters = [
        {**c, "findings": [found[i] for i in c["findings"] if i in found],
         "representatives": [found[i] for i in c["representatives"] if i in found]}
        for c in stored["clusters"]
    ]
    repeats = [{**r, "earlier": found[r["earlier"]], "later": found[r["later"]]} for r in stored["recurrences"]
               if r["earlier"] in found and r["later"] in found]
    return {**stored, "clusters": clusters, "recurrences": repeats}


def _findings(session: Session, ids: set[int]) -> dict[int, dict[str, Any]]:
    F, U, Rd = models.Finding, models.Unit, models.InspectionRound
    query = select(F.id, F.document_id, F.text, U.name, Rd.label).outerjoin(U, F.unit_id == U.id).outerjoin(Rd, F.round_id == Rd.id)
    if len(ids) > READ_ALL_ABOVE:
        rows = [r for r in session.execute(query) if r[0] in ids]
    else:
        rows = []
        ordered = sorted(ids)
        for start in range(0, len(ordered), 900):
            rows += list(session.execute(query.where(F.id.in_(ordered[start : start + 900]))))
    return {int(i): {"finding_id": int(i), "document_id": d, "text": t, "unit": u, "round": r} for i, d, t, u, r in rows}
