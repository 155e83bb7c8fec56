"""Frame autoencoder: a 64×64 RGB frame <-> a grid of latent tokens [N, D]."""

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

    def forward(self, frames):  # [B, 3, H, W] in [0, 1]
        grid = self.net(frames * 2.0 - 1.0)  # [B, D, g, g]
        return grid.flatten(2).transpose(1, 2)  # [B, N, D]


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
