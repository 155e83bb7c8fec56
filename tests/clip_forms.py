"""Atari gameplay in the forms people share it: letterboxed, windowed, cut, rescaled, re-encoded.

The tests make their own clips: emulator frames from the Arcade Learning Environment at their native
210×160, turned into the forms an analyst brings (a screen recording with black bars, an emulator window
with a grey frame and title bar, rows cut by an encoder, odd sizes, nearest-neighbour upscales, a 4:3
re-upload) and written with PyAV.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image

NATIVE_FPS = 60
REPO = Path(__file__).resolve().parent.parent


def atari_frames(game: str = "ALE/Breakout-v5", steps: int = 120, seed: int = 7, frameskip: int = 4) -> np.ndarray:
    """[T, 210, 160, 3] uint8 native frames of a random player that launches the ball (FIRE) now and then
    and holds each move a few steps; `frameskip` 1 is a 60 fps capture, 4 the rate Breakout bundles learn."""
    import ale_py
    import gymnasium as gym

    gym.register_envs(ale_py)
    env = gym.make(game, repeat_action_probability=0.0, frameskip=frameskip, full_action_space=False)
    rng = np.random.default_rng(seed)
    obs, _ = env.reset(seed=seed)
    frames, action, held = [obs], 0, 0
    for _ in range(steps - 1):
        if held == 0:
            action, held = int(rng.integers(env.action_space.n)), int(rng.integers(1, 8)) * (4 // frameskip or 1)
        held -= 1
        obs, _, terminated, truncated, _ = env.step(action)
        if terminated or truncated:
            obs, _ = env.reset(seed=seed + len(frames))
        frames.append(obs)
    env.close()
    return np.stack(frames)


def resized(frames: np.ndarray, height: int, width: int, nearest: bool = False) -> np.ndarray:
    """[T, h, w, 3] -> [T, height, width, 3], bilinear (a player's scaler) or nearest-neighbour."""
    method = Image.NEAREST if nearest else Image.BILINEAR
    return np.stack([np.asarray(Image.fromarray(f).resize((width, height), method)) for f in frames])


def cut_rows(frames: np.ndarray, top: int, bottom: int) -> np.ndarray:
    return frames[:, top : frames.shape[1] - bottom]


def letterboxed(frames: np.ndarray, height: int = 720, width: int = 1280, scale: float = 3.0) -> np.ndarray:
    """The game scaled by `scale` in the middle of a black `height`×`width` screen recording."""
    screen = resized(frames, round(frames.shape[1] * scale), round(frames.shape[2] * scale))
    out = np.zeros((len(frames), height, width, 3), np.uint8)
    top, left = (height - screen.shape[1]) // 2, (width - screen.shape[2]) // 2
    out[:, top : top + screen.shape[1], left : left + screen.shape[2]] = screen
    return out


def emulator_window(frames: np.ndarray, scale: int = 2) -> np.ndarray:
    """An emulator's window: a title bar with its buttons, a grey frame, the game scaled by `scale` inside,
    on a desktop-coloured margin."""
    screen = resized(frames, frames.shape[1] * scale, frames.shape[2] * scale, nearest=True)
    h, w = screen.shape[1:3]
    title, border, margin = 24, 6, 20
    out = np.empty((len(frames), h + title + 2 * border + 2 * margin, w + 2 * border + 2 * margin, 3), np.uint8)
    out[:] = (40, 90, 140)  # the desktop
    window = out[:, margin : margin + title + h + 2 * border, margin : margin + w + 2 * border]
    window[:] = (192, 192, 192)  # the grey frame
    window[:, :title] = (60, 60, 200)  # the title bar
    window[:, 8:16, 12:110] = (235, 235, 235)  # its text
    window[:, 6:18, -60:-8] = (210, 80, 80)  # its buttons
    window[:, title + border : title + border + h, border : border + w] = screen
    return out


def write_video(frames: np.ndarray, path: str | Path, fps: float = 15, codec: str = "libx264", crf: int = 18) -> Path:
    """[T, H, W, 3] uint8 -> a video file. H.264 needs even sides: an odd side is cut by one row or column,
    as encoders do; VP9 (webm) keeps odd sizes."""
    path = Path(path)
    if codec == "libx264":
        frames = frames[:, : frames.shape[1] // 2 * 2, : frames.shape[2] // 2 * 2]
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream(codec, rate=Fraction(fps).limit_denominator(1001))
        stream.height, stream.width = frames.shape[1:3]
        stream.pix_fmt = "yuv420p" if codec != "libvpx-vp9" else "yuv444p"
        stream.options = {"crf": str(crf)} if codec == "libx264" else {"lossless": "1"}
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")))
        container.mux(stream.encode())
    return path
