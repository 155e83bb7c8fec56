"""Frame autoencoder: a 64×64 RGB frame <-> a grid of latent tokens [N, D], continuous or quantised."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from studio.train.config import NORM_KINDS, ModelConfig


def group_norm(channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(min(8, channels), channels)


class TokenNorm(nn.Module):
    """Each position's channels normalised on their own (a LayerNorm over C at every pixel), with a per-channel
    affine: no statistic is shared across the frame, so what a position computes depends on its receptive field
    only, as a convolution's does."""

    def __init__(self, channels: int, eps: float = 1e-5):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.eps = eps

    def forward(self, x):  # [B, C, h, w]
        last = F.layer_norm(x.permute(0, 2, 3, 1), self.weight.shape, self.weight, self.bias, self.eps)  # [B, h, w, C]
        return last.permute(0, 3, 1, 2)


NORMS = dict(zip(NORM_KINDS, (group_norm, TokenNorm)))  # ModelConfig.norm -> the layer it names


class ResidualBlock(nn.Module):
    def __init__(self, channels: int, norm: str = "group"):
        super().__init__()
        normalisation = NORMS[norm]
        self.body = nn.Sequential(
            normalisation(channels),
            nn.SiLU(),
            nn.Conv2d(channels, channels, 3, padding=1),
            normalisation(channels),
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
        widths, normalisation = config.channels, NORMS[config.norm]
        layers: list[nn.Module] = [nn.Conv2d(3, widths[0], 3, padding=1)]
        for c_in, c_out in zip((widths[0], *widths[:-1]), widths):
            layers += [normalisation(c_in), nn.SiLU(), nn.Conv2d(c_in, c_out, 4, stride=2, padding=1)]
        layers += [
            ResidualBlock(widths[-1], config.norm),
            normalisation(widths[-1]),
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
        widths, normalisation = config.channels[::-1], NORMS[config.norm]
        self.grid = config.grid
        layers: list[nn.Module] = [nn.Conv2d(config.latent_dim, widths[0], 1), ResidualBlock(widths[0], config.norm)]
        for c_in, c_out in zip(widths, (*widths[1:], widths[-1])):
            layers += [normalisation(c_in), nn.SiLU(), nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1)]
        layers += [normalisation(widths[-1]), nn.SiLU(), nn.Conv2d(widths[-1], 3, 3, padding=1)]
        self.net = nn.Sequential(*layers)

    def forward(self, latents):  # [B, N, D]
        b, n, d = latents.shape
        grid = latents.transpose(1, 2).reshape(b, d, self.grid, self.grid)  # [B, D, g, g]
        return torch.sigmoid(self.net(grid))  # [B, 3, H, W]
