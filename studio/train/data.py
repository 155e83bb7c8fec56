"""Training data: gameplay of a game (an Arcade Learning Environment game, or Procgen CoinRun), or a folder of
the user's own videos.

Game episodes are stored one shard per episode (`episode_00012.npz`): frames uint8 [T, 64, 64, 3], the
action taken at each frame int64 [T] (action[t] moves frame t to frame t+1; the last is a placeholder)
and the console RAM uint8 [T, R] (Atari: R = 128; a game without RAM, such as CoinRun: R = 0, its
movement classes and the player's motion being derived from the actions and frames by its module in
`studio.games`). Actions and RAM are kept for evaluation and probes only; the model never sees them. Frames
are downsampled with the studio's own `resize_frames`, so a clip opened in the studio reaches the model
exactly as training frames did. A training shard also holds `views` [T, 64, 64, 3]: each frame as a shared
clip might show it (`studio.perturb`: rows cut, shifted, rescaled, re-encoded; one perturbation per
`view_window` frames, applied to the game's native frames: Atari's 210×160, CoinRun's 64×64), for the
autoencoder to learn to see through; a held-out shard holds the native frames themselves (`native`), for
`studio evaluate`'s tolerance figures.

The episodes are played by `studio.games.episodes.play_episode`: Atari games with frame skip 4 and no sticky
actions (`studio.games.atari`), so the logged action is the action the game received. A game the studio
knows (`studio.games`) is played by its behaviour policy; any other Atari game by a uniformly random player.
Training episodes start from seed `seed * 100_000` and held-out ones 10,000 later (Atari: a seed per
episode; CoinRun: the levels drawn), so no held-out episode replays a training one.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from studio.bundle import VIDEOS_SOURCE
from studio.games import Game, atari, find_game
from studio.games.episodes import play_episode
from studio.perturb import perturbed_views
from studio.video import resize_frames

FRAME_SIZE = (64, 64)
HELDOUT_OFFSET = 10_000  # held-out episodes start this far from the training ones (seeds, or levels)


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
    ram: np.ndarray  # [T, R] uint8: Atari's 128 bytes; empty [T, 0] for a game without RAM and for user videos
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


def generate_episodes(config: DataConfig, out_dir: Path) -> None:
    """Play `train_episodes + heldout_episodes` episodes and write them as shards under out_dir/{train,heldout}."""
    game = game_of(config)
    rng = np.random.default_rng(config.seed)
    view_rng = np.random.default_rng(config.seed + 1)  # apart, so the perturbations leave the gameplay as it was
    splits = (("train", config.train_episodes, 0), ("heldout", config.heldout_episodes, HELDOUT_OFFSET))
    for split, count, offset in splits:
        first_seed = config.seed * 100_000 + offset
        env = game.open_environment(first_seed) if game else atari.AtariEnvironment(config.game, first_seed)
        action_names = list(game.ACTION_NAMES if game else env.action_names)
        folder = out_dir / split
        folder.mkdir(parents=True, exist_ok=True)
        for index in range(count):
            policy = game.behaviour_policy(config.epsilon, config.aim_offset, config.random_hold, rng) if game else None
            played = play_episode(env, policy, rng, config.max_episode_steps)
            episode = Episode(
                frames=resize_frames(played.native, FRAME_SIZE, "stretch"),
                actions=played.actions,
                ram=played.ram,
                name=f"episode_{offset + index:05d}",
            )
            if split == "train" and config.view_window:  # the model learns from perturbed views
                episode.views = perturbed_views(played.native, FRAME_SIZE, config.view_window, view_rng)
            if split == "heldout":  # the held-out split keeps the source frames, for the tolerance figures
                episode.native = played.native
            save_episode(episode, folder / f"{episode.name}.npz")
        env.close()
    (out_dir / "data.json").write_text(json.dumps({**asdict(config), "action_names": action_names}, indent=2))


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
        from studio.train.videos import collect_videos  # it builds on this module's episodes

        collect_videos(config, out_dir)
    else:
        generate_episodes(config, out_dir)
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


def game_of(config: DataConfig) -> Game | None:
    """The game the studio knows the data to be of; None for a folder of videos, whatever `game` says."""
    return None if config.videos else find_game(config.game)


def describe_data(config: DataConfig, data_dir: Path, train_lengths: list[int], heldout_lengths: list[int]) -> dict:
    """What a model was trained on (episodes of these many frames), for its bundle's card."""
    names = json.loads((Path(data_dir) / "data.json").read_text()).get("action_names", [])
    sizes = {
        "frames": int(sum(train_lengths)),
        "episodes": len(train_lengths),
        "heldout_episodes": len(heldout_lengths),
        "heldout_frames": int(sum(heldout_lengths)),
    }
    if config.videos:
        from studio.train.videos import describe_folder  # it builds on this module's episodes

        return {"source": VIDEOS_SOURCE, **sizes, **describe_folder(Path(data_dir)), "action_names": names}
    game = find_game(config.game)
    return {
        "source": config.game,
        **sizes,
        "policy": _policy_description(config),
        "frame_skip": game.FRAME_SKIP if game else atari.FRAME_SKIP,
        "sticky_actions": atari.STICKY_ACTIONS,  # Atari games are played without them; CoinRun has none
        "action_names": names,
    }


def _policy_description(config: DataConfig) -> str:
    game = find_game(config.game)
    if game is None:
        return "uniformly random actions"
    return game.describe_policy(config.epsilon, config.aim_offset, config.random_hold)
