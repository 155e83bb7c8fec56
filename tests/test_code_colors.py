"""The code colours stay apart for every reader: normal vision and the three dichromacies, simulated."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from plotly.colors import unlabel_rgb

from studio.plots import CODE_COLORS, NO_CODE_COLOR

# Machado, Oliveira & Fernandes (2009), severity 1.0: linear-RGB matrices simulating each dichromacy
VISIONS = {
    "normal": np.eye(3),
    "protanopia": np.array(
        [[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216], [-0.003882, -0.048116, 1.051998]]
    ),
    "deuteranopia": np.array(
        [[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413], [-0.011820, 0.042940, 0.968881]]
    ),
    "tritanopia": np.array(
        [[1.255528, -0.076749, -0.178779], [-0.078411, 0.930809, 0.147602], [0.004733, 0.691367, 0.303900]]
    ),
}
SRGB_TO_XYZ = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]])
WHITE = np.array([0.95047, 1.0, 1.08883])


def cielab(colors: list[str], vision: np.ndarray) -> np.ndarray:
    """plotly 'rgb(r,g,b)' strings -> CIELAB [N, 3] as a reader with `vision` sees them."""
    srgb = np.array([unlabel_rgb(c) for c in colors], float) / 255  # [N, 3]
    linear = np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)
    xyz = (np.clip(linear @ vision.T, 0, 1) @ SRGB_TO_XYZ.T) / WHITE
    f = np.where(xyz > 0.008856, np.cbrt(xyz), 7.787 * xyz + 16 / 116)
    return np.stack([116 * f[:, 1] - 16, 500 * (f[:, 0] - f[:, 1]), 200 * (f[:, 1] - f[:, 2])], axis=1)


def closest_pair(colors: list[str], vision: np.ndarray) -> float:
    lab = cielab(colors, vision)
    return min(float(np.linalg.norm(lab[i] - lab[j])) for i, j in itertools.combinations(range(len(lab)), 2))


@pytest.mark.parametrize("vision", VISIONS)
@pytest.mark.parametrize(("codes", "apart"), [(8, 20.0), (16, 15.0)])
def test_every_two_codes_differ_for_every_reader(vision, codes, apart):
    # 15-20 CIELAB units: two colours a reader names differently, not just tells apart side by side
    assert closest_pair([*CODE_COLORS[:codes], NO_CODE_COLOR], VISIONS[vision]) >= apart
