"""The "jepa" family's first stage (`encoder_stages.JepaStage`): the encoder learns only by predicting latents,
never pixels (as V-JEPA).

A target encoder, the exponential moving average of the encoder, gives the latents to predict. Two tasks:
- masked tokens: the encoder reads a frame whose pixels under square blocks of tokens are blanked; a small
  predictor, told which tokens were hidden, predicts the target's latents of the hidden tokens;
- future frames: from the encoder's latents of frames t-1 and t, a second small predictor gives the target's
  latents of frames t+1 .. t+F (with no action: the expected future, as V-JEPA's predictor).
Only the encoder and the two predictors learn; the target follows the encoder by EMA, with no gradient.
Small moving sprites (the paddle, Breakout's ball) weigh next to nothing in a loss over every token, and latents
that barely change from frame to frame make the future easy to predict: two terms aim at the tokens whose pixels
change (`changed_tokens`): their future loss weighed up (`JepaConfig.changed_token_weight`), and a hinge that
makes the encoder's latents there change from frame t-1 to t by at least `JepaConfig.change_floor`. Without the
hinge, a Breakout run's future loss fell to a tenth of the run with it while its latents' effective rank fell
from 137 to 34, and the predictor trained on them diverged (README, "The JEPA bundle").
Collapse (every frame to one latent) would make both losses zero; the predictor and EMA asymmetry is what
V-JEPA relies on against it, and a VICReg-style variance and covariance term on the encoder's latents can be
added (`JepaConfig`). `collapse_guard` measures it: the channels' standard deviation and effective rank.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from studio.metrics import effective_rank
from studio.train.autoencoder import Encoder, ResidualBlock, group_norm
from studio.train.config import JepaConfig, ModelConfig

CHANGED_PIXEL = 0.05  # a token changed if a pixel of its patch moved by more than this (of [0, 1]) in a channel


def changed_tokens(before, after, patch: int):  # [..., 3, H, W] twice (broadcast) -> [..., g, g] bool
    """The tokens whose patch of pixels differs between two frames."""
    moved = (after - before).abs().amax(dim=-3)  # [..., H, W]
    lead, (h, w) = moved.shape[:-2], moved.shape[-2:]
    most = F.max_pool2d(moved.reshape(-1, 1, h, w), patch)  # [M, 1, g, g]
    return most.view(*lead, h // patch, w // patch) > CHANGED_PIXEL


class GridPredictor(nn.Module):
    """A residual conv net over the latent grid: [B, in, g, g] -> [B, out, g, g]."""

    def __init__(self, inputs: int, outputs: int, width: int, blocks: int):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(inputs, width, 3, padding=1),
            *(ResidualBlock(width) for _ in range(blocks)),
            group_norm(width),
            nn.SiLU(),
            nn.Conv2d(width, outputs, 3, padding=1),
        )

    def forward(self, grid):  # [B, in, g, g]
        return self.net(grid)


class JepaObjective(nn.Module):
    """The target encoder and the two latent predictors of the JEPA stage (kept in the checkpoint, never exported)."""

    FUTURE_CONTEXT = 2  # frames t-1 and t: enough to see which way things move

    def __init__(self, model: ModelConfig, jepa: JepaConfig, encoder: Encoder):
        super().__init__()
        d, w, blocks = model.latent_dim, jepa.predictor_width, jepa.predictor_blocks
        self.grid, self.patch, self.jepa = model.grid, model.frame_size // model.grid, jepa
        self.target = copy.deepcopy(encoder).requires_grad_(False)
        self.masked = GridPredictor(d + 1, d, w, blocks)  # the visible latents and the mask -> every token's latent
        self.future = GridPredictor(self.FUTURE_CONTEXT * d, jepa.future * d, w, blocks)

    @torch.no_grad()
    def follow(self, encoder: Encoder, momentum: float) -> None:
        """The target encoder takes `1 - momentum` of the way towards the encoder."""
        for target, online in zip(self.target.parameters(), encoder.parameters()):
            target.lerp_(online, 1.0 - momentum)
        for target, online in zip(self.target.buffers(), encoder.buffers()):
            target.copy_(online)

    def token_mask(self, batch: int, generator: torch.Generator) -> torch.Tensor:  # -> [B, g, g] bool, True: hidden
        """Square blocks of `mask_block` tokens a side, hidden at random until about `mask_share` are."""
        blocks = -(-self.grid // self.jepa.mask_block)
        hidden = torch.rand(batch, 1, blocks, blocks, generator=generator) < self.jepa.mask_share
        hidden = F.interpolate(hidden.float(), scale_factor=self.jepa.mask_block, mode="nearest")
        return hidden[:, 0, : self.grid, : self.grid].bool()

    def masked_loss(self, encoder: Encoder, seen, clean, hidden):  # [B, 3, H, W] twice, [B, g, g] bool
        """The masked-token task: `seen` (a frame, or a perturbed view of it) with the hidden tokens' pixels
        blanked -> the target's latents of the clean frame at the hidden tokens. -> (loss, the target's latents
        [B, N, D] of the clean frames)."""
        pixels = hidden.repeat_interleave(self.patch, 1).repeat_interleave(self.patch, 2)[:, None]  # [B, 1, H, W]
        latents = encoder(seen.masked_fill(pixels, 0.5))  # [B, N, D]
        with torch.no_grad():
            target = self.target(clean)  # [B, N, D]
        b, n, d = latents.shape
        grid = latents.transpose(1, 2).reshape(b, d, self.grid, self.grid)  # [B, D, g, g]
        predicted = self.masked(torch.cat([grid, hidden[:, None].float()], dim=1))  # [B, D, g, g]
        predicted = predicted.flatten(2).transpose(1, 2)  # [B, N, D]
        where = hidden.flatten(1)  # [B, N]
        return F.l1_loss(predicted[where], target[where]), target

    def future_loss(self, encoder: Encoder, context, ahead):  # [B, 2, 3, H, W], [B, F, 3, H, W]
        """The future-frame task: the encoder's latents of frames t-1, t -> the target's of t+1 .. t+F, the tokens
        whose pixels changed since frame t weighed `1 + changed_token_weight`. -> (loss, the latents [B*2, N, D])."""
        b = len(context)
        latents = encoder(context.flatten(0, 1))  # [B*2, N, D]
        with torch.no_grad():
            target = self.target(ahead.flatten(0, 1)).view(b, ahead.shape[1], *latents.shape[1:])  # [B, F, N, D]
        d = latents.shape[-1]
        grid = latents.view(b, -1, self.grid**2, d).permute(0, 1, 3, 2).reshape(b, -1, self.grid, self.grid)
        predicted = self.future(grid).view(b, ahead.shape[1], d, -1).transpose(2, 3)  # [B, F, N, D]
        changed = changed_tokens(context[:, -1:], ahead, self.patch).flatten(2)  # [B, F, N]
        weight = 1.0 + self.jepa.changed_token_weight * changed.float()  # [B, F, N]
        error = (predicted - target).abs().mean(dim=-1)  # [B, F, N]
        return (weight * error).sum() / weight.sum(), latents

    def change_loss(self, latents, context):  # [B, 2, N, D], [B, 2, 3, H, W]
        """The hinge of `change_floor`: at tokens whose pixels changed from frame t-1 to t, the encoder's latents
        must change by at least `change_floor` (mean absolute over channels); 0 where nothing changed."""
        changed = changed_tokens(context[:, 0], context[:, 1], self.patch).flatten(1)  # [B, N]
        moved = (latents[:, 1] - latents[:, 0]).abs().mean(dim=-1)  # [B, N]
        shortfall = F.relu(self.jepa.change_floor - moved)[changed]
        return shortfall.mean() if len(shortfall) else moved.sum() * 0.0


def variance_covariance(latents, std_floor: float):  # [M, D] -> (variance term, covariance term)
    """VICReg's regulariser: a hinge pushing every channel's standard deviation up to `std_floor`, and the
    squared off-diagonal covariances of the channels (over D), so no channel is constant or a copy of another."""
    centred = latents - latents.mean(dim=0)
    std = torch.sqrt(centred.var(dim=0) + 1e-4)  # [D]
    covariance = centred.T @ centred / (len(latents) - 1)  # [D, D]
    off_diagonal = covariance - torch.diag(torch.diag(covariance))
    return F.relu(std_floor - std).mean(), (off_diagonal**2).sum() / latents.shape[1]


def collapse_guard(latents) -> dict[str, float]:  # [B, N, D]
    """How far the latents are from collapse: each channel's standard deviation over the batch's tokens
    (mean over channels), and the effective rank of the tokens' latents (1: collapsed, at most D)."""
    tokens = latents.detach().flatten(0, 1).float().cpu().numpy()  # [B*N, D]
    return {
        "latent_std": float(tokens.std(axis=0).mean()),
        "token_effective_rank": effective_rank(tokens),
        "frame_effective_rank": effective_rank(np.asarray(latents.detach().float().cpu())),
    }


def ema_momentum(jepa: JepaConfig, step: int, total_steps: int) -> float:
    """The target's momentum at `step`: linear from `ema_start` to `ema_end` over the stage."""
    return jepa.ema_start + (jepa.ema_end - jepa.ema_start) * min(1.0, step / max(1, total_steps))
