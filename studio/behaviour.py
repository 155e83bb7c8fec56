"""How a world model behaves when played, judged through its graphs with its game's frame check and measure
of the player's motion (`studio.games`: Breakout's paddle, CoinRun's scene shifting under the player):

- code consistency: from many start frames, hold code k for 2 steps, decode every step and see which way
  the player went (left / not at all / right; and for a game that measures it, down / not at all / up); a
  code's consistency is the share of starts that agree with its commonest way; reported per code, and
  averaged over the codes the action model uses, sideways (the headline figure) and vertically;
- stability: the share of frames of long rollouts (random codes, each held a few steps) that still pass the
  frame check, and the first failing step of each; for a bundle with a reference, also the share the
  studio's familiarity check calls familiar (what Play shows under the screen), and the first unfamiliar step.
"""

from __future__ import annotations

import numpy as np

from studio.familiarity import familiarity, nearest_distances
from studio.games import DIRECTIONS, Game
from studio.reference import reference_of
from studio.runtime import WorldModel, to_uint8_frames

CONSISTENCY_STEPS = 2
IN_USE_SHARE = 0.01  # a code is in use when the action model infers it for at least this share of transitions


def code_consistency(
    model: WorldModel, game: Game, contexts: np.ndarray, start_frames: np.ndarray, usage: np.ndarray
) -> dict:
    """contexts [S, C, N, D] of real frames, their last frames decoded [S, 3, H, W], usage [K] share of
    held-out transitions per code -> consistency per code and its mean over the codes in use, along each of
    the game's motion axes: the sideways figures at the top level, the others under their axis's name."""
    start = to_uint8_frames(start_frames)[:, None]  # [S, 1, H, W, 3]
    ways = []  # per code: [S, A] -1 / 0 / +1 / NaN
    for k in range(model.codebook_size):
        held = model.action_vectors(np.full((len(contexts), CONSISTENCY_STEPS), k))  # [S, 2, Da]
        steps = model.rollout(contexts, held)  # [S, 2, N, D]
        decoded = to_uint8_frames(model.decode(steps.reshape(-1, *steps.shape[2:])))  # [S*2, H, W, 3]
        sequences = np.concatenate([start, decoded.reshape(len(contexts), CONSISTENCY_STEPS, *decoded.shape[1:])], 1)
        ways.append(game.player_motion(sequences))  # [S, A]
    figures = {}
    for a, axis in enumerate(game.MOTION_AXES):
        names = DIRECTIONS[axis]
        per_code = {}
        for k, way in enumerate(ways):
            told = way[:, a][~np.isnan(way[:, a])].astype(int)
            counts = np.array([(told == d).sum() for d in (-1, 0, 1)])
            per_code[str(k)] = {
                "usage": float(usage[k]),
                "direction": names[int(np.argmax(counts))],
                "consistency": float(counts.max() / max(1, counts.sum())),
                "shares": {name: float(c / max(1, counts.sum())) for name, c in zip(names, counts)},
                "starts": int(counts.sum()),
            }
        figures[axis] = {**consistency_summary(per_code, names), "steps_held": CONSISTENCY_STEPS, "per_code": per_code}
    sideways = figures.pop("horizontal")
    return {**sideways, **figures}


def consistency_summary(per_code: dict, names: tuple[str, str, str]) -> dict:
    """The figures of one motion axis from its per-code table: the mean consistency over the codes in use and
    the best code each way (`names`: the axis's negative, still and positive ways). A figure no code supports
    is absent (None), never 0 or 100%: with no code in use moving the player, there is no consistency to speak
    of (every code leaving it still is not a consistent control)."""
    in_use = [c for c in per_code.values() if c["usage"] >= IN_USE_SHARE]
    moving = [c for c in in_use if c["direction"] != names[1]]
    best = {
        f"best_{name}": max((c["consistency"] for c in in_use if c["direction"] == name), default=None)
        for name in (names[0], names[2])
    }
    mean = float(np.mean([c["consistency"] for c in in_use])) if moving else None
    return {"mean": mean, "codes_in_use": len(in_use), "moving_codes": len(moving), **best}


def rollout_frame_check(
    model: WorldModel,
    game: Game | None,
    contexts: np.ndarray,
    steps: int,
    hold: int,
    rng: np.random.Generator,
    backgrounds: np.ndarray | None = None,
) -> tuple[dict, dict[str, float]]:
    """Roll contexts [S, C, N, D] forward `steps` steps under random codes, each held `hold` steps, and run
    the game's frame check on every decoded frame (with a game) and the familiarity check (when the bundle has
    a reference). -> those figures, and the share of each of the game's sprite checks over the rollouts, each
    run judged against the background of the clip it started from (`backgrounds` [S, 3, H, W]; {} without)."""
    codes = np.repeat(rng.integers(0, model.codebook_size, size=(len(contexts), -(-steps // hold))), hold, axis=1)
    reference = reference_of(model)
    passes = np.zeros((len(contexts), steps), bool)
    familiar = np.zeros((len(contexts), steps), bool)
    judges_sprites = game is not None and backgrounds is not None
    drawn = []  # each step's decoded frames [S, H, W, 3], kept while sprites are judged
    context = np.asarray(contexts, np.float32)
    for step in range(steps):
        latents = model.next_latents(context, model.action_vectors(codes[:, step]))  # [S, N, D]
        if game is not None:
            frames = to_uint8_frames(model.decode(latents))  # [S, H, W, 3]
            passes[:, step] = game.frame_check(frames)
            if judges_sprites:
                drawn.append(frames)
        if reference is not None:
            scores = familiarity(nearest_distances(latents, reference.latents), reference.calibration)  # [S]
            familiar[:, step] = scores >= 0
        context = np.concatenate([context[:, 1:], latents[:, None]], axis=1)
    figures = {"starts": len(contexts), "steps": steps, "codes_held": hold}
    if game is not None:
        figures["pass_rate"] = float(passes.mean())
        figures["first_failing_step"] = _first_false(passes)
    if reference is not None:
        figures["familiar_rate"] = float(familiar.mean())
        figures["first_unfamiliar_step"] = _first_false(familiar)
    sprites: dict[str, list[np.ndarray]] = {}
    if drawn:
        runs = np.stack(drawn, axis=1)  # [S, steps, H, W, 3]
        for run, background in zip(runs, backgrounds):
            for check, judged in game.sprite_checks(run, background).items():
                sprites.setdefault(check, []).append(judged)
    return figures, {check: float(np.concatenate(parts).mean()) for check, parts in sprites.items()}


def _first_false(rows: np.ndarray) -> list[int | None]:
    """For each row of a [S, steps] bool array, the 1-based step of its first False, or None."""
    return [int(np.argmin(row)) + 1 if not row.all() else None for row in rows]
