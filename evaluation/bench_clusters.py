"""Common issues over a whole library, in-process: stored lead families against matching them again.

    python evaluation/bench_clusters.py --library /path/to/xuncha.db
    python evaluation/bench_clusters.py --rows 20000        # builds the library first with `xuncha import`

The library is copied (the original is never written) and upgraded. Printed:

1. the first read after an upgrade from before migration 0008 (every finding's lead family computed
   and stored once);
2. ``service.clusters.common_issues`` over every finding with the stored lead families (twice, the
   per-process memo emptied before each);
3. the baseline in the same run: the same computation matching the thesaurus over every finding again
   (what each recomputation cost before the families were stored), its clusters compared to 2.

Measured here (2 cores, 20,000 imported findings, other work running): 1. 11.3 s; 2. 3.5 / 3.0 s;
3. 7.9 s, the same 72 clusters — 2.6x.
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import tempfile
import time
from pathlib import Path

from bench_live import build_library

import nlp.cluster as cluster_module
from service.clusters import ClusterQuery, common_issues
from service.representations import load_library
from service.store import models
from service.store.db import session_factory


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--library", type=Path, help="an existing xuncha.db (copied, never written)")
    ap.add_argument("--rows", type=int, default=20000, help="findings to import when no --library is given")
    a = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="xuncha-bench-clusters-"))
    source = a.library or build_library(a.rows, work)
    db = work / "copy.db"
    shutil.copy(source, db)
    make_session = session_factory(f"sqlite:///{db}")
    with make_session() as session:  # as a library from before the column: every lead family unknown
        session.query(models.FindingRepresentation).update({models.FindingRepresentation.lead_family: None})
        session.commit()
    t = time.perf_counter()
    with make_session() as session:
        library = load_library(session)
    print(f"library: {len(library.ids)} findings ({source})")
    print(f"1. first read after the upgrade (lead families computed and stored): {time.perf_counter() - t:.1f} s")
    query = ClusterQuery([], [], min_units=1, limit=None, include_singletons=True)

    def run() -> tuple[float, list[list[int]]]:
        cluster_module._LEAD_FAMILIES.clear()
        t0 = time.perf_counter()
        with make_session() as session:
            result = common_issues(session, query)
        return time.perf_counter() - t0, [sorted(f["finding_id"] for f in c["findings"]) for c in result["clusters"]]

    stored = [run() for _ in range(2)]
    print(f"2. common issues, stored lead families: {' / '.join(f'{s:.2f} s' for s, _ in stored)} "
          f"({len(stored[-1][1])} clusters)")
    matched_again = cluster_module._lead_family

    def without_stored(finding: cluster_module.ClusterInput, thesaurus, weight: float):  # type: ignore[no-untyped-def]
        return matched_again(dataclasses.replace(finding, lead=None), thesaurus, weight)

    cluster_module._lead_family = without_stored  # type: ignore[assignment]
    base, base_clusters = run()
    cluster_module._lead_family = matched_again
    best = min(s for s, _ in stored)
    print(f"3. baseline, families matched again: {base:.2f} s; same clusters: {base_clusters == stored[-1][1]}; "
          f"{base / best:.1f}x")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
