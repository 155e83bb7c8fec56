"""The README's "Bring your own world model" example runs as written and its bundle opens in the studio."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from studio.analysis import analyze_clip
from studio.runtime import WorldModel

REPO = Path(__file__).resolve().parents[1]


def readme_block(heading: str) -> str:
    """The first python block under a README heading."""
    section = REPO.joinpath("README.md").read_text().split(f"\n{heading}\n", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_the_readme_example_exports_a_model_the_studio_opens(tmp_path):
    (tmp_path / "exported").symlink_to(REPO / "exported")  # the example reads a shipped clip, as from the root
    script = tmp_path / "example.py"
    script.write_text(readme_block("## Bring your own world model"))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, env=env, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "studio serve --bundles my-world-model" in done.stdout
    model = WorldModel.load(tmp_path / "my-world-model", device="cpu")
    assert model.action_kind == "buttons" and model.code_names() == ["NOOP", "FIRE", "RIGHT", "LEFT"]
    analysis = analyze_clip(model, REPO / "exported" / "breakout" / "examples" / "breakout_2.mp4")
    assert set(analysis.actions.codes) <= {0, 1, 2, 3} and analysis.latents.shape[1:] == (16, 32)
