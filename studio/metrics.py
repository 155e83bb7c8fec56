"""Figures that judge a world model, in numpy: shared by the studio, `studio evaluate` and training."""

from __future__ import annotations

import numpy as np


def psnr(prediction: np.ndarray, target: np.ndarray, peak: float = 1.0) -> np.ndarray:
    """Per-frame PSNR in dB of [T, ...] arrays in [0, peak] (uint8 pictures: pass peak=255)."""
    error = (prediction.astype(np.float64) - target.astype(np.float64)) ** 2
    mse = error.reshape(len(error), -1).mean(axis=1)  # [T]
    return 10.0 * np.log10(peak**2 / np.maximum(mse, 1e-12))
