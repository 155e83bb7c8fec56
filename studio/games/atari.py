"""The Arcade Learning Environment as a game module's `Environment`: any Atari game by its Gymnasium id, frame
skip 4 and no sticky actions (repeat_action_probability=0), so the logged action is the action the game
received; episode i is reset with seed `first_seed + i`. gymnasium and ale-py are imported when a game is
opened (the training extra installs them), never by the studio.
"""

from __future__ import annotations

import numpy as np

FRAME_SKIP = 4
STICKY_ACTIONS = 0.0  # repeat_action_probability: the logged action is the one the game received
NATIVE_SIZE = (210, 160)  # the emulator's frames, height × width
NATIVE_FPS = 60.0
RAM_BYTES = 128


def ram_column(address: int) -> str:
    """The labels column of a RAM byte in a clip's labels CSV (`ram_0` ...)."""
    return f"ram_{address}"


class AtariEnvironment:
    def __init__(self, env_id: str, first_seed: int, action_names: tuple[str, ...] | None = None):
        import ale_py
        import gymnasium as gym

        gym.register_envs(ale_py)
        self.env = gym.make(
            env_id, repeat_action_probability=STICKY_ACTIONS, frameskip=FRAME_SKIP, full_action_space=False
        )
        self.action_names = tuple(self.env.unwrapped.get_action_meanings())
        if action_names is not None and self.action_names != action_names:
            self.env.close()
            raise ValueError(f"{env_id} has actions {list(self.action_names)}; its game expects {list(action_names)}")
        self.action_count = len(self.action_names)
        self.next_seed = first_seed

    def reset(self) -> tuple[np.ndarray, np.ndarray]:
        frame, _ = self.env.reset(seed=self.next_seed)
        self.next_seed += 1
        return frame, self._ram()

    def step(self, action: int) -> tuple[np.ndarray, np.ndarray, bool]:
        frame, _, terminated, truncated, _ = self.env.step(action)
        return frame, self._ram(), terminated or truncated

    def close(self) -> None:
        self.env.close()

    def _ram(self) -> np.ndarray:  # [128] uint8
        return self.env.unwrapped.ale.getRAM().copy()
