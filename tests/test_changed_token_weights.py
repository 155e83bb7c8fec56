"""The dynamics' latent loss may weigh each token by how far it truly moves (`optim.changed_token_weight`), and the
JEPA stage's future loss the tokens whose pixels changed (`jepa.changed_token_weight`), whose latents must change
with them (`jepa.change_floor`)."""

from __future__ import annotations

import torch

from studio.train.autoencoder import Encoder
from studio.train.config import JepaConfig, ModelConfig
from studio.train.dynamics_stages import changed_token_weights
from studio.train.jepa import CHANGED_PIXEL, JepaObjective, changed_tokens


def test_tokens_that_move_weigh_more_and_the_weights_average_one():
    before = torch.zeros(2, 1, 4, 3)  # [B, K, N, D]
    after = before.clone()
    after[0, 0, 1] = 1.0  # one token of the first sample moves; nothing else does
    weights = changed_token_weights(after, before, gain=3.0)  # [B, K, N, 1]
    assert weights.shape == (2, 1, 4, 1)
    assert torch.isclose(weights.mean(), torch.tensor(1.0))
    still = weights[1, 0, 0, 0]
    assert torch.allclose(weights[weights != weights[0, 0, 1, 0]], still)  # every still token alike
    # the moved token's move is 8× the mean move (1 of 8 tokens): 1 + 3 × 8 = 25 against 1 before normalising
    assert torch.isclose(weights[0, 0, 1, 0] / still, torch.tensor(25.0))


def test_at_gain_zero_every_token_weighs_one():
    before, after = torch.zeros(2, 3, 4, 5), torch.randn(2, 3, 4, 5)
    assert torch.equal(changed_token_weights(after, before, gain=0.0), torch.ones(2, 3, 4, 1))


def test_the_jepa_stage_finds_the_tokens_whose_pixels_changed():
    before = torch.zeros(2, 1, 3, 16, 16)  # [B, 1, 3, H, W]: frame t, 4×4 tokens of 4×4 pixels
    after = before.repeat(1, 3, 1, 1, 1)  # [B, F, 3, H, W]: frames t+1 .. t+3
    after[0, 1, 2, 5, 14] = 0.5  # one pixel of token (1, 3) of the first sample's second frame ahead, blue only
    after[1, 2, 0, 0, 0] = CHANGED_PIXEL / 2  # a change too faint to count
    changed = changed_tokens(before, after, patch=4)  # [B, F, 4, 4]
    assert changed.shape == (2, 3, 4, 4)
    assert changed.sum() == 1 and changed[0, 1, 1, 3]


def test_the_change_hinge_asks_latents_to_move_only_where_the_pixels_did():
    model = ModelConfig(frame_size=16, channels=(4, 4), latent_dim=2)  # 4×4 tokens of 4×4 pixels
    objective = JepaObjective(model, JepaConfig(change_floor=0.5), Encoder(model))
    context = torch.zeros(1, 2, 3, 16, 16)  # [B, 2, 3, H, W]: frames t-1 and t
    context[0, 1, :, 0, 0] = 1.0  # token (0, 0) changes; the other 15 do not
    latents = torch.zeros(1, 2, 16, 2)  # [B, 2, N, D]: no latent moves
    assert torch.isclose(objective.change_loss(latents, context), torch.tensor(0.5))  # token 0 is short by 0.5
    latents[0, 1, 0] = 0.2  # it moves by 0.2 of the 0.5 asked
    assert torch.isclose(objective.change_loss(latents, context), torch.tensor(0.3))
    latents[0, 1, 1:] = 5.0  # tokens whose pixels did not change may move or not: the hinge does not look
    assert torch.isclose(objective.change_loss(latents, context), torch.tensor(0.3))
    assert objective.change_loss(latents, torch.zeros(1, 2, 3, 16, 16)) == 0  # nothing changed: nothing asked
