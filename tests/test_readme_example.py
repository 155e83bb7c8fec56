"""The README's opening example, run as it stands from the repository's root, prints what the README says."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
# Measured across threads, BLAS kernels, onnxruntime's graph rewrites and graph outputs moved as another CPU's
# kernels would move them (benchmarks/RESULTS.md, "Recorded figures on other machines"): the shape and all 149
# codes came out the same every time, and the PSNR (41.0174 dB) moved by at most 8e-8 dB, 0.033 dB from where
# its one decimal would round otherwise: the printed text is compared as it stands.

pytestmark = pytest.mark.skipif(not (ROOT / "exported" / "breakout").is_dir(), reason="no default bundle shipped")


def opening_example() -> tuple[str, str]:
    """The README's first python block, and the sentence after it that says what it prints."""
    text = README.read_text()
    found = re.search(r"```python\n(.*?)```\n\n(prints .*?)\. ", text, re.S)
    assert found, "the README has no python block followed by what it prints"
    return found.group(1), found.group(2)


def test_the_opening_example_prints_what_the_readme_says():
    code, said = opening_example()
    shape, codes, psnr = re.fullmatch(r"prints `(\(.*?\)) \[(.*?)\]` and `reconstruction PSNR (\S+) dB`", said).groups()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    first, second = done.stdout.strip().splitlines()
    assert first == f"{shape} [{codes}]"
    assert second == f"reconstruction PSNR {psnr} dB"
