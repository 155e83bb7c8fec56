"""Procgen CoinRun (easy mode): its actions and what each asks of the player, the player that makes its
training data, the measure of the player's motion (the camera follows the player, so the scene's shift
between frames is the player's move), and what every frame shows. numpy only; Procgen is imported when the
game is played.

Procgen comes from `procgen-mirror`, whose metadata pins numpy<2, gym<1 and gym3<1 although it runs on this
project's numpy 2: `make` installs it with the gym3 and gym it imports into `.venv/procgen/`, outside pip's
view, with no dependencies (`make .venv/.installed-procgen`, which `make test` and `make train` run); what
those import besides (cffi, imageio, cloudpickle) is in the `train` extra.

Levels: an environment opened at `first_seed` draws its levels from the 10,000 seeds after it, so training
(`seed * 100_000`), held-out episodes (10,000 later) and a reference (900,000) never share a level. An
episode is one level, played until the player reaches the coin, dies, or the game's timeout.

Behaviour policy: a player who reads the screen as a person would. The camera keeps the player at the
centre, so the tiles in front of it and under its next steps are at fixed places in the frame: it runs right,
jumps when something stands in front of it or the ground ends ahead (and now and then for no reason), now
and then waits a few steps or turns back for a while (until a wall stops it), and with probability `epsilon`
presses a random one of the 15 actions for 1 to `random_hold` steps, so every action is seen in every
situation. Its moves, measured from the frames: left on about a sixth of the steps, right on two fifths.

Motion: CoinRun moves its camera with the player and draws the background fixed to the level, so between two
frames everything but the player and the few monsters shifts by the player's move (64/13 ≈ 4.9 pixels
per unit of the level: at most 2.5 pixels a step sideways and 7.4 vertically, at a jump's start). The shift
is found by matching the two frames with the player's box left out, over every whole-pixel shift in range,
refined to a fraction of a pixel by a parabola through the best match and its neighbours.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np

ENV_ID = "procgen:coinrun"
TITLE = "CoinRun"
PLAYER_NAME = "player"
PROCGEN_NAME, DISTRIBUTION_MODE = "coinrun", "easy"
LEVELS = 10_000  # level seeds an environment draws from, after the seed it is opened with
PROCGEN_HOME = Path(sys.prefix) / "procgen"  # where `make` installs procgen-mirror, gym3 and gym (see above)
# Procgen draws its observations at 64×64, the native frames here: its 512×512 render (render_mode="rgb_array")
# is a finer drawing of the same view, not these frames enlarged, and plays about 90 times slower
NATIVE_SIZE = (64, 64)
NATIVE_FPS = 15.0  # Procgen's own viewer plays 15 steps a second
FRAME_SKIP = 1

# Procgen's 15 actions: moves 0-8 are (left, none, right) × (down, none, up), as action // 3 - 1 and action % 3 - 1;
# 9-14 are keys CoinRun ignores (the player stands still). UP jumps when the player stands on something.
ACTION_NAMES = (
    "LEFT+DOWN",
    "LEFT",
    "LEFT+UP",
    "DOWN",
    "NOOP",
    "UP",
    "RIGHT+DOWN",
    "RIGHT",
    "RIGHT+UP",
    "D",
    "A",
    "W",
    "S",
    "Q",
    "E",
)
MOVES = 9  # actions below this are moves; the rest are the ignored keys
NOOP, LEFT, LEFT_JUMP, RIGHT, RIGHT_JUMP = 4, 1, 2, 7, 8
# what an action asks of the player: sideways (left / none / right) × jump or not; DOWN shows nothing on
# the ground and drops through crates, so it counts as none
MOVEMENT_CLASSES = ("left", "none", "right", "left+jump", "jump", "right+jump")
MOTION_AXES = ("horizontal", "vertical")
PROBED_LABELS = ()  # the game exposes no positions: its labels are moves, which one frame cannot show


def movement_class(actions: np.ndarray) -> np.ndarray:
    """Actions [T] -> the index in MOVEMENT_CLASSES of what each asks of the player; -1 where unknown."""
    actions = np.asarray(actions, np.int64)
    move = actions < MOVES
    sideways = np.where(move, actions // 3 - 1, 0)  # -1, 0, +1
    jump = move & (actions % 3 == 2)
    known = (actions >= 0) & (actions < len(ACTION_NAMES))
    return np.where(known, sideways + 1 + 3 * jump, -1)


# ---- the environment ----------------------------------------------------------------------------------
class ProcgenEnvironment:
    """CoinRun through Procgen's gym3 interface, one episode (one level) at a time; with `screen`, it also draws
    each frame as its window shows it (`screen_frame`)."""

    def __init__(self, first_seed: int, screen: bool = False):
        env_class = _procgen_env_class()
        self.env = env_class(
            num=1,
            env_name=PROCGEN_NAME,
            distribution_mode=DISTRIBUTION_MODE,
            num_levels=LEVELS,
            start_level=first_seed,
            rand_seed=first_seed,
            **({"render_mode": "rgb_array"} if screen else {}),
        )
        names = tuple("+".join(keys) or "NOOP" for keys in self.env.get_combos())
        if names != ACTION_NAMES:
            raise ValueError(f"Procgen's {PROCGEN_NAME} has actions {list(names)}; this module expects {ACTION_NAMES}")
        self.action_count = len(ACTION_NAMES)
        self.pending: np.ndarray | None = None  # the next episode's first frame, shown when the last one ended
        self.no_ram = np.zeros(0, np.uint8)

    def reset(self) -> tuple[np.ndarray, np.ndarray]:
        if self.pending is None:  # the environment's first episode
            _, observation, _ = self.env.observe()
            self.pending = observation["rgb"][0].copy()
        frame, self.pending = self.pending, None
        return frame, self.no_ram

    def step(self, action: int) -> tuple[np.ndarray, np.ndarray, bool]:
        self.env.act(np.array([action], np.int32))
        _, observation, first = self.env.observe()
        frame = observation["rgb"][0].copy()  # [64, 64, 3]
        ended = bool(first[0])  # Procgen starts the next level at once: this frame is its first
        if ended:
            self.pending = frame
        return frame, self.no_ram, ended

    def screen_frame(self) -> np.ndarray:  # -> [512, 512, 3] uint8: the last frame as the window draws it
        return self.env.get_info()[0]["rgb"].copy()

    def close(self) -> None:
        self.env.close()


def open_environment(first_seed: int) -> ProcgenEnvironment:
    return ProcgenEnvironment(first_seed)


# ---- as a person records it ---------------------------------------------------------------------------
SCREEN_LEVELS = 950_000  # screen recordings play the levels from here on: apart from training, held-out, reference


def screen_recording(frames: int, policy: PersonPolicy | None, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """`frames` frames [512, 512, 3] uint8 of CoinRun as a person records its window: fresh levels one after
    another played by `policy` (uniformly random actions without one), drawn at Procgen's 512×512 (a finer
    drawing than the 64×64 frames, not them enlarged), yielded one at a time."""
    env = ProcgenEnvironment(SCREEN_LEVELS, screen=True)
    try:
        frame, _ = env.reset()
        yield env.screen_frame()
        for _ in range(frames - 1):
            action = policy.act(frame, env.no_ram) if policy else int(rng.integers(env.action_count))
            frame, _, _ = env.step(action)
            yield env.screen_frame()
    finally:
        env.close()


def _procgen_env_class():
    if PROCGEN_HOME.is_dir() and str(PROCGEN_HOME) not in sys.path:
        sys.path.append(str(PROCGEN_HOME))
    try:
        from procgen import ProcgenGym3Env
    except ImportError as err:
        raise RuntimeError(
            f"CoinRun needs Procgen ({err}): `make .venv/.installed-procgen` installs it into {PROCGEN_HOME}"
        ) from None
    return ProcgenGym3Env


# ---- the frames ---------------------------------------------------------------------------------------
# The camera keeps the player's centre at the frame's centre: its sprite (standing, walking or jumping,
# facing either way) lies within rows 24-35 and columns 29-35 of every 64×64 frame.
PLAYER_ROWS, PLAYER_COLUMNS = slice(24, 36), slice(28, 37)
FEET_ROW = 35  # the row under the player's feet: what it stands on is drawn there
PIXELS_PER_UNIT = 64 / 13  # CoinRun shows 13 units of its level across the frame
MAX_STEP = (8, 3)  # the largest shift one step makes, whole pixels: vertical, sideways
SHIFT_CHUNK = 64  # frame pairs matched at once
STILL = 0.25  # moves smaller than this many pixels (a step's least acceleration is 0.49) count as none
# the player's skin and suit in easy mode: light and warm (red above blue); the level's walls are light and
# cool, its background dark blue. Real frames have 9-16 such pixels in the player's box, and at most 1.5% of
# the rest of the frame (the coin, edges of crates) in those colours (3,000 frames of the behaviour policy).
PLAYER_LIGHT, PLAYER_WARMTH = 170, 15
MIN_PLAYER_PIXELS, MAX_PLAYER_COLOURED = 6, 0.03
SOLID = 90  # a pixel whose red exceeds this is part of something (walls, crates, lava, saws, the coin),
# not the dark blue background


def frame_check(frames: np.ndarray) -> np.ndarray:
    """uint8 [T, 64, 64, 3] -> bool [T]: the player drawn at the frame's centre, as the camera keeps it in every
    frame of the game (a few light, warm pixels in its box), and those colours rare elsewhere."""
    x = frames.astype(np.int16)
    red, green, blue = x[..., 0], x[..., 1], x[..., 2]
    player = (red > PLAYER_LIGHT) & (green > PLAYER_LIGHT - 20) & (red - blue > PLAYER_WARMTH)  # [T, 64, 64]
    box = player[:, PLAYER_ROWS, PLAYER_COLUMNS].reshape(len(frames), -1)  # [T, 108]
    in_box = box.sum(axis=1)
    elsewhere = (player.reshape(len(frames), -1).sum(axis=1) - in_box) / (64 * 64 - box.shape[1])
    return (in_box >= MIN_PLAYER_PIXELS) & (elsewhere <= MAX_PLAYER_COLOURED)


def sprite_checks(frames: np.ndarray, background: np.ndarray) -> dict[str, np.ndarray]:
    """CoinRun's sprites are not judged against a background: its camera follows the player, so no frame has one
    (the frame check's player at the centre stands for them)."""
    return {}


def sprite_kept(predicted: np.ndarray, truth: np.ndarray, background: np.ndarray) -> np.ndarray:
    """No sprite of CoinRun is tracked between frames (see `sprite_checks`): NaN for every frame."""
    return np.full(len(truth), np.nan)


def player_shift(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """uint8 [S, 64, 64, 3] twice -> float [S, 2]: the player's move from each frame to the next, in model
    pixels (x to the right, y up), read off the opposite shift of everything else."""
    return np.concatenate(
        [_shift(before[i : i + SHIFT_CHUNK], after[i : i + SHIFT_CHUNK]) for i in range(0, len(before), SHIFT_CHUNK)]
    ).reshape(-1, 2)


def _shift(before: np.ndarray, after: np.ndarray) -> np.ndarray:  # [S, 64, 64, 3] twice -> [S, 2]
    reach_y, reach_x = MAX_STEP
    a = before.astype(np.float32).mean(axis=-1)  # [S, 64, 64]
    b = after.astype(np.float32).mean(axis=-1)
    rows, columns = slice(reach_y, 64 - reach_y), slice(reach_x, 64 - reach_x)
    keep = np.ones((64, 64), np.float32)
    keep[PLAYER_ROWS, PLAYER_COLUMNS] = 0  # the player stays put while the scene moves
    keep = keep[rows, columns] / keep[rows, columns].sum()  # [H', W']
    target = b[:, rows, columns]  # [S, H', W']
    errors = np.empty((len(a), 2 * reach_y + 1, 2 * reach_x + 1), np.float32)  # [S, Y, X]
    for i, dy in enumerate(range(-reach_y, reach_y + 1)):
        for j, dx in enumerate(range(-reach_x, reach_x + 1)):  # the scene moved by (dy, dx): b(p) = a(p - d)
            moved = a[:, reach_y - dy : 64 - reach_y - dy, reach_x - dx : 64 - reach_x - dx]
            errors[:, i, j] = np.einsum("syx,yx->s", (target - moved) ** 2, keep)
    best = errors.reshape(len(a), -1).argmin(axis=1)
    i, j = np.unravel_index(best, errors.shape[1:])
    shift_y = i - reach_y + _vertex(errors, i, j, axis=1)
    shift_x = j - reach_x + _vertex(errors, i, j, axis=2)
    return np.stack([-shift_x, shift_y], axis=1)  # the scene went left (and down): the player went right (and up)


def _vertex(errors: np.ndarray, i: np.ndarray, j: np.ndarray, axis: int) -> np.ndarray:
    """The offset, within ±0.5, of the minimum of the parabola through the best match and its two neighbours
    along an axis of errors [S, Y, X]; 0 at the edge of the range."""
    s = np.arange(len(errors))
    size = errors.shape[axis]
    at = i if axis == 1 else j
    lo, hi = np.clip(at - 1, 0, size - 1), np.clip(at + 1, 0, size - 1)
    centre = errors[s, i, j]
    left = errors[s, lo, j] if axis == 1 else errors[s, i, lo]
    right = errors[s, hi, j] if axis == 1 else errors[s, i, hi]
    curvature = left - 2 * centre + right
    inside = (at > 0) & (at < size - 1) & (curvature > 1e-6)
    return np.where(inside, np.clip(0.5 * (left - right) / np.where(inside, curvature, 1.0), -0.5, 0.5), 0.0)


def direction(moves: np.ndarray) -> np.ndarray:
    """Moves in pixels -> -1, 0 (under STILL) or +1; NaN stays NaN."""
    return np.where(np.isnan(moves), np.nan, np.where(moves > STILL, 1.0, np.where(moves < -STILL, -1.0, 0.0)))


def player_motion(sequences: np.ndarray) -> np.ndarray:
    """uint8 [S, K+1, 64, 64, 3] -> float [S, 2]: which way the player went from the first frame to the last,
    sideways (-1 left, +1 right) and vertically (-1 down, +1 up): the sum of its moves between consecutive frames."""
    s, k = sequences.shape[:2]
    steps = player_shift(sequences[:, :-1].reshape(-1, 64, 64, 3), sequences[:, 1:].reshape(-1, 64, 64, 3))
    return direction(steps.reshape(s, k - 1, 2).sum(axis=1))


def recorded_motion(frames: np.ndarray, ram: np.ndarray) -> np.ndarray:
    """An episode's frames [T, 64, 64, 3] -> the player's sideways move at each transition [T-1], -1 / 0 / +1,
    measured from the frames (the game keeps no record of positions)."""
    return direction(player_shift(frames[:-1], frames[1:])[:, 0])


def frame_labels(frames: np.ndarray, actions: np.ndarray, ram: np.ndarray) -> dict[str, np.ndarray]:
    """Per frame: the movement class of the action taken (index and name; -1 and "" on the last frame, which
    starts no transition) and the player's measured move to the next frame in model pixels (x right, y up; 0
    on the last frame)."""
    classes = movement_class(actions)
    moves = np.zeros((len(frames), 2))
    moves[:-1] = player_shift(frames[:-1], frames[1:])
    return {
        "movement_class": classes,
        "movement": np.array([MOVEMENT_CLASSES[c] if c >= 0 else "" for c in classes]),
        "player_dx": moves[:, 0].round(3),
        "player_dy": moves[:, 1].round(3),
    }


# ---- the behaviour policy -----------------------------------------------------------------------------
CENTRE = 32  # the player's column
AHEAD_COLUMNS = 5, 14  # columns in front of the player's centre (either way) where it looks for obstacles
GAP_COLUMNS = 3, 12  # columns ahead where it looks for the ground to go on
GROUND_ROWS = slice(FEET_ROW, FEET_ROW + 4)
OBSTACLE_SHARE = 0.15  # of the pixels in front that are solid: something to jump over
SEE_CHANCE = 0.85  # standing before an obstacle or a gap, the chance it jumps at a given step
JUMP_CHANCE = 0.08  # standing with the way clear, the chance it jumps anyway
WAIT_CHANCE, WAIT_STEPS = 0.04, (3, 12)  # a pause, and how long (from, to exclusive)
TURN_CHANCE, TURN_STEPS = 0.06, (6, 24)  # a spell running back to the left
# running back, a wall in front this many steps in a row ends the spell: a level starts at its left wall, where
# a player running left only stands still
STUCK_STEPS = 3


class PersonPolicy:
    """The player described in the module docstring."""

    def __init__(self, epsilon: float, random_hold: int, rng: np.random.Generator):
        self.epsilon, self.random_hold, self.rng = epsilon, random_hold, rng
        self.held_action, self.held_steps = NOOP, 0
        self.heading = 1  # +1 right, -1 left (while it turns back)
        self.turn_steps = 0
        self.stuck_steps = 0  # steps in a row running back with a wall in front

    def act(self, frame: np.ndarray, ram: np.ndarray) -> int:  # frame [64, 64, 3]; CoinRun has no RAM
        if self.held_steps > 0:
            self.held_steps -= 1
            return self.held_action
        if self.rng.random() < self.epsilon:
            return self._hold(int(self.rng.integers(len(ACTION_NAMES))), int(self.rng.integers(0, self.random_hold)))
        if self.turn_steps > 0:
            self.stuck_steps = self.stuck_steps + 1 if self._wall_in_front(frame) else 0
            self.turn_steps = 0 if self.stuck_steps >= STUCK_STEPS else self.turn_steps - 1
            if self.turn_steps == 0:
                self.heading, self.stuck_steps = 1, 0
        elif self.rng.random() < TURN_CHANCE:
            self.heading, self.turn_steps = -1, int(self.rng.integers(*TURN_STEPS))
        if self.rng.random() < WAIT_CHANCE:
            return self._hold(NOOP, int(self.rng.integers(*WAIT_STEPS)) - 1)
        jump = self.rng.random() < (SEE_CHANCE if self._blocked(frame) else JUMP_CHANCE)
        if self.heading > 0:
            return RIGHT_JUMP if jump else RIGHT
        return LEFT_JUMP if jump else LEFT

    def _blocked(self, frame: np.ndarray) -> bool:
        """Standing on something, with something solid in front of the player or no ground under its next steps."""
        solid = frame[..., 0] > SOLID  # [64, 64]
        if not solid[FEET_ROW, PLAYER_COLUMNS].any():  # in the air: a jump would do nothing
            return False
        ground_ahead = solid[GROUND_ROWS, self._ahead(*GAP_COLUMNS)].any(axis=0).all()
        return bool(self._wall_in_front(frame) or not ground_ahead)

    def _wall_in_front(self, frame: np.ndarray) -> bool:  # frame [64, 64, 3]
        solid = frame[PLAYER_ROWS, self._ahead(*AHEAD_COLUMNS), 0] > SOLID
        return bool(solid.mean() > OBSTACLE_SHARE)

    def _ahead(self, near: int, far: int) -> slice:
        """The columns from `near` to `far` pixels in front of the player's centre, the way it heads."""
        return slice(CENTRE + near, CENTRE + far) if self.heading > 0 else slice(CENTRE - far, CENTRE - near)

    def _hold(self, action: int, extra_steps: int) -> int:
        self.held_action, self.held_steps = action, extra_steps
        return action


def behaviour_policy(epsilon: float, aim_offset: int, random_hold: int, rng: np.random.Generator) -> PersonPolicy:
    """The person-like player (`aim_offset` is Breakout's: CoinRun's player aims at nothing)."""
    return PersonPolicy(epsilon, random_hold, rng)


def describe_policy(epsilon: float, aim_offset: int, random_hold: int) -> str:
    """The behaviour policy in a sentence, for a bundle's card."""
    return (
        "a player reading the screen: runs right, jumps at what stands in front of it and where the ground "
        f"ends ({SEE_CHANCE:.0%} of the time) and at random ({JUMP_CHANCE:.0%} of steps), waits ({WAIT_CHANCE:.0%} "
        f"of steps, for {WAIT_STEPS[0]}-{WAIT_STEPS[1] - 1}) or turns back ({TURN_CHANCE:.0%}, for "
        f"{TURN_STEPS[0]}-{TURN_STEPS[1] - 1} steps or until a wall), and with probability {epsilon} presses a "
        f"random action held 1-{random_hold} steps "
        f"(studio/games/coinrun.py; Procgen {DISTRIBUTION_MODE} mode, levels apart per split)"
    )
