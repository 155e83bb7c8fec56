"""Breakout's sprite figures of a bundle, through its ONNX graphs, on held-out episodes (issue 29).

    python -m benchmarks.sprite_figures exported/breakout --episodes data/breakout/heldout

- live ball, paddle drawn, open field smeared: shares of the steps of 1,000-step rollouts from the middle frame
  of 10 held-out episodes spread over the set, under random codes each held 10 steps (seed 0), every frame
  decoded and judged against its episode's median background by `studio.games.breakout`;
- ball kept 4 steps ahead: from every 4th frame of every held-out episode, 4 steps under the codes the action
  model reads off the episode, the decoded frame against the true one, over the frames that show a ball;
- the same frame figures on the real held-out frames and on their reconstructions, for calibration.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from studio.evaluation import episodes_from_shards
from studio.games import breakout, find_game
from studio.games.sprites import median_background
from studio.runtime import WorldModel, to_uint8_frames

STARTS, STEPS, HOLD, AHEAD, STRIDE = 10, 1000, 10, 4, 4
BACKGROUND_SAMPLES = 200


def frame_figures(frames: np.ndarray, background: np.ndarray) -> dict[str, np.ndarray]:
    """The per-step judgements of a run of frames [T, 64, 64, 3]."""
    return {
        "live_ball": breakout.live_ball(frames, background),
        "paddle_drawn": breakout.paddle_drawn(frames),
        "field_smeared": breakout.field_smeared(frames, background),
        "frame_check": breakout.frame_check(frames),
    }


def rollout_frames(model: WorldModel, context: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """contexts [S, C, N, D] -> decoded frames [S, STEPS, 64, 64, 3] under random codes held HOLD steps."""
    codes = np.repeat(rng.integers(0, model.codebook_size, size=(len(context), -(-STEPS // HOLD))), HOLD, axis=1)
    frames = []
    for step in range(STEPS):
        latents = model.next_latents(context, model.action_vectors(codes[:, step]))  # [S, N, D]
        frames.append(to_uint8_frames(model.decode(latents)))
        context = np.concatenate([context[:, 1:], latents[:, None]], axis=1)
    return np.stack(frames, axis=1)


def measure(bundle: Path, episodes_dir: Path, seed: int = 0) -> dict:
    model = WorldModel.load(bundle, device="cpu", warm_up=False)
    episodes = episodes_from_shards(episodes_dir, find_game(breakout.ENV_ID))
    rng = np.random.default_rng(seed)
    c = model.context
    real, recon, kept = {}, {}, []
    encoded = []
    for episode in episodes:
        x = model.as_model_frames(episode.frames)  # [T, 3, H, W]
        z = model.encode(x)  # [T, N, D]
        encoded.append(z)
        background = median_background([episode.frames], BACKGROUND_SAMPLES)  # [3, H, W]
        for name, values in frame_figures(episode.frames, background).items():
            real.setdefault(name, []).append(values)
        for name, values in frame_figures(to_uint8_frames(model.decode(z)), background).items():
            recon.setdefault(name, []).append(values)
        starts = np.arange(c - 1, len(x) - AHEAD, STRIDE)
        context = np.stack([z[s - c + 1 : s + 1] for s in starts])  # [S, C, N, D]
        codes = model.infer_actions(z).codes
        steps = np.stack([codes[s : s + AHEAD] for s in starts])  # [S, AHEAD]
        predicted = model.rollout(context, model.action_vectors(steps))[:, -1]  # [S, N, D]
        drawn = to_uint8_frames(model.decode(predicted))  # [S, H, W, 3]
        kept.append(breakout.ball_kept(drawn, episode.frames[starts + AHEAD], background))
    picks = np.linspace(0, len(episodes) - 1, STARTS).round().astype(int)
    contexts = np.stack([encoded[i][len(encoded[i]) // 2 - c + 1 : len(encoded[i]) // 2 + 1] for i in picks])
    frames = rollout_frames(model, contexts, rng)  # [S, STEPS, H, W, 3]
    rollouts = {}
    for i, run in zip(picks, frames):
        background = median_background([episodes[i].frames], BACKGROUND_SAMPLES)
        for name, values in frame_figures(run, background).items():
            rollouts.setdefault(name, []).append(values)
    kept_all = np.concatenate(kept)

    def shares(parts: dict) -> dict:
        return {name: round(float(np.concatenate(values).mean()), 4) for name, values in parts.items()}

    return {
        "bundle": str(bundle),
        "rollouts": shares(rollouts) | {"starts": STARTS, "steps": STEPS, "codes_held": HOLD},
        "ball_kept_4_ahead": round(float(np.nanmean(kept_all)), 4),
        "true_ball_frames": int((~np.isnan(kept_all)).sum()),
        "real_frames": shares(real),
        "reconstructions": shares(recon),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle", type=Path)
    parser.add_argument("--episodes", type=Path, default=Path("data/breakout/heldout"))
    args = parser.parse_args()
    print(json.dumps(measure(args.bundle, args.episodes), indent=2))


if __name__ == "__main__":
    main()
