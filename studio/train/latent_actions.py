"""Latent action model: reads the action that moved frame t to frame t+1, as one of K codes.

It sees the latents (from the frozen encoder) of frames t-L+2 .. t+1: the transition, and with L > 2 the
frames before it (where a game has momentum, the player's input is the *change* of motion, which two
frames cannot show). It squeezes them into an action vector of a few
dimensions and snaps that to the nearest of K codebook vectors (a VQ bottleneck, straight-through
gradients). Action vectors and codes live on the unit sphere (cosine VQ), so neither can shrink towards
one point. No action label is ever used: the codes are learnt because the predictor needs them to
predict frame t+1. Codes that go unused are reset to recent action vectors, so the codebook cannot
collapse onto a few entries.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from studio.train.config import ModelConfig


class LatentActionModel(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        d, w, g, window = config.latent_dim, config.lam_width, config.grid, config.action_window
        self.grid = g
        self.change_gain = config.action_change_gain
        self.features = nn.Sequential(
            nn.Conv2d((2 * window - 1) * d, w, 3, padding=1),
            nn.GroupNorm(8, w),
            nn.SiLU(),
            nn.Conv2d(w, w, 4, stride=2, padding=1),
            nn.GroupNorm(8, w),
            nn.SiLU(),
        )
        self.to_action = nn.Linear(w * (g // 2) ** 2, config.action_dim)
        self.codebook = nn.Parameter(torch.randn(config.codebook_size, config.action_dim) * 0.5)
        self.register_buffer("usage", torch.zeros(config.codebook_size))

    def encode(self, window):  # [B, L, N, D]: latent frames t-L+2 .. t+1
        b, length, n, d = window.shape
        changes = (window[:, 1:] - window[:, :-1]) * self.change_gain  # [B, L-1, N, D]
        steps = torch.cat([window, changes], dim=1)  # [B, 2L-1, N, D] frames and changes
        grid = steps.permute(0, 1, 3, 2).reshape(b, (2 * length - 1) * d, self.grid, self.grid)  # [B, (2L-1)D, g, g]
        return F.normalize(self.to_action(self.features(grid).flatten(1)), dim=1)  # [B, Da], unit length

    def codes(self):  # -> [K, Da], unit length: the codebook the bundle ships
        return F.normalize(self.codebook, dim=1)

    def quantize(self, action):  # [B, Da]
        codes = self.codes()  # [K, Da]
        distances = torch.cdist(action, codes)  # [B, K]
        code = distances.argmin(dim=1)  # [B]
        chosen = codes[code]  # [B, Da]
        return code, chosen, distances

    def forward(self, window, bottleneck: bool = True):  # [B, L, N, D]
        """-> (action [B, Da] before quantisation, code [B], distances [B, K], quantized [B, Da] straight-through;
        without the bottleneck the action vector itself)."""
        action = self.encode(window)
        code, chosen, distances = self.quantize(action)
        quantized = action + (chosen - action).detach() if bottleneck else action
        return action, code, distances, quantized

    def vq_loss(self, action, code, commitment: float):
        chosen = self.codes()[code]  # [B, Da]
        return ((chosen - action.detach()) ** 2).mean() + commitment * ((action - chosen.detach()) ** 2).mean()

    @torch.no_grad()
    def track_usage(self, code, decay: float):  # [B]; `usage` [K] is a running share of each code's use
        counts = torch.bincount(code, minlength=self.codebook.shape[0]).float()
        self.usage.mul_(decay).add_(counts / counts.sum(), alpha=1 - decay)

    @torch.no_grad()
    def init_codebook(self, actions, iterations: int, seed: int) -> None:
        """k-means (k-means++ start, cosine) of action vectors [M, Da] as the codebook: the VQ bottleneck is
        switched on only once the action vectors carry what the predictor needs, so no code starts dead."""
        generator = torch.Generator(device="cpu").manual_seed(seed)
        actions = F.normalize(actions.detach().cpu(), dim=1)  # [M, Da]
        centres = actions[torch.randint(len(actions), (1,), generator=generator)]  # [1, Da]
        while len(centres) < self.codebook.shape[0]:
            gap = torch.cdist(actions, centres).min(dim=1).values ** 2  # [M]
            centres = torch.cat([centres, actions[torch.multinomial(gap + 1e-12, 1, generator=generator)]])
        for _ in range(iterations):
            assign = torch.cdist(actions, centres).argmin(dim=1)  # [M]
            for k in range(len(centres)):
                if (assign == k).any():
                    centres[k] = F.normalize(actions[assign == k].mean(dim=0), dim=0)
        self.codebook.data.copy_(centres.to(self.codebook.device))
        self.usage.fill_(1.0 / len(centres))

    @torch.no_grad()
    def reset_dead_codes(self, recent_actions, threshold: float, noise: float) -> int:
        """Move codes used less than `threshold` of the time onto random recent action vectors [M, Da], each
        with Gaussian noise of spread `noise`."""
        dead = torch.nonzero(self.usage < threshold * self.usage.sum()).flatten()
        if len(dead) == 0:
            return 0
        picks = torch.randint(len(recent_actions), (len(dead),), device=recent_actions.device)
        self.codebook.data[dead] = recent_actions[picks] + noise * torch.randn_like(recent_actions[picks])
        self.usage[dead] = self.usage.sum() / len(self.usage)
        return len(dead)


class ActionGraph(nn.Module):
    """What the `actions` ONNX graph computes: latents of frames t-L+2 .. t+1 -> action, code, distances."""

    def __init__(self, lam: LatentActionModel):
        super().__init__()
        self.lam = lam

    def forward(self, latents):  # [B, L, N, D]
        action = self.lam.encode(latents)  # [B, Da]
        code, _, distances = self.lam.quantize(action)
        return action, code, distances
