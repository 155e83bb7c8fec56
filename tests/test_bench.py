"""`studio bench --quick` runs every suite end to end (the figures themselves live in benchmarks/RESULTS.md)."""

from __future__ import annotations

import json

import pytest

from studio.cli import main

pytestmark = pytest.mark.slow


def test_quick_benchmark_runs_every_suite_and_writes_its_files(tiny_bundle, tmp_path):
    assert main(["bench", "--quick", "--bundle", str(tiny_bundle), "--checkpoint", str(tmp_path / "none.pt"),
                 "--out", str(tmp_path / "out")]) == 0
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    suites = {row["suite"] for row in results["rows"]}
    assert suites == {"graphs", "play", "rollout", "projection", "decoding", "analyze", "load"}
    assert all(row["runs"] > 0 and row["median_ms"] > 0 for row in results["rows"])
    assert any(row["name"].startswith("play step through the API") for row in results["rows"])
    assert "cold start: launch → page served" in results["facts"]
    assert "| measurement |" in (tmp_path / "out" / "RESULTS.md").read_text()
