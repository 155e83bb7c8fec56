"""Synthetic clip content whose geometry the tests know exactly."""

from __future__ import annotations

import numpy as np


def moving_square_frames(count: int, height: int, width: int, side: int = 6) -> np.ndarray:
    """A bright square moving left to right on black: [T, H, W, 3] uint8."""
    frames = np.zeros((count, height, width, 3), np.uint8)
    for t in range(count):
        x = int((width - side) * t / max(count - 1, 1))
        y = (height - side) // 2
        frames[t, y : y + side, x : x + side] = (250, 200, 40)
    return frames
