"""Smoke test of evaluation/bench_service.py: a --quick run against a real server on 127.0.0.1."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "evaluation" / "bench_service.py"


def test_bench_service_quick(tmp_path: Path) -> None:
    output = tmp_path / "service.json"
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--output", str(output)],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert re.search(r"search c=1: \d+ requests, \d+(\.\d+)? RPS", proc.stdout), proc.stdout
    assert "RPS" in proc.stdout and "HTTP overhead" in proc.stdout

    results = json.loads(output.read_text(encoding="utf-8"))  # strict: NaN is written as null
    assert {"machine", "config", "setup", "search_http", "health_http", "search_inprocess", "overhead"} <= results.keys()
    assert results["config"]["quick"] is True
    assert results["setup"]["findings_in_library"] > 0
    for kind in ("search_http", "health_http"):
        (row,) = results[kind]  # one concurrency level in --quick
        assert row["concurrency"] == 1
        assert 0 < row["requests"] <= 50
        assert row["errors"] == 0, row
        assert row["rps"] > 0
        for key in ("p50_ms", "p95_ms", "p99_ms", "max_ms"):
            assert math.isfinite(row[key]) and row[key] > 0
        assert row["p50_ms"] <= row["p95_ms"] <= row["p99_ms"] <= row["max_ms"]
    base = results["search_inprocess"]
    assert base["requests"] > 0 and base["p50_ms"] > 0
    assert results["overhead"]["1"]["p50_ratio"] > 0
