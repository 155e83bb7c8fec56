"""What happens to a game's native frames on their way into a shared clip: rows cut, rescaling, shifts,
padding, codec artifacts, colour drift. Numpy, PIL and PyAV only.

Two uses share these functions: training draws a random `Perturbation` per window of frames (the encoder
learns to map the perturbed frames to the clean frame's latent), and `studio evaluate` measures the
reconstruction of a few fixed forms (`TOLERANCE_FORMS`) against the clean frames.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import av
import numpy as np
from PIL import Image

from studio.video import resize_frames


def cut_rows(frames: np.ndarray, top: int, bottom: int) -> np.ndarray:
    """[T, H, W, 3] -> [T, H - top - bottom, W, 3]: rows removed, as an encoder does to reach an even size."""
    return frames[:, top : frames.shape[1] - bottom]


def rescale(frames: np.ndarray, height: int, width: int, nearest: bool = False) -> np.ndarray:
    """[T, H, W, 3] -> [T, height, width, 3], nearest-neighbour or bilinear."""
    method = Image.NEAREST if nearest else Image.BILINEAR
    return np.stack([np.asarray(Image.fromarray(f).resize((width, height), method)) for f in frames])


def reencode_h264(frames: np.ndarray, crf: int, fps: int = 15) -> np.ndarray:
    """[T, H, W, 3] (H, W even) -> the same frames after an H.264 round trip at the given CRF (yuv420p)."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": str(crf), "preset": "veryfast", "threads": "1"}
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    buffer.seek(0)
    with av.open(buffer) as container:
        decoded = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    return np.stack(decoded[: len(frames)])


def reencode_jpeg(frames: np.ndarray, quality: int) -> np.ndarray:
    out = np.empty_like(frames)
    for i, frame in enumerate(frames):
        buffer = io.BytesIO()
        Image.fromarray(frame).save(buffer, format="JPEG", quality=quality)
        out[i] = np.asarray(Image.open(buffer).convert("RGB"))
    return out


def re_uploaded(frames: np.ndarray, crf: int = 30) -> np.ndarray:
    """A 4:3 re-upload: stretched to 480×360 and H.264-encoded at the given CRF."""
    return reencode_h264(rescale(frames, 360, 480), crf)


# The forms `studio evaluate` measures, each a function of native frames [T, H, W, 3] (no screen detection).
TOLERANCE_FORMS = {
    "cut_2_rows": lambda f: cut_rows(f, 0, 2),
    "cut_4_rows": lambda f: cut_rows(f, 2, 2),
    "upscaled_2x": lambda f: rescale(f, 2 * f.shape[1], 2 * f.shape[2], nearest=True),
    "upscaled_3x": lambda f: rescale(f, 3 * f.shape[1], 3 * f.shape[2]),
    "reencoded_480x360_crf30": re_uploaded,
}


@dataclass(frozen=True)
class Perturbation:
    """One random perturbation, applied alike to every frame of a window (source pixels, native frames)."""

    crop: tuple[int, int, int, int]  # top, left, height, width of the kept box (may reach outside: padded black)
    resample: float  # 1: none; < 1: downscale by this factor and back up (blur); > 1: upscale by it
    codec: str  # "none", "jpeg" or "h264"
    quality: int  # JPEG quality or H.264 CRF
    gain: tuple[float, float, float]  # per-channel colour multiplier
    offset: float  # added brightness, in 0..255 units

    @classmethod
    def draw(cls, rng: np.random.Generator, height: int, width: int) -> Perturbation:
        geometry = rng.choice(["rows", "shift", "crop", "pad"], p=[0.35, 0.25, 0.25, 0.15])
        if geometry == "rows":  # rows cut top and bottom, as encoders and bad captures do
            top, bottom = rng.integers(0, 6, size=2)
            crop = (int(top), 0, height - int(top + bottom), width)
        elif geometry == "shift":  # misregistration by a few source pixels
            dy, dx = rng.integers(-3, 4, size=2)
            crop = (int(dy), int(dx), height, width)
        elif geometry == "crop":  # random resized crop: scale 0.85-1, aspect within ±10%
            scale, aspect = rng.uniform(0.85, 1.0), np.exp(rng.uniform(np.log(0.9), np.log(1.1)))
            h = int(round(height * np.sqrt(scale / aspect)))
            w = int(round(width * np.sqrt(scale * aspect)))
            h, w = min(h, height), min(w, width)
            crop = (int(rng.integers(0, height - h + 1)), int(rng.integers(0, width - w + 1)), h, w)
        else:  # black padding around the screen
            pad = rng.integers(0, 7, size=4)
            crop = (-int(pad[0]), -int(pad[1]), height + int(pad[0] + pad[2]), width + int(pad[1] + pad[3]))
        resample = float(rng.choice([1.0, rng.uniform(0.6, 0.9), 2.0, 3.0, 480 / 160], p=[0.35, 0.2, 0.15, 0.15, 0.15]))
        codec = str(rng.choice(["none", "jpeg", "h264"], p=[0.4, 0.25, 0.35]))
        quality = int(rng.integers(30, 90)) if codec == "jpeg" else int(rng.integers(18, 36))
        jitter = rng.random() < 0.5
        gain = tuple(float(g) for g in (rng.uniform(0.92, 1.08, size=3) if jitter else np.ones(3)))
        offset = float(rng.uniform(-8, 8)) if jitter else 0.0
        return cls(crop, resample, codec, quality, gain, offset)

    def apply(self, frames: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        """Native frames [T, H, W, 3] uint8 -> perturbed frames at the model's size [T, *size, 3] uint8."""
        out = _box(frames, *self.crop)
        h, w = out.shape[1:3]
        if self.resample != 1.0:
            scaled = (max(8, int(round(h * self.resample))), max(8, int(round(w * self.resample))))
            out = rescale(out, *scaled)
            if self.resample < 1.0:
                out = rescale(out, h, w)
        if self.codec == "jpeg":
            out = reencode_jpeg(out, self.quality)
        elif self.codec == "h264":
            out = reencode_h264(out[:, : out.shape[1] // 2 * 2, : out.shape[2] // 2 * 2], self.quality)
        if self.offset or self.gain != (1.0, 1.0, 1.0):
            out = np.clip(out * np.asarray(self.gain, np.float32) + self.offset, 0, 255).astype(np.uint8)
        return resize_frames(out, size, "stretch")


def _box(frames: np.ndarray, top: int, left: int, height: int, width: int) -> np.ndarray:
    """The box [top, left, height, width] of frames [T, H, W, 3]; what lies outside the frame is black."""
    t, h, w = frames.shape[:3]
    out = np.zeros((t, height, width, 3), np.uint8)
    y0, x0 = max(top, 0), max(left, 0)
    y1, x1 = min(top + height, h), min(left + width, w)
    out[:, y0 - top : y1 - top, x0 - left : x1 - left] = frames[:, y0:y1, x0:x1]
    return out


def perturbed_views(frames: np.ndarray, size: tuple[int, int], window: int, rng: np.random.Generator) -> np.ndarray:
    """Native frames [T, H, W, 3] -> one perturbed view of each at the model's size [T, *size, 3]; every
    `window` consecutive frames share one perturbation, as a clip's frames share one recording."""
    out = np.empty((len(frames), *size, 3), np.uint8)
    for start in range(0, len(frames), window):
        chunk = frames[start : start + window]
        out[start : start + len(chunk)] = Perturbation.draw(rng, *frames.shape[1:3]).apply(chunk, size)
    return out
