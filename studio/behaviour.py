"""How a world model behaves when played, judged through its graphs with its game's frame check and player
finder (`studio.games`, e.g. Breakout's paddle):

- code consistency: from many start frames, hold code k for 2 steps and see which way the decoded paddle
  moves (left / not at all / right); a code's consistency is the share of starts that agree with its
  commonest way; reported per code, and averaged over the codes the action model uses;
- stability: the share of frames of long rollouts (random codes, each held a few steps) that still pass the
  frame check, and the first failing step of each.
"""

from __future__ import annotations

import numpy as np

from studio.games import Game
from studio.runtime import WorldModel, to_uint8_frames

CONSISTENCY_STEPS = 2
IN_USE_SHARE = 0.01  # a code is in use when the action model infers it for at least this share of transitions
DIRECTIONS = {-1: "left", 0: "none", 1: "right"}


def code_consistency(
    model: WorldModel, game: Game, contexts: np.ndarray, start_frames: np.ndarray, usage: np.ndarray
) -> dict:
    """contexts [S, C, N, D] of real frames, their last frames decoded [S, 3, H, W], usage [K] share of
    held-out transitions per code -> consistency per code and its mean over the codes in use."""
    before = game.player_column(to_uint8_frames(start_frames))  # [S]
    per_code = {}
    for k in range(model.codebook_size):
        held = model.action_vectors(np.full((len(contexts), CONSISTENCY_STEPS), k))  # [S, 2, Da]
        last = model.rollout(contexts, held)[:, -1]  # [S, N, D]
        after = game.player_column(to_uint8_frames(model.decode(last)))
        way = game.player_direction(before, after)
        way = way[~np.isnan(way)].astype(int)
        counts = np.array([(way == d).sum() for d in (-1, 0, 1)])
        commonest = int(np.argmax(counts)) - 1
        per_code[str(k)] = {
            "usage": float(usage[k]),
            "direction": DIRECTIONS[commonest],
            "consistency": float(counts.max() / max(1, counts.sum())),
            "shares": {DIRECTIONS[d]: float(c / max(1, counts.sum())) for d, c in zip((-1, 0, 1), counts)},
            "starts": int(counts.sum()),
        }
    in_use = [c for c in per_code.values() if c["usage"] >= IN_USE_SHARE]
    best = {d: max((c["consistency"] for c in in_use if c["direction"] == d), default=0.0) for d in ("left", "right")}
    return {
        "mean": float(np.mean([c["consistency"] for c in in_use])) if in_use else 0.0,
        "codes_in_use": len(in_use),
        "best_left": best["left"],
        "best_right": best["right"],
        "steps_held": CONSISTENCY_STEPS,
        "per_code": per_code,
    }


def rollout_frame_check(
    model: WorldModel, game: Game, contexts: np.ndarray, steps: int, hold: int, rng: np.random.Generator
) -> dict:
    """Roll contexts [S, C, N, D] forward `steps` steps under random codes, each held `hold` steps, and run
    the frame check on every decoded frame."""
    codes = np.repeat(rng.integers(0, model.codebook_size, size=(len(contexts), -(-steps // hold))), hold, axis=1)
    passes = np.zeros((len(contexts), steps), bool)
    context = np.asarray(contexts, np.float32)
    for step in range(steps):
        latents = model.next_latents(context, model.action_vectors(codes[:, step]))  # [S, N, D]
        passes[:, step] = game.frame_check(to_uint8_frames(model.decode(latents)))
        context = np.concatenate([context[:, 1:], latents[:, None]], axis=1)
    first_fail = [int(np.argmin(p)) + 1 if not p.all() else None for p in passes]
    return {
        "pass_rate": float(passes.mean()),
        "first_failing_step": first_fail,
        "starts": len(contexts),
        "steps": steps,
        "codes_held": hold,
    }
