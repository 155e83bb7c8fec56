"""The stages that follow the encoder's: the dynamics on its frozen latents, and the decoder on the dynamics'.

- `DynamicsStage`: with the encoder and the decoder frozen and every frame encoded once, the latent action
  model and the predictor learn together to predict frames t+1 .. t+K from frames t-C+1..t and the codes read
  off each transition (the action model sees frames t-L+2..t+1), each step on the predictor's own
  predictions; K grows from 1 to `unroll`, and the true context is noised, so the predictor learns to
  continue from contexts as imperfect as its own. Optionally (off by default) a fixed share of at most 2.5% of
  the transitions carries its true action, which picks its code (weak supervision, written in the manifest).
  `LatentDynamicsStage` is the same in latents only, for a model whose decoder is not trained yet.
- `DecoderStage`: the decoder learns to draw the true frames from the predictor's own rollouts as well as
  from the encoder's latents.
"""

from __future__ import annotations

from collections import deque

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F

from studio.games import observed_movement_class
from studio.train.config import ModelConfig, OptimConfig
from studio.train.data import Frames, game_of
from studio.train.stage import Stage, pixels
from studio.train.world_model import TrainableWorldModel


class DynamicsStage(Stage):
    name = "dynamics"
    evaluated = True
    pixel_loss = True  # the predictions are decoded too, and judged as pixels beside the latent loss

    def __init__(self, run):
        super().__init__(run)
        self.module = DynamicsStep(run.model)

    def start(self, step: int) -> None:
        model, o = self.run.model, self.run.config.optim
        model.encoder.requires_grad_(False)
        model.decoder.requires_grad_(False)
        self.latents = encode_all(model, self.run.train.frames, o.encode_batch, self.run.device)  # [F, N, D]
        self.scale = self.latents.std()
        self.loss_scale = self.scale  # the latent loss's unit
        if o.latent_loss_over_change:  # copying's loss: the root mean squared change to the next frame
            t = torch.from_numpy(np.flatnonzero(self.run.train.ahead >= 1))  # [M] frames with a next one
            self.loss_scale = ((self.latents[t + 1] - self.latents[t]) ** 2).mean().sqrt()
        self.train_mode()
        self.labelled, self.labels = self._labelled_transitions()
        self.recent: deque[torch.Tensor] = deque(maxlen=o.recent_batches)  # the last batches' action vectors [B*K, Da]

    def batch(self, step: int):
        """-> the transitions t [B], the context [B, C, N, D], the action model's windows [B, K, L, N, D] and the
        transitions ahead [B, K] (frame indices)."""
        o, rng = self.run.config.optim, self.run.rng
        k_steps = unroll_length(o, step)
        t = rng.choice(np.flatnonzero(self.run.train.ahead >= k_steps), o.batch_size)  # [B]; t+1..t+K follow
        if len(self.labelled):
            t[: o.labelled_per_batch] = rng.choice(self.labelled, min(o.labelled_per_batch, o.batch_size))
        # context dropout: some samples see only frame t, so the predictor cannot take the paddle's
        # direction from its past motion and the code has to say which way the player moved it
        context, windows, ahead = rollout_inputs(
            self.latents, self.run.train, self.run.config.model, rng, t, k_steps, blind_share=o.context_dropout
        )
        if o.context_noise > 0:  # the predictor learns to read a context as imperfect as its own predictions
            level = torch.rand(len(t), 1, 1, 1, device=context.device) * o.context_noise * self.scale  # [B, 1, 1, 1]
            context = context + level * torch.randn_like(context)
        return t, context, windows, ahead

    def loss(self, net, batch, step: int):
        (t, context, windows, ahead), o, model = batch, self.run.config.optim, self.run.model
        k_steps = ahead.shape[1]
        bottleneck = step >= o.vq_warmup
        if step == o.vq_warmup and self.recent:
            self._init_codebook(torch.cat(list(self.recent)))
        action, code, distances, predicted, level_logits = net(context, windows, bottleneck)
        targets = self.latents[torch.from_numpy(ahead + 1)]  # [B, K, N, D]
        weights = changed_token_weights(targets, self.latents[torch.from_numpy(ahead)], o.changed_token_weight)
        if level_logits is None:
            latent_loss = (weights * (predicted - targets) ** 2).mean() / self.loss_scale**2
        else:  # each channel's next level, as a class
            levels = model.predictor.quantizer.index(targets)  # [B, K, N, D]
            classified = F.cross_entropy(level_logits.flatten(0, -2), levels.flatten(), reduction="none")
            latent_loss = (weights * classified.view(levels.shape)).mean()
        vq_loss = model.lam.vq_loss(action, code, o.commitment) * bottleneck
        loss = latent_loss + vq_loss
        figures = {"latent_loss": latent_loss.item(), "vq_loss": vq_loss.item(), "unroll": k_steps}
        if self.pixel_loss:
            judged = sorted({0, k_steps - 1})  # the first and the last step are decoded: the decoder is costly
            x_next = self.pixels(self.run.train.frames[(ahead + 1)[:, judged].reshape(-1)])  # [B*J, 3, H, W]
            # [B*J, 3, H, W]; the decoder is frozen: gradients reach the predictor only
            pixels = model.decoder(predicted[:, judged].flatten(0, 1))
            pixel_loss, _ = model.pixel_loss(pixels, x_next, o)
            loss = loss + pixel_loss * o.pixel_loss_weight
            figures["pixel_loss"] = pixel_loss.item()
        if len(self.labelled) and bottleneck:  # the true label of the labelled transitions picks their code
            n = min(o.labelled_per_batch, o.batch_size)
            truth = torch.from_numpy(self.labels[t[:n]]).to(distances.device)  # [n]
            first = distances.view(len(t), k_steps, -1)[:n, 0]  # [n, K']: the labelled transition t -> t+1
            label_loss = F.cross_entropy(-first / o.label_temperature, truth)
            loss = loss + label_loss
            figures["label_loss"] = label_loss.item()
        self.stepped = action, code  # [B*K, Da], [B*K]: the codebook's upkeep after the step reads them
        return loss, figures

    def after_step(self, step: int) -> dict[str, float]:
        o, (action, code) = self.run.config.optim, self.stepped
        self.run.model.lam.track_usage(code, o.usage_decay)
        self.recent.append(action.detach())
        reset = 0
        if step % o.dead_code_every == 0 and step >= o.vq_warmup:
            reset = self._reset_dead_codes(torch.cat(list(self.recent)))
        return {"codes_reset": reset}

    def train_mode(self) -> None:
        self.run.model.to(self.run.device).train()
        self.run.model.encoder.eval()
        self.run.model.decoder.eval()

    def _labelled_transitions(self) -> tuple[np.ndarray, np.ndarray]:
        """Weak supervision (none unless `labelled_share` > 0): a fixed random share, at most 2.5%, of the
        transitions whose label is known, the same set in every run with the same seed -> their frame indices [M],
        and [F] the class each transition's code is picked by (`optim.label_target`; -1 where unknown)."""
        o, train = self.run.config.optim, self.run.train
        pick = np.random.default_rng(self.run.config.seed + 7).random(len(train.actions)) < o.labelled_share  # [F]
        labelled = np.flatnonzero(pick & (train.actions >= 0) & (train.ahead >= 1))  # [M]
        if o.label_target == "action":
            labels = train.actions
        elif o.label_target == "movement":
            labels = game_of(self.run.config.data).movement_class(train.actions)
        else:  # the player's move as the frames show it, read for the labelled transitions only
            labels = np.full(len(train.actions), -1, np.int64)
            game = game_of(self.run.config.data)
            labels[labelled] = observed_movement_class(game, train.frames[labelled], train.frames[labelled + 1])
        return labelled[labels[labelled] >= 0], labels

    def _init_codebook(self, recent_actions) -> None:  # [M, Da]
        lam, run = self.run.model.lam, self.run
        if run.rank == 0:
            lam.init_codebook(recent_actions, run.config.optim.kmeans_iterations, seed=run.config.seed)
        if run.world > 1:
            dist.broadcast(lam.codebook.data, src=0)
            dist.broadcast(lam.usage, src=0)

    def _reset_dead_codes(self, recent_actions) -> int:  # [M, Da]
        o, lam, run = self.run.config.optim, self.run.model.lam, self.run
        if run.world > 1:
            dist.all_reduce(lam.usage)
            lam.usage.div_(run.world)
        count = lam.reset_dead_codes(recent_actions, o.dead_code_share, o.dead_code_noise) if run.rank == 0 else 0
        if run.world > 1:  # every rank takes rank 0's codebook, so the model stays one model
            dist.broadcast(lam.codebook.data, src=0)
            dist.broadcast(lam.usage, src=0)
        return count


class LatentDynamicsStage(DynamicsStage):
    """The dynamics of a model whose decoder is not trained yet: its predictor learns in latents only."""

    pixel_loss = False


class DecoderStage(Stage):
    """The decoder learns to draw the true frame t+k from the predictor's own k-step rollouts (1 <= k <=
    `decoder_unroll`, codes read off the real transitions) as well as from the encoder's latents, so a
    prediction right in most channels but wrong in a few is drawn as the frame it stands for, not as
    noise. Everything but the decoder stays frozen."""

    name = "decoder"
    evaluated = True

    def __init__(self, run):
        super().__init__(run)
        self.module = run.model.decoder
        self.rollout = DynamicsStep(run.model)

    def start(self, step: int) -> None:
        o = self.run.config.optim
        self.latents = encode_all(self.run.model, self.run.train.frames, o.encode_batch, self.run.device)  # [F, N, D]
        self.real = int(round(o.batch_size * o.decoder_real_share))  # rows drawn from the encoder's latents
        self.run.model.requires_grad_(False)
        self.module.requires_grad_(True)
        self.train_mode()

    def batch(self, step: int):  # -> latents to draw [B, N, D], the true frames [B, 3, H, W]
        o, rng, train = self.run.config.optim, self.run.rng, self.run.train
        t = rng.choice(np.flatnonzero(train.ahead >= o.decoder_unroll), o.batch_size)  # [B]
        model = self.run.config.model
        context, windows, ahead = rollout_inputs(self.latents, train, model, rng, t, o.decoder_unroll, blind_share=0.0)
        with torch.no_grad():
            predicted = self.rollout(context, windows)[3]  # [B, K, N, D]
        k = rng.integers(0, o.decoder_unroll, len(t))  # [B]: the step of each rollout drawn
        rows = np.arange(len(t))
        seen = predicted[torch.from_numpy(rows), torch.from_numpy(k)]  # [B, N, D]
        target = ahead[rows, k] + 1  # [B] frame indices
        seen[: self.real] = self.latents[torch.from_numpy(target[: self.real])]
        return seen, self.pixels(train.frames[target])

    def loss(self, net, batch, step: int):
        (seen, frames), o = batch, self.run.config.optim
        loss, figures = self.run.model.pixel_loss(net(seen), frames, o)
        return loss, {"decoder_loss": loss.item(), **figures}

    def train_mode(self) -> None:  # only the decoder trains
        self.run.model.to(self.run.device).eval()
        self.module.train()

    def finish(self) -> None:
        self.module.requires_grad_(False)


class DynamicsStep(torch.nn.Module):
    """The dynamics stage's trainable part: read the actions off t+k -> t+k+1, then predict K steps from the
    context, each on the predictions before it."""

    def __init__(self, model: TrainableWorldModel):
        super().__init__()
        self.lam, self.predictor = model.lam, model.predictor

    def forward(self, context, windows, bottleneck: bool = True):  # [B, C, N, D], [B, K, L, N, D]
        """-> action [B*K, Da], code [B*K], distances [B*K, K'], predicted latents [B, K, N, D], and with quantised
        latents the level logits [B, K, N, D, levels] (else None)."""
        b, k = windows.shape[:2]
        action, code, distances, quantized = self.lam(windows.flatten(0, 1), bottleneck)
        quantized = quantized.view(b, k, -1)  # [B, K, Da]
        predicted, logits = [], []
        for step in range(k):
            if self.predictor.quantizer is None:
                latents_next = self.predictor(context, quantized[:, step])  # [B, N, D]
            else:
                step_logits = self.predictor.level_logits(context, quantized[:, step])  # [B, N, D, levels]
                latents_next = likeliest_levels(step_logits, self.predictor.quantizer)  # [B, N, D]
                logits.append(step_logits)
            predicted.append(latents_next)
            context = torch.cat([context[:, 1:], latents_next[:, None]], dim=1)
        level_logits = torch.stack(logits, dim=1) if logits else None  # [B, K, N, D, levels]
        return action, code, distances, torch.stack(predicted, dim=1), level_logits


def changed_token_weights(targets, before, gain: float):  # [B, K, N, D] twice -> [B, K, N, 1]
    """The latent loss's weight of each token: 1 + `gain` × how far the token truly moves to the target (÷ the
    batch's mean move), normalised to mean 1; all 1 at gain 0. Most tokens of a game frame stay put, and the few
    that move (a paddle, a ball) otherwise weigh as little in the loss as they fill of the frame."""
    if gain <= 0:
        return torch.ones_like(targets[..., :1])
    moved = (targets - before).norm(dim=-1, keepdim=True)  # [B, K, N, 1]
    weights = 1.0 + gain * moved / moved.mean().clamp_min(1e-8)
    return weights / weights.mean()


def likeliest_levels(logits, quantizer):  # [B, N, D, levels] -> [B, N, D]
    """The likeliest level of every channel, as a rollout takes it, with the gradient of the expected level."""
    expected = (logits.softmax(dim=-1) * quantizer.values().to(logits.device)).sum(dim=-1)  # [B, N, D]
    return quantizer.value(logits.argmax(dim=-1)) + expected - expected.detach()


def unroll_length(optim: OptimConfig, step: int) -> int:
    """The curriculum: 1 step at first, growing linearly to `optim.unroll` over `optim.unroll_ramp` steps."""
    if optim.unroll_ramp <= 0:
        return optim.unroll
    return 1 + int((optim.unroll - 1) * min(1.0, step / optim.unroll_ramp))


def rollout_inputs(latents, train: Frames, model: ModelConfig, rng, t: np.ndarray, k_steps: int, blind_share: float):
    """What a K-step rollout from each frame t [B] reads, of the training frames' latents [F, N, D]: the context
    [B, C, N, D] (frames t-C+1 .. t; for a `blind_share` of the samples frame t alone), the action model's
    windows [B, K, L, N, D] (frames t+k-L+2 .. t+k+1), and the transitions ahead [B, K] (frame indices t+k,
    each -> t+k+1)."""
    start = train.episode_start[t, None]  # [B, 1]
    history = np.maximum(t[:, None] - np.arange(model.context - 1, -1, -1), start)  # [B, C]
    blind = rng.random(len(t)) < blind_share  # [B]
    history[blind] = t[blind, None]
    ahead = t[:, None] + np.arange(k_steps)  # [B, K]
    seen = np.maximum(ahead[..., None] + np.arange(2 - model.action_window, 2), start[..., None])  # [B, K, L]
    return latents[torch.from_numpy(history)], latents[torch.from_numpy(seen)], ahead


@torch.no_grad()
def encode_all(model: TrainableWorldModel, frames: np.ndarray, batch: int, device: torch.device):
    """[F, H, W, 3] uint8 -> the encoder's latents [F, N, D], `batch` frames at a time."""
    return torch.cat([model.encoder(pixels(frames[i : i + batch], device)) for i in range(0, len(frames), batch)])
