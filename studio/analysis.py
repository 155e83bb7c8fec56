"""Analyzing a clip: read it, encode every frame, infer every transition's action, reconstruct.

This is what the Clip tab, the `/analyze` endpoint and `studio analyze` all run; it knows nothing of the UI.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from studio.memory import release_freed_memory
from studio.metrics import psnr
from studio.runtime import ActionInference, WorldModel, to_uint8_frames
from studio.video import Clip, read_clip

DEFAULT_STRIDE = 1
DEFAULT_MAX_FRAMES = 1800  # one minute at 30 fps
MAX_FRAME_CAP = 20_000  # the largest frame cap a user may ask for
CHUNK = 256  # frames run through the model at a time

Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class ClipAnalysis:
    clip: Clip
    latents: np.ndarray  # [T, N, D] float32
    actions: ActionInference  # codes [T-1], vectors [T-1, Da], distances [T-1, K]
    reconstruction: np.ndarray  # [T, H, W, 3] uint8
    psnr: np.ndarray  # [T] float, reconstruction vs the frame as the model saw it
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage

    @property
    def frames(self) -> np.ndarray:
        return self.clip.frames  # [T, H, W, 3] uint8

    def summary(self) -> dict[str, float | int]:
        codes, counts = np.unique(self.actions.codes, return_counts=True)
        return {
            "frames": len(self.frames),
            "source_frames": self.clip.source_frames,
            "fps": round(self.clip.fps, 3),
            "psnr_mean_db": round(float(self.psnr.mean()), 2),
            "codes_used": len(codes),
            "most_common_code": int(codes[counts.argmax()]),
            **{f"seconds_{stage}": round(seconds, 3) for stage, seconds in self.timings.items()},
        }


def analyze_clip(
    model: WorldModel,
    path: str | Path,
    *,
    stride: int = DEFAULT_STRIDE,
    max_frames: int = DEFAULT_MAX_FRAMES,
    progress: Progress | None = None,
) -> ClipAnalysis:
    """Read a clip at the bundle's frame size and run it through the model. Raises ClipError for bad clips."""
    report = progress or (lambda fraction, stage: None)
    timings: dict[str, float] = {}
    start = time.perf_counter()
    report(0.0, "reading the clip")
    clip = read_clip(
        path,
        stride=stride,
        max_frames=max_frames,
        size=model.frame_size,
        resize=model.manifest.frame.resize,
    )
    timings["read"] = time.perf_counter() - start
    return _run_model(model, clip, timings, report)


def _run_model(model: WorldModel, clip: Clip, timings: dict[str, float], report: Progress) -> ClipAnalysis:
    """Encode, infer actions and decode in chunks of CHUNK frames into arrays sized for the whole clip, so
    that memory holds the clip's uint8 frames and results, never a float copy of the clip or a second copy
    of any result. A chunk is decoded on a second thread while the next one is encoded: the two graphs
    share 2 cores better than either uses them alone (1,800 frames: 6.9 s in turn, 4.6 s overlapped)."""
    total = len(clip.frames)
    n, d = model.manifest.latent.tokens, model.manifest.latent.dim
    k, da = model.codebook_size, model.manifest.action.dim
    latents = np.empty((total, n, d), np.float32)  # [T, N, D]
    reconstruction = np.empty_like(clip.frames)  # [T, H, W, 3] uint8
    frame_psnr = np.empty(total, np.float64)  # [T]
    codes = np.zeros(total - 1, np.int64)  # [T-1]
    vectors, distances = np.zeros((total - 1, da), np.float32), np.zeros((total - 1, k), np.float32)
    timings.update(encode=0.0, actions=0.0, decode=0.0)

    def reconstruct(chunk: slice, z: np.ndarray, frames: np.ndarray) -> None:  # [c, N, D], [c, 3, H, W]
        began = time.perf_counter()
        decoded = model.decode(z)  # [c, 3, H, W]
        reconstruction[chunk] = to_uint8_frames(decoded)
        frame_psnr[chunk] = psnr(decoded, frames)
        timings["decode"] += time.perf_counter() - began

    with ThreadPoolExecutor(1, thread_name_prefix="studio-decode") as decoder:
        decoding = None
        for start in range(0, total, CHUNK):
            stop = min(start + CHUNK, total)
            report(0.1 + 0.8 * start / total, f"running the model on frames {start}–{stop - 1} of {total}")
            frames = model.as_model_frames(clip.frames[start:stop])  # [c, 3, H, W]
            began = time.perf_counter()
            latents[start:stop] = z = model.encode(frames)  # [c, N, D]
            timings["encode"] += time.perf_counter() - began
            began = time.perf_counter()
            first = max(0, start - 1)  # the transition into this chunk from the last one, then the chunk's own
            if stop - first >= 2:
                before = latents[max(0, first - model.action_window) : first]  # [<= L, N, D]
                inferred = model.infer_actions(latents[first:stop], before=before)
                leaving = slice(first, stop - 1)
                codes[leaving], vectors[leaving], distances[leaving] = inferred.codes, inferred.vectors, inferred.distances
            timings["actions"] += time.perf_counter() - began
            if decoding is not None:
                decoding.result()
            decoding = decoder.submit(reconstruct, slice(start, stop), z, frames)
        if decoding is not None:
            decoding.result()
    release_freed_memory()  # onnxruntime's threads leave the chunks' buffers in glibc's arenas
    return ClipAnalysis(
        clip=clip,
        latents=latents,
        actions=ActionInference(codes, vectors, distances),
        reconstruction=reconstruction,
        psnr=frame_psnr,
        timings=timings,
    )


def save_analysis(analysis: ClipAnalysis, path: str | Path) -> Path:
    """Write latents, codes, action vectors, distances and per-frame PSNR to one `.npz`, uncompressed: float
    latents shrink by 9% compressed, at 18x the time (1,800 frames: 0.54 s against 0.03 s)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(
        path,
        latents=analysis.latents,
        codes=analysis.actions.codes,
        action_vectors=analysis.actions.vectors,
        distances=analysis.actions.distances,
        psnr=analysis.psnr,
        frame_indices=np.asarray(analysis.clip.indices),
        fps=np.float64(analysis.clip.fps),
    )
    return path


def save_analysis_csv(analysis: ClipAnalysis, path: str | Path) -> Path:
    """One row per frame: index, source index, time, the code and action vector leaving it, PSNR."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    vectors = analysis.actions.vectors  # [T-1, Da]
    header = ["frame", "source_frame", "time_s", "code", "psnr_db", *[f"action_{i}" for i in range(vectors.shape[1])]]
    rows = [",".join(header)]
    times = frame_times(analysis)  # [T]
    for t, source in enumerate(analysis.clip.indices):
        leaving = t < len(vectors)
        code = str(int(analysis.actions.codes[t])) if leaving else ""
        vector = [f"{v:.6g}" for v in vectors[t]] if leaving else [""] * vectors.shape[1]
        rows.append(",".join([str(t), str(int(source)), f"{times[t]:.4f}", code,
                              f"{analysis.psnr[t]:.3f}", *vector]))
    path.write_text("\n".join(rows) + "\n")
    return path


def frame_times(analysis: ClipAnalysis) -> np.ndarray:
    """[T] seconds from the start of the source clip of each analyzed frame."""
    return np.asarray(analysis.clip.indices, dtype=np.float64) / max(analysis.clip.fps, 1e-6)
