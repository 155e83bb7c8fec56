"""Quantised latents (finite scalar quantisation): the encoder and the predictor give only the levels, an
unchanging scene rolls out unchanged, and the recipe trains and exports end to end."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from studio import figures as F
from studio.bundle import load_bundle
from studio.cli import main as studio
from studio.runtime import WorldModel
from studio.train.autoencoder import ScalarQuantizer
from studio.train.export import export_bundle
from studio.train.world_model import TrainableWorldModel
from tests.tiny_world_model import CONFIG, C, H, L, W

REPO = Path(__file__).resolve().parent.parent
LEVELS = 7


def on_levels(values: np.ndarray, levels: int) -> bool:
    half = (levels - 1) / 2
    return bool(np.allclose(values * half, np.round(values * half), atol=1e-5) and np.abs(values).max() <= 1 + 1e-6)


def test_quantizer_rounds_to_its_levels_and_passes_gradients_straight_through():
    quantizer = ScalarQuantizer(LEVELS).train()
    x = torch.linspace(-4, 4, 101, requires_grad=True)
    q = quantizer(x)
    assert on_levels(q.detach().numpy(), LEVELS)
    assert len(torch.unique(q)) == LEVELS
    assert torch.allclose(quantizer.value(quantizer.index(q)), q.detach())
    assert torch.equal(quantizer.eval()(x.detach()), quantizer.snap(torch.tanh(x.detach())))  # exact out of training
    q.sum().backward()
    assert torch.allclose(x.grad, 1 - torch.tanh(x.detach()) ** 2, atol=1e-6)  # tanh's gradient, as if unrounded


def quantised_bundle(out_dir: Path, copy_logit: float, check: bool = True) -> WorldModel:
    config = dataclasses.replace(
        CONFIG, model=dataclasses.replace(CONFIG.model, latent_levels=LEVELS, predictor_copy_logit=copy_logit)
    )
    torch.manual_seed(0)
    model = TrainableWorldModel(config.model).eval()
    frames = np.random.default_rng(0).integers(0, 255, (max(C, L - 1) + 2, H, W, 3), dtype=np.uint8)
    export_bundle(model, config, out_dir, frames, trained_on={"source": "random weights"}, check=check)
    return WorldModel.load(out_dir, device="cpu", warm_up=False)


def test_exported_encoder_and_predictor_give_only_levels(tmp_path):
    model = quantised_bundle(tmp_path / "bundle", copy_logit=0.0)
    assert load_bundle(tmp_path / "bundle").manifest.latent.levels == LEVELS
    frames = np.random.default_rng(1).integers(0, 255, (6, H, W, 3), dtype=np.uint8)
    latents = model.encode(frames)  # [6, N, D]
    assert on_levels(latents, LEVELS)
    context = np.stack([latents[:C], latents[1 : C + 1]])  # [2, C, N, D]
    predicted = model.rollout(context, model.action_vectors(np.array([[0, 1, 2], [3, 2, 1]])))  # [2, 3, N, D]
    assert on_levels(predicted, LEVELS)
    assert not np.array_equal(predicted[:, 0], context[:, -1])  # a random predictor does not copy


def test_a_strong_copy_bonus_keeps_a_still_scene_exactly_for_a_long_rollout(tmp_path):
    # unchecked: a predictor that only ever copies is rightly refused by the export's liveness check
    model = quantised_bundle(tmp_path / "bundle", copy_logit=50.0, check=False)
    frame = np.random.default_rng(2).integers(0, 255, (1, H, W, 3), dtype=np.uint8)
    still = np.repeat(model.encode(frame)[None], C, axis=1)  # [1, C, N, D]: the same frame C times
    rolled = model.rollout(still, model.action_vectors(np.zeros((1, 200), int)))  # [1, 200, N, D]
    assert np.array_equal(rolled[0, -1], still[0, -1])  # no drift at all after 200 steps


@pytest.mark.slow
def test_the_quantised_recipe_trains_and_is_judged_through_its_exported_graphs(tmp_path):
    config = json.loads((REPO / "configs" / "tiny.json").read_text())
    config.update(data_dir=str(tmp_path / "data"), run_dir=str(tmp_path / "run"))
    config["model"].update(latent_levels=LEVELS, predictor_copy_logit=0.0)
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(config))
    assert studio(["train", str(path)]) == 0
    log = (tmp_path / "run" / "log.csv").read_text()
    assert "latent_loss" in log and F.TEACHER_FORCED_PSNR.at(16).key in log  # trained, judged through its graphs
    model = WorldModel.load(tmp_path / "run" / "scratch_bundle", device="cpu", warm_up=False)
    assert model.manifest.latent.levels == LEVELS
    frames = np.random.default_rng(3).integers(0, 255, (4, 64, 64, 3), dtype=np.uint8)
    assert on_levels(model.encode(frames), LEVELS)
