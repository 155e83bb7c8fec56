"""Nothing the studio runs imports the training side (or torch): only the `studio` command's training
subcommands reach into `studio.train`, so a Space installs no torch."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np

from studio import figures as F

REPO = Path(__file__).resolve().parent.parent
STUDIO = REPO / "studio"
# the functions of studio/cli.py that may import it
TRAINING_COMMANDS = {"_train", "_train_videos", "_train_data", "_export"}
TRAINING_ONLY = ("studio.train", "torch")


def _imports(tree: ast.AST, inside: str | None = None):
    """(module imported, name of the enclosing top-level function or None) for every import in the tree."""
    for node in ast.iter_child_nodes(tree):
        function = node.name if inside is None and isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) else inside
        if isinstance(node, ast.Import):
            yield from ((alias.name, function) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module, function
            if node.module == "studio":
                yield from ((f"studio.{alias.name}", function) for alias in node.names)
        yield from _imports(node, function)


def forbidden_imports(root: Path) -> list[str]:
    """'file: module' for every import of the training side outside it and the training subcommands."""
    found = []
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root.parent)
        if relative.parts[:2] == ("studio", "train"):
            continue
        for module, function in _imports(ast.parse(path.read_text(), str(path))):
            if not module.startswith(TRAINING_ONLY):
                continue
            if relative == Path("studio/cli.py") and function in TRAINING_COMMANDS:
                continue
            found.append(f"{relative}: {module}")
    return found


def test_no_studio_module_imports_the_training_side():
    assert forbidden_imports(STUDIO) == []


def test_the_check_sees_an_import_hidden_in_a_function(tmp_path):
    studio = tmp_path / "studio"
    (studio / "train").mkdir(parents=True)
    (studio / "train" / "model.py").write_text("import torch\n")
    (studio / "cli.py").write_text(
        "def _train():\n    from studio.train.model import x\ndef _serve():\n    from studio.train import model\n"
    )
    (studio / "evaluation.py").write_text("def judge():\n    if True:\n        from studio import train\n")
    assert forbidden_imports(studio) == ["studio/cli.py: studio.train", "studio/evaluation.py: studio.train"]


def test_the_studio_runs_with_the_training_side_unimportable(tiny_bundle, tmp_path):
    """Every studio module imports, and `studio evaluate` judges a bundle, with `studio.train` and torch
    made unimportable."""
    frames = np.random.default_rng(0).integers(0, 255, (12, 16, 16, 3), dtype=np.uint8)
    shards = tmp_path / "heldout"
    shards.mkdir()
    np.savez(
        shards / "episode_00000.npz", frames=frames, actions=np.zeros(12, np.int64), ram=np.zeros((12, 128), np.uint8)
    )
    script = textwrap.dedent(f"""
        import importlib, pkgutil, sys

        class Refuse:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] == "torch" or name.startswith("studio.train"):
                    raise ImportError(f"{{name}} is training-only")

        sys.meta_path.insert(0, Refuse())
        import studio
        for module in pkgutil.walk_packages(studio.__path__, "studio."):
            if not module.name.startswith("studio.train"):
                importlib.import_module(module.name)
        from studio.cli import main
        sys.exit(main(["evaluate", {str(tiny_bundle)!r}, "--episodes", {str(shards)!r}]))
    """)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert F.RECONSTRUCTION_PSNR.name in done.stdout
