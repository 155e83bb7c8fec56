"""Training, one command: `studio train configs/breakout.json`.

The config's `model.family` picks a recipe (`studio.train.recipes`): the stages that train the model, in
order (`studio.train.stage`). Every stage runs in the one loop below: its batch and loss, the optimizer's
step and the learning-rate schedule, the log, a checkpoint every `checkpoint_every` steps that lets a
stopped run resume at the stage and step it had reached, and for the stages that train the dynamics or the
decoder, every `eval_every` steps, an export to a scratch bundle judged by `studio.evaluation` through
onnxruntime, so NMI against the true actions and ΔtPSNR are watched during training with the exact code
that judges the final bundle. Held-out episodes are kept apart by episode. Runs under
`torchrun --nproc_per_node=N` too (DistributedDataParallel; gloo on CPU, nccl on GPU).
"""

from __future__ import annotations

import csv
import math
import os
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
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
from studio.train.recipes import find_recipe
from studio.train.stage import Stage
from studio.train.warm_start import load_bundle_weights
from studio.train.world_model import TrainableWorldModel

CHECKPOINT = "checkpoint.pt"
EVALUATED = "evaluated"  # the run's folder of the weights at each quick evaluation
DONE = "done"  # the stage a finished run's checkpoint stands at
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
    judged.BALL_KEPT.at(DELTA_T_HORIZON),
    *judged.SPRITE_ROLLOUTS.values(),
)
QUICK_STABILITY_STEPS = 200  # the frame check over rollouts this long during training (evaluate: 1,000)


@dataclass
class ResumePoint:
    """Where a run stands, as its checkpoint records it."""

    stage: str  # the name of the recipe's stage it runs next, or DONE
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
        self.stages: list[Stage] = [kind(self) for kind in find_recipe(config.model.family).stages]
        self.position = self._resume()
        self.log_path = self.run_dir / "log.csv"
        self._started = time.perf_counter() - self.position.seconds  # wall time counts on from the checkpoint's

    def run(self) -> Path:
        if not self.model.background.any():  # what "sprite pixel" is measured against
            background = median_background([self.train.frames], self.config.optim.background_frames)  # [3, H, W]
            self.model.background.copy_(torch.from_numpy(background))
        names = [stage.name for stage in self.stages] + [DONE]
        for stage in self.stages[names.index(self.position.stage) :]:
            if stage.steps(self.config) > 0:
                self._run_stage(stage)
        _barrier()
        return self.run_dir / CHECKPOINT

    def _run_stage(self, stage: Stage) -> None:
        """The one loop every stage runs in, from the step the run stands at."""
        o, total = self.config.optim, stage.steps(self.config)
        stage.start(self.position.step)
        net = _wrap(stage.module, self.world)
        optimizer, schedule = self._optimizer(stage.module, total)
        for step in self._steps(total):
            loss, figures = stage.loss(net, stage.batch(step), step)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            figures.update(stage.after_step(step))
            if stage.evaluated and (step + 1) % o.eval_every == 0 and self.rank == 0:
                figures.update(self.quick_evaluation())
                self._keep_evaluated(stage.name, step + 1)
                stage.train_mode()
            self._log(step, figures)
            if (step + 1) % o.checkpoint_every == 0:
                self._save(stage.name, step + 1, optimizer)
        stage.finish()
        later = self.stages[self.stages.index(stage) + 1 :]
        self._save(next((s.name for s in later if s.steps(self.config) > 0), DONE), 0)

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
            training=training_record(self.config, self.position.stage, self._elapsed(), self.world),
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
            range(self.position.step, total),
            desc=self.position.stage,
            disable=self.rank != 0,
            dynamic_ncols=True,
            mininterval=5,
        )

    def _optimizer(self, module: torch.nn.Module, total_steps: int) -> tuple[torch.optim.AdamW, LambdaLR]:
        """AdamW over the stage's parameters and its learning-rate schedule, both where the checkpoint left them."""
        o = self.config.optim
        optimizer = torch.optim.AdamW(module.parameters(), lr=o.lr, weight_decay=o.weight_decay)
        if self.position.optimizer:
            optimizer.load_state_dict(self.position.optimizer)
        for group in optimizer.param_groups:
            group["initial_lr"] = o.lr  # the schedule's base: it then sets the rate of the step it starts at
        schedule = LambdaLR(optimizer, partial(lr_factor, o, total_steps), last_epoch=self.position.step - 1)
        return optimizer, schedule

    def _save(self, stage: str, step: int, optimizer: torch.optim.Optimizer | None = None) -> None:
        """Record that the run stands at `step` of `stage`; rank 0 writes the checkpoint."""
        self.position = ResumePoint(stage, step, self._elapsed(), optimizer.state_dict() if optimizer else None)
        if self.rank == 0:
            self._write_checkpoint(self.run_dir / CHECKPOINT, self.position)

    def _keep_evaluated(self, stage: str, step: int) -> None:
        """The weights just judged by a quick evaluation, as a checkpoint of their own (no optimizer state)."""
        path = self.run_dir / EVALUATED / f"{stage}-{step}.pt"
        path.parent.mkdir(exist_ok=True)
        self._write_checkpoint(path, ResumePoint(stage, step, self._elapsed()))

    def _write_checkpoint(self, path: Path, position: ResumePoint) -> None:
        checkpoint = {
            "config": self.config.to_json(),
            "model": self.model.state_dict(),
            "stage": position.stage,
            "step": position.step,
            "seconds": position.seconds,
            "processes": self.world,
            "optimizer": position.optimizer,
            **{s.name: s.kept.state_dict() for s in self.stages if s.kept is not None},
        }
        partial_path = path.with_name(path.name + ".partial")
        torch.save(checkpoint, partial_path)
        partial_path.replace(path)

    def _resume(self) -> ResumePoint:
        """Load the run's checkpoint into the model, if there is one, and say where the run stands."""
        path = self.run_dir / CHECKPOINT
        if not path.is_file():  # a new run, from a bundle's trained model or from scratch, starts at its first
            if self.config.warm_start:  # stage with steps (one warm-started may leave some out)
                load_bundle_weights(self.model, self.config.warm_start)
            return ResumePoint(stage=next((s.name for s in self.stages if s.steps(self.config) > 0), DONE))
        checkpoint = torch.load(path, map_location=self.device, weights_only=False)
        family = checkpoint["config"]["model"].get("family", "reconstruction")
        if family != self.config.model.family:
            raise ValueError(
                f"{path} is a run of model.family '{family}', not '{self.config.model.family}': choose another run_dir"
            )
        self.model.load_state_dict(checkpoint["model"])
        for stage in self.stages:
            if stage.kept is not None:
                stage.kept.load_state_dict(checkpoint[stage.name])
        return ResumePoint(checkpoint["stage"], checkpoint["step"], checkpoint["seconds"], checkpoint.get("optimizer"))

    def _elapsed(self) -> float:
        return time.perf_counter() - self._started

    def _log(self, step: int, figures: dict) -> None:
        evaluated = judged.CODES_USED.key in figures  # a quick evaluation: its figures go to the terminal too
        if self.rank != 0 or (step % self.config.optim.log_every and not evaluated):
            return
        stage, seconds = self.position.stage, round(self._elapsed(), 1)
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
