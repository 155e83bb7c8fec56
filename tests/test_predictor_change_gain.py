"""The predictor's change gain: latents that move by a small fraction of their size (as a JEPA encoder's do) are
predicted from the changes between the context's frames, scaled up, where a net reading the frames as they are
stays at copying the last frame."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from studio.train.config import ModelConfig  # noqa: E402
from studio.train.predictor import Predictor  # noqa: E402
from tiny_world_model import CONFIG as TINY  # noqa: E402

DRIFT = 0.03  # each step moves the latents by about this fraction of their size


def drifting_latents(rng, batch: int, config: ModelConfig):
    """Scenes [B, N, D] of unit size that drift at a constant velocity [B, N, D] of DRIFT's size -> the context
    [B, C, N, D] and the next frame [B, N, D]."""
    n = config.grid**2
    scene = rng.normal(size=(batch, n, config.latent_dim))
    velocity = DRIFT * rng.normal(size=(batch, n, config.latent_dim))
    steps = np.arange(config.context + 1)[None, :, None, None]  # [1, C+1, 1, 1]
    frames = torch.tensor(scene[:, None] + steps * velocity[:, None], dtype=torch.float32)  # [B, C+1, N, D]
    return frames[:, :-1], frames[:, -1]


def error_over_copying(gain: float, steps: int = 150) -> float:
    config = replace(TINY.model, predictor_head_init=0.01, predictor_change_gain=gain)
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    predictor = Predictor(config)
    optimizer = torch.optim.AdamW(predictor.parameters(), lr=2e-3)
    action = torch.zeros(32, config.action_dim)  # [B, Da]: the drift needs no action
    for _ in range(steps):
        context, target = drifting_latents(rng, 32, config)
        loss = ((predictor(context, action) - target) ** 2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    context, target = drifting_latents(np.random.default_rng(1), 256, config)
    with torch.no_grad():
        predicted = predictor(context, torch.zeros(256, config.action_dim))
    return float(((predicted - target) ** 2).mean() / ((context[:, -1] - target) ** 2).mean())


def test_a_predictor_reading_scaled_changes_learns_a_small_drift_that_one_reading_frames_does_not():
    with_gain, without = error_over_copying(30.0), error_over_copying(0.0)
    assert with_gain < 0.3
    assert with_gain < 0.5 * without


def test_a_negative_change_gain_is_refused():
    with pytest.raises(ValueError, match="predictor_change_gain"):
        ModelConfig(predictor_change_gain=-1.0)
