"""Shared fixtures: a tiny world model exported as a real ONNX bundle, and small real video clips."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))

import tiny_world_model  # noqa: E402  (the tests folder is put on the path just above)


@pytest.fixture(scope="session")
def tiny_modules():
    return tiny_world_model.build_modules(seed=0)


@pytest.fixture(scope="session")
def tiny_bundle(tmp_path_factory, tiny_modules) -> Path:
    """A bundle exported from small torch modules; tests must not modify it (copy it first)."""
    return tiny_world_model.export_tiny_bundle(tmp_path_factory.mktemp("bundles") / "tiny", tiny_modules)


def moving_square_frames(count: int, height: int, width: int, side: int = 6) -> np.ndarray:
    """A bright square moving left to right on black: [T, H, W, 3] uint8."""
    frames = np.zeros((count, height, width, 3), np.uint8)
    for t in range(count):
        x = int((width - side) * t / max(count - 1, 1))
        y = (height - side) // 2
        frames[t, y : y + side, x : x + side] = (250, 200, 40)
    return frames
