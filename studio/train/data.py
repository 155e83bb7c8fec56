"""Training data: gameplay from the Arcade Learning Environment, or a folder of the user's own videos.

Atari episodes are stored one shard per episode (`episode_00012.npz`): frames uint8 [T, 64, 64, 3], the
action taken at each frame int64 [T] (action[t] moves frame t to frame t+1; the last is a placeholder)
and the console RAM uint8 [T, 128]. Actions and RAM are kept for evaluation and probes only; the model
never sees them. Frames are downsampled with the studio's own `resize_frames`, so a clip opened in the
studio reaches the model exactly as training frames did.

The environment runs with frame skip 4 and no sticky actions (repeat_action_probability=0), so the
logged action is the action the game received.

Behaviour policy (Breakout): a noisy ball-tracking player, not a random one. A sticky-random player leaves
the paddle pinned against a wall over half the time, where no action has a visible effect, so no model
could read actions off those frames. This player reads the paddle and ball positions from RAM (the policy
may; the model may not) and steers the paddle under the ball with a random aim offset re-drawn every few
steps, presses FIRE only to launch a ball, and with probability `epsilon` takes a random move (NOOP, RIGHT
or LEFT) held for 1 to `random_hold` steps, so that every action is seen in every situation. The random
share matters beyond coverage: whatever the player does predictably (steering under the ball, keeping a
move going) a predictor can guess from the past frames, so only the unpredictable share of actions forces
the latent action codes to say which way the paddle went. Moves that would push the
paddle into a wall are mostly replaced by the opposite move. Other games get the epsilon-random player.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from studio.video import CLIP_SUFFIXES, read_clip, resize_frames

FRAME_SIZE = (64, 64)

# Breakout RAM (Atari 2600): paddle x in [55, 191], ball x, ball y (0 while no ball is in play).
PADDLE_X, BALL_X, BALL_Y = 72, 99, 101
PADDLE_MIN, PADDLE_MAX = 55, 191
NOOP, FIRE, RIGHT, LEFT = 0, 1, 2, 3
AIM_SHIFT = -9  # paddle RAM x minus ball RAM x when the ball is above the paddle's centre
LEAD_STEPS = 3  # aim where the ball will be this many steps ahead
DEAD_ZONE = 10  # RAM units; one step at full speed moves the paddle about 23


@dataclass(frozen=True)
class DataConfig:
    game: str = "ALE/Breakout-v5"
    train_episodes: int = 140
    heldout_episodes: int = 20
    max_episode_steps: int = 2500
    epsilon: float = 0.3  # share of random moves
    aim_offset: int = 14  # the policy aims the paddle this far (RAM units) either side of the ball
    random_hold: int = 4  # a random move is held for 1 to this many steps
    seed: int = 0
    videos: str | None = None  # a folder of the user's own clips instead of a game (no labels at all)

    def __post_init__(self):
        if not 0.0 <= self.epsilon <= 1.0:
            raise ValueError("epsilon must lie in [0, 1]")
        if self.train_episodes < 1 or self.heldout_episodes < 1:
            raise ValueError("at least one training and one held-out episode are needed")


@dataclass
class Episode:
    frames: np.ndarray  # [T, 64, 64, 3] uint8
    actions: np.ndarray  # [T] int64, -1 where unknown (user videos)
    ram: np.ndarray  # [T, 128] uint8 (empty [T, 0] for user videos)
    name: str


class TrackingPolicy:
    """The noisy ball-tracking Breakout player described in the module docstring."""

    def __init__(self, epsilon: float, aim_offset: int, rng: np.random.Generator, random_hold: int = 4):
        self.epsilon, self.aim_offset, self.rng, self.random_hold = epsilon, aim_offset, rng, random_hold
        self.held_action, self.held_steps, self.aim, self.aim_steps = NOOP, 0, 0, 0
        self.last_ball_x = None

    def act(self, ram: np.ndarray) -> int:
        paddle, ball_x, ball_y = int(ram[PADDLE_X]), int(ram[BALL_X]), int(ram[BALL_Y])
        ball_dx = 0 if self.last_ball_x is None else ball_x - self.last_ball_x
        self.last_ball_x = ball_x
        if ball_y == 0:  # no ball in play: launch one (a person would), now and then after a pause
            self.held_steps = 0
            return FIRE if self.rng.random() < 0.3 else self._away_from_walls(int(self.rng.choice([NOOP, RIGHT, LEFT])), paddle)
        if self.held_steps > 0:
            self.held_steps -= 1
            return self._away_from_walls(self.held_action, paddle)
        if self.rng.random() < self.epsilon:
            return self._hold(int(self.rng.choice([NOOP, RIGHT, LEFT])), int(self.rng.integers(0, self.random_hold)), paddle)
        if self.aim_steps <= 0:
            self.aim = int(self.rng.integers(-self.aim_offset, self.aim_offset + 1))
            self.aim_steps = int(self.rng.integers(5, 20))
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
        if action == LEFT and paddle <= PADDLE_MIN + 6 and self.rng.random() < 0.8:
            return RIGHT
        if action == RIGHT and paddle >= PADDLE_MAX - 6 and self.rng.random() < 0.8:
            return LEFT
        return action


def play_episode(env, policy, rng: np.random.Generator, max_steps: int, seed: int, name: str) -> Episode:
    obs, _ = env.reset(seed=seed)
    ale = env.unwrapped.ale
    frames, actions, rams = [obs], [], [ale.getRAM().copy()]
    for _ in range(max_steps):
        action = policy.act(rams[-1]) if policy else int(rng.integers(env.action_space.n))
        obs, _, terminated, truncated, _ = env.step(action)
        actions.append(action)
        if terminated or truncated:
            break
        frames.append(obs)
        rams.append(ale.getRAM().copy())
    actions = actions[: len(frames) - 1] + [-1]  # the last frame starts no transition
    return Episode(
        frames=resize_frames(np.stack(frames), FRAME_SIZE, "stretch"),
        actions=np.asarray(actions, np.int64),
        ram=np.stack(rams),
        name=name,
    )


def generate_atari(config: DataConfig, out_dir: Path) -> None:
    """Play `train_episodes + heldout_episodes` episodes and write them as shards under out_dir/{train,heldout}."""
    import ale_py
    import gymnasium as gym

    gym.register_envs(ale_py)
    env = gym.make(config.game, repeat_action_probability=0.0, frameskip=4, full_action_space=False)
    meanings = env.unwrapped.get_action_meanings()
    rng = np.random.default_rng(config.seed)
    tracking = "Breakout" in config.game
    for split, count, offset in (("train", config.train_episodes, 0), ("heldout", config.heldout_episodes, 10_000)):
        folder = out_dir / split
        folder.mkdir(parents=True, exist_ok=True)
        for index in range(count):
            policy = TrackingPolicy(config.epsilon, config.aim_offset, rng, config.random_hold) if tracking else None
            name = f"episode_{offset + index:05d}"
            episode = play_episode(env, policy, rng, config.max_episode_steps, config.seed * 100_000 + offset + index, name)
            save_episode(episode, folder / f"{name}.npz")
    env.close()
    (out_dir / "data.json").write_text(json.dumps({**asdict(config), "action_names": meanings}, indent=2))


def collect_videos(config: DataConfig, out_dir: Path) -> None:
    """A folder of the user's clips as unlabelled episodes; every fifth clip, counted from the last, is held out."""
    clips = sorted(p for p in Path(config.videos).iterdir() if p.suffix.lower() in CLIP_SUFFIXES)
    if len(clips) < 2:
        raise ValueError(f"{config.videos}: at least two clips are needed (one is held out)")
    for index, path in enumerate(clips):
        clip = read_clip(path, max_frames=100_000, size=FRAME_SIZE, resize="stretch", spread=False)
        split = "heldout" if (len(clips) - 1 - index) % 5 == 0 else "train"  # the last clip, and every fifth before it
        t = len(clip.frames)
        episode = Episode(clip.frames, np.full(t, -1, np.int64), np.zeros((t, 0), np.uint8), path.stem)
        (out_dir / split).mkdir(parents=True, exist_ok=True)
        save_episode(episode, out_dir / split / f"{path.stem}.npz")
    (out_dir / "data.json").write_text(json.dumps({**asdict(config), "action_names": []}, indent=2))


def ensure_data(config: DataConfig, out_dir: Path) -> Path:
    """Generate the data set once; later runs with the same config reuse it."""
    marker = out_dir / "data.json"
    if marker.is_file():
        stored = json.loads(marker.read_text())
        stored.pop("action_names", None)
        if stored == json.loads(json.dumps(asdict(config))):
            return out_dir
        raise ValueError(f"{out_dir} holds data made with other settings; delete it or choose another data_dir")
    if config.videos:
        collect_videos(config, out_dir)
    else:
        generate_atari(config, out_dir)
    return out_dir


def save_episode(episode: Episode, path: Path) -> None:
    np.savez_compressed(path, frames=episode.frames, actions=episode.actions, ram=episode.ram)


def load_episodes(folder: Path) -> list[Episode]:
    episodes = []
    for path in sorted(Path(folder).glob("*.npz")):
        with np.load(path) as shard:
            episodes.append(Episode(shard["frames"], shard["actions"], shard["ram"], path.stem))
    return episodes


def describe_data(config: DataConfig, data_dir: Path, train: list[Episode], heldout: list[Episode]) -> dict:
    """What a model was trained on, for its bundle's card."""
    names = json.loads((Path(data_dir) / "data.json").read_text()).get("action_names", [])
    return {
        "source": "the user's own videos" if config.videos else config.game,
        "frames": int(sum(len(e.frames) for e in train)),
        "episodes": len(train),
        "heldout_episodes": len(heldout),
        "heldout_frames": int(sum(len(e.frames) for e in heldout)),
        "policy": "none: unlabelled videos" if config.videos else (
            f"noisy ball-tracking player: steers under the ball from RAM, FIRE only to launch, "
            f"random moves (NOOP, RIGHT, LEFT) held 1-{config.random_hold} steps with probability {config.epsilon}, aim offset up to {config.aim_offset} RAM units, moves into a wall mostly reversed (studio/train/data.py)"
        ),
        "frame_skip": 4,
        "sticky_actions": 0.0,
        "action_names": names,
    }


def paddle_motion(ram: np.ndarray) -> np.ndarray:
    """Breakout: the paddle's observed move between consecutive frames, -1 / 0 / +1, [T-1]."""
    return np.sign(np.diff(ram[:, PADDLE_X].astype(np.int64)))
