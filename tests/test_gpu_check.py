"""`studio bench --suite gpu` on a machine without a GPU: one line that says why, nothing measured, exit 0."""

from __future__ import annotations

import pytest

from benchmarks.gpu import why_no_gpu
from studio.cli import main
from studio.runtime import cuda_works


@pytest.mark.skipif(cuda_works(), reason="a GPU is here: the check measures instead (benchmarks/RESULTS.md)")
def test_without_a_gpu_the_check_says_why_in_one_line_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "benchmarks"
    assert main(["bench", "--suite", "gpu", "--out", str(out)]) == 0
    printed = capsys.readouterr()
    reason = why_no_gpu()
    assert "GPU" in reason or "CUDA" in reason
    assert printed.out.splitlines() == [f"studio bench --suite gpu: nothing measured, {reason}."]
    assert printed.err == "" and not out.exists()
