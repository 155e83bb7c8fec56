"""Training in two stages, one command: `studio train configs/breakout.json`.

1. autoencoder: encoder + decoder on single frames, sprite pixels weighted up;
2. dynamics: with the autoencoder frozen and every frame encoded once, the latent action model and the
   predictor learn together to predict frame t+1 from frames t-C+1..t and the code read off t -> t+1
   (the action model sees frames t-L+2..t+1).

Held-out episodes are kept apart by episode. Every `eval_every` steps of stage 2 the model is exported
to a scratch bundle and judged by `studio.evaluation` through onnxruntime, so NMI against the true
actions and ΔtPSNR are watched during training with the exact code that judges the final bundle.
Runs under `torchrun --nproc_per_node=N` too (DistributedDataParallel; gloo on CPU, nccl on GPU).
"""

from __future__ import annotations

import csv
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from studio.evaluation import episodes_from_shards, evaluate
from studio.games import find_game
from studio.games.sprites import median_background
from studio.runtime import WorldModel as OnnxWorldModel
from studio.train.config import TrainConfig
from studio.train.data import Episode, describe_data, ensure_data, load_episodes
from studio.train.export import export_bundle, training_record
from studio.train.world_model import WorldModel, weighted_mse

CHECKPOINT = "checkpoint.pt"


@dataclass
class Frames:
    """Episodes concatenated: frames [F, H, W, 3] uint8 and, for each frame, whether t+1 follows it."""

    frames: np.ndarray
    episode_start: np.ndarray  # [F] int, index of the first frame of the frame's episode
    has_next: np.ndarray  # [F] bool

    @classmethod
    def of(cls, episodes: list[Episode]) -> Frames:
        starts, nexts, offset = [], [], 0
        for e in episodes:
            starts.append(np.full(len(e.frames), offset))
            nexts.append(np.arange(len(e.frames)) < len(e.frames) - 1)
            offset += len(e.frames)
        return cls(np.concatenate([e.frames for e in episodes]), np.concatenate(starts), np.concatenate(nexts))


class Trainer:
    def __init__(self, config: TrainConfig):
        self.config = config
        self.rank, self.world = _setup_distributed()
        self.device = torch.device("cuda", self.rank % torch.cuda.device_count()) if torch.cuda.is_available() else torch.device("cpu")
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
        self.heldout_episodes = episodes_from_shards(self.data_dir / "heldout", find_game(config.data.game))
        self.train = Frames.of(self.train_episodes)
        self.model = WorldModel(config.model).to(self.device)
        self.state = {"stage": "autoencoder", "step": 0, "seconds": 0.0, "processes": self.world}
        self.log_path = self.run_dir / "log.csv"

    # ---- stage 1 -------------------------------------------------------------------------------
    def train_autoencoder(self) -> None:
        o = self.config.optim
        step_module = AutoencoderStep(self.model)
        optimizer = torch.optim.AdamW(step_module.parameters(), lr=o.lr, weight_decay=0.0)
        self._restore_optimizer(optimizer, "autoencoder")
        net = _wrap(step_module, self.world)
        schedule = _cosine(o.lr, o.autoencoder_steps)
        for step in self._steps("autoencoder", o.autoencoder_steps):
            index = self.rng.integers(0, len(self.train.frames), o.batch_size)
            x = self._to_frames(self.train.frames[index])  # [B, 3, H, W]
            out = net(x)  # [B, 3, H, W]
            loss = weighted_mse(out, x, self.model.sprite_weights(x, o.sprite_weight))
            _set_lr(optimizer, schedule(step))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            self._log(step, {"ae_loss": loss.item()}, optimizer)

    # ---- stage 2 -------------------------------------------------------------------------------
    def train_dynamics(self) -> None:
        o, m = self.config.optim, self.config.model
        latents = self._encode_all(self.train.frames)  # [F, N, D]
        scale = latents.std()
        step_module = DynamicsStep(self.model)
        optimizer = torch.optim.AdamW(step_module.parameters(), lr=o.lr, weight_decay=0.0)
        self._restore_optimizer(optimizer, "dynamics")
        net = _wrap(step_module, self.world)
        schedule = _cosine(o.lr, o.dynamics_steps)
        valid = np.flatnonzero(self.train.has_next)
        recent = []
        for step in self._steps("dynamics", o.dynamics_steps):
            t = self.rng.choice(valid, o.batch_size)  # frame t; t+1 is in the same episode
            history = np.maximum(t[:, None] - np.arange(m.context - 1, -1, -1), self.train.episode_start[t, None])
            # context dropout: some samples see only frame t, so the predictor cannot take the paddle's
            # direction from its past motion and the code has to say which way the player moved it
            blind = self.rng.random(len(t)) < o.context_dropout
            history[blind] = t[blind, None]
            context = latents[torch.from_numpy(history)]  # [B, C, N, D]
            seen = np.maximum(t[:, None] + np.arange(2 - m.action_window, 2), self.train.episode_start[t, None])
            window = latents[torch.from_numpy(seen)]  # [B, L, N, D]: frames t-L+2 .. t+1, for the action model
            z_next = window[:, -1]  # [B, N, D]
            x_next = self._to_frames(self.train.frames[t + 1])  # [B, 3, H, W]
            bottleneck = step >= o.vq_warmup
            if step == o.vq_warmup and recent:
                self._init_codebook(torch.cat(recent))
            action, code, predicted = net(context, window, bottleneck)  # [B, Da], [B], [B, N, D]
            latent_loss = ((predicted - z_next) ** 2).mean() / scale**2
            pixels = self.model.decoder(predicted)  # frozen decoder: gradients reach the predictor only
            pixel_loss = weighted_mse(pixels, x_next, self.model.sprite_weights(x_next, o.sprite_weight))
            vq_loss = self.model.lam.vq_loss(action, code, o.commitment) * bottleneck
            loss = pixel_loss * 100 + latent_loss + vq_loss
            _set_lr(optimizer, schedule(step))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            self.model.lam.track_usage(code)
            recent.append(action.detach())
            recent = recent[-32:]
            reset = 0
            if step % o.dead_code_every == 0 and bottleneck:
                reset = self._reset_dead_codes(torch.cat(recent))
            figures = {"pixel_loss": pixel_loss.item(), "latent_loss": latent_loss.item(), "vq_loss": vq_loss.item(),
                       "codes_reset": reset}
            if (step + 1) % o.eval_every == 0 and self.rank == 0:
                figures.update(self.quick_evaluation())
            self._log(step, figures, optimizer)

    def _init_codebook(self, recent_actions) -> None:
        if self.rank == 0:
            self.model.lam.init_codebook(recent_actions, seed=self.config.seed)
        if self.world > 1:
            dist.broadcast(self.model.lam.codebook.data, src=0)
            dist.broadcast(self.model.lam.usage, src=0)

    def _reset_dead_codes(self, recent_actions) -> int:
        if self.world > 1:
            dist.all_reduce(self.model.lam.usage)
            self.model.lam.usage.div_(self.world)
        count = self.model.lam.reset_dead_codes(recent_actions) if self.rank == 0 else 0
        if self.world > 1:  # every rank takes rank 0's codebook, so the model stays one model
            dist.broadcast(self.model.lam.codebook.data, src=0)
            dist.broadcast(self.model.lam.usage, src=0)
        return count

    # ---- evaluation and export -----------------------------------------------------------------
    def export(self, out_dir: Path, check: bool = True) -> Path:
        return export_bundle(
            self.model.cpu(), self.config, out_dir, self.heldout_episodes[0].frames[:16],
            trained_on=describe_data(self.config.data, self.data_dir, [len(e.frames) for e in self.train_episodes],
                                     [len(e.frames) for e in self.heldout_episodes]),
            training=training_record(self.config, self.state, self.world),
            check=check,
        )

    def quick_evaluation(self) -> dict:
        """Export to a scratch bundle and judge a few held-out episodes through onnxruntime."""
        self.model.eval()
        bundle = self.export(self.run_dir / "scratch_bundle", check=False)
        self.model.to(self.device).train()
        self.model.encoder.eval()
        self.model.decoder.eval()
        figures = evaluate(OnnxWorldModel.load(bundle, device="cpu", warm_up=False), self.heldout_episodes[:4],
                           max_starts=400)
        keep = ("code_action_nmi", "action_motion_nmi_ceiling", "codebook_perplexity", "codes_used", "reconstruction_psnr_db")
        out = {k: figures[k] for k in keep if k in figures}
        out["delta_t_psnr_t4"] = figures["delta_t_psnr_db"]["t4"]
        out["next_psnr_t4"] = figures["next_frame_psnr_db"]["t4"]
        out["copy_psnr_t4"] = figures["decoded_copy_baseline_psnr_db"]["t4"]
        return out

    # ---- plumbing ------------------------------------------------------------------------------
    def run(self) -> Path:
        self._resume()
        if not self.model.background.any():  # the median frame: what "sprite pixel" is measured against
            background = median_background([self.train.frames], 2000)  # [3, H, W]
            self.model.background.copy_(torch.from_numpy(background))
        started = time.perf_counter() - self.state["seconds"]
        if self.state["stage"] == "autoencoder":
            self.train_autoencoder()
            self.state.update(stage="dynamics", step=0, optimizer=None)
            self._save(started)
        self.model.encoder.eval()
        self.model.decoder.eval()
        self.model.encoder.requires_grad_(False)
        self.model.decoder.requires_grad_(False)
        if self.state["stage"] == "dynamics":
            self.train_dynamics()
            self.state.update(stage="done", step=0, optimizer=None)
            self._save(started)
        _barrier()
        return self.run_dir / CHECKPOINT

    def _steps(self, stage: str, total: int):
        started = time.perf_counter() - self.state["seconds"]
        first = self.state["step"] if self.state["stage"] == stage else 0
        bar = tqdm(range(first, total), desc=stage, disable=self.rank != 0, dynamic_ncols=True, mininterval=5)
        self.model.train()
        for step in bar:
            self.state["step"] = step
            yield step
            self.state["seconds"] = time.perf_counter() - started
            if (step + 1) % self.config.optim.checkpoint_every == 0:
                self.state["step"] = step + 1
                self._save(started)

    def _save(self, started: float) -> None:
        if self.rank != 0:
            return
        self.state["seconds"] = time.perf_counter() - started
        checkpoint = {"config": self.config.to_json(), "model": self.model.state_dict(), **self.state}
        partial = self.run_dir / (CHECKPOINT + ".partial")
        torch.save(checkpoint, partial)
        partial.replace(self.run_dir / CHECKPOINT)

    def _resume(self) -> None:
        path = self.run_dir / CHECKPOINT
        if not path.is_file():
            return
        checkpoint = torch.load(path, map_location=self.device, weights_only=False)
        self.model.load_state_dict(checkpoint.pop("model"))
        checkpoint.pop("config")
        self.state.update(checkpoint)

    def _restore_optimizer(self, optimizer, stage: str) -> None:
        self._optimizer = optimizer
        if self.state["stage"] == stage and self.state.get("optimizer"):
            optimizer.load_state_dict(self.state["optimizer"])

    def _log(self, step: int, figures: dict, optimizer) -> None:
        self.state["optimizer"] = optimizer.state_dict()
        if self.rank != 0 or (step % 50 and not any(k.startswith("code_") for k in figures)):
            return
        row = {"stage": self.state["stage"], "step": step, "seconds": round(self.state["seconds"], 1), **figures}
        new = not self.log_path.exists()
        with open(self.log_path, "a", newline="") as handle:
            writer = csv.writer(handle)
            if new:
                writer.writerow(["stage", "step", "seconds", "name", "value"])
            for name, value in figures.items():
                writer.writerow([row["stage"], step, row["seconds"], name, f"{value:.6g}"])
        if any(k.startswith("code_") for k in figures):
            tqdm.write(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()))

    def _to_frames(self, frames: np.ndarray):
        return torch.from_numpy(frames).to(self.device).permute(0, 3, 1, 2).float() / 255.0

    @torch.no_grad()
    def _encode_all(self, frames: np.ndarray):
        return torch.cat([self.model.encoder(self._to_frames(frames[i : i + 256])) for i in range(0, len(frames), 256)])


class AutoencoderStep(torch.nn.Module):
    """Stage 1's trainable part as one module, so DistributedDataParallel can wrap it."""

    def __init__(self, model: WorldModel):
        super().__init__()
        self.encoder, self.decoder = model.encoder, model.decoder

    def forward(self, frames):  # [B, 3, H, W]
        return self.decoder(self.encoder(frames))  # [B, 3, H, W]


class DynamicsStep(torch.nn.Module):
    """Stage 2's trainable part: read the action off t -> t+1, then predict t+1 from the context and it."""

    def __init__(self, model: WorldModel):
        super().__init__()
        self.lam, self.predictor = model.lam, model.predictor

    def forward(self, context, window, bottleneck: bool = True):  # [B, C, N, D], [B, L, N, D]
        action, code, _, quantized = self.lam(window, bottleneck)  # [B, Da], [B], _, [B, Da]
        return action, code, self.predictor(context, quantized)  # ..., [B, N, D]


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


def _cosine(lr: float, total: int):
    warmup = max(1, total // 20)
    return lambda step: lr * min(1.0, (step + 1) / warmup) * (0.55 + 0.45 * np.cos(np.pi * min(step / total, 1.0)))


def _set_lr(optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr
