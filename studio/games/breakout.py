"""Atari Breakout: its actions, the RAM bytes that say where the paddle and ball are, and the player that
makes its training data. numpy only.

Behaviour policy: a noisy ball-tracking player, not a random one. A sticky-random player leaves the paddle
pinned against a wall over half the time, where no action has a visible effect, so no model could read
actions off those frames. This player reads the paddle and ball positions from RAM (the policy may; the
model may not) and steers the paddle under the ball with a random aim offset re-drawn every few steps,
presses FIRE only to launch a ball, and with probability `epsilon` takes a random move (NOOP, RIGHT or
LEFT) held for 1 to `random_hold` steps, so that every action is seen in every situation. The random share
matters beyond coverage: whatever the player does predictably (steering under the ball, keeping a move
going) a predictor can guess from the past frames, so only the unpredictable share of actions forces the
latent action codes to say which way the paddle went. Moves that would push the paddle into a wall are
mostly replaced by the opposite move.
"""

from __future__ import annotations

import numpy as np

ENV_ID = "ALE/Breakout-v5"
ACTION_NAMES = ("NOOP", "FIRE", "RIGHT", "LEFT")
NOOP, FIRE, RIGHT, LEFT = range(len(ACTION_NAMES))
MOVES = (NOOP, RIGHT, LEFT)  # what a random move is drawn from

# RAM (Atari 2600, 128 bytes): paddle x in [PADDLE_MIN, PADDLE_MAX], ball x, ball y (0 while no ball is in play).
RAM_BYTES = 128
PADDLE_X, BALL_X, BALL_Y = 72, 99, 101
PLAYER_X = PADDLE_X
PADDLE_MIN, PADDLE_MAX = 55, 191

AIM_SHIFT = -9  # paddle RAM x minus ball RAM x when the ball is above the paddle's centre
LEAD_STEPS = 3  # aim where the ball will be this many steps ahead
DEAD_ZONE = 10  # RAM units; one step at full speed moves the paddle about 23
AIM_STEPS = (5, 20)  # an aim offset is kept for this many steps (from, to exclusive)
LAUNCH_CHANCE = 0.3  # with no ball in play, the chance of pressing FIRE at each step
WALL_MARGIN = 6  # RAM units from a wall within which a move into it is mostly reversed
WALL_REVERSAL = 0.8  # the chance of reversing such a move


class TrackingPolicy:
    """The noisy ball-tracking player described in the module docstring."""

    def __init__(self, epsilon: float, aim_offset: int, random_hold: int, rng: np.random.Generator):
        self.epsilon, self.aim_offset, self.rng, self.random_hold = epsilon, aim_offset, rng, random_hold
        self.held_action, self.held_steps, self.aim, self.aim_steps = NOOP, 0, 0, 0
        self.last_ball_x: int | None = None

    def act(self, ram: np.ndarray) -> int:  # ram [128] uint8
        paddle, ball_x, ball_y = int(ram[PADDLE_X]), int(ram[BALL_X]), int(ram[BALL_Y])
        ball_dx = 0 if self.last_ball_x is None else ball_x - self.last_ball_x
        self.last_ball_x = ball_x
        if ball_y == 0:  # no ball in play: launch one (a person would), now and then after a pause
            self.held_steps = 0
            if self.rng.random() < LAUNCH_CHANCE:
                return FIRE
            return self._away_from_walls(int(self.rng.choice(MOVES)), paddle)
        if self.held_steps > 0:
            self.held_steps -= 1
            return self._away_from_walls(self.held_action, paddle)
        if self.rng.random() < self.epsilon:
            return self._hold(int(self.rng.choice(MOVES)), int(self.rng.integers(0, self.random_hold)), paddle)
        if self.aim_steps <= 0:
            self.aim = int(self.rng.integers(-self.aim_offset, self.aim_offset + 1))
            self.aim_steps = int(self.rng.integers(*AIM_STEPS))
        self.aim_steps -= 1
        target = ball_x + LEAD_STEPS * ball_dx + AIM_SHIFT + self.aim  # paddle RAM x under the ball
        if paddle < target - DEAD_ZONE:
            return self._hold(RIGHT, int(self.rng.integers(0, 2)), paddle)
        if paddle > target + DEAD_ZONE:
            return self._hold(LEFT, int(self.rng.integers(0, 2)), paddle)
        return self._hold(NOOP, int(self.rng.integers(0, 3)), paddle)

    def _hold(self, action: int, extra_steps: int, paddle: int) -> int:
        self.held_action, self.held_steps = action, extra_steps
        return self._away_from_walls(action, paddle)

    def _away_from_walls(self, action: int, paddle: int) -> int:
        if action == LEFT and paddle <= PADDLE_MIN + WALL_MARGIN and self.rng.random() < WALL_REVERSAL:
            return RIGHT
        if action == RIGHT and paddle >= PADDLE_MAX - WALL_MARGIN and self.rng.random() < WALL_REVERSAL:
            return LEFT
        return action


def behaviour_policy(epsilon: float, aim_offset: int, random_hold: int, rng: np.random.Generator) -> TrackingPolicy:
    return TrackingPolicy(epsilon, aim_offset, random_hold, rng)


def describe_policy(epsilon: float, aim_offset: int, random_hold: int) -> str:
    """The behaviour policy in a sentence, for a bundle's card."""
    moves = ", ".join(ACTION_NAMES[m] for m in MOVES)
    return (
        f"noisy ball-tracking player: steers under the ball from RAM, FIRE only to launch, random moves ({moves}) "
        f"held 1-{random_hold} steps with probability {epsilon}, aim offset up to {aim_offset} RAM units, moves "
        "into a wall mostly reversed (studio/games/breakout.py)"
    )
