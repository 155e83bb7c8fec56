"""Playing a game: the environment a game module opens, and the one loop that plays an episode of it, for
training data (`studio/train/data.py`) and for a bundle's reference (`studio/reference.py`) alike.

An environment numbers its episodes from the seed it was opened with, so two environments opened far apart
(training at `seed * 100_000`, held-out episodes 10,000 later, a reference at 900,000) never play the same
episode or level. numpy only: a game module imports its environment's library inside the function that
opens it, so the studio imports no emulator.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np


class BehaviourPolicy(Protocol):
    def act(self, frame: np.ndarray, ram: np.ndarray) -> int:
        """The action to take, given the current frame [h, w, 3] uint8 at the source's size and the console
        RAM [R] uint8 (R = 0 for a game without one)."""
        ...


class Environment(Protocol):
    """One game's environment, played an episode at a time."""

    action_count: int

    def reset(self) -> tuple[np.ndarray, np.ndarray]:
        """Start the next episode: its first frame [h, w, 3] uint8 and RAM [R] uint8."""
        ...

    def step(self, action: int) -> tuple[np.ndarray, np.ndarray, bool]:
        """Take the action: the next frame, its RAM, and whether the episode ended (the frame is then not
        part of it)."""
        ...

    def close(self) -> None: ...


@dataclass
class PlayedEpisode:
    native: np.ndarray  # [T, h, w, 3] uint8: the frames at the source's size
    actions: np.ndarray  # [T] int64: action[t] moves frame t to frame t+1; the last is -1 (starts no transition)
    ram: np.ndarray  # [T, R] uint8 (R = 0 for a game without console RAM)


def play_episode(
    env: Environment, policy: BehaviourPolicy | None, rng: np.random.Generator, max_steps: int
) -> PlayedEpisode:
    """One episode of at most `max_steps` transitions, played by the policy, or uniformly at random without one."""
    frame, ram = env.reset()
    frames, rams, actions = [frame], [ram], []
    for _ in range(max_steps):
        action = policy.act(frames[-1], rams[-1]) if policy else int(rng.integers(env.action_count))
        frame, ram, ended = env.step(action)
        if ended:
            break
        actions.append(action)
        frames.append(frame)
        rams.append(ram)
    return PlayedEpisode(np.stack(frames), np.asarray([*actions, -1], np.int64), np.stack(rams))
