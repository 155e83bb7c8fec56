"""The studio as a Hugging Face Space runs it: a fresh environment from requirements.txt alone, `python app.py`;
the repository's own Space, and one `studio space BUNDLE OUT_DIR` wrote for a single bundle."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from gradio_client import Client, handle_file

from studio_server import start_app, stop

ROOT = Path(__file__).resolve().parents[2]
BUNDLE = ROOT / "exported" / "breakout"

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not BUNDLE.is_dir(), reason="no default bundle shipped")]


@pytest.fixture(scope="module")
def space_python(tmp_path_factory) -> Path:
    """The Python of a fresh environment with the repository's requirements.txt alone installed."""
    venv = tmp_path_factory.mktemp("space_env") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "-r", str(ROOT / "requirements.txt")], check=True)
    importing_torch = subprocess.run([str(python), "-c", "import torch"], capture_output=True)
    assert importing_torch.returncode != 0  # no torch in a Space
    return python


def test_a_space_built_from_requirements_alone_analyzes_an_example(tmp_path, space_python):
    space = tmp_path / "space"  # what a Space checks out: the app, the package, the bundles, the requirements
    space.mkdir()
    for name in ("app.py", "requirements.txt"):
        shutil.copy(ROOT / name, space / name)
    shutil.copytree(ROOT / "studio", space / "studio", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "exported", space / "exported")
    analyzes_an_example(space_python, space, tmp_path)


def test_studio_space_writes_a_space_of_one_bundle_that_serves_it(tmp_path, space_python):
    space = tmp_path / "space"
    subprocess.run([sys.executable, "-m", "studio.cli", "space", str(BUNDLE), str(space)], check=True, cwd=ROOT)
    readme = (space / "README.md").read_text()
    assert readme.startswith("---\ntitle: breakout world model\n") and "sdk: gradio\n" in readme
    assert "app_file: app.py\n" in readme and "hf upload" in readme
    requirements = (space / "requirements.txt").read_text().splitlines()
    assert not [line for line in requirements if "torch" in line and not line.startswith("#")]
    assert [p.name for p in (space / "exported").iterdir()] == ["breakout"]  # that bundle alone
    assert not (space / "studio" / "train").exists()  # nor the training code
    analyzes_an_example(space_python, space, tmp_path)


def analyzes_an_example(python: Path, space: Path, tmp_path: Path) -> None:
    """`python app.py` inside `space` serves the page, and /analyze and /reconstruct answer for a Breakout example."""
    env = {"STUDIO_CACHE_DIR": str(tmp_path / "cache"), "PYTHONPATH": ""}
    process, url = start_app([str(python), "app.py"], tmp_path / "space.log", env=env, cwd=space)
    try:
        example = sorted((BUNDLE / "examples").glob("*.mp4"))[0]
        client = Client(url, verbose=False)
        _, stats, *_ = client.predict(handle_file(str(example)), 1, 1800, "UMAP", "2D", "code", api_name="/analyze")
        assert "frames** analyzed" in stats and "breakout" in stats
        video, stats, _ = client.predict("UMAP", "2D", "code", 0, api_name="/reconstruct")
        assert Path(video).stat().st_size > 0 and "reconstruction PSNR" in stats
    finally:
        stop(process)
