"""Frame autoencoder: a 64×64 RGB frame <-> a grid of latent tokens [N, D], continuous or quantised."""

from __future__ import annotations

import torch
from torch import nn

from studio.train.config import ModelConfig


def group_norm(channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(min(8, channels), channels)


class ResidualBlock(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(
            group_norm(channels),
            nn.SiLU(),
            nn.Conv2d(channels, channels, 3, padding=1),
            group_norm(channels),
            nn.SiLU(),
            nn.Conv2d(channels, channels, 3, padding=1),
        )

    def forward(self, x):  # [B, C, h, w]
        return x + self.body(x)


class ScalarQuantizer(nn.Module):
    """Finite scalar quantisation (Mentzer et al., 2023): every latent channel is squashed into [-1, 1] and
    rounded to one of `levels` evenly spaced values; gradients pass straight through the rounding.

    Quantised latents keep rollouts on the latents the decoder knows: a prediction is one of the values an
    encoder gives, never an average drifting off between them, and a scene that does not change stays exact.
    """

    def __init__(self, levels: int):
        super().__init__()
        self.levels = levels
        self.half = (levels - 1) / 2  # values are k / half for k in -half .. half

    def forward(self, x):  # [..., D] unbounded -> [..., D] on the levels
        bounded = torch.tanh(x)
        snapped = self.snap(bounded)
        return bounded + (snapped - bounded).detach() if self.training else snapped  # exact levels out of training

    def snap(self, values):  # [..., D] in [-1, 1] -> the nearest level
        return torch.round(values * self.half) / self.half

    def index(self, values):  # [..., D] on the levels -> [..., D] int64 in 0 .. levels-1
        return torch.round(values * self.half + self.half).long()

    def value(self, index):  # [..., D] int64 -> [..., D] float on the levels
        return (index.float() - self.half) / self.half  # as `snap` computes it, to the last bit

    def values(self):  # -> [levels]: every level, in index order
        return self.value(torch.arange(self.levels))


class Encoder(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        widths = config.channels
        layers: list[nn.Module] = [nn.Conv2d(3, widths[0], 3, padding=1)]
        for c_in, c_out in zip((widths[0], *widths[:-1]), widths):
            layers += [group_norm(c_in), nn.SiLU(), nn.Conv2d(c_in, c_out, 4, stride=2, padding=1)]
        layers += [
            ResidualBlock(widths[-1]),
            group_norm(widths[-1]),
            nn.SiLU(),
            nn.Conv2d(widths[-1], config.latent_dim, 1),
        ]
        self.net = nn.Sequential(*layers)
        self.quantizer = ScalarQuantizer(config.latent_levels) if config.latent_levels else None

    def forward(self, frames):  # [B, 3, H, W] in [0, 1]
        grid = self.net(frames * 2.0 - 1.0)  # [B, D, g, g]
        latents = grid.flatten(2).transpose(1, 2)  # [B, N, D]
        return latents if self.quantizer is None else self.quantizer(latents)


class Decoder(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        widths = config.channels[::-1]
        self.grid = config.grid
        layers: list[nn.Module] = [nn.Conv2d(config.latent_dim, widths[0], 1), ResidualBlock(widths[0])]
        for c_in, c_out in zip(widths, (*widths[1:], widths[-1])):
            layers += [group_norm(c_in), nn.SiLU(), nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1)]
        layers += [group_norm(widths[-1]), nn.SiLU(), nn.Conv2d(widths[-1], 3, 3, padding=1)]
        self.net = nn.Sequential(*layers)

    def forward(self, latents):  # [B, N, D]
        b, n, d = latents.shape
        grid = latents.transpose(1, 2).reshape(b, d, self.grid, self.grid)  # [B, D, g, g]
        return torch.sigmoid(self.net(grid))  # [B, 3, H, W]
