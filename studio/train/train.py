"""Training in two stages and an optional third, one command: `studio train configs/breakout.json`.

1. autoencoder: encoder + decoder on single frames, sprite pixels weighted up; part of each batch is
   perturbed views of its frames (rows cut, shifted, rescaled, re-encoded), which the encoder must map to
   the clean frame's latent and the decoder draw as the clean frame; or, with `model.family` "jepa", the
   encoder alone learns by predicting a moving-average target encoder's latents of masked tokens and of
   future frames (`studio.train.jepa`), and the decoder waits for stage 3;
2. dynamics: with the autoencoder frozen and every frame encoded once, the latent action model and the
   predictor learn together to predict frames t+1 .. t+K from frames t-C+1..t and the codes read off each
   transition (the action model sees frames t-L+2..t+1), each step on the predictor's own predictions; K
   grows from 1 to `unroll`, and the true context is noised, so the predictor learns to continue from
   contexts as imperfect as its own. Optionally (off by default) a fixed share of at most 2.5% of the
   transitions carries its true action, which picks its code (weak supervision, written in the manifest);
3. decoder (when `decoder_steps` > 0; always for "jepa", whose decoder learns only here): the decoder learns
   to draw the true frames from the predictor's own rollouts as well as from the encoder's latents.

Each stage is one loop below. Held-out episodes are kept apart by episode. Every `eval_every` steps of
stage 2 the model is exported to a scratch bundle and judged by `studio.evaluation` through onnxruntime,
so NMI against the true actions and ΔtPSNR are watched during training with the exact code that judges
the final bundle. A checkpoint every `checkpoint_every` steps lets a stopped run resume where it was.
Runs under `torchrun --nproc_per_node=N` too (DistributedDataParallel; gloo on CPU, nccl on GPU).
"""

from __future__ import annotations

import csv
import math
import os
import time
from collections import deque
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel
from torch.optim.lr_scheduler import LambdaLR
from tqdm import tqdm

import studio.figures as judged
from studio.evaluation import episodes_from_shards, evaluate
from studio.games.sprites import median_background
from studio.rollout import DELTA_T_HORIZON
from studio.runtime import WorldModel
from studio.train.config import OptimConfig, TrainConfig
from studio.train.data import Frames, describe_data, ensure_data, game_of, load_episodes
from studio.train.export import CHECK_FRAMES, export_bundle, training_record
from studio.train.jepa import JepaObjective, collapse_guard, ema_momentum, variance_covariance
from studio.train.world_model import TrainableWorldModel, weighted_mse

CHECKPOINT = "checkpoint.pt"
QUICK_FIGURES = (  # what the log shows of each evaluation during training, where measured
    judged.CODE_ACTION_NMI,
    judged.MOTION_NMI_CEILING,
    judged.CODEBOOK_PERPLEXITY,
    judged.CODES_USED,
    judged.RECONSTRUCTION_PSNR,
    judged.CODE_CONSISTENCY,
    judged.CONSISTENCY_LEFT,
    judged.CONSISTENCY_RIGHT,
    judged.CONSISTENCY_UP,
    judged.FRAME_CHECK_ROLLOUTS,
    judged.TEACHER_FORCED_PSNR.at(16),
    judged.TEACHER_FORCED_COPY_PSNR.at(16),
    judged.DELTA_T_PSNR.at(DELTA_T_HORIZON),
    judged.NEXT_FRAME_PSNR.at(DELTA_T_HORIZON),
    judged.COPY_BASELINE_PSNR.at(DELTA_T_HORIZON),
    judged.LATENT_ERROR_VS_COPY.at(1),
    judged.LATENT_ERROR_VS_COPY.at(DELTA_T_HORIZON),
)
QUICK_STABILITY_STEPS = 200  # the frame check over rollouts this long during training (evaluate: 1,000)


@dataclass
class Progress:
    """Where a run stands, as its checkpoint records it."""

    stage: str = "autoencoder"  # "autoencoder" (or "jepa"), "dynamics", "decoder" or "done"
    step: int = 0  # the next step of `stage`
    seconds: float = 0.0  # wall time spent training, over every resume
    optimizer: dict | None = None  # the stage's optimizer state at `step`


class Trainer:
    def __init__(self, config: TrainConfig):
        self.config = config
        self.rank, self.world = _setup_distributed()
        cuda = torch.cuda.is_available()
        self.device = torch.device("cuda", self.rank % torch.cuda.device_count()) if cuda else torch.device("cpu")
        torch.set_num_threads(config.optim.threads)
        torch.manual_seed(config.seed)  # identical initial weights on every rank
        self.rng = np.random.default_rng(config.seed + 1000 * self.rank)  # different batches per rank
        self.run_dir = Path(config.run_dir)
        self.data_dir = Path(config.data_dir)
        if self.rank == 0:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            ensure_data(config.data, self.data_dir)
        _barrier()
        self.train_episodes = load_episodes(self.data_dir / "train")
        self.heldout_episodes = episodes_from_shards(self.data_dir / "heldout", game_of(config.data))
        self.train = Frames.of(self.train_episodes)
        self.model = TrainableWorldModel(config.model).to(self.device)
        # stage 1 of the "jepa" family: the target encoder and the latent predictors (in the checkpoint only)
        self.jepa = None
        if self.is_jepa:
            self.jepa = JepaObjective(config.model, config.jepa, self.model.encoder).to(self.device)
        self.progress = self._resume()
        self.log_path = self.run_dir / "log.csv"
        self._started = time.perf_counter() - self.progress.seconds  # wall time counts on from the checkpoint's

    def run(self) -> Path:
        if not self.model.background.any():  # what "sprite pixel" is measured against
            background = median_background([self.train.frames], self.config.optim.background_frames)  # [3, H, W]
            self.model.background.copy_(torch.from_numpy(background))
        if self.progress.stage == "autoencoder":
            self.train_autoencoder()
        if self.progress.stage == "jepa":
            self.train_jepa()
        self.model.encoder.requires_grad_(False)
        self.model.decoder.requires_grad_(False)
        if self.progress.stage == "dynamics":
            self.train_dynamics()
        if self.progress.stage == "decoder":
            self.train_decoder()
        _barrier()
        return self.run_dir / CHECKPOINT

    # ---- stage 1 -------------------------------------------------------------------------------
    def train_autoencoder(self) -> None:
        o = self.config.optim
        step_module = AutoencoderStep(self.model)
        net = _wrap(step_module, self.world)
        optimizer, schedule = self._optimizer(step_module, o.autoencoder_steps)
        self.model.train()
        paired = int(round(o.batch_size * o.view_share)) if self.train.views is not None else 0
        for step in self._steps(o.autoencoder_steps):
            index = self.rng.integers(0, len(self.train.frames), o.batch_size - paired)
            clean = self._to_frames(self.train.frames[np.concatenate([index, index[:paired]])])  # [B, 3, H, W]
            seen = clean
            if paired:  # the last `paired` rows: perturbed views of the first ones, to be drawn as the clean frame
                seen = torch.cat([clean[: len(index)], self._to_frames(self.train.views[index[:paired]])])
            latents, out = net(seen)  # [B, N, D], [B, 3, H, W]
            loss = weighted_mse(out, clean, self.model.sprite_weights(clean, o.sprite_weight))
            figures = {"ae_loss": loss.item()}
            if paired and o.view_latent_weight > 0:  # a view's latent lands on its clean frame's
                target = latents[:paired].detach()  # [P, N, D]
                match = ((latents[len(index) :] - target) ** 2).mean() / target.var().clamp_min(1e-6)
                loss = loss + o.view_latent_weight * match
                figures["view_latent_loss"] = match.item()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            self._log(step, figures)
            if (step + 1) % o.checkpoint_every == 0:
                self._save("autoencoder", step + 1, optimizer)
        self._save("dynamics", 0)

    def train_jepa(self) -> None:
        """Stage 1 of the "jepa" family: the encoder learns by latent prediction only (`studio.train.jepa`);
        at the end the target encoder, the smoother of the two, becomes the model's encoder."""
        o, j = self.config.optim, self.config.jepa
        step_module = JepaStep(self.model.encoder, self.jepa)
        net = _wrap(step_module, self.world)
        optimizer, schedule = self._optimizer(step_module, o.autoencoder_steps)
        step_module.train()
        self.jepa.target.eval()
        masks = torch.Generator().manual_seed(self.config.seed + 1000 * self.rank + self.progress.step)
        viewed = int(round(o.batch_size * o.view_share)) if self.train.views is not None else 0
        for step in self._steps(o.autoencoder_steps):
            t = self.rng.choice(np.flatnonzero(self.train.ahead >= j.future), o.batch_size)  # [B]
            previous = np.maximum(t - 1, self.train.episode_start[t])  # [B]
            clean = self._to_frames(self.train.frames[t])  # [B, 3, H, W]
            seen = clean
            if viewed:  # the first rows read a perturbed view: its hidden tokens are still the clean frame's
                seen = torch.cat([self._to_frames(self.train.views[t[:viewed]]), clean[viewed:]])
            context = self._to_frames(self.train.frames[np.stack([previous, t], 1).reshape(-1)])  # [B*2, 3, H, W]
            ahead = self._to_frames(self.train.frames[(t[:, None] + np.arange(1, j.future + 1)).reshape(-1)])
            hidden = self.jepa.token_mask(len(t), masks).to(self.device)  # [B, g, g]
            frame = clean.shape[1:]
            masked_loss, future_loss, latents, target = net(
                seen, clean, hidden, context.view(len(t), 2, *frame), ahead.view(len(t), j.future, *frame)
            )
            variance, covariance = variance_covariance(latents.flatten(0, 2), j.std_floor)  # over [B*2*N, D]
            loss = masked_loss + j.future_weight * future_loss
            loss = loss + j.variance_weight * variance + j.covariance_weight * covariance
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            self.jepa.follow(self.model.encoder, ema_momentum(j, step, o.autoencoder_steps))
            figures = {
                "masked_loss": masked_loss.item(),
                "future_loss": future_loss.item(),
                "variance_loss": variance.item(),
                "covariance_loss": covariance.item(),
            }
            if step % o.log_every == 0:  # the collapse guard, on the target encoder's latents of clean frames
                figures.update(collapse_guard(target))
            self._log(step, figures)
            if (step + 1) % o.checkpoint_every == 0:
                self._save("jepa", step + 1, optimizer)
        self.model.encoder.load_state_dict(self.jepa.target.state_dict())
        self._save("dynamics", 0)

    # ---- stage 2 -------------------------------------------------------------------------------
    def train_dynamics(self) -> None:
        o, lam = self.config.optim, self.model.lam
        latents = self._encode_all(self.train.frames)  # [F, N, D]
        scale = latents.std()
        step_module = DynamicsStep(self.model)
        net = _wrap(step_module, self.world)
        optimizer, schedule = self._optimizer(step_module, o.dynamics_steps)
        self._train_dynamics_mode()
        labelled, labels = self._labelled_transitions(), self._labels()
        recent: deque[torch.Tensor] = deque(maxlen=o.recent_batches)  # action vectors [B*K, Da] of the last batches
        for step in self._steps(o.dynamics_steps):
            k_steps = unroll_length(o, step)
            t = self.rng.choice(np.flatnonzero(self.train.ahead >= k_steps), o.batch_size)  # [B]; t+1..t+K follow
            if len(labelled):
                t[: o.labelled_per_batch] = self.rng.choice(labelled, min(o.labelled_per_batch, o.batch_size))
            # context dropout: some samples see only frame t, so the predictor cannot take the paddle's
            # direction from its past motion and the code has to say which way the player moved it
            context, windows, ahead = self._rollout_batch(latents, t, k_steps, blind_share=o.context_dropout)
            if o.context_noise > 0:  # the predictor learns to read a context as imperfect as its own predictions
                level = torch.rand(len(t), 1, 1, 1, device=context.device) * o.context_noise * scale  # [B, 1, 1, 1]
                context = context + level * torch.randn_like(context)
            bottleneck = step >= o.vq_warmup
            if step == o.vq_warmup and recent:
                self._init_codebook(torch.cat(list(recent)))
            action, code, distances, predicted, level_logits = net(context, windows, bottleneck)
            targets = latents[torch.from_numpy(ahead + 1)]  # [B, K, N, D]
            if level_logits is None:
                latent_loss = ((predicted - targets) ** 2).mean() / scale**2
            else:  # each channel's next level, as a class
                levels = self.model.predictor.quantizer.index(targets)  # [B, K, N, D]
                latent_loss = F.cross_entropy(level_logits.flatten(0, -2), levels.flatten())
            vq_loss = lam.vq_loss(action, code, o.commitment) * bottleneck
            loss = latent_loss + vq_loss
            figures = {"latent_loss": latent_loss.item(), "vq_loss": vq_loss.item(), "unroll": k_steps}
            if not self.is_jepa:  # a JEPA model's decoder is not trained yet: its predictor learns in latents only
                judged = sorted({0, k_steps - 1})  # the first and the last step are decoded: the decoder is costly
                x_next = self._to_frames(self.train.frames[(ahead + 1)[:, judged].reshape(-1)])  # [B*J, 3, H, W]
                # [B*J, 3, H, W]; the decoder is frozen: gradients reach the predictor only
                pixels = self.model.decoder(predicted[:, judged].flatten(0, 1))
                pixel_loss = weighted_mse(pixels, x_next, self.model.sprite_weights(x_next, o.sprite_weight))
                loss = loss + pixel_loss * o.pixel_loss_weight
                figures["pixel_loss"] = pixel_loss.item()
            if len(labelled) and bottleneck:  # the true label of the labelled transitions picks their code
                n = min(o.labelled_per_batch, o.batch_size)
                truth = torch.from_numpy(labels[t[:n]]).to(distances.device)  # [n]
                first = distances.view(len(t), k_steps, -1)[:n, 0]  # [n, K']: the labelled transition t -> t+1
                label_loss = F.cross_entropy(-first / o.label_temperature, truth)
                loss = loss + label_loss
                figures["label_loss"] = label_loss.item()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            lam.track_usage(code, o.usage_decay)
            recent.append(action.detach())
            reset = 0
            if step % o.dead_code_every == 0 and bottleneck:
                reset = self._reset_dead_codes(torch.cat(list(recent)))
            figures["codes_reset"] = reset
            if (step + 1) % o.eval_every == 0 and self.rank == 0:
                figures.update(self.quick_evaluation())
                self._train_dynamics_mode()
            self._log(step, figures)
            if (step + 1) % o.checkpoint_every == 0:
                self._save("dynamics", step + 1, optimizer)
        self._save("decoder" if o.decoder_steps else "done", 0)

    def _rollout_batch(self, latents, t: np.ndarray, k_steps: int, blind_share: float):
        """What a K-step rollout from each frame t [B] reads: the context [B, C, N, D] (frames t-C+1 .. t; for a
        `blind_share` of the samples frame t alone), the action model's windows [B, K, L, N, D] (frames
        t+k-L+2 .. t+k+1), and the transitions ahead [B, K] (frame indices t+k, each -> t+k+1)."""
        m = self.config.model
        start = self.train.episode_start[t, None]  # [B, 1]
        history = np.maximum(t[:, None] - np.arange(m.context - 1, -1, -1), start)  # [B, C]
        blind = self.rng.random(len(t)) < blind_share  # [B]
        history[blind] = t[blind, None]
        ahead = t[:, None] + np.arange(k_steps)  # [B, K]
        seen = np.maximum(ahead[..., None] + np.arange(2 - m.action_window, 2), start[..., None])  # [B, K, L]
        return latents[torch.from_numpy(history)], latents[torch.from_numpy(seen)], ahead

    # ---- stage 3 (optional) --------------------------------------------------------------------
    def train_decoder(self) -> None:
        """The decoder learns to draw the true frame t+k from the predictor's own k-step rollouts (1 <= k <=
        `decoder_unroll`, codes read off the real transitions) as well as from the encoder's latents, so a
        prediction right in most channels but wrong in a few is drawn as the frame it stands for, not as
        noise. Everything but the decoder stays frozen."""
        o = self.config.optim
        latents = self._encode_all(self.train.frames)  # [F, N, D]
        decoder = self.model.decoder
        net = _wrap(decoder, self.world)
        optimizer, schedule = self._optimizer(decoder, o.decoder_steps)
        rollout = DynamicsStep(self.model)
        real = int(round(o.batch_size * o.decoder_real_share))  # rows drawn from the encoder's latents
        decoder.requires_grad_(True)
        self._train_decoder_mode()
        for step in self._steps(o.decoder_steps):
            t = self.rng.choice(np.flatnonzero(self.train.ahead >= o.decoder_unroll), o.batch_size)  # [B]
            context, windows, ahead = self._rollout_batch(latents, t, o.decoder_unroll, blind_share=0.0)
            with torch.no_grad():
                predicted = rollout(context, windows)[3]  # [B, K, N, D]
            k = self.rng.integers(0, o.decoder_unroll, len(t))  # [B]: the step of each rollout drawn
            rows = np.arange(len(t))
            seen = predicted[torch.from_numpy(rows), torch.from_numpy(k)]  # [B, N, D]
            target = ahead[rows, k] + 1  # [B] frame indices
            seen[:real] = latents[torch.from_numpy(target[:real])]
            frames = self._to_frames(self.train.frames[target])  # [B, 3, H, W]
            loss = weighted_mse(net(seen), frames, self.model.sprite_weights(frames, o.sprite_weight))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            figures = {"decoder_loss": loss.item()}
            if (step + 1) % o.eval_every == 0 and self.rank == 0:
                figures.update(self.quick_evaluation())
                self._train_decoder_mode()
            self._log(step, figures)
            if (step + 1) % o.checkpoint_every == 0:
                self._save("decoder", step + 1, optimizer)
        decoder.requires_grad_(False)
        self._save("done", 0)

    def _labelled_transitions(self) -> np.ndarray:
        """Weak supervision (none unless `labelled_share` > 0): a fixed random share, at most 2.5%, of the
        transitions whose true action is known; the same set in every run with the same seed."""
        share = self.config.optim.labelled_share
        known = np.flatnonzero((self.train.actions >= 0) & (self.train.ahead >= 1))  # [M]
        if share <= 0:
            return known[:0]
        pick = np.random.default_rng(self.config.seed + 7).random(len(self.train.actions)) < share  # [F]
        return known[pick[known]]

    def _labels(self) -> np.ndarray:
        """[F] the class a labelled transition's code is picked by: its true action, or the movement class
        that action asks for (`optim.label_target`)."""
        if self.config.optim.label_target == "movement":
            return game_of(self.config.data).movement_class(self.train.actions)
        return self.train.actions

    def _train_dynamics_mode(self) -> None:
        self.model.to(self.device).train()
        self.model.encoder.eval()
        self.model.decoder.eval()

    def _train_decoder_mode(self) -> None:  # back on the device after an export; only the decoder trains
        self.model.to(self.device).eval()
        self.model.decoder.train()

    def _init_codebook(self, recent_actions) -> None:  # [M, Da]
        lam = self.model.lam
        if self.rank == 0:
            lam.init_codebook(recent_actions, self.config.optim.kmeans_iterations, seed=self.config.seed)
        if self.world > 1:
            dist.broadcast(lam.codebook.data, src=0)
            dist.broadcast(lam.usage, src=0)

    def _reset_dead_codes(self, recent_actions) -> int:  # [M, Da]
        o, lam = self.config.optim, self.model.lam
        if self.world > 1:
            dist.all_reduce(lam.usage)
            lam.usage.div_(self.world)
        count = lam.reset_dead_codes(recent_actions, o.dead_code_share, o.dead_code_noise) if self.rank == 0 else 0
        if self.world > 1:  # every rank takes rank 0's codebook, so the model stays one model
            dist.broadcast(lam.codebook.data, src=0)
            dist.broadcast(lam.usage, src=0)
        return count

    @property
    def is_jepa(self) -> bool:
        return self.config.model.family == "jepa"

    # ---- evaluation and export -----------------------------------------------------------------
    def export(self, out_dir: Path, check: bool = True) -> Path:
        """The model as a bundle in `out_dir` (the model is left on the CPU, in eval mode)."""
        return export_bundle(
            self.model.cpu(),
            self.config,
            out_dir,
            self.heldout_episodes[0].frames[:CHECK_FRAMES],
            trained_on=describe_data(
                self.config.data,
                self.data_dir,
                [len(e.frames) for e in self.train_episodes],
                [len(e.frames) for e in self.heldout_episodes],
            ),
            training=training_record(self.config, self.progress.stage, self._elapsed(), self.world),
            check=check,
        )

    def quick_evaluation(self) -> dict:
        """Export to a scratch bundle and judge a few held-out episodes through onnxruntime."""
        o = self.config.optim
        bundle = self.export(self.run_dir / "scratch_bundle", check=False)
        model = WorldModel.load(bundle, device="cpu", warm_up=False)
        figures = evaluate(
            model,
            self.heldout_episodes[: o.eval_episodes],
            max_starts=o.eval_starts,
            game=game_of(self.config.data),
            stability_steps=QUICK_STABILITY_STEPS,
        )
        return {figure.key: figures.get(figure) for figure in QUICK_FIGURES if figures.get(figure) is not None}

    # ---- steps, checkpoints and the log --------------------------------------------------------
    def _steps(self, total: int) -> tqdm:
        """The steps of the current stage still to run."""
        return tqdm(
            range(self.progress.step, total),
            desc=self.progress.stage,
            disable=self.rank != 0,
            dynamic_ncols=True,
            mininterval=5,
        )

    def _optimizer(self, module: torch.nn.Module, total_steps: int) -> tuple[torch.optim.AdamW, LambdaLR]:
        """AdamW over the stage's parameters and its learning-rate schedule, both where the checkpoint left them."""
        o = self.config.optim
        optimizer = torch.optim.AdamW(module.parameters(), lr=o.lr, weight_decay=o.weight_decay)
        if self.progress.optimizer:
            optimizer.load_state_dict(self.progress.optimizer)
        for group in optimizer.param_groups:
            group["initial_lr"] = o.lr  # the schedule's base: it then sets the rate of the step it starts at
        schedule = LambdaLR(optimizer, partial(lr_factor, o, total_steps), last_epoch=self.progress.step - 1)
        return optimizer, schedule

    def _save(self, stage: str, step: int, optimizer: torch.optim.Optimizer | None = None) -> None:
        """Record that the run stands at `step` of `stage`; rank 0 writes the checkpoint."""
        self.progress = Progress(stage, step, self._elapsed(), optimizer.state_dict() if optimizer else None)
        if self.rank != 0:
            return
        checkpoint = {
            "config": self.config.to_json(),
            "model": self.model.state_dict(),
            "jepa": self.jepa.state_dict() if self.jepa is not None else None,
            "stage": stage,
            "step": step,
            "seconds": self.progress.seconds,
            "processes": self.world,
            "optimizer": self.progress.optimizer,
        }
        partial_path = self.run_dir / (CHECKPOINT + ".partial")
        torch.save(checkpoint, partial_path)
        partial_path.replace(self.run_dir / CHECKPOINT)

    def _resume(self) -> Progress:
        """Load the run's checkpoint into the model, if there is one, and say where the run stands."""
        path = self.run_dir / CHECKPOINT
        if not path.is_file():
            return Progress(stage="jepa" if self.is_jepa else "autoencoder")
        checkpoint = torch.load(path, map_location=self.device, weights_only=False)
        self.model.load_state_dict(checkpoint["model"])
        if self.jepa is not None:
            self.jepa.load_state_dict(checkpoint["jepa"])
        return Progress(checkpoint["stage"], checkpoint["step"], checkpoint["seconds"], checkpoint.get("optimizer"))

    def _elapsed(self) -> float:
        return time.perf_counter() - self._started

    def _log(self, step: int, figures: dict) -> None:
        evaluated = (
            judged.CODES_USED.key in figures
        )  # a quick evaluation's figures: every one of them goes to the terminal
        if self.rank != 0 or (step % self.config.optim.log_every and not evaluated):
            return
        stage, seconds = self.progress.stage, round(self._elapsed(), 1)
        new = not self.log_path.exists()
        with open(self.log_path, "a", newline="") as handle:
            writer = csv.writer(handle)
            if new:
                writer.writerow(["stage", "step", "seconds", "name", "value"])
            for name, value in figures.items():
                writer.writerow([stage, step, seconds, name, f"{value:.6g}"])
        if evaluated:
            row = {"stage": stage, "step": step, "seconds": seconds, **figures}
            tqdm.write(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()))

    def _to_frames(self, frames: np.ndarray):  # [B, H, W, 3] uint8 -> [B, 3, H, W] float in [0, 1]
        return torch.from_numpy(frames).to(self.device).permute(0, 3, 1, 2).float() / 255.0

    @torch.no_grad()
    def _encode_all(self, frames: np.ndarray):  # [F, H, W, 3] uint8 -> [F, N, D]
        batch = self.config.optim.encode_batch
        return torch.cat(
            [self.model.encoder(self._to_frames(frames[i : i + batch])) for i in range(0, len(frames), batch)]
        )


class AutoencoderStep(torch.nn.Module):
    """Stage 1's trainable part as one module, so DistributedDataParallel can wrap it."""

    def __init__(self, model: TrainableWorldModel):
        super().__init__()
        self.encoder, self.decoder = model.encoder, model.decoder

    def forward(self, frames):  # [B, 3, H, W]
        latents = self.encoder(frames)  # [B, N, D]
        return latents, self.decoder(latents)  # [B, N, D], [B, 3, H, W]


class JepaStep(torch.nn.Module):
    """Stage 1's trainable part for the "jepa" family: the encoder and the two latent predictors."""

    def __init__(self, encoder: torch.nn.Module, objective: JepaObjective):
        super().__init__()
        self.encoder, self.objective = encoder, objective

    def forward(self, seen, clean, hidden, context, ahead):  # [B, 3, H, W] x2, [B, g, g], [B, 2, 3, H, W], [B, F, ...]
        """-> the masked-token loss, the future-frame loss, the encoder's latents of the context [B, 2, N, D]
        and the target's latents of the clean frames [B, N, D]."""
        masked_loss, target = self.objective.masked_loss(self.encoder, seen, clean, hidden)
        future_loss, latents = self.objective.future_loss(self.encoder, context, ahead)
        return masked_loss, future_loss, latents.view(len(clean), 2, *latents.shape[1:]), target


class DynamicsStep(torch.nn.Module):
    """Stage 2's trainable part: read the actions off t+k -> t+k+1, then predict K steps from the context,
    each on the predictions before it."""

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


def likeliest_levels(logits, quantizer):  # [B, N, D, levels] -> [B, N, D]
    """The likeliest level of every channel, as a rollout takes it, with the gradient of the expected level."""
    expected = (logits.softmax(dim=-1) * quantizer.values().to(logits.device)).sum(dim=-1)  # [B, N, D]
    return quantizer.value(logits.argmax(dim=-1)) + expected - expected.detach()


def unroll_length(optim: OptimConfig, step: int) -> int:
    """The curriculum: 1 step at first, growing linearly to `optim.unroll` over `optim.unroll_ramp` steps."""
    if optim.unroll_ramp <= 0:
        return optim.unroll
    return 1 + int((optim.unroll - 1) * min(1.0, step / optim.unroll_ramp))


def lr_factor(optim: OptimConfig, total_steps: int, step: int) -> float:
    """The share of `optim.lr` at `step`: a linear warm-up, then a half cosine down to `optim.lr_floor`."""
    warmup = max(1, int(total_steps * optim.warmup_share))
    cosine = 0.5 * (1.0 + math.cos(math.pi * min(step / total_steps, 1.0)))  # 1 -> 0 over the stage
    return min(1.0, (step + 1) / warmup) * (optim.lr_floor + (1.0 - optim.lr_floor) * cosine)


def _setup_distributed() -> tuple[int, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return (dist.get_rank(), world) if world > 1 else (0, 1)


def _barrier() -> None:
    if dist.is_initialized():
        dist.barrier()


def _wrap(module: torch.nn.Module, world: int) -> torch.nn.Module:
    return DistributedDataParallel(module) if world > 1 else module
