"""The stages that teach the encoder its latents, each the first stage of a recipe.

- `AutoencoderStage`: encoder + decoder on single frames, sprite pixels weighted up; part of each batch is
  perturbed views of its frames (rows cut, shifted, rescaled, re-encoded), which the encoder must map to the
  clean frame's latent and the decoder draw as the clean frame.
- `JepaStage`: the encoder alone learns by predicting a moving-average target encoder's latents of masked
  tokens and of future frames (`studio.train.jepa`); the decoder waits for a later stage.
"""

from __future__ import annotations

import numpy as np
import torch

from studio.train.jepa import JepaObjective, collapse_guard, ema_momentum, variance_covariance
from studio.train.stage import Stage
from studio.train.world_model import TrainableWorldModel


class AutoencoderStage(Stage):
    name = "autoencoder"

    def __init__(self, run):
        super().__init__(run)
        o = run.config.optim
        self.module = AutoencoderStep(run.model)
        # the last `paired` rows of a batch: perturbed views of its first rows, to be drawn as the clean frames
        self.paired = int(round(o.batch_size * o.view_share)) if run.train.views is not None else 0

    def start(self, step: int) -> None:
        self.run.model.train()

    def batch(self, step: int):  # -> the frames seen [B, 3, H, W], the clean frames to draw [B, 3, H, W]
        frames, views = self.run.train.frames, self.run.train.views
        index = self.run.rng.integers(0, len(frames), self.run.config.optim.batch_size - self.paired)
        clean = self.pixels(frames[np.concatenate([index, index[: self.paired]])])  # [B, 3, H, W]
        if not self.paired:
            return clean, clean
        return torch.cat([clean[: len(index)], self.pixels(views[index[: self.paired]])]), clean

    def loss(self, net, batch, step: int):
        (seen, clean), o = batch, self.run.config.optim
        latents, out = net(seen)  # [B, N, D], [B, 3, H, W]
        loss, drawn_figures = self.run.model.pixel_loss(out, clean, o)
        figures = {"ae_loss": loss.item(), **drawn_figures}
        if self.paired and o.view_latent_weight > 0:  # a view's latent lands on its clean frame's
            target = latents[: self.paired].detach()  # [P, N, D]
            match = ((latents[len(clean) - self.paired :] - target) ** 2).mean() / target.var().clamp_min(1e-6)
            loss = loss + o.view_latent_weight * match
            figures["view_latent_loss"] = match.item()
        return loss, figures


class JepaStage(Stage):
    """At the end the target encoder, the smoother of the two, becomes the model's encoder."""

    name = "jepa"

    def __init__(self, run):
        super().__init__(run)
        config, o = run.config, run.config.optim
        self.kept = JepaObjective(config.model, config.jepa, run.model.encoder).to(run.device)
        self.module = JepaStep(run.model.encoder, self.kept)
        # the first rows read a perturbed view: their hidden tokens are still the clean frame's
        self.viewed = int(round(o.batch_size * o.view_share)) if run.train.views is not None else 0

    def start(self, step: int) -> None:
        self.module.train()
        self.kept.target.eval()
        self.masks = torch.Generator().manual_seed(self.run.config.seed + 1000 * self.run.rank + step)

    def batch(self, step: int):
        """-> the frames seen [B, 3, H, W], the clean frames [B, 3, H, W], the hidden tokens [B, g, g], frames t-1
        and t [B, 2, 3, H, W] and frames t+1 .. t+F [B, F, 3, H, W]."""
        train, future = self.run.train, self.run.config.jepa.future
        t = self.run.rng.choice(np.flatnonzero(train.ahead >= future), self.run.config.optim.batch_size)  # [B]
        previous = np.maximum(t - 1, train.episode_start[t])  # [B]
        clean = self.pixels(train.frames[t])  # [B, 3, H, W]
        seen = clean
        if self.viewed:
            seen = torch.cat([self.pixels(train.views[t[: self.viewed]]), clean[self.viewed :]])
        context = self.pixels(train.frames[np.stack([previous, t], 1).reshape(-1)])  # [B*2, 3, H, W]
        ahead = self.pixels(train.frames[(t[:, None] + np.arange(1, future + 1)).reshape(-1)])  # [B*F, 3, H, W]
        hidden = self.kept.token_mask(len(t), self.masks).to(self.run.device)  # [B, g, g]
        frame = clean.shape[1:]
        return seen, clean, hidden, context.view(len(t), 2, *frame), ahead.view(len(t), future, *frame)

    def loss(self, net, batch, step: int):
        j = self.run.config.jepa
        masked_loss, future_loss, latents, target = net(*batch)
        variance, covariance = variance_covariance(latents.flatten(0, 2), j.std_floor)  # over [B*2*N, D]
        loss = masked_loss + j.future_weight * future_loss
        loss = loss + j.variance_weight * variance + j.covariance_weight * covariance
        change = self.kept.change_loss(latents, batch[3])  # the context frames t-1, t
        loss = loss + change
        figures = {
            "change_loss": change.item(),
            "masked_loss": masked_loss.item(),
            "future_loss": future_loss.item(),
            "variance_loss": variance.item(),
            "covariance_loss": covariance.item(),
        }
        if step % self.run.config.optim.log_every == 0:  # the collapse guard, on the target's latents of clean frames
            figures.update(collapse_guard(target))
        return loss, figures

    def after_step(self, step: int) -> dict[str, float]:
        config = self.run.config
        self.kept.follow(self.run.model.encoder, ema_momentum(config.jepa, step, self.steps(config)))
        return {}

    def finish(self) -> None:
        self.run.model.encoder.load_state_dict(self.kept.target.state_dict())


class AutoencoderStep(torch.nn.Module):
    """The autoencoder stage's trainable part as one module, so DistributedDataParallel can wrap it."""

    def __init__(self, model: TrainableWorldModel):
        super().__init__()
        self.encoder, self.decoder = model.encoder, model.decoder

    def forward(self, frames):  # [B, 3, H, W]
        latents = self.encoder(frames)  # [B, N, D]
        return latents, self.decoder(latents)  # [B, N, D], [B, 3, H, W]


class JepaStep(torch.nn.Module):
    """The JEPA stage's trainable part: the encoder and the two latent predictors."""

    def __init__(self, encoder: torch.nn.Module, objective: JepaObjective):
        super().__init__()
        self.encoder, self.objective = encoder, objective

    def forward(self, seen, clean, hidden, context, ahead):  # [B, 3, H, W] x2, [B, g, g], [B, 2, 3, H, W], [B, F, ...]
        """-> the masked-token loss, the future-frame loss, the encoder's latents of the context [B, 2, N, D]
        and the target's latents of the clean frames [B, N, D]."""
        masked_loss, target = self.objective.masked_loss(self.encoder, seen, clean, hidden)
        future_loss, latents = self.objective.future_loss(self.encoder, context, ahead)
        return masked_loss, future_loss, latents.view(len(clean), 2, *latents.shape[1:]), target
