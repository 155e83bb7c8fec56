"""Pictures side by side, enlarged and captioned: clip | reconstruction, frame t | t+1, the truth | each branch."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

CAPTION_HEIGHT = 22  # pixels: the white strip a caption is written in, above its picture
CAPTION_SIZE = 14  # pixels: the caption's type size


def side_by_side(panels: Sequence[np.ndarray], gap: int = 2) -> np.ndarray:
    """Panels [..., H, W_i, 3] uint8 alike but for their widths -> one [..., H, sum(W_i) + gaps, 3] uint8,
    a white column `gap` pixels wide between neighbours."""
    separator = np.full((*panels[0].shape[:-2], gap, 3), 255, np.uint8)  # [..., H, gap, 3]
    joined = [panels[0]]
    for panel in panels[1:]:
        joined += [separator, panel]
    return np.concatenate(joined, axis=-2)


def enlarged(frames: np.ndarray, height: int) -> np.ndarray:
    """Frames [..., H, W, 3] -> [..., s*H, s*W, 3], enlarged by the whole factor s that brings H nearest to
    `height` from below (nearest neighbour: model frames are tiny, and their pixels stay sharp)."""
    scale = max(1, height // frames.shape[-3])
    return frames.repeat(scale, axis=-3).repeat(scale, axis=-2)


def captioned(frames: np.ndarray, captions: Sequence[str]) -> np.ndarray:
    """Frames [S, H, W, 3] uint8 -> [S, CAPTION_HEIGHT + H, W, 3], frame i under a white strip with captions[i]
    in black (cut short with an ellipsis when it does not fit)."""
    font = ImageFont.load_default(size=CAPTION_SIZE)
    width = frames.shape[2]
    strips = np.full((len(frames), CAPTION_HEIGHT, width, 3), 255, np.uint8)  # [S, CAPTION_HEIGHT, W, 3]
    written: dict[str, np.ndarray] = {}  # most captions repeat from frame to frame: each is drawn once
    for strip, caption in zip(strips, captions):
        if caption not in written:
            text = caption
            while text and font.getlength(text) > width - 8:
                text = text[:-2] + "…"
            image = Image.new("RGB", (width, CAPTION_HEIGHT), "white")
            ImageDraw.Draw(image).text((4, CAPTION_HEIGHT // 2), text, fill="black", font=font, anchor="lm")
            written[caption] = np.asarray(image)
        strip[:] = written[caption]
    return np.concatenate([strips, frames], axis=1)
