"""The example clips a bundle ships: held-out gameplay as H.264 mp4, with a per-frame labels CSV.

Clips are the 64×64 training frames enlarged 4× (nearest neighbour), so the studio's area-filter
downsampling gives the model back the very frames it was judged on, up to the H.264 coding. They play at
the rate the game's transitions were played (Breakout: 60 Hz with frame skip 4, 15 a second; CoinRun: 15).
"""

from __future__ import annotations

from pathlib import Path

from studio.games import ACTION_COLUMN, ACTION_NAME_COLUMN, Game
from studio.games.atari import FRAME_SKIP, NATIVE_FPS
from studio.labels import FRAME_COLUMN
from studio.train.data import Episode
from studio.video import write_mp4

SCALE = 4
CLIP_SECONDS = 10


def write_examples(
    episodes: list[Episode],
    out_dir: Path,
    action_names: list[str],
    game: Game | None,
    count: int = 3,
    fps: float | None = None,
) -> list[Path]:
    """Write `count` clips of about 10 s from different held-out episodes, and their labels where any is known.
    `fps`: the transitions a second the episodes were read at (default: the game's, or Atari's)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    if fps is None:
        fps = game.NATIVE_FPS / game.FRAME_SKIP if game else NATIVE_FPS / FRAME_SKIP
    clip_frames = int(CLIP_SECONDS * fps)
    stem = game.TITLE.lower() if game else "clip"
    longest = sorted(episodes, key=lambda e: len(e.frames), reverse=True)[:count]
    paths = []
    for index, episode in enumerate(longest):
        start = min(20, max(0, len(episode.frames) - clip_frames))  # skip the first moments (Breakout's launch)
        window = slice(start, start + clip_frames)
        frames = episode.frames[window].repeat(SCALE, axis=1).repeat(SCALE, axis=2)  # [T, 4H, 4W, 3]
        clip = write_mp4(frames, out_dir / f"{stem}_{index + 1}.mp4", fps=fps, crf=12)
        if game is not None or (episode.actions >= 0).any():  # a folder of videos has no labels at all
            write_labels(episode, window, clip.with_suffix(".csv"), action_names, game)
        paths.append(clip)
    return paths


def write_labels(episode: Episode, window: slice, path: Path, action_names: list[str], game: Game | None) -> None:
    """frame, action, action_name and the game's own columns (Breakout: ram_0 … ram_127; CoinRun: movement
    class and the player's measured move): one row per frame of the clip, numbered from 0."""
    actions = episode.actions[window]
    labels = game.frame_labels(episode.frames, episode.actions, episode.ram) if game else {}
    extra = {name: column[window] for name, column in labels.items()}
    header = [FRAME_COLUMN, ACTION_COLUMN, ACTION_NAME_COLUMN, *extra]
    rows = [",".join(header)]
    for t, action in enumerate(actions):
        name = action_names[action] if 0 <= action < len(action_names) else ""
        cells = [csv_cell(column[t]) for column in extra.values()]
        rows.append(",".join([str(t), str(int(action)), name, *cells]))
    path.write_text("\n".join(rows) + "\n")


def csv_cell(value) -> str:
    """A label as the CSV writes it: text as it is, whole numbers without a decimal point."""
    if isinstance(value, str):
        return value
    return str(int(value)) if float(value).is_integer() else str(float(value))
