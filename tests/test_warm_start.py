"""A run that starts from a bundle (`warm_start`): its four graphs read back into the torch modules and checked
against them; and the worst-pixel term that the autoencoder's and decoder's losses may add."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from studio.train.config import TrainConfig
from studio.train.warm_start import WarmStartError, load_bundle_weights
from studio.train.world_model import TrainableWorldModel, worst_pixel_error

EXPORTED = Path(__file__).resolve().parents[1] / "exported"


def shipped_config(bundle: str = "breakout", **model) -> TrainConfig:
    raw = json.loads((EXPORTED / bundle / "config.json").read_text())
    raw["model"] |= model
    return TrainConfig.from_json(raw)


@pytest.mark.parametrize("bundle", ["breakout", "coinrun", "breakout-jepa"])
def test_a_shipped_bundle_is_read_back_into_the_modules_it_was_exported_from(bundle):
    model = TrainableWorldModel(shipped_config(bundle).model)
    before = model.decoder.net[0].weight.detach().clone()
    load_bundle_weights(model, EXPORTED / bundle)  # runs the four graphs and the modules on the same inputs
    assert not torch.equal(before, model.decoder.net[0].weight)


def test_a_bundle_that_does_not_fit_the_model_is_refused_by_name():
    model = TrainableWorldModel(shipped_config(predictor_width=64).model)
    with pytest.raises(WarmStartError, match=r"breakout: 'predictor.stem.weight' is \[128, 128, 3, 3\]"):
        load_bundle_weights(model, EXPORTED / "breakout")


def test_only_a_warm_started_run_may_leave_out_its_first_stages_and_it_must_train_something():
    raw = json.loads((EXPORTED / "breakout" / "config.json").read_text())
    raw["optim"] |= {"autoencoder_steps": 0, "dynamics_steps": 0, "decoder_steps": 50}
    with pytest.raises(ValueError, match="set optim.autoencoder_steps to at least 1"):
        TrainConfig.from_json(raw)
    assert TrainConfig.from_json(raw | {"warm_start": "exported/breakout"}).optim.dynamics_steps == 0
    raw["optim"]["decoder_steps"] = 0
    with pytest.raises(ValueError, match="trains on: set one of optim.autoencoder_steps"):
        TrainConfig.from_json(raw | {"warm_start": "exported/breakout"})


def test_the_worst_pixel_error_is_each_frames_worst_pixel_averaged_over_frames():
    target = torch.zeros(2, 3, 4, 4)
    prediction = target.clone()
    prediction[0, :, 1, 2] = 0.5  # frame 0: one pixel off by 0.5 in every channel (squared, summed: 0.75)
    prediction[0, 0, 3, 3] = 0.1  # and a fainter one, which the term does not see
    prediction[1, 1, 0, 0] = 1.0  # frame 1: one channel of one pixel off by 1
    assert worst_pixel_error(prediction, target).item() == pytest.approx((0.75 + 1.0) / 2)
