"""The pixel losses weigh up the true frame's sprites (`optim.sprite_weight`) and, with `optim.stray_pixel_weight`,
the pixels a drawn frame lights where the true frame shows none (a ball drawn as a blob, a glow, a smear)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch

from studio.train.config import OptimConfig, load_config
from studio.train.world_model import TrainableWorldModel
from tests.tiny_world_model import CONFIG, H, W

REPO = Path(__file__).resolve().parents[1]


def frames_with(*pixels: tuple[int, int]) -> torch.Tensor:  # -> [1, 3, H, W]: black, those pixels white
    frame = torch.zeros(1, 3, H, W)
    for row, column in pixels:
        frame[0, :, row, column] = 1.0
    return frame


def test_stray_pixels_weigh_as_much_more_as_asked_and_nothing_else_changes():
    model = TrainableWorldModel(CONFIG.model)  # background: black
    truth = frames_with((4, 4))  # a one-pixel ball
    drawn = frames_with((4, 4), (4, 5), (5, 4))  # drawn as a blob of three
    plain = model.pixel_weights(drawn, truth, OptimConfig(sprite_weight=20.0))  # [1, 1, H, W]
    stray = model.pixel_weights(drawn, truth, OptimConfig(sprite_weight=20.0, stray_pixel_weight=30.0))
    assert plain[0, 0, 4, 4] == stray[0, 0, 4, 4] == 21.0  # the ball itself
    assert plain[0, 0, 4, 5] == plain[0, 0, 5, 4] == 1.0  # without the term a glow costs as little as background
    assert stray[0, 0, 4, 5] == stray[0, 0, 5, 4] == 31.0
    untouched = torch.ones(H, W, dtype=torch.bool)
    untouched[4, 4] = untouched[4, 5] = untouched[5, 4] = False
    assert torch.equal(stray[0, 0][untouched], plain[0, 0][untouched]) and (plain[0, 0][untouched] == 1.0).all()


def test_the_loss_of_a_blob_grows_with_the_stray_weight():
    model = TrainableWorldModel(CONFIG.model)
    truth, drawn = frames_with((4, 4)), frames_with((4, 4), (4, 5), (5, 4), (5, 5))
    optim = OptimConfig(sprite_weight=20.0)
    losses = [model.pixel_loss(drawn, truth, dataclasses.replace(optim, stray_pixel_weight=w))[0] for w in (0, 20)]
    assert losses[1] > 5 * losses[0]


def test_the_sprites_recipe_is_the_shipped_one_with_the_pixel_terms_on_from_the_start():
    """README, "An autoencoder that draws the ball": configs/breakout-sprites.json differs from configs/breakout.json
    in the pixel terms and the dynamics' and decoder's lengths alone."""
    shipped, sprites = (load_config(REPO / "configs" / name) for name in ("breakout.json", "breakout-sprites.json"))
    assert sprites.model == shipped.model and sprites.data == shipped.data
    changed = {
        f.name: getattr(sprites.optim, f.name)
        for f in dataclasses.fields(OptimConfig)
        if getattr(sprites.optim, f.name) != getattr(shipped.optim, f.name)
    }
    assert changed == dict(
        worst_pixel_weight=0.05, stray_pixel_weight=20.0, dynamics_steps=1100, unroll_ramp=1100, decoder_steps=500
    )
