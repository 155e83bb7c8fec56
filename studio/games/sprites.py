"""Sprite pixels: those that differ from the median background (in Breakout the paddle, the ball, broken
bricks). Training weights them up, since most of a game frame never changes, and evaluation reports PSNR
over them; both use this one definition. numpy only: the training side compares against the same threshold.
"""

from __future__ import annotations

import numpy as np

SPRITE_THRESHOLD = 0.1  # a pixel is a sprite pixel when a channel differs this much (in [0, 1]) from the background


def median_background(frame_sets: list[np.ndarray], samples_per_set: int) -> np.ndarray:
    """The per-pixel median of about `samples_per_set` evenly spaced frames of each set [T, H, W, 3] uint8
    -> [3, H, W] float32 in [0, 1]."""
    sample = np.concatenate(
        [frames[:: max(1, len(frames) // samples_per_set)] for frames in frame_sets]
    )  # [S, H, W, 3]
    return np.median(sample, axis=0).astype(np.float32).transpose(2, 0, 1) / 255.0


def sprite_mask(frames: np.ndarray, background: np.ndarray) -> np.ndarray:
    """[T, 3, H, W] frames in [0, 1] and the [3, H, W] background -> [T, H, W] bool, True on sprite pixels."""
    return np.abs(frames - background[None]).max(axis=1) > SPRITE_THRESHOLD
