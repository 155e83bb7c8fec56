"""What a model family is made of: stages, each training one part of the model, and a recipe, its stages in order.

A stage says what it trains, draws the batch of a step and gives that batch's loss; the one loop of
`studio.train.train.Trainer` does the rest for every stage alike (optimizer, learning-rate schedule, log,
checkpoint, quick evaluation, resume). A recipe lives in its own module under `studio.train.recipes`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import torch
from torch import nn

if TYPE_CHECKING:
    from studio.train.config import TrainConfig
    from studio.train.train import Trainer


class Stage:
    """One stage of a recipe. The loop calls `start` once, then at each step `batch`, `loss`, the optimizer's
    step and `after_step`, and `finish` when the stage's steps are done."""

    name: ClassVar[str]  # how the checkpoint and the log name it; its steps are the config's `optim.<name>_steps`
    evaluated: ClassVar[bool] = False  # judged on held-out episodes every `optim.eval_every` steps
    module: nn.Module  # what it trains: the optimizer's parameters, wrapped when several processes train
    kept: nn.Module | None = None  # what it trains beside the model, kept in the checkpoint under its name

    def __init__(self, run: Trainer):
        self.run = run

    @classmethod
    def steps(cls, config: TrainConfig) -> int:
        return getattr(config.optim, f"{cls.name}_steps")

    def start(self, step: int) -> None:
        """Ready to run from `step`: the model's modes, what is frozen, what is computed once for the stage."""

    def batch(self, step: int) -> Any:
        raise NotImplementedError

    def loss(self, net: nn.Module, batch: Any, step: int) -> tuple[torch.Tensor, dict[str, float]]:
        """The loss of `batch` and the figures the log shows of it; `net` is `module` as the loop wrapped it."""
        raise NotImplementedError

    def after_step(self, step: int) -> dict[str, float]:
        """What follows the optimizer's step (a moving-average target, codebook upkeep), with its figures."""
        return {}

    def train_mode(self) -> None:
        """The model back on the run's device in the stage's modes, after a quick evaluation exported it."""

    def finish(self) -> None:
        """What the stage leaves the model with once its steps are done."""

    def pixels(self, frames: np.ndarray) -> torch.Tensor:  # [B, H, W, 3] uint8 -> [B, 3, H, W] float in [0, 1]
        return pixels(frames, self.run.device)


def pixels(frames: np.ndarray, device: torch.device) -> torch.Tensor:  # [B, H, W, 3] uint8 -> [B, 3, H, W]
    """Frames as the model reads them: float in [0, 1], channels first, on `device`."""
    return torch.from_numpy(frames).to(device).permute(0, 3, 1, 2).float() / 255.0


@dataclass(frozen=True)
class Recipe:
    """A model family's training: its stages in the order they run."""

    stages: tuple[type[Stage], ...]
    # how its latents are learnt, as the bundle's manifest says it (one of `studio.bundle.MODEL_FAMILIES`)
    bundle_family: str
    optional: tuple[type[Stage], ...] = ()  # stages a config may leave out with 0 steps

    def check(self, config: TrainConfig) -> None:
        """Refuse, in a line, a config that leaves out a stage the recipe needs."""
        if config.warm_start:  # a run from a bundle's trained model trains on in any of its stages
            if all(stage.steps(config) < 1 for stage in self.stages):
                names = ", ".join(f"optim.{stage.name}_steps" for stage in self.stages)
                raise ValueError(f"a run from warm_start '{config.warm_start}' trains on: set one of {names}")
            return
        for index, stage in enumerate(self.stages):
            if stage not in self.optional and stage.steps(config) < 1:
                after = f" after the {self.stages[index - 1].name}" if index else ""
                raise ValueError(
                    f"model.family '{config.model.family}' trains its {stage.name}{after}: "
                    f"set optim.{stage.name}_steps to at least 1"
                )
