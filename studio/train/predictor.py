"""Predictor (dynamics): the last C latent frames and an action vector -> the next latent frame.

A residual conv net over the latent grid; the action modulates every block (FiLM), and every block is
normalised, so the action cannot be drowned out and the net cannot settle into an identity map.
With continuous latents it predicts the change from the last frame, which most of the time is small. With
quantised latents (`latent_levels`) it classifies: each channel of each token takes one of the levels, and
the level the channel has now starts with a bonus (`copy_logit`, learnt), so the first predictions are
copies and the net learns what moves; a rollout takes the likeliest level, so its latents stay on the
values the encoder gives and an unchanging scene stays exactly as it was.
With `predictor_change_gain` it reads the last frame and the changes between the context's frames, scaled up
(a JEPA latent moves by a few per cent of its size, below what a net reading whole frames resolves), and
predicts the next change on the same scale.
"""

from __future__ import annotations

import torch
from torch import nn

from studio.train.autoencoder import ScalarQuantizer
from studio.train.config import ModelConfig


class ActionBlock(nn.Module):
    def __init__(self, width: int, action_dim: int):
        super().__init__()
        self.width = width
        self.norm1, self.norm2 = nn.GroupNorm(8, width), nn.GroupNorm(8, width)
        self.conv1 = nn.Conv2d(width, width, 3, padding=1)
        self.conv2 = nn.Conv2d(width, width, 3, padding=1)
        self.film = nn.Linear(action_dim, 2 * width)
        self.act = nn.SiLU()

    def film_of(self, action):  # [B, Da] -> scale, shift [B, W, 1, 1] each
        # split by a fixed width: the exported graph slices at a constant, not at a size computed per call
        return self.film(action)[:, :, None, None].split(self.width, dim=1)

    def forward(self, x, action):  # [B, W, g, g], [B, Da]
        scale, shift = self.film_of(action)
        return self.convolved(x, self.norm1(x) * (1 + scale) + shift)

    def convolved(self, x, modulated):  # [B, W, g, g] each: the block's input, and it normalized and modulated
        h = self.conv1(self.act(modulated))
        h = self.conv2(self.act(self.norm2(h)))
        return x + h


class Predictor(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        d, w = config.latent_dim, config.predictor_width
        self.grid, self.context = config.grid, config.context
        self.change_gain = config.predictor_change_gain
        self.quantizer = ScalarQuantizer(config.latent_levels) if config.latent_levels else None
        outputs = d * config.latent_levels if self.quantizer else d  # logits of every level, or the change
        self.stem = nn.Conv2d(config.context * d, w, 3, padding=1)
        self.blocks = nn.ModuleList(ActionBlock(w, config.action_dim) for _ in range(config.predictor_blocks))
        self.head = nn.Sequential(nn.GroupNorm(8, w), nn.SiLU(), nn.Conv2d(w, outputs, 3, padding=1))
        if self.quantizer:
            self.copy_logit = nn.Parameter(torch.tensor(config.predictor_copy_logit))
        # with `head_init` < 1 the change starts near zero, so the first predictions are nearly copies of the
        # last frame (the default head adds noise as large as the latents, which training then has to undo)
        if config.predictor_head_init != 1.0:
            self.head[-1].weight.data.mul_(config.predictor_head_init)
            self.head[-1].bias.data.zero_()

    def forward(self, context, action):  # [B, C, N, D], [B, Da] -> [B, N, D]
        if self.quantizer is None:
            change = self._head(context, action)  # [B, N, D]: the change from the last frame, scaled by the gain
            return context[:, -1] + (change / self.change_gain if self.change_gain else change)
        return self.quantizer.value(self.level_logits(context, action).argmax(dim=-1))

    def level_logits(self, context, action):  # [B, C, N, D], [B, Da] -> [B, N, D, levels]
        """Quantised latents: the logits of every level of every channel of every token of the next frame."""
        b, c, n, d = context.shape
        levels = self.quantizer.levels
        logits = self._head(context, action).reshape(b, n, d, levels)  # [B, N, D, levels]
        current = self.quantizer.index(context[:, -1])  # [B, N, D]
        is_current = (current[..., None] == torch.arange(levels, device=context.device)).float()  # [B, N, D, levels]
        return logits + self.copy_logit * is_current

    def _head(self, context, action):  # [B, C, N, D], [B, Da] -> [B, N, D'] (D' = D, or D * levels)
        b, c, n, d = context.shape
        if self.change_gain:  # the changes between the frames, scaled, and the last frame
            changes = (context[:, 1:] - context[:, :-1]) * self.change_gain  # [B, C-1, N, D]
            context = torch.cat([changes, context[:, -1:]], dim=1)  # [B, C, N, D]
        grid = context.permute(0, 1, 3, 2).reshape(b, c * d, self.grid, self.grid)  # [B, C*D, g, g]
        h = self.stem(grid)  # [B, W, g, g]
        for block in self.blocks:
            h = block(h, action)
        return self.head(h).flatten(2).transpose(1, 2)  # [B, N, D']
