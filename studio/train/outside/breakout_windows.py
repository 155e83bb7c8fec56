"""The recorded Breakout gameplay (studio/train/data.py's shards) as the outside models read it: windows of
consecutive 64×64 frames with the buttons pressed, and the per-frame labels an exported bundle's examples carry.

An action at frame t moves frame t to frame t+1 (the last action of an episode is a placeholder, -1).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from studio.games import breakout
from studio.train.data import Episode, load_episodes

ACTION_NAMES = list(breakout.ACTION_NAMES)  # the game's four buttons, in the order the recorded actions index
SOURCE = breakout.ENV_ID


def read_split(data_dir: Path, split: str, limit: int | None = None) -> list[Episode]:
    """The first `limit` episodes of data_dir/{train,heldout}, refused in one line when there are none."""
    episodes = load_episodes(Path(data_dir) / split)[:limit]
    if not episodes:
        raise FileNotFoundError(f"{Path(data_dir) / split}: no Breakout episodes (episode_*.npz) there")
    return episodes


def as_images(frames: np.ndarray) -> torch.Tensor:
    """uint8 [..., H, W, 3] -> float [..., 3, H, W] in [0, 1]: the exporter's frame convention."""
    return torch.from_numpy(frames).float().div(255.0).movedim(-1, -3)


@dataclass
class Windows:
    """Windows of `length` consecutive frames drawn at random from the episodes long enough to hold one."""

    episodes: list[Episode]
    length: int

    def __post_init__(self):
        self.episodes = [e for e in self.episodes if len(e.frames) >= self.length]
        if not self.episodes:
            raise ValueError(f"no episode holds {self.length} consecutive frames")

    def sample(self, batch: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """-> frames uint8 [B, L, H, W, 3], actions int64 [B, L] (-1: the episode's placeholder)."""
        frames, actions = [], []
        for index in rng.integers(len(self.episodes), size=batch):
            episode = self.episodes[index]
            start = rng.integers(len(episode.frames) - self.length + 1)
            frames.append(episode.frames[start : start + self.length])
            actions.append(episode.actions[start : start + self.length])
        return np.stack(frames), np.stack(actions)


def example_labels(episode: Episode) -> dict[str, np.ndarray]:
    """An episode's per-frame columns for its example clip: the button pressed and the positions a probe asks
    of the latents (paddle_x, ball_x, ball_y, score), each [T]."""
    named = breakout.frame_labels(episode.frames, episode.actions, episode.ram)
    return {"action": episode.actions} | {name: named[name] for name in breakout.PROBED_LABELS}
