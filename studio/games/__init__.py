"""The games the studio knows, one module each: what training and evaluation know of a game beyond its frames.

A training config names its game in `data.game` and a bundle in `trained_on.source`, both by the
environment id (e.g. `ALE/Breakout-v5`); `find_game` turns that name into the game's module, or None for
footage of no known game (the user's own videos). A game is one file here plus one line in `GAMES`.
Nothing here imports torch or the training side: the studio reads it too.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from studio.games import breakout

# The per-frame labels a game's example clips ship beside them (`examples/<clip>.csv`, one row per frame):
# the action taken, its name, and the console RAM, one column per byte (`ram_0` ...).
ACTION_COLUMN = "action"
ACTION_NAME_COLUMN = "action_name"


# What a player's move between two frames is called, by the direction names of studio.behaviour.DIRECTIONS
MOTION_WORDS = {
    "left": "moves the {player} left",
    "none": "leaves the {player} still",
    "right": "moves the {player} right",
}


def ram_column(address: int) -> str:
    return f"ram_{address}"


class BehaviourPolicy(Protocol):
    def act(self, ram: np.ndarray) -> int:
        """The action to take, given the console RAM [R] uint8 of the current frame."""
        ...


class Game(Protocol):
    """What a game module provides."""

    ENV_ID: str  # the Gymnasium environment id configs and bundles name the game by
    ACTION_NAMES: tuple[str, ...]  # the environment's actions, by index
    RAM_BYTES: int  # console RAM kept per frame
    PLAYER_X: int  # the RAM byte holding the player's horizontal position
    PLAYER_NAME: str  # what the player is called on screen (Breakout's paddle)

    def behaviour_policy(
        self, epsilon: float, aim_offset: int, random_hold: int, rng: np.random.Generator
    ) -> BehaviourPolicy: ...

    def describe_policy(self, epsilon: float, aim_offset: int, random_hold: int) -> str: ...

    def frame_check(self, frames: np.ndarray) -> np.ndarray:
        """uint8 [T, 64, 64, 3] -> bool [T]: whether each frame shows what every frame of the game shows."""
        ...

    def player_column(self, frames: np.ndarray) -> np.ndarray:
        """uint8 [T, 64, 64, 3] -> float [T]: the player's column in each frame, NaN where it is not drawn."""
        ...

    def player_direction(self, before: np.ndarray, after: np.ndarray) -> np.ndarray:
        """The player's columns [S] twice -> -1 (left), 0 (still), +1 (right), NaN where either is missing."""
        ...


GAMES: dict[str, Game] = {game.ENV_ID: game for game in (breakout,)}


def find_game(name: str | None) -> Game | None:
    """The game a config or bundle names, or None when the studio knows no such game."""
    return GAMES.get(name or "")


def player_motion(player_x: np.ndarray) -> np.ndarray:
    """The player's observed move between consecutive frames, -1 / 0 / +1: [T] positions -> [T-1] int64."""
    return np.sign(np.diff(np.asarray(player_x).astype(np.int64)))
