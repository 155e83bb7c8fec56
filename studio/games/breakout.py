"""Atari Breakout: its actions, the RAM bytes that say where the paddle and ball are, the player that
makes its training data, and what its frames must show (a frame check that needs no model, and the paddle
finder). numpy only.

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

from studio.games import atari

ENV_ID = "ALE/Breakout-v5"
TITLE = "Breakout"
PLAYER_NAME = "paddle"
ACTION_NAMES = ("NOOP", "FIRE", "RIGHT", "LEFT")
NOOP, FIRE, RIGHT, LEFT = range(len(ACTION_NAMES))
MOVES = (NOOP, RIGHT, LEFT)  # what a random move is drawn from
# what each action asks of the paddle (FIRE launches a ball and leaves the paddle where it is)
MOVEMENT_CLASSES = ("left", "none", "right")
MOVEMENT_OF_ACTION = {NOOP: 1, FIRE: 1, RIGHT: 2, LEFT: 0}
MOTION_AXES = ("horizontal",)  # the paddle moves along one axis
PROBED_LABELS = ("paddle_x", "ball_x", "ball_y", "score")  # frame_labels' named columns

# RAM (Atari 2600, 128 bytes): paddle x in [PADDLE_MIN, PADDLE_MAX], ball x, ball y (0 while no ball is in play);
# the score in binary-coded decimal, hundreds in SCORE_HUNDREDS and tens and ones in SCORE_TENS (checked against
# the rewards of whole episodes).
PADDLE_X, BALL_X, BALL_Y = 72, 99, 101
SCORE_HUNDREDS, SCORE_TENS = 76, 77
PADDLE_MIN, PADDLE_MAX = 55, 191
NATIVE_SIZE, NATIVE_FPS, FRAME_SKIP, RAM_BYTES = atari.NATIVE_SIZE, atari.NATIVE_FPS, atari.FRAME_SKIP, atari.RAM_BYTES

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

    def act(self, frame: np.ndarray, ram: np.ndarray) -> int:  # frame [210, 160, 3], ram [128] uint8: reads the RAM
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


def open_environment(first_seed: int) -> atari.AtariEnvironment:
    return atari.AtariEnvironment(ENV_ID, first_seed, ACTION_NAMES)


def screen_recording(frames: int, policy: TrackingPolicy | None, rng: np.random.Generator) -> None:
    """None: the emulator draws nothing finer than its own 210×160 frames, whose recordings (cut, rescaled,
    re-encoded) the tolerance figures already measure."""
    return None


def movement_class(actions: np.ndarray) -> np.ndarray:
    """Actions [T] -> the index in MOVEMENT_CLASSES of what each asks of the paddle; -1 where unknown."""
    table = np.array([MOVEMENT_OF_ACTION[a] for a in range(len(ACTION_NAMES))])
    actions = np.asarray(actions)
    known = (actions >= 0) & (actions < len(ACTION_NAMES))
    return np.where(known, table[np.clip(actions, 0, len(ACTION_NAMES) - 1)], -1)


def frame_labels(frames: np.ndarray, actions: np.ndarray, ram: np.ndarray) -> dict[str, np.ndarray]:
    """The per-frame columns an example's labels CSV carries beside the action: what a probe asks of the latents
    by name (the paddle's x, the ball's x and y, the score), then the console RAM, a byte a column."""
    ram = ram.astype(np.int64)  # [T, 128]
    named = {
        "paddle_x": ram[:, PADDLE_X],
        "ball_x": ram[:, BALL_X],
        "ball_y": ram[:, BALL_Y],
        "score": 100 * _from_bcd(ram[:, SCORE_HUNDREDS]) + _from_bcd(ram[:, SCORE_TENS]),
    }
    return named | {atari.ram_column(i): ram[:, i] for i in range(ram.shape[1])}


def _from_bcd(byte: np.ndarray) -> np.ndarray:
    """Two decimal digits packed in a byte (binary-coded decimal) as the number they write."""
    return 10 * (byte >> 4) + (byte & 0x0F)


# ---- the frames ---------------------------------------------------------------------------------------
# Rows and columns of a 210×160 Atari frame stretched to 64×64 (the bundle's frame size): the grey top bar
# fills rows 6-8, the grey side walls columns 0-2 and 61-63 from row 9 to 56, the bricks rows 17-28, the empty
# playfield rows 29-56 between the walls, and the red paddle rows 57-58.
TOP_BAR_ROWS = slice(6, 9)
WALL_ROWS = slice(9, 57)
LEFT_WALL, RIGHT_WALL = slice(0, 3), slice(61, 64)
PLAYFIELD_ROWS, PLAYFIELD_COLUMNS = slice(29, 57), slice(4, 60)
PADDLE_ROWS, PADDLE_COLUMNS = slice(57, 59), slice(3, 61)
GREY = 142.0  # the walls' and top bar's grey level (all three channels)
GREY_TOLERANCE = 30.0
DARK = 60  # a playfield pixel brighter than this in any channel is lit
MAX_LIT_SHARE = 0.02  # the ball lights a few playfield pixels; more is not an empty playfield
REDNESS = 50.0  # red minus the mean of green and blue, for a paddle pixel
MIN_PADDLE_COLUMNS = 2
STILL = 0.3  # paddle moves smaller than this (model pixels) count as not moving


# The moving sprites, judged in frames (real or decoded) against the clip's median background
# (`studio.games.sprites.median_background`). Calibrated on emulator frames box-filtered to 64×64: the ball shows
# as 1-3 pixels of the open field that differ from the background by more than BALL_CONTRAST (summed over RGB),
# and moves 0.5-8 pixels between frames; the paddle is one red run of 2-9 pixels in its rows.
OPEN_FIELD_ROWS = (slice(9, 17), slice(29, 57))  # between the top bar and the bricks, between bricks and paddle
BALL_CONTRAST = 60.0  # summed over RGB, 0-255 each
BALL_PIXELS = (1, 3)  # a ball lights this many open-field pixels (from, to inclusive)
BALL_STEP = (0.5, 8.0)  # a live ball moves this far between frames (pixels, from, to inclusive)
PADDLE_RUN = (2, 9)  # the paddle's red run is this many columns long (from, to inclusive)
SMEARED_PIXELS = 6  # an open field with more pixels off the background than this is smeared
BALL_KEPT_DISTANCE = 4.0  # a predicted ball within this many pixels of the true one is the ball kept


def open_field_mask(size: int = 64) -> np.ndarray:
    """bool [size, size]: the open field, where nothing but the ball is drawn on a real frame."""
    mask = np.zeros((size, size), bool)
    for rows in OPEN_FIELD_ROWS:
        mask[rows, PLAYFIELD_COLUMNS] = True
    return mask


def open_field_off_background(frames: np.ndarray, background: np.ndarray) -> np.ndarray:
    """uint8 [T, 64, 64, 3] frames, the [3, 64, 64] background in [0, 1] -> bool [T, 64, 64]: the open-field
    pixels that differ from the background by more than BALL_CONTRAST, summed over RGB."""
    reference = background.transpose(1, 2, 0)[None] * 255.0  # [1, H, W, 3]
    contrast = np.abs(frames.astype(np.float32) - reference).sum(axis=-1)  # [T, H, W]
    return (contrast > BALL_CONTRAST) & open_field_mask(frames.shape[1])


def ball_positions(frames: np.ndarray, background: np.ndarray) -> np.ndarray:
    """uint8 [T, 64, 64, 3], background [3, 64, 64] -> float [T, 2]: the ball's centre (row, column) where the
    open field shows 1-3 pixels off the background, NaN where it shows none or more (no ball, or a smear)."""
    off = open_field_off_background(frames, background)  # [T, H, W]
    counts = off.sum(axis=(1, 2))  # [T]
    rows, columns = np.indices(off.shape[1:], dtype=np.float32)  # [H, W] each
    centre = np.stack([(off * rows).sum(axis=(1, 2)), (off * columns).sum(axis=(1, 2))], axis=1)  # [T, 2]
    is_ball = (counts >= BALL_PIXELS[0]) & (counts <= BALL_PIXELS[1])
    return np.where(is_ball[:, None], centre / np.maximum(counts, 1)[:, None], np.nan)


def live_ball(frames: np.ndarray, background: np.ndarray) -> np.ndarray:
    """uint8 [T, 64, 64, 3], background [3, 64, 64] -> bool [T-1]: transitions with a ball in both frames that
    moved as a ball does (0.5-8 pixels)."""
    centres = ball_positions(frames, background)  # [T, 2]
    step = np.linalg.norm(centres[1:] - centres[:-1], axis=1)  # [T-1], NaN where either frame lacks a ball
    with np.errstate(invalid="ignore"):
        return (step >= BALL_STEP[0]) & (step <= BALL_STEP[1])


def paddle_drawn(frames: np.ndarray) -> np.ndarray:
    """uint8 [T, 64, 64, 3] -> bool [T]: the paddle rows show exactly one red run of 2-9 columns (a lone red
    column beside it is the ball passing through the paddle rows, and is let be)."""
    red = _redness(frames.astype(np.float32)) > REDNESS  # [T, W']
    edges = np.diff(np.pad(red.astype(np.int8), ((0, 0), (1, 1))), axis=1)  # [T, W'+1]: +1 a run starts, -1 ends
    drawn = np.zeros(len(frames), bool)
    for i, row in enumerate(edges):
        lengths = np.flatnonzero(row == -1) - np.flatnonzero(row == 1)  # [runs]
        runs = lengths[lengths >= 2]
        drawn[i] = len(runs) == 1 and PADDLE_RUN[0] <= runs[0] <= PADDLE_RUN[1]
    return drawn


def field_smeared(frames: np.ndarray, background: np.ndarray) -> np.ndarray:
    """uint8 [T, 64, 64, 3], background [3, 64, 64] -> bool [T]: more than SMEARED_PIXELS open-field pixels
    off the background (a ball lights at most 3)."""
    return open_field_off_background(frames, background).sum(axis=(1, 2)) > SMEARED_PIXELS


def sprite_checks(frames: np.ndarray, background: np.ndarray) -> dict[str, np.ndarray]:
    """uint8 [T, 64, 64, 3], background [3, 64, 64] -> the ball live at each transition [T-1], the paddle drawn
    and the field smeared in each frame [T] (`studio.games.Game.sprite_checks`)."""
    return {
        "live_ball": live_ball(frames, background),
        "paddle_drawn": paddle_drawn(frames),
        "field_smeared": field_smeared(frames, background),
    }


def sprite_kept(predicted: np.ndarray, truth: np.ndarray, background: np.ndarray) -> np.ndarray:
    """The ball is the sprite a prediction must keep (`ball_kept`)."""
    return ball_kept(predicted, truth, background)


def ball_kept(predicted: np.ndarray, truth: np.ndarray, background: np.ndarray) -> np.ndarray:
    """Predicted and true frames, uint8 [T, 64, 64, 3] each, background [3, 64, 64] -> float [T]: 1 where the
    predicted frame shows a ball within BALL_KEPT_DISTANCE pixels of the true frame's ball, 0 where it does not,
    NaN where the true frame shows no ball."""
    want, have = ball_positions(truth, background), ball_positions(predicted, background)  # [T, 2] each
    distance = np.linalg.norm(have - want, axis=1)  # [T], NaN where either lacks a ball
    kept = np.where(np.isnan(distance), 0.0, (distance <= BALL_KEPT_DISTANCE).astype(float))
    return np.where(np.isnan(want[:, 0]), np.nan, kept)


def frame_check(frames: np.ndarray) -> np.ndarray:
    """uint8 [T, 64, 64, 3] -> bool [T]: grey walls and top bar where they belong, the empty playfield
    under the bricks dark, a red paddle in the paddle rows."""
    x = frames.astype(np.float32)
    grey = np.abs(x - GREY).max(axis=-1) < GREY_TOLERANCE  # [T, 64, 64]
    regions = (grey[:, TOP_BAR_ROWS], grey[:, WALL_ROWS, LEFT_WALL], grey[:, WALL_ROWS, RIGHT_WALL])
    walls = np.concatenate([r.reshape(len(x), -1) for r in regions], axis=1).mean(axis=1) > 0.9
    lit = (frames[:, PLAYFIELD_ROWS, PLAYFIELD_COLUMNS] > DARK).any(axis=-1).reshape(len(x), -1).mean(axis=1)
    paddle = (_redness(x) > REDNESS).sum(axis=1) >= MIN_PADDLE_COLUMNS
    return walls & (lit <= MAX_LIT_SHARE) & paddle


def player_motion(sequences: np.ndarray) -> np.ndarray:
    """uint8 [S, K+1, 64, 64, 3] frame sequences -> float [S, 1]: which way the paddle went from the first
    frame to the last, -1 (left), 0 (still) or +1 (right); NaN where either frame lacks a paddle."""
    before, after = player_column(sequences[:, 0]), player_column(sequences[:, -1])
    return player_direction(before, after)[:, None]


def recorded_motion(frames: np.ndarray, ram: np.ndarray) -> np.ndarray:
    """An episode's frames [T, 64, 64, 3] and RAM [T, R] -> the paddle's move at each transition [T-1], -1 / 0 /
    +1: from the RAM's paddle byte where the RAM is there, else from the paddle drawn (NaN where none is)."""
    if ram.shape[1] == RAM_BYTES:
        return np.sign(np.diff(ram[:, PADDLE_X].astype(np.int64))).astype(float)
    columns = player_column(frames)
    return player_direction(columns[:-1], columns[1:])


def player_column(frames: np.ndarray) -> np.ndarray:
    """uint8 [T, 64, 64, 3] -> float [T]: the paddle's centre column (redness-weighted), NaN where none is drawn."""
    redness = np.clip(_redness(frames.astype(np.float32)) - REDNESS / 2, 0, None)  # [T, W']
    weight = redness.sum(axis=1)
    columns = np.arange(PADDLE_COLUMNS.start, PADDLE_COLUMNS.stop, dtype=np.float32)
    found = (redness > REDNESS / 2).sum(axis=1) >= MIN_PADDLE_COLUMNS
    centre = (redness * columns).sum(axis=1) / np.maximum(weight, 1e-6)
    return np.where(found, centre, np.nan)


def player_direction(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """Paddle centres [S] twice -> -1 (left), 0 (still), +1 (right); NaN where either frame lacks a paddle."""
    move = after - before
    return np.where(np.isnan(move), np.nan, np.where(move > STILL, 1.0, np.where(move < -STILL, -1.0, 0.0)))


def _redness(x: np.ndarray) -> np.ndarray:  # [T, 64, 64, 3] float -> [T, W'] per paddle column, the rows' max
    region = x[:, PADDLE_ROWS, PADDLE_COLUMNS]  # [T, 2, W', 3]
    return (region[..., 0] - (region[..., 1] + region[..., 2]) / 2).max(axis=1)
