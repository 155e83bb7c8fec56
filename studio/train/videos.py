"""A folder of the user's own clips as training episodes, read as the studio's analysis reads a clip.

Every file the studio can read (`studio.video.CLIP_SUFFIXES`) is one episode; a file that cannot be read is
named and skipped. The clips' most common size is taken as the screen's native size, and their median frame
at that size as the reference the screen is found by (`studio.screen`), as analysis finds it against a
bundle's reference: where the clips share a layout, each clip's screen is found and cut before resizing, so a
capture at another size or inside a larger window lands on the same frames. Each clip is read at the stride
that gives `FolderConfig.transitions_per_second` (its frame rate matched, as `studio.reference.stride_for`
does for analysis).

Clips are held out by file, never by frames of one clip: the last clip by name, and every n-th before it, so
that a `FolderConfig.heldout_share` of them (at least two: the reference's latents come from one half and its
calibration from the other) is kept for evaluation, the examples, the maps and the reference.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from studio.bundle import NativeSpec
from studio.reference import stride_for
from studio.screen import MIN_MATCH, ScreenCrop, find_screen, whole_frame_match
from studio.train.data import FRAME_SIZE, DataConfig, Episode, save_episode
from studio.video import CLIP_SUFFIXES, ClipError, read_clip, sample_frames

FOLDER_FILE = "folder.json"  # in the data folder: what was read, what was skipped, and how
MAX_CLIP_FRAMES = 100_000  # frames read of one clip at most (at its stride)


@dataclass(frozen=True)
class FolderConfig:
    """How a folder of clips becomes episodes; the defaults are what `studio train --videos` assumes."""

    # the rate the model learns at: Atari's 60 Hz with frame skip 4, so a 30 fps capture is read every 2nd frame
    transitions_per_second: float = 15.0
    heldout_share: float = 0.2  # of the clips, held out whole (at least `MIN_HELDOUT`)
    native_frames: int = 300  # frames of each held-out clip kept at native size, for the reference

    def __post_init__(self):
        if self.transitions_per_second <= 0 or not 0.0 < self.heldout_share < 1.0 or self.native_frames < 2:
            raise ValueError("transitions_per_second > 0, heldout_share in (0, 1) and native_frames >= 2 are needed")


MIN_HELDOUT = 2
MIN_CLIPS = MIN_HELDOUT + 1


@dataclass(frozen=True)
class PlannedClip:
    """How one readable clip is read: the screen cut from it (None: whole) and the stride."""

    path: Path
    screen: ScreenCrop | None
    stride: int
    fps: float
    size: tuple[int, int]  # (height, width) of its frames
    note: str  # where its screen was found, in a sentence


@dataclass(frozen=True)
class FolderPlan:
    """A folder, planned: the clips to read, the native screen and rate they share, the reference image the
    screens were found by, and the files that could not be read, each with the reason."""

    clips: list[PlannedClip]
    native: NativeSpec
    image: np.ndarray  # [H0, W0, 3] uint8
    has_layout: bool  # the clips match their median frame well enough for a screen to be found by it
    skipped: dict[str, str]

    @property
    def native_size(self) -> tuple[int, int]:
        return self.native.height, self.native.width

    def heldout(self, share: float) -> list[bool]:
        """Which clips are held out: the last, and every n-th before it."""
        count = len(self.clips)
        every = max(1, round(1 / share))
        held = [(count - 1 - i) % every == 0 for i in range(count)]
        for i in range(count - 1, -1, -1):  # at least MIN_HELDOUT, taken from the end
            if sum(held) >= MIN_HELDOUT:
                break
            held[i] = True
        return held


def plan_folder(folder: str | Path, config: FolderConfig) -> FolderPlan:
    """Look at every clip of the folder (a few frames each) and decide how each is read."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"{folder}: no such folder of clips")
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    samples, skipped = {}, {}
    for path in files:
        if path.suffix.lower() not in CLIP_SUFFIXES:
            skipped[path.name] = f"not a clip the studio reads ({', '.join(CLIP_SUFFIXES)})"
            continue
        try:
            samples[path] = sample_frames(path)
        except (ClipError, ValueError, OSError) as err:
            skipped[path.name] = str(err)
    if len(samples) < MIN_CLIPS:
        raise ValueError(
            f"{folder}: {len(samples)} readable clip(s); at least {MIN_CLIPS} are needed ({MIN_HELDOUT} are held "
            "out to judge the model by)" + _skipped_sentence(skipped)
        )
    sizes = Counter(s.source_size for s in samples.values())
    native_size = max(sizes, key=lambda size: (sizes[size], -size[0] * size[1]))  # commonest, then smallest
    rates = Counter(round(s.fps, 3) for s in samples.values() if s.source_size == native_size)
    native_fps = max(rates, key=lambda fps: (rates[fps], -fps))
    native = NativeSpec(
        height=native_size[0],
        width=native_size[1],
        fps=native_fps,
        frame_skip=stride_for(native_fps, config.transitions_per_second),
    )
    at_native = [s.frames for s in samples.values() if s.source_size == native_size]
    image = np.median(np.concatenate(at_native), axis=0).round().astype(np.uint8)  # [H0, W0, 3]
    has_layout = min(whole_frame_match(frames, image) for frames in at_native) >= MIN_MATCH
    clips = []
    for path, sample in samples.items():
        screen, note = None, "read whole"
        if has_layout:
            search = find_screen(sample.frames, image)
            note = search.note()
            if search.box is not None and not search.box.is_whole(native_size):
                screen = ScreenCrop.for_model(search.box, native_size, FRAME_SIZE, image)
        elif sample.source_size != native_size:
            note = "read whole: the clips share no fixed layout to find a screen by"
        stride = stride_for(sample.fps, config.transitions_per_second)
        clips.append(PlannedClip(path, screen, stride, sample.fps, sample.source_size, note))
    return FolderPlan(clips, native, image, has_layout, skipped)


def collect_videos(data: DataConfig, out_dir: Path, config: FolderConfig = FolderConfig()) -> FolderPlan:
    """Read the folder `data.videos` into unlabelled episode shards under out_dir/{train,heldout}; held-out
    shards also keep some native-size frames (`native`) for the reference. Returns the plan it read by."""
    plan = plan_folder(data.videos, config)
    held = plan.heldout(config.heldout_share)
    read = {}
    for name, reason in plan.skipped.items():
        tqdm.write(f"skipped {name}: {reason}")
    for clip, heldout in zip(tqdm(plan.clips, desc="reading clips", dynamic_ncols=True), held):
        try:
            frames = _read(clip, FRAME_SIZE, MAX_CLIP_FRAMES, spread=False)
            native = _read(clip, plan.native_size, config.native_frames, spread=True) if heldout else None
        except ClipError as err:  # a file whose first frames decode but whose stream does not
            plan.skipped[clip.path.name] = str(err)
            tqdm.write(f"skipped {clip.path.name}: {err}")
            continue
        t = len(frames)
        episode = Episode(frames, np.full(t, -1, np.int64), np.zeros((t, 0), np.uint8), clip.path.stem, native=native)
        split = "heldout" if heldout else "train"
        (out_dir / split).mkdir(parents=True, exist_ok=True)
        save_episode(episode, out_dir / split / f"{clip.path.stem}.npz")
        read[clip.path.name] = {"split": split, "frames": t, "stride": clip.stride, "screen": clip.note}
    splits = Counter(entry["split"] for entry in read.values())
    if splits["train"] < 1 or splits["heldout"] < MIN_HELDOUT:
        raise ValueError(f"{data.videos}: too few clips could be read whole" + _skipped_sentence(plan.skipped))
    record = {"native": asdict(plan.native), "has_layout": plan.has_layout, "clips": read, "skipped": plan.skipped}
    (out_dir / FOLDER_FILE).write_text(json.dumps(record, indent=2) + "\n")
    (out_dir / "data.json").write_text(json.dumps({**asdict(data), "action_names": []}, indent=2))
    return plan


def read_folder_record(data_dir: Path) -> dict:
    """What `collect_videos` wrote of the folder: the native screen, every clip read, every file skipped."""
    return json.loads((Path(data_dir) / FOLDER_FILE).read_text())


def describe_folder(data_dir: Path) -> dict:
    """What a bundle's card says of the folder it was learnt from, beside the frame counts."""
    record = read_folder_record(data_dir)
    folder = json.loads((Path(data_dir) / "data.json").read_text())["videos"]
    native = NativeSpec(**record["native"])
    return {
        "folder": Path(folder).name,
        "clips": len(record["clips"]),
        "clips_skipped": record["skipped"],
        "policy": "none: unlabelled videos",
        "native_size": [native.height, native.width],
        "fps": native.fps,
        "frame_skip": native.frame_skip,
    }


def native_spec(data_dir: Path) -> NativeSpec:
    """The native screen size and rate the folder's clips were read at."""
    return NativeSpec(**read_folder_record(data_dir)["native"])


def heldout_native_frames(data_dir: Path) -> list[np.ndarray]:
    """The native-size frames [T, H0, W0, 3] uint8 each held-out shard keeps, in name order."""
    native = []
    for path in sorted((Path(data_dir) / "heldout").glob("*.npz")):
        with np.load(path) as shard:
            native.append(shard["native"])
    return native


def _read(clip: PlannedClip, size: tuple[int, int], max_frames: int, spread: bool) -> np.ndarray:
    """The clip's frames [T, H, W, 3] uint8 at `size`, its screen cut first, at its stride."""
    return read_clip(
        clip.path, stride=clip.stride, max_frames=max_frames, size=size, spread=spread, screen=clip.screen
    ).frames


def _skipped_sentence(skipped: dict[str, str]) -> str:
    if not skipped:
        return ""
    return "; skipped: " + "; ".join(f"{name} ({reason})" for name, reason in skipped.items())
