"""Sizing a run to a time budget: `studio train --videos FOLDER --minutes N` gives every stage its share of N
minutes, turned into steps by what a step of that stage is assumed to cost.

The assumptions are the defaults of `BudgetConfig`: the seconds a step of each stage of the default recipe
(configs/videos.json) took on 2 CPU cores, and the shares of the budget. Steps, not seconds, are what a run
records, so a stopped run resumes to train the very model it would have trained; on a busier or a faster
machine every stage takes longer or shorter in proportion, and the terminal's progress bars say by how much.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from studio.train.config import OptimConfig


@dataclass(frozen=True)
class BudgetConfig:
    # shares of the budget; the rest goes to reading the clips, export, examples, maps, reference and evaluation
    autoencoder_share: float = 0.5
    dynamics_share: float = 0.3
    decoder_share: float = 0.08
    # seconds per step of each stage on 2 shared CPU cores, as the shipped Breakout bundle's recipe took them
    # (exported/breakout/manifest.json, training.history: the autoencoder 1,500 steps in 13 min, the dynamics 1,400
    # in 76 min, the decoder 300 in 7 min; batch 32 as configs/videos.json, whose continuous latents and 4-step
    # rollouts cost less than its quantised latents and 6-step rollouts, so a run ends within its budget)
    autoencoder_step_seconds: float = 0.52
    dynamics_step_seconds: float = 3.2
    decoder_step_seconds: float = 1.4
    # the dynamics stage's schedule, as shares of its steps (configs/breakout.json: 150 and 600 of 1,400)
    vq_warmup_share: float = 0.1
    unroll_ramp_share: float = 0.4
    min_steps: int = 10  # of every stage, however short the budget
    checkpoint_seconds: float = 15.0  # a stopped run loses at most about this much training

    def __post_init__(self):
        shares = (self.autoencoder_share, self.dynamics_share, self.decoder_share)
        if min(shares) < 0 or sum(shares) >= 1:
            raise ValueError("the stages' shares of the budget must be at least 0 and leave some for the rest")


def sized_optim(optim: OptimConfig, minutes: float, budget: BudgetConfig = BudgetConfig()) -> OptimConfig:
    """`optim` with each stage's steps, the dynamics schedule and the checkpoint period sized to `minutes`;
    no evaluation while training (the finished bundle is judged once, on the held-out clips)."""
    if not minutes > 0:
        raise ValueError(f"the time budget must be a positive number of minutes, not {minutes}")
    seconds = minutes * 60.0

    def steps(share: float, step_seconds: float) -> int:
        return max(budget.min_steps, int(seconds * share / step_seconds))

    autoencoder = steps(budget.autoencoder_share, budget.autoencoder_step_seconds)
    dynamics = steps(budget.dynamics_share, budget.dynamics_step_seconds)
    decoder = steps(budget.decoder_share, budget.decoder_step_seconds) if budget.decoder_share > 0 else 0
    slowest = max(budget.autoencoder_step_seconds, budget.dynamics_step_seconds, budget.decoder_step_seconds)
    return dataclasses.replace(
        optim,
        autoencoder_steps=autoencoder,
        dynamics_steps=dynamics,
        decoder_steps=decoder,
        vq_warmup=int(dynamics * budget.vq_warmup_share),
        unroll_ramp=int(dynamics * budget.unroll_ramp_share),
        dead_code_every=max(1, min(optim.dead_code_every, dynamics // 10)),
        eval_every=max(dynamics, decoder) + 1,
        checkpoint_every=max(1, int(budget.checkpoint_seconds / slowest)),
        log_every=max(1, min(optim.log_every, min(autoencoder, dynamics) // 20)),
    )
