"""Training data: gameplay from the Arcade Learning Environment, or a folder of the user's own videos.

Atari episodes are stored one shard per episode (`episode_00012.npz`): frames uint8 [T, 64, 64, 3], the
action taken at each frame int64 [T] (action[t] moves frame t to frame t+1; the last is a placeholder)
and the console RAM uint8 [T, 128]. Actions and RAM are kept for evaluation and probes only; the model
never sees them. Frames are downsampled with the studio's own `resize_frames`, so a clip opened in the
studio reaches the model exactly as training frames did. A training shard also holds `views` [T, 64, 64, 3]:
each frame as a shared clip might show it (`studio.perturb`: rows cut, shifted, rescaled, re-encoded; one
perturbation per `view_window` frames, applied to the emulator's native frames), for the autoencoder to
learn to see through; a held-out shard holds the native frames [T, 210, 160, 3] themselves (`native`), for
`studio evaluate`'s tolerance figures.

The environment runs with frame skip 4 and no sticky actions (repeat_action_probability=0), so the
logged action is the action the game received. A game the studio knows (`studio.games`) is played by its
behaviour policy; any other by a uniformly random player.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from studio.games import BehaviourPolicy, find_game
from studio.perturb import perturbed_views
from studio.video import CLIP_SUFFIXES, read_clip, resize_frames

FRAME_SIZE = (64, 64)
FRAME_SKIP = 4
STICKY_ACTIONS = 0.0  # repeat_action_probability: the logged action is the one the game received


@dataclass(frozen=True)
class DataConfig:
    game: str = "ALE/Breakout-v5"
    train_episodes: int = 140
    heldout_episodes: int = 20
    max_episode_steps: int = 2500
    # the behaviour policy's settings (see the game's module in `studio.games`)
    epsilon: float = 0.3  # share of random moves
    aim_offset: int = 14  # the policy aims the paddle this far (RAM units) either side of the ball
    random_hold: int = 4  # a random move is held for 1 to this many steps
    seed: int = 0
    videos: str | None = None  # a folder of the user's own clips instead of a game (no labels at all)
    view_window: int = 0  # perturbed views of the training frames, one perturbation per this many frames (0: none)

    def __post_init__(self):
        if not 0.0 <= self.epsilon <= 1.0:
            raise ValueError("epsilon must lie in [0, 1]")
        if self.train_episodes < 1 or self.heldout_episodes < 1:
            raise ValueError("at least one training and one held-out episode are needed")
        if self.view_window < 0:
            raise ValueError("view_window must be 0 (no perturbed views) or more")


@dataclass
class Episode:
    frames: np.ndarray  # [T, 64, 64, 3] uint8
    actions: np.ndarray  # [T] int64, -1 where unknown (user videos)
    ram: np.ndarray  # [T, 128] uint8 (empty [T, 0] for user videos)
    name: str
    views: np.ndarray | None = None  # [T, 64, 64, 3] uint8: each frame perturbed (studio/perturb.py), training only
    native: np.ndarray | None = None  # [T, h, w, 3] uint8: the frames at the source's size, held-out only


@dataclass
class Frames:
    """Episodes concatenated: frames [F, H, W, 3] uint8, their perturbed views where every episode has them,
    the true actions, and for each frame its episode's first frame and how many frames of it follow."""

    frames: np.ndarray
    views: np.ndarray | None  # [F, H, W, 3] uint8
    actions: np.ndarray  # [F] int, -1 where unknown; read only by the weak-supervision option
    episode_start: np.ndarray  # [F] int, index of the first frame of the frame's episode
    ahead: np.ndarray  # [F] int, frames of the same episode after this one

    @classmethod
    def of(cls, episodes: list[Episode]) -> Frames:
        starts, ahead, offset = [], [], 0
        for e in episodes:
            starts.append(np.full(len(e.frames), offset))
            ahead.append(len(e.frames) - 1 - np.arange(len(e.frames)))
            offset += len(e.frames)
        views = np.concatenate([e.views for e in episodes]) if all(e.views is not None for e in episodes) else None
        return cls(
            np.concatenate([e.frames for e in episodes]),
            views,
            np.concatenate([e.actions for e in episodes]),
            np.concatenate(starts),
            np.concatenate(ahead),
        )


def play_episode(
    env, policy: BehaviourPolicy | None, rng: np.random.Generator, max_steps: int, seed: int, name: str
) -> Episode:
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
    native = np.stack(frames)  # [T, 210, 160, 3]
    return Episode(
        frames=resize_frames(native, FRAME_SIZE, "stretch"),
        actions=np.asarray(actions, np.int64),
        ram=np.stack(rams),
        name=name,
        native=native,
    )


def generate_atari(config: DataConfig, out_dir: Path) -> None:
    """Play `train_episodes + heldout_episodes` episodes and write them as shards under out_dir/{train,heldout}."""
    import ale_py
    import gymnasium as gym

    gym.register_envs(ale_py)
    env = gym.make(config.game, repeat_action_probability=STICKY_ACTIONS, frameskip=FRAME_SKIP, full_action_space=False)
    meanings = env.unwrapped.get_action_meanings()
    game = find_game(config.game)
    if game is not None and tuple(meanings) != game.ACTION_NAMES:
        raise ValueError(
            f"{config.game} has actions {meanings}; its behaviour policy expects {list(game.ACTION_NAMES)}"
        )
    rng = np.random.default_rng(config.seed)
    view_rng = np.random.default_rng(config.seed + 1)  # apart, so the perturbations leave the gameplay as it was
    for split, count, offset in (("train", config.train_episodes, 0), ("heldout", config.heldout_episodes, 10_000)):
        folder = out_dir / split
        folder.mkdir(parents=True, exist_ok=True)
        for index in range(count):
            policy = game.behaviour_policy(config.epsilon, config.aim_offset, config.random_hold, rng) if game else None
            name = f"episode_{offset + index:05d}"
            episode = play_episode(
                env, policy, rng, config.max_episode_steps, config.seed * 100_000 + offset + index, name
            )
            if split == "train" and config.view_window:  # the model learns from perturbed views
                episode.views = perturbed_views(episode.native, FRAME_SIZE, config.view_window, view_rng)
            if split == "train":  # the held-out split keeps the source frames, for the tolerance figures
                episode.native = None
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
    extra = {key: value for key in ("views", "native") if (value := getattr(episode, key)) is not None}
    np.savez_compressed(path, frames=episode.frames, actions=episode.actions, ram=episode.ram, **extra)


def load_episodes(folder: Path) -> list[Episode]:
    """Training shards, with their perturbed views where they have them."""
    episodes = []
    for path in sorted(Path(folder).glob("*.npz")):
        with np.load(path) as shard:
            views = shard["views"] if "views" in shard.files else None
            episodes.append(Episode(shard["frames"], shard["actions"], shard["ram"], path.stem, views))
    return episodes


def describe_data(config: DataConfig, data_dir: Path, train_lengths: list[int], heldout_lengths: list[int]) -> dict:
    """What a model was trained on (episodes of these many frames), for its bundle's card."""
    names = json.loads((Path(data_dir) / "data.json").read_text()).get("action_names", [])
    return {
        "source": "the user's own videos" if config.videos else config.game,
        "frames": int(sum(train_lengths)),
        "episodes": len(train_lengths),
        "heldout_episodes": len(heldout_lengths),
        "heldout_frames": int(sum(heldout_lengths)),
        "policy": _policy_description(config),
        "frame_skip": FRAME_SKIP,
        "sticky_actions": STICKY_ACTIONS,
        "action_names": names,
    }


def _policy_description(config: DataConfig) -> str:
    if config.videos:
        return "none: unlabelled videos"
    game = find_game(config.game)
    if game is None:
        return "uniformly random actions"
    return game.describe_policy(config.epsilon, config.aim_offset, config.random_hold)
