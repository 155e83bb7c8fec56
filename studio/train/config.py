"""Typed configuration of a training run, read from a JSON file (see `configs/`)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from studio.train.data import DataConfig


@dataclass(frozen=True)
class ModelConfig:
    frame_size: int = 64
    channels: tuple[int, ...] = (32, 64, 128)  # encoder widths; each stage halves the frame
    latent_dim: int = 32  # D
    action_dim: int = 8  # Da
    codebook_size: int = 8  # K
    context: int = 4  # C: latent frames the predictor reads
    action_window: int = 2  # L: latent frames the action model reads (t-L+2 .. t+1)
    predictor_width: int = 128
    predictor_blocks: int = 4
    lam_width: int = 64

    def __post_init__(self):
        object.__setattr__(self, "channels", tuple(self.channels))
        if self.frame_size % (2 ** len(self.channels)):
            raise ValueError("frame_size must be divisible by 2 ** len(channels)")
        if self.codebook_size < 2 or self.context < 1 or self.action_window < 2:
            raise ValueError("codebook_size >= 2, context >= 1 and action_window >= 2 are needed")

    @property
    def grid(self) -> int:
        return self.frame_size // 2 ** len(self.channels)

    @property
    def tokens(self) -> int:
        return self.grid**2


@dataclass(frozen=True)
class OptimConfig:
    autoencoder_steps: int = 3000
    dynamics_steps: int = 4000
    batch_size: int = 64
    lr: float = 2e-3
    sprite_weight: float = 20.0  # extra loss weight on pixels that differ from the median background
    commitment: float = 0.25
    context_dropout: float = 0.0  # share of stage-2 samples whose context is frame t alone
    vq_warmup: int = 0  # stage-2 steps with the action vector passed on unquantised; then k-means codebook
    dead_code_every: int = 200
    eval_every: int = 500
    checkpoint_every: int = 500
    threads: int = 2

    def __post_init__(self):
        if self.batch_size < 2 or self.autoencoder_steps < 1 or self.dynamics_steps < 1:
            raise ValueError("batch_size >= 2 and at least one step per stage are needed")


@dataclass(frozen=True)
class TrainConfig:
    name: str = "breakout"
    description: str = ""
    data_dir: str = "data/breakout"
    run_dir: str = "runs/breakout"
    seed: int = 0
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, raw: dict) -> TrainConfig:
        raw = dict(raw)
        return cls(
            data=DataConfig(**raw.pop("data", {})),
            model=ModelConfig(**raw.pop("model", {})),
            optim=OptimConfig(**raw.pop("optim", {})),
            **raw,
        )


def load_config(path: str | Path) -> TrainConfig:
    return TrainConfig.from_json(json.loads(Path(path).read_text()))
