"""The example clips a bundle ships: held-out gameplay as H.264 mp4, with a per-frame labels CSV.

Clips are the 64×64 training frames enlarged 4× (nearest neighbour), so the studio's area-filter
downsampling gives the model back the very frames it was judged on, up to the H.264 coding.
"""

from __future__ import annotations

from pathlib import Path

from studio.games import ACTION_COLUMN, ACTION_NAME_COLUMN, ram_column
from studio.labels import FRAME_COLUMN
from studio.train.data import Episode
from studio.video import write_mp4

SCALE = 4
FPS = 15.0  # Atari runs at 60 Hz; with frame skip 4 that is 15 frames per second
CLIP_FRAMES = 150  # 10 seconds


def write_examples(episodes: list[Episode], out_dir: Path, action_names: list[str], count: int = 3) -> list[Path]:
    """Write `count` clips of about 10 s from different held-out episodes, and their labels."""
    out_dir.mkdir(parents=True, exist_ok=True)
    longest = sorted(episodes, key=lambda e: len(e.frames), reverse=True)[:count]
    paths = []
    for index, episode in enumerate(longest):
        start = min(20, max(0, len(episode.frames) - CLIP_FRAMES))  # skip the first launch
        window = slice(start, start + CLIP_FRAMES)
        frames = episode.frames[window].repeat(SCALE, axis=1).repeat(SCALE, axis=2)  # [T, 4H, 4W, 3]
        clip = write_mp4(frames, out_dir / f"breakout_{index + 1}.mp4", fps=FPS, crf=12)
        write_labels(episode, window, clip.with_suffix(".csv"), action_names)
        paths.append(clip)
    return paths


def write_labels(episode: Episode, window: slice, path: Path, action_names: list[str]) -> None:
    """frame, action, action_name, ram_0 … ram_127: one row per frame of the clip, numbered from 0."""
    actions = episode.actions[window]
    ram = episode.ram[window]
    header = [FRAME_COLUMN, ACTION_COLUMN, ACTION_NAME_COLUMN, *[ram_column(i) for i in range(ram.shape[1])]]
    rows = [",".join(header)]
    for t, (action, values) in enumerate(zip(actions, ram)):
        name = action_names[action] if 0 <= action < len(action_names) else ""
        rows.append(",".join([str(t), str(int(action)), name, *map(str, values.tolist())]))
    path.write_text("\n".join(rows) + "\n")
