"""A tiny, untrained world model of the training side, exported as a real bundle by `studio export`'s code.

Random weights are enough for the runtime and app tests: every output depends on every input, so an
export that drops an input (or a runtime that feeds the wrong tensor) changes the numbers and fails them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from studio.train.config import ModelConfig, TrainConfig
from studio.train.export import export_bundle
from studio.train.world_model import TrainableWorldModel

CONFIG = TrainConfig(
    name="tiny",
    description="A tiny random world model for tests.",
    model=ModelConfig(
        frame_size=16,
        channels=(8, 16),
        latent_dim=8,
        action_dim=4,
        codebook_size=4,
        context=2,
        predictor_width=16,
        predictor_blocks=1,
        lam_width=16,
        action_window=3,  # windows, not just pairs
    ),
)
H = W = CONFIG.model.frame_size
N, D, DA, K, C, L = (
    CONFIG.model.tokens,
    CONFIG.model.latent_dim,
    CONFIG.model.action_dim,
    CONFIG.model.codebook_size,
    CONFIG.model.context,
    CONFIG.model.action_window,
)


def build_model(seed: int = 0) -> TrainableWorldModel:
    torch.manual_seed(seed)
    return TrainableWorldModel(CONFIG.model).eval()


def export_tiny_bundle(out_dir: Path, model: TrainableWorldModel) -> Path:
    frames = np.random.default_rng(0).integers(0, 255, (max(C, L - 1) + 2, H, W, 3), dtype=np.uint8)
    return export_bundle(model, CONFIG, out_dir, frames, trained_on={"source": "random weights"})
