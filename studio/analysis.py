"""Analyzing a clip: read it, encode every frame, infer every transition's action; reconstruct on request.

This is what the Clip tab, the `/analyze` endpoint and `studio analyze` all run; it knows nothing of the UI.
Reconstruction is a step of its own: decoding costs more than encoding (1,800 frames: 2.80 s against 1.71 s
on 2 cores, benchmarks/RESULTS.md's analyze rows), and the map, the codes and the frame views need only the
latents, so the studio answers with them first and decodes the frames its preview shows while the user looks
at the map.
"""

from __future__ import annotations

import csv
import dataclasses
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from studio.familiarity import Verdict, familiarity, nearest_distances, verdict
from studio.figures import CODES_USED
from studio.memory import release_freed_memory
from studio.metrics import psnr
from studio.reference import Reference, game_name, reference_of
from studio.runtime import ActionInference, WorldModel, to_uint8_frames
from studio.screen import ScreenBox, ScreenCrop, find_screen
from studio.video import DEFAULT_MAX_FRAMES, Clip, ClipError, read_clip, sample_frames

DEFAULT_STRIDE = 1
MAX_FRAME_CAP = 20_000  # the largest frame cap a user may ask for
CHUNK = 256  # frames run through the model at a time
PREVIEW_MAX_FRAMES = 1800  # a longer clip's reconstruction preview shows this many frames, spread over it
VERDICT_FRAMES = 32  # frames decoded, spread over the clip, for the reconstruction PSNR its verdict quotes
AUTO = "auto"

Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class Vouching:
    """How far the studio can vouch for an analysis: where it found the game's screen, at which stride it read
    the clip, and how familiar each frame is to the model."""

    crop: ScreenBox  # the box read, in source pixels (the whole frame when the clip was read whole)
    crop_note: str  # how the box was chosen, in a sentence
    stride_note: str  # how the stride was chosen, in a sentence
    source_frame: np.ndarray  # [h, w, 3] uint8, a frame of the clip at source size, to show the box on
    familiarity: np.ndarray | None = None  # [T] per frame, higher is more familiar; None: the bundle cannot judge
    verdict: Verdict | None = None
    warning: str = ""  # what an analyst should know before trusting the results ('' when nothing)

    @property
    def familiar(self) -> bool:
        return self.verdict is None or self.verdict.familiar


@dataclass(frozen=True)
class ClipAnalysis:
    clip: Clip
    latents: np.ndarray  # [T, N, D] float32
    actions: ActionInference  # codes [T-1], vectors [T-1, Da], distances [T-1, K]
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage
    vouching: Vouching | None = None

    @property
    def frames(self) -> np.ndarray:
        return self.clip.frames  # [T, H, W, 3] uint8

    def summary(self) -> dict[str, float | int | str | bool]:
        codes, counts = np.unique(self.actions.codes, return_counts=True)
        vouching = {}
        if self.vouching is not None:
            v = self.vouching
            vouching = {"crop": str(v.crop), "stride": self.clip.stride, "familiar": v.familiar}
            if v.familiarity is not None:
                vouching["familiarity_median"] = round(float(np.median(v.familiarity)), 3)
            if v.verdict is not None and v.verdict.reconstruction_psnr_db is not None:
                vouching["verdict_psnr_db"] = round(v.verdict.reconstruction_psnr_db, 2)
        return {
            "frames": len(self.frames),
            "source_frames": self.clip.source_frames,
            "fps": round(self.clip.fps, 3),
            **vouching,
            CODES_USED.key: len(codes),
            "most_common_code": int(codes[counts.argmax()]),
            **{f"seconds_{stage}": round(seconds, 3) for stage, seconds in self.timings.items()},
        }


@dataclass(frozen=True)
class Reconstruction:
    """Some frames of an analyzed clip decoded back from their latents."""

    indices: np.ndarray  # [M] int, positions in the analysis (0..T-1), increasing
    frames: np.ndarray  # [M, H, W, 3] uint8
    psnr: np.ndarray  # [M] float, against the frame as the model saw it
    seconds: float = 0.0

    def psnr_per_frame(self, total: int) -> np.ndarray:
        """[T] PSNR of every analyzed frame, NaN where the frame was not reconstructed."""
        full = np.full(total, np.nan)
        full[self.indices] = self.psnr
        return full

    def summary(self) -> dict[str, float | int]:
        mean = round(float(self.psnr.mean()), 2) if len(self.psnr) else float("nan")
        return {
            "psnr_mean_db": mean,
            "reconstructed_frames": len(self.indices),
            "seconds_decode": round(self.seconds, 3),
        }


def analyze_clip(
    model: WorldModel,
    path: str | Path,
    *,
    stride: int | None = None,
    max_frames: int = DEFAULT_MAX_FRAMES,
    crop: ScreenBox | str | None = AUTO,
    progress: Progress | None = None,
) -> ClipAnalysis:
    """Read a clip at the bundle's frame size and run it through the model. Raises ClipError for bad clips.

    `crop` "auto" finds the game's screen in the clip (with the bundle's reference; without one the clip is
    read whole), a box reads that part of the frames, None the whole frames. `stride` None picks the stride
    that matches the rate the model learnt (with the bundle's reference; 1 without). Every frame is then
    judged for familiarity (`ClipAnalysis.vouching`).

    The clip is read on a second thread and each chunk is encoded as soon as its frames are decoded: the
    two share 2 cores better than either uses them alone (1,800 frames in benchmarks/RESULTS.md: read 0.58 s
    and encode 1.71 s, 1.91 s from start to end)."""
    report = progress or (lambda fraction, stage: None)
    timings = {"read": 0.0, "encode": 0.0, "actions": 0.0}  # seconds; reading overlaps the other two
    reference = reference_of(model)
    report(0.0, "finding the game screen")
    began = time.perf_counter()
    screen, crop_note, stride, stride_note, source_frame = _plan_reading(
        path, reference, crop, stride, model.frame_size
    )
    timings["screen"] = time.perf_counter() - began
    report(0.02, "reading the clip")
    arriving = _ArrivingFrames()

    def read() -> Clip:
        began = time.perf_counter()
        try:
            return read_clip(
                path,
                stride=stride,
                max_frames=max_frames,
                size=model.frame_size,
                resize=model.manifest.frame.resize,
                on_batch=arriving.put,
                screen=screen,
            )
        finally:
            timings["read"] = time.perf_counter() - began

    with ThreadPoolExecutor(1, thread_name_prefix="studio-read") as reader:
        reading = reader.submit(read)
        reading.add_done_callback(arriving.close)
        results = _ModelResults.run(model, arriving.chunks(CHUNK), timings, report)
        clip = reading.result()  # a bad clip raises its ClipError here
    release_freed_memory()  # onnxruntime's threads leave the chunks' buffers in glibc's arenas
    analysis = results.of(clip)
    box = screen.box if screen is not None else ScreenBox(0, 0, *clip.source_size)
    vouching = Vouching(box, crop_note, stride_note, source_frame)
    if reference is not None:
        began = time.perf_counter()
        vouching = _judge(model, analysis, reference, vouching)
        timings["familiarity"] = time.perf_counter() - began
    return dataclasses.replace(analysis, vouching=vouching)


def _plan_reading(
    path, reference: Reference | None, crop: ScreenBox | str | None, stride: int | None, model_size: tuple[int, int]
) -> tuple[ScreenCrop | None, str, int, str, np.ndarray]:
    """The screen to cut from the clip and the stride to read it at, each with a sentence saying why, and a
    frame of the clip at source size [h, w, 3]."""
    finding = crop == AUTO and reference is not None
    sample = sample_frames(path)  # a few keyframes: the screen is found on them, and shown with its box
    if isinstance(crop, ScreenBox):
        screen, crop_note = crop, f"the screen box {crop} (top, left, height, width) was given"
    elif finding and not reference.screen_has_a_layout:
        screen = None
        crop_note = (
            f"the clip is read whole: this game's screen has no fixed layout to find it by (its own clips match "
            f"their median frame at {reference.screen_match:.2f} or less); give the screen's box if it sits "
            "inside a larger picture"
        )
    elif finding:
        search = find_screen(sample.frames, reference.image)
        screen, crop_note = search.box, search.note()
    elif crop not in (AUTO, None):
        raise ClipError(f"crop must be 'auto', None or a box, got {crop!r}")
    else:
        screen = None
        crop_note = (
            "the clip is read whole (this bundle has no reference to find its game screen with)"
            if crop == AUTO
            else "the clip is read whole, as asked"
        )
    if stride is not None:
        stride_note = f"stride {stride}, as asked"
    elif reference is not None:
        stride = reference.stride_for(sample.fps)
        stride_note = (
            f"stride {stride}: the clip's {sample.fps:g} fps read at the "
            f"{reference.native.transitions_per_second:g} transitions a second the model learnt"
        )
    else:
        stride, stride_note = (
            DEFAULT_STRIDE,
            f"stride {DEFAULT_STRIDE} (this bundle does not say at which rate it learnt)",
        )
    shown = sample.frames[len(sample.frames) // 2]
    if screen is None:
        return None, crop_note, stride, stride_note, shown
    if reference is None:  # a box without a reference: cut at its own size, then resized as a whole frame is
        return ScreenCrop(screen, (screen.height, screen.width)), crop_note, stride, stride_note, shown
    cut = ScreenCrop.for_model(screen, reference.native_size, model_size, reference.image)
    return cut, crop_note, stride, stride_note, shown


def _judge(model: WorldModel, analysis: ClipAnalysis, reference: Reference, vouching: Vouching) -> Vouching:
    """Every frame's familiarity, and the clip's verdict with the reconstruction PSNR of a few frames."""
    scores = familiarity(nearest_distances(analysis.latents, reference.latents), reference.calibration)  # [T]
    sampled = reconstruct(model, analysis, preview_indices(len(analysis.frames), VERDICT_FRAMES))
    judged = verdict(scores, sampled.psnr, reference.calibration)
    warning = judged.message(game_name(model.manifest), reference.calibration)
    return dataclasses.replace(vouching, familiarity=scores, verdict=judged, warning=warning)


class _ArrivingFrames:
    """The frames a reader thread fills in order, handed to the model a chunk at a time as they arrive."""

    def __init__(self):
        self.frames: np.ndarray | None = None  # [T, H, W, 3] uint8, filled up to `filled`
        self.filled, self.done = 0, False
        self.changed = threading.Condition()

    def put(self, frames: np.ndarray, filled: int) -> None:
        with self.changed:
            self.frames, self.filled = frames, filled
            self.changed.notify()

    def close(self, reading: Future) -> None:
        """The reader is done: all its frames are in (a path that reads in one go hands them over now)."""
        with self.changed:
            if reading.exception() is None:
                clip = reading.result()
                if self.frames is None:
                    self.frames = clip.frames
                self.filled = len(clip.frames)  # fewer than were put when the clip's end was damaged
            self.done = True
            self.changed.notify()

    def chunks(self, size: int) -> Iterator[tuple[np.ndarray, int, int]]:
        """(frames [T, H, W, 3], start, stop): the next `size` frames once they are in, or the last few."""
        start = 0
        while True:
            with self.changed:
                self.changed.wait_for(lambda: self.filled >= start + size or self.done)
                frames, stop, done = self.frames, min(self.filled, start + size), self.done
            if stop > start:
                yield frames, start, stop
                start = stop
            elif done:
                return


@dataclass
class _ModelResults:
    """Latents and actions of a clip, in arrays sized for its planned frames and filled chunk by chunk, so
    that memory holds the clip's uint8 frames and results, never a float copy of the clip or a second copy
    of any result."""

    latents: np.ndarray  # [T, N, D]
    codes: np.ndarray  # [T-1]
    vectors: np.ndarray  # [T-1, Da]
    distances: np.ndarray  # [T-1, K]
    timings: dict[str, float]

    @classmethod
    def run(
        cls,
        model: WorldModel,
        chunks: Iterator[tuple[np.ndarray, int, int]],
        timings: dict[str, float],
        report: Progress,
    ) -> _ModelResults:
        results = None
        for frames, start, stop in chunks:
            if results is None:
                results = cls.sized(model, len(frames), timings)
            total = len(frames)
            report(0.1 + 0.8 * start / total, f"running the model on frames {start}–{stop - 1} of {total}")
            results.add(model, frames, start, stop)
        return results if results is not None else cls.sized(model, 0, timings)

    @classmethod
    def sized(cls, model: WorldModel, total: int, timings: dict[str, float]) -> _ModelResults:
        n, d = model.manifest.latent.tokens, model.manifest.latent.dim
        k, da = model.codebook_size, model.manifest.action.dim
        transitions = max(total - 1, 0)
        return cls(
            np.empty((total, n, d), np.float32),
            np.zeros(transitions, np.int64),
            np.zeros((transitions, da), np.float32),
            np.zeros((transitions, k), np.float32),
            timings,
        )

    def add(self, model: WorldModel, frames: np.ndarray, start: int, stop: int) -> None:
        """Encode frames[start:stop] and infer the transitions into and within them."""
        began = time.perf_counter()
        self.latents[start:stop] = model.encode(frames[start:stop])  # [c, N, D]
        self.timings["encode"] += time.perf_counter() - began
        began = time.perf_counter()
        first = max(0, start - 1)  # the transition into this chunk from the last one, then the chunk's own
        if stop - first >= 2:
            before = self.latents[max(0, first - model.action_window) : first]  # [<= L, N, D]
            inferred = model.infer_actions(self.latents[first:stop], before=before)
            leaving = slice(first, stop - 1)
            self.codes[leaving], self.vectors[leaving], self.distances[leaving] = (
                inferred.codes,
                inferred.vectors,
                inferred.distances,
            )
        self.timings["actions"] += time.perf_counter() - began

    def of(self, clip: Clip) -> ClipAnalysis:
        """The analysis of the frames the reader delivered (fewer than planned when the clip's end was damaged)."""
        total = len(clip.frames)
        actions = ActionInference(self.codes[: total - 1], self.vectors[: total - 1], self.distances[: total - 1])
        return ClipAnalysis(clip=clip, latents=self.latents[:total], actions=actions, timings=self.timings)


def preview_indices(total: int, limit: int = PREVIEW_MAX_FRAMES) -> np.ndarray:
    """[M <= limit] increasing positions of the frames a preview of a T-frame analysis shows, evenly spread."""
    return np.unique(np.linspace(0, total - 1, min(total, limit)).round().astype(np.int64))


def reconstruct(
    model: WorldModel,
    analysis: ClipAnalysis,
    indices: Sequence[int] | np.ndarray | None = None,
    progress: Progress | None = None,
) -> Reconstruction:
    """Decode the analyzed frames at `indices` (all of them by default) in chunks, with their PSNR."""
    report = progress or (lambda fraction, stage: None)
    began = time.perf_counter()
    total = len(analysis.frames)
    indices = np.arange(total) if indices is None else np.unique(np.asarray(indices, dtype=np.int64))
    if len(indices) and (indices[0] < 0 or indices[-1] >= total):
        raise IndexError(f"frames to reconstruct must lie in 0..{total - 1}")
    frames = np.empty((len(indices), *analysis.frames.shape[1:]), np.uint8)  # [M, H, W, 3]
    frame_psnr = np.empty(len(indices), np.float64)  # [M]
    for start in range(0, len(indices), CHUNK):
        chunk = slice(start, min(start + CHUNK, len(indices)))
        report(start / len(indices), f"reconstructing frames {start}–{chunk.stop - 1} of {len(indices)}")
        decoded = model.decode(analysis.latents[indices[chunk]])  # [c, 3, H, W]
        frames[chunk] = to_uint8_frames(decoded)
        frame_psnr[chunk] = psnr(decoded, model.as_model_frames(analysis.frames[indices[chunk]]))
    release_freed_memory()
    return Reconstruction(indices, frames, frame_psnr, time.perf_counter() - began)


def save_analysis(analysis: ClipAnalysis, path: str | Path, reconstruction: Reconstruction | None = None) -> Path:
    """Write latents, codes, action vectors, distances and per-frame PSNR (NaN where a frame was not
    reconstructed) to one `.npz`, uncompressed: float latents shrink little when compressed, and compressing
    takes many times longer than writing."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(
        path,
        latents=analysis.latents,
        codes=analysis.actions.codes,
        action_vectors=analysis.actions.vectors,
        distances=analysis.actions.distances,
        psnr=_psnr_per_frame(analysis, reconstruction),
        frame_indices=np.asarray(analysis.clip.indices),
        fps=np.float64(analysis.clip.fps),
        stride=np.int64(analysis.clip.stride),
        crop=np.asarray(_crop(analysis), np.int64),
        familiar=np.bool_(analysis.vouching is None or analysis.vouching.familiar),
        familiarity=_familiarity(analysis),
    )
    return path


def _crop(analysis: ClipAnalysis) -> list[int]:
    """[top, left, height, width] in source pixels of the part of the frames read."""
    v = analysis.vouching
    return v.crop.as_list() if v is not None else [0, 0, *analysis.clip.source_size]


def _familiarity(analysis: ClipAnalysis) -> np.ndarray:
    """[T] familiarity of each frame, NaN where the bundle cannot judge."""
    v = analysis.vouching
    if v is None or v.familiarity is None:
        return np.full(len(analysis.frames), np.nan, np.float32)
    return v.familiarity


def save_analysis_csv(analysis: ClipAnalysis, path: str | Path, reconstruction: Reconstruction | None = None) -> Path:
    """One row per frame: index, source index, time, the code and action vector leaving it, PSNR (empty
    where the frame was not reconstructed), familiarity (empty where the bundle cannot judge), and, the same
    on every row, the stride, the crop box and the clip's verdict."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    vectors = analysis.actions.vectors  # [T-1, Da]
    header = [
        "frame",
        "source_frame",
        "time_s",
        "code",
        "psnr_db",
        "familiarity",
        *[f"action_{i}" for i in range(vectors.shape[1])],
        "stride",
        "crop_top",
        "crop_left",
        "crop_height",
        "crop_width",
        "clip_familiar",
    ]
    times = frame_times(analysis)  # [T]
    frame_psnr = _psnr_per_frame(analysis, reconstruction)  # [T]
    scores = _familiarity(analysis)  # [T]
    constant = [analysis.clip.stride, *_crop(analysis), int(analysis.vouching is None or analysis.vouching.familiar)]
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        for t, source in enumerate(analysis.clip.indices):
            leaving = t < len(vectors)
            code = int(analysis.actions.codes[t]) if leaving else ""
            vector = [f"{v:.6g}" for v in vectors[t]] if leaving else [""] * vectors.shape[1]
            quality = "" if np.isnan(frame_psnr[t]) else f"{frame_psnr[t]:.3f}"
            score = "" if np.isnan(scores[t]) else f"{scores[t]:.4f}"
            writer.writerow([t, int(source), f"{times[t]:.4f}", code, quality, score, *vector, *constant])
    return path


def frame_times(analysis: ClipAnalysis) -> np.ndarray:
    """[T] seconds from the start of the source clip of each analyzed frame."""
    return np.asarray(analysis.clip.indices, dtype=np.float64) / max(analysis.clip.fps, 1e-6)


def _psnr_per_frame(analysis: ClipAnalysis, reconstruction: Reconstruction | None) -> np.ndarray:
    total = len(analysis.frames)
    return np.full(total, np.nan) if reconstruction is None else reconstruction.psnr_per_frame(total)  # [T]
