"""Record the folder of clips the README's "Your own videos" figures were measured on: Atari Pong played by a
uniformly random player, recorded as a user's screen capture would be (every second frame of the 60 Hz game,
so 30 fps, each frame enlarged 2× to 420×320), written as H.264 mp4 with PyAV.

    python -m benchmarks.pong_clips OUT_DIR [--clips 12] [--seconds 45]

Needs the training extras (gymnasium, ale-py). Clip i is played from seed 5,000 + i, far from the seeds
training data uses.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from studio.video import write_mp4

GAME = "ALE/Pong-v5"
RECORDED_FPS = 30.0
EVERY = 2  # emulator frames (60 Hz) per recorded frame
SCALE = 2
FIRST_SEED = 5_000


def record_clip(seed: int, seconds: float, path: Path) -> Path:
    """One clip of random play: [T, 420, 320, 3] frames at 30 fps, the game restarted whenever it ends."""
    import ale_py
    import gymnasium as gym

    gym.register_envs(ale_py)
    env = gym.make(GAME, frameskip=1, repeat_action_probability=0.0, full_action_space=False)
    rng = np.random.default_rng(seed)
    frame, _ = env.reset(seed=seed)
    action, frames = 0, []
    for tick in range(int(seconds * RECORDED_FPS * EVERY)):
        if tick % 4 == 0:  # a player presses a new button at most every 4 emulator frames
            action = int(rng.integers(env.action_space.n))
        frame, _, terminated, truncated, _ = env.step(action)
        if terminated or truncated:
            frame, _ = env.reset(seed=seed + 1_000 + tick)
        if tick % EVERY == 0:
            frames.append(frame.repeat(SCALE, axis=0).repeat(SCALE, axis=1))  # [420, 320, 3]
    env.close()
    return write_mp4(np.stack(frames), path, fps=RECORDED_FPS, crf=18)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--clips", type=int, default=12)
    parser.add_argument("--seconds", type=float, default=45.0)
    args = parser.parse_args()
    for index in range(args.clips):
        print(record_clip(FIRST_SEED + index, args.seconds, args.out_dir / f"pong_{index + 1:02d}.mp4"))


if __name__ == "__main__":
    main()
