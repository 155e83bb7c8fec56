"""Pictures side by side and enlarged: clip | reconstruction, frame t | t+1, the truth | each predicted branch."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def side_by_side(panels: Sequence[np.ndarray], gap: int = 2) -> np.ndarray:
    """Panels [..., H, W_i, 3] uint8 alike but for their widths -> one [..., H, sum(W_i) + gaps, 3] uint8,
    a white column `gap` pixels wide between neighbours."""
    separator = np.full((*panels[0].shape[:-2], gap, 3), 255, np.uint8)  # [..., H, gap, 3]
    joined = [panels[0]]
    for panel in panels[1:]:
        joined += [separator, panel]
    return np.concatenate(joined, axis=-2)


def enlarged(frames: np.ndarray, height: int) -> np.ndarray:
    """Frames [..., H, W, 3] -> [..., s*H, s*W, 3], enlarged by the whole factor s that brings H nearest to
    `height` from below (nearest neighbour: model frames are tiny, and their pixels stay sharp)."""
    scale = max(1, height // frames.shape[-3])
    return frames.repeat(scale, axis=-3).repeat(scale, axis=-2)
