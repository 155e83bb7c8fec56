"""The games the studio knows, one module each: what training and evaluation know of a game beyond its frames.

A training config names its game in `data.game` and a bundle in `trained_on.source`, both by the game's id
(an Arcade Learning Environment game by its Gymnasium id, e.g. `ALE/Breakout-v5`; a Procgen game as
`procgen:<name>`); `find_game` turns that name into the game's module, or None for footage of no known game
(the user's own videos). A game is one file here plus one line in `GAMES`. Nothing here imports torch or the
training side: the studio reads it too; a game's environment library is imported only when it is played
(`episodes.py`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

import numpy as np

from studio.games import breakout, coinrun
from studio.games.episodes import BehaviourPolicy, Environment

# The per-frame labels a game's example clips ship beside them (`examples/<clip>.csv`, one row per frame):
# the action taken, its name, and what the game adds (`Game.frame_labels`: Breakout's RAM, CoinRun's movement).
ACTION_COLUMN = "action"
ACTION_NAME_COLUMN = "action_name"
# the player's observed motion along an axis: -1, 0, +1 by name
DIRECTIONS = {"horizontal": ("left", "none", "right"), "vertical": ("down", "none", "up")}
# What a player's move sideways is called in words, by the direction names of DIRECTIONS["horizontal"]
MOTION_WORDS = {
    "left": "moves the {player} left",
    "none": "leaves the {player} still",
    "right": "moves the {player} right",
}
# What a jump is called, by the direction of the player's move sideways during it
JUMP_WORDS = {
    "left": "jumps the {player} to the left",
    "none": "jumps the {player}",
    "right": "jumps the {player} to the right",
}


class Game(Protocol):
    """What a game module provides."""

    ENV_ID: str  # the id configs and bundles name the game by
    TITLE: str  # the game as a person names it
    ACTION_NAMES: tuple[str, ...]  # the environment's actions, by index
    PLAYER_NAME: str  # what the player is called on screen (Breakout's paddle)
    # what an action asks of the player (`movement_class`), by index: left, none, right, then (a game whose player
    # jumps) the same three with a jump
    MOVEMENT_CLASSES: tuple[str, ...]
    MOTION_AXES: tuple[str, ...]  # the axes of DIRECTIONS along which `player_motion` measures the player
    # the `frame_labels` columns that say where things are on screen: `studio evaluate` probes the latents for them
    PROBED_LABELS: tuple[str, ...]
    NATIVE_SIZE: tuple[int, int]  # the environment's frames, height × width
    NATIVE_FPS: float  # frames a second the game shows
    FRAME_SKIP: int  # frames the game shows per transition played

    def open_environment(self, first_seed: int) -> Environment:
        """The game's environment, its episodes seeded (or their levels drawn) from `first_seed` on."""
        ...

    def behaviour_policy(
        self, epsilon: float, aim_offset: int, random_hold: int, rng: np.random.Generator
    ) -> BehaviourPolicy: ...

    def screen_recording(
        self, frames: int, policy: BehaviourPolicy | None, rng: np.random.Generator
    ) -> Iterator[np.ndarray] | None:
        """`frames` frames [h, w, 3] uint8 of the game as a person records its window, played by `policy` (at random
        without one), where the game draws a finer picture there than its frames (CoinRun: 512×512); None for a game
        that does not."""
        ...

    def describe_policy(self, epsilon: float, aim_offset: int, random_hold: int) -> str: ...

    def movement_class(self, actions: np.ndarray) -> np.ndarray:
        """Actions [T] -> int [T]: the index in MOVEMENT_CLASSES of what each asks of the player, -1 unknown."""
        ...

    def frame_labels(self, frames: np.ndarray, actions: np.ndarray, ram: np.ndarray) -> dict[str, np.ndarray]:
        """An episode's frames [T, 64, 64, 3], actions [T] and RAM [T, R] -> the per-frame columns its example
        clips' labels carry beside the action, each [T]."""
        ...

    def frame_check(self, frames: np.ndarray) -> np.ndarray:
        """uint8 [T, 64, 64, 3] -> bool [T]: whether each frame shows what every frame of the game shows."""
        ...

    def player_motion(self, sequences: np.ndarray) -> np.ndarray:
        """uint8 [S, K+1, 64, 64, 3] frame sequences -> float [S, len(MOTION_AXES)]: which way the player went
        from the first frame to the last along each axis, -1 / 0 / +1, NaN where it cannot be told."""
        ...

    def sprite_checks(self, frames: np.ndarray, background: np.ndarray) -> dict[str, np.ndarray]:
        """A run of frames uint8 [T, 64, 64, 3] and its median background [3, 64, 64] in [0, 1] -> by check (the
        names of `studio.figures.SPRITE_CHECKS`), bool [T] per frame or [T-1] per transition: whether the game's
        moving sprites are drawn as the game draws them; {} for a game whose sprites are not judged."""
        ...

    def sprite_kept(self, predicted: np.ndarray, truth: np.ndarray, background: np.ndarray) -> np.ndarray:
        """Predicted and true frames uint8 [T, 64, 64, 3] each, the background [3, 64, 64] -> float [T]: 1 where the
        prediction draws the game's tracked sprite (Breakout's ball) where the true frame has it, 0 where not, NaN
        where the true frame shows none (all NaN for a game that tracks none)."""
        ...

    def recorded_motion(self, frames: np.ndarray, ram: np.ndarray) -> np.ndarray:
        """An episode's frames [T, 64, 64, 3] and RAM [T, R] (R may be 0) -> float [T-1]: the player's horizontal
        move at each transition, -1 / 0 / +1, NaN where it cannot be told; as exact as the game's record allows."""
        ...


GAMES: dict[str, Game] = {game.ENV_ID: game for game in (breakout, coinrun)}


def find_game(name: str | None) -> Game | None:
    """The game a config or bundle names, or None when the studio knows no such game."""
    return GAMES.get(name or "")


def observed_movement_class(game: Game, before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """uint8 [S, 64, 64, 3] twice -> int [S]: the index in the game's MOVEMENT_CLASSES of the move the player made
    from each frame to the next, read off the frames (`Game.player_motion`) rather than the button pressed: its way
    sideways, and for a game with a vertical axis, a jump where it went up; -1 where the frames cannot tell."""
    motion = game.player_motion(np.stack([before, after], axis=1))  # [S, A]: -1 / 0 / +1 / NaN
    sideways = motion[:, 0]
    up = motion[:, 1] > 0 if motion.shape[1] > 1 else np.zeros(len(motion), bool)
    return np.where(np.isnan(sideways), -1, np.nan_to_num(sideways) + 1 + 3 * up).astype(np.int64)
