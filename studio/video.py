"""Reading game clips into model-sized frames, and writing frames back out as mp4 or gif.

Clips are read with decord; what decord cannot open (animated GIFs among others) is decoded with PyAV.
Only the frames that will be returned are decoded into memory, a chunk at a time, and each chunk is
resized to the model's frame size before the next is read, so a long clip never sits in memory whole.
Every refusal is a `ClipError` whose message is written for the person who uploaded the clip.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

import av
import numpy as np
from PIL import Image, ImageOps

from studio.memory import release_freed_memory

if TYPE_CHECKING:
    from studio.screen import ScreenCrop

# How a frame of another size becomes the model's, all with PIL's area (BOX) filter, the one training uses
# too: stretch resizes, crop first cuts the centre of the target's aspect, letterbox pads with black bars.
RESIZERS: dict[str, Callable[[Image.Image, tuple[int, int]], Image.Image]] = {  # (picture, (W, H)) -> picture
    "stretch": lambda image, size: image.resize(size, Image.BOX),
    "crop": lambda image, size: ImageOps.fit(image, size, Image.BOX),
    "letterbox": lambda image, size: ImageOps.pad(image, size, Image.BOX, color=(0, 0, 0)),
}
RESIZE_MODES = tuple(RESIZERS)  # what a bundle's frame.resize may say
CLIP_SUFFIXES = (".mp4", ".webm", ".mov", ".mkv", ".avi", ".gif")  # the files read_clip is meant for
DEFAULT_MAX_FRAMES = 1800  # one minute at 30 fps
DEFAULT_MAX_PIXELS = 4096 * 4096
DEFAULT_MAX_SOURCE_FRAMES = 2_000_000
CHUNK = 64  # frames decoded at source size at once
FIRST_SECONDS = 5.0  # a clip with fewer than three keyframes is sampled over its first seconds


class ClipError(Exception):
    """A clip that cannot be used; the message says why, in words meant for the user."""


@dataclass(frozen=True)
class ClipSample:
    """A few frames of a clip at source size, with what its container says of it."""

    frames: np.ndarray  # [S, h, w, 3] uint8
    fps: float
    source_frames: int
    source_size: tuple[int, int]  # (height, width)


@dataclass(frozen=True)
class Clip:
    frames: np.ndarray  # [T, H, W, 3] uint8 RGB at the requested size
    fps: float  # frames per second of the source
    source_frames: int  # frames in the source clip
    source_size: tuple[int, int]  # (height, width) of the source
    stride: int  # source frames between two returned frames
    indices: np.ndarray  # [T] int64, source index of each returned frame
    truncated: bool = False  # the file broke off before the last frame it announced: the frames are those before


def read_clip(
    path: str | Path,
    *,
    stride: int = 1,
    max_frames: int = DEFAULT_MAX_FRAMES,
    size: tuple[int, int] = (64, 64),
    resize: str = "stretch",
    spread: bool = True,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_source_frames: int = DEFAULT_MAX_SOURCE_FRAMES,
    backend: str = "auto",
    on_batch: Callable[[np.ndarray, int], None] | None = None,
    screen: ScreenCrop | None = None,
) -> Clip:
    """Read every `stride`-th frame of a clip, at most `max_frames` of them, resized to `size` (H, W).

    With `spread` (the default), a clip longer than `stride * max_frames` frames is sampled evenly over its
    whole length (the stride grows, and `Clip.stride` says by how much); without it, the first `max_frames`
    sampled frames are returned. A clip whose end cannot be decoded (a truncated file) yields the frames
    decoded before the damage when at least two were, and a ClipError otherwise. `backend` "auto" reads with
    decord and falls back to PyAV; "pyav" reads with PyAV only (the benchmarks compare the two).
    `on_batch(frames, filled)` is called after each batch decord decodes, with the clip's frame array
    [T, H, W, 3] and how many of its frames are filled so far, so that a caller may use them while the rest
    is read (PyAV's path does not call it). With `screen`, each frame is first cut to the game's screen at
    the size it is resized from (`studio.screen.ScreenCrop`); a box outside the frame is refused with a ClipError.
    """
    path = Path(path)
    _check_file(path)
    if stride < 1 or max_frames < 2:
        raise ClipError("the frame stride must be at least 1 and the frame cap at least 2")
    if resize not in RESIZE_MODES:
        raise ValueError(f"resize must be one of {RESIZE_MODES}, got {resize!r}")
    if backend not in ("auto", "pyav"):
        raise ValueError(f"backend must be 'auto' or 'pyav', got {backend!r}")
    fit = _fitter(size, resize, screen)
    reader = _open_decord(path) if backend == "auto" else None
    if reader is None:
        return _read_with_pyav(path, stride, max_frames, fit, spread, max_pixels, max_source_frames, screen)
    count, fps = len(reader), float(reader.get_avg_fps() or 0.0)
    height, width = reader[0].shape[:2] if count else (0, 0)
    _check_limits(path, count, height, width, max_pixels, max_source_frames)
    _check_screen(screen, height, width)
    indices, stride = _sample(count, stride, max_frames, spread)
    frames, decoded = np.empty((len(indices), *size, 3), np.uint8), 0  # [T, H, W, 3], filled chunk by chunk
    for start in range(0, len(indices), CHUNK):
        chunk = indices[start : start + CHUNK]
        try:
            batch = reader.get_batch(chunk.tolist()).asnumpy()  # [c, h, w, 3] uint8
        except Exception:  # decord raises several types for damaged streams; salvage frame by frame
            batch = _read_until_damage(reader, chunk)
            frames[decoded : decoded + len(batch)] = fit(batch)
            decoded += len(batch)
            break
        frames[decoded : decoded + len(batch)] = fit(batch)
        decoded += len(batch)
        release_freed_memory()  # decord's threads leave the source-size batches in glibc's arenas
        if on_batch is not None:
            on_batch(frames, decoded)
    if decoded < 2:
        raise ClipError(f"'{path.name}' could not be decoded: the file looks damaged or truncated")
    return Clip(
        frames=frames if decoded == len(frames) else frames[:decoded].copy(),
        fps=fps if fps > 0 else 30.0,
        source_frames=count,
        source_size=(height, width),
        stride=stride,
        indices=indices[:decoded],
        truncated=decoded < len(indices),
    )


def sample_frames(path: str | Path, samples: int = 9, max_pixels: int = DEFAULT_MAX_PIXELS) -> ClipSample:
    """A few frames spread over a clip at source size, and its rate, length and size, cheaply: where the clip
    has at least three keyframes they are keyframes (each decodes alone), else frames of its first
    `FIRST_SECONDS` (decoding a whole clip to look at it would double the cost of reading it)."""
    path = Path(path)
    _check_file(path)
    reader = _open_decord(path)
    if reader is None:
        clip = _read_with_pyav(path, 1, samples, lambda batch: batch, False, max_pixels, DEFAULT_MAX_SOURCE_FRAMES)
        return ClipSample(clip.frames, clip.fps, clip.source_frames, clip.source_size)
    count, fps = len(reader), float(reader.get_avg_fps() or 0.0) or 30.0
    height, width = reader[0].shape[:2]
    _check_limits(path, count, height, width, max_pixels, DEFAULT_MAX_SOURCE_FRAMES)
    keys = np.asarray(reader.get_key_indices(), np.int64)
    pool = keys if len(keys) >= 3 else np.arange(min(count, max(2, round(FIRST_SECONDS * fps))))
    picked = pool[np.unique(np.linspace(0, len(pool) - 1, min(samples, len(pool))).round().astype(np.int64))]
    try:
        frames = reader.get_batch(picked.tolist()).asnumpy()  # [S, h, w, 3]
    except Exception:  # a damaged stream: the first frame alone still shows the screen
        frames = reader[0].asnumpy()[None]
    return ClipSample(frames, fps, count, (height, width))


def resize_frames(frames: np.ndarray, size: tuple[int, int], mode: str = "stretch") -> np.ndarray:
    """[T, h, w, 3] uint8 -> [T, H, W, 3] uint8, each frame fitted to `size` (H, W) as `RESIZERS[mode]` does."""
    height, width = size
    if frames.shape[1:3] == (height, width):
        return np.ascontiguousarray(frames)
    resize = RESIZERS[mode]
    out = np.empty((len(frames), height, width, 3), np.uint8)
    for i, frame in enumerate(frames):
        out[i] = np.asarray(resize(Image.fromarray(frame), (width, height)))
    return out


def write_mp4(
    frames: np.ndarray | Iterable[np.ndarray], path: str | Path, fps: float, crf: int = 18, preset: str = "medium"
) -> Path:
    """Frames [T, H, W, 3] uint8, or an iterable of [H, W, 3] frames (written as they come, never held
    together) -> H.264 mp4 (yuv420p, even size by edge padding, faststart).

    `preset` is x264's speed/size trade-off: "ultrafast" writes several times faster, in larger files."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), mode="w", options={"movflags": "+faststart"}) as container:
        stream = None
        for frame in frames:
            frame = _even_size(np.asarray(frame, dtype=np.uint8)[None])[0]  # [H, W, 3]
            if stream is None:
                stream = container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
                stream.height, stream.width = frame.shape[:2]
                stream.pix_fmt = "yuv420p"
                stream.options = {"crf": str(crf), "preset": preset}
                stream.thread_type = "AUTO"
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        if stream is None:
            raise ValueError("an mp4 needs at least one frame")
        container.mux(stream.encode())
    return path


def write_gif(frames: np.ndarray, path: str | Path, fps: float) -> Path:
    """Frames [T, H, W, 3] uint8 -> an animated GIF that loops forever."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    images = [Image.fromarray(frame) for frame in np.asarray(frames, dtype=np.uint8)]
    images[0].save(path, save_all=True, append_images=images[1:], duration=round(1000 / fps), loop=0)
    return path


def _check_file(path: Path) -> None:
    if not path.is_file():
        raise ClipError(f"'{path.name}' was not found")
    if path.stat().st_size == 0:
        raise ClipError(f"'{path.name}' is empty (0 bytes)")


def _open_decord(path: Path):
    """A decord VideoReader, or None when decord cannot open the file (PyAV gets a try)."""
    import decord

    try:
        reader = decord.VideoReader(str(path), ctx=decord.cpu(0), num_threads=1)
        if len(reader) == 0:
            return None
        first = reader[0]  # some unreadable streams open fine and fail on the first frame
    except Exception:  # decord raises RuntimeError or DECORDError for files it cannot read
        return None
    # decord 0.6 misreads frames whose rows it pads (e.g. 48 pixels wide: 4 "channels", then a size error
    # mid-clip); PyAV reads them
    if first.shape[-1] != 3:
        return None
    return reader


def _check_limits(path: Path, count: int, height: int, width: int, max_pixels: int, max_source_frames: int):
    if count < 2:
        raise ClipError(f"'{path.name}' has {count} frame{'s' if count != 1 else ''}; a clip needs at least 2 frames")
    if height * width > max_pixels:
        raise ClipError(f"'{path.name}' is {width}×{height} pixels; the limit is {max_pixels:,} pixels per frame")
    if count > max_source_frames:
        raise ClipError(f"'{path.name}' has {count:,} frames; the limit is {max_source_frames:,}")


def _sample(count: int, stride: int, max_frames: int, spread: bool) -> tuple[np.ndarray, int]:
    """Source indices to read [T] and the effective stride."""
    if spread and count > stride * max_frames:
        stride = int(np.ceil(count / max_frames))
    indices = np.arange(0, count, stride, dtype=np.int64)[:max_frames]
    return indices, stride


def _read_until_damage(reader, indices: np.ndarray) -> np.ndarray:
    """The frames at `indices` [c] up to the first that fails to decode: [<= c, h, w, 3] uint8."""
    frames = []
    for index in indices:
        try:
            frames.append(reader[int(index)].asnumpy())
        except Exception:  # the first frame that fails ends the readable part
            break
    return np.stack(frames) if frames else np.zeros((0, 1, 1, 3), np.uint8)


def _fitter(size: tuple[int, int], resize: str, screen: ScreenCrop | None) -> Callable[[np.ndarray], np.ndarray]:
    """Source frames [c, h, w, 3] -> the model's [c, H, W, 3]: cut to the screen first when there is one."""
    if screen is None:
        return lambda batch: resize_frames(batch, size, resize)
    return lambda batch: resize_frames(screen.to_screen(batch), size, resize)


def _check_screen(screen: ScreenCrop | None, height: int, width: int) -> None:
    if screen is not None:
        from studio.screen import ScreenError, check_box

        try:
            check_box(screen.box, (height, width))
        except ScreenError as err:
            raise ClipError(str(err)) from err  # the cause tells the page that the box, not the file, was wrong


def _read_with_pyav(path, stride, max_frames, fit, spread, max_pixels, max_source_frames, screen=None) -> Clip:
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError):
        if _starts_like_a_video(path):
            raise ClipError(
                f"'{path.name}' is truncated or damaged: it starts like a video file but ends before "
                "the part a player needs to read it (a download or copy cut short?)"
            ) from None
        raise ClipError(f"'{path.name}' is not a video this studio can read") from None
    with container:
        if not container.streams.video:
            raise ClipError(f"'{path.name}' has no video stream: not a video")
        stream = container.streams.video[0]
        height, width = stream.codec_context.height, stream.codec_context.width
        count = stream.frames or 0
        fps = float(stream.average_rate or stream.guessed_rate or 0) or 30.0
        _check_limits(path, count or 2, height, width, max_pixels, max_source_frames)
        _check_screen(screen, height, width)
        wanted, stride = _sample(count, stride, max_frames, spread) if count else (None, stride)
        wanted_set = set(wanted.tolist()) if wanted is not None else set()
        frames, indices, pending, truncated = [], [], [], False
        try:
            for index, frame in enumerate(container.decode(stream)):
                if wanted is not None and index > wanted[-1]:
                    break
                if (wanted is not None and index in wanted_set) or (wanted is None and index % stride == 0):
                    pending.append(frame.to_ndarray(format="rgb24"))
                    indices.append(index)
                if len(pending) == CHUNK:
                    frames.append(fit(np.stack(pending)))
                    pending = []
                if len(indices) == max_frames:
                    break
        except (av.error.FFmpegError, ValueError):
            truncated = True  # a damaged stream: keep what decoded before the damage
    if pending:
        frames.append(fit(np.stack(pending)))
    if len(indices) < 2:
        if len(indices) == 1:
            raise ClipError(f"'{path.name}' has 1 frame; a clip needs at least 2 frames")
        raise ClipError(f"'{path.name}' is not a video this studio can read")
    return Clip(
        frames=np.concatenate(frames),
        fps=fps,
        source_frames=count or indices[-1] + 1,
        source_size=(height, width),
        stride=stride,
        indices=np.asarray(indices, np.int64),
        truncated=truncated,
    )


# How the container formats read_clip is meant for begin: (offset, bytes)
VIDEO_SIGNATURES = ((4, b"ftyp"), (0, b"\x1a\x45\xdf\xa3"), (0, b"RIFF"), (0, b"GIF8"), (4, b"moov"), (4, b"mdat"))


def _starts_like_a_video(path: Path) -> bool:
    with path.open("rb") as file:
        head = file.read(16)
    return any(head[offset : offset + len(magic)] == magic for offset, magic in VIDEO_SIGNATURES)


def _even_size(frames: np.ndarray) -> np.ndarray:
    """[T, H, W, 3] -> [T, H + H % 2, W + W % 2, 3]: H.264 in yuv420p needs even sides, so the last row
    and/or column is repeated when a side is odd."""
    pad_h, pad_w = frames.shape[1] % 2, frames.shape[2] % 2
    if pad_h or pad_w:
        frames = np.pad(frames, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), mode="edge")
    return frames
