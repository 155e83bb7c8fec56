"""Pictures as HTML: frames inline as PNG data URLs, scaled up by the page without smoothing, captions outside.

A gallery puts its captions over the pictures and scrolls inside a box; a grid of figures in a gr.HTML keeps every
picture whole, at a size the page sets, with its caption underneath.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

PICTURE_CSS = """
.pictures { display: flex; flex-wrap: wrap; gap: 12px 16px; align-items: flex-start; }
.pictures figure { margin: 0; }
.pictures img { image-rendering: pixelated; display: block; }
.pictures img.detail { margin-top: 6px; }
.pictures figcaption { font-size: 0.85rem; margin-top: 4px; line-height: 1.3; max-width: var(--caption-width); }
.picture-rows h4 { margin: 14px 0 6px 0; font-size: 0.95rem; }
"""
LABEL_ROOM = 34  # pixels: the height of a gr.Image's floating label, with its margin


def label_above_picture(*elem_ids: str) -> str:
    """CSS for the gr.Image boxes `elem_ids`: Gradio floats the label and the picture's buttons (full screen,
    download, share) over the picture's top, where a game keeps its score. The picture goes below the label, and
    the buttons up into the label's row (they sit in the picture's own box, which starts under the room made)."""
    boxes = ", ".join(f"#{elem_id}" for elem_id in elem_ids)
    buttons = ", ".join(f"#{elem_id} .icon-button-wrapper" for elem_id in elem_ids)
    return f"{boxes} {{ padding-top: {LABEL_ROOM}px !important; }}\n{buttons} {{ top: {6 - LABEL_ROOM}px !important; }}"


@dataclass(frozen=True)
class Picture:
    image: np.ndarray  # [H, W, 3] uint8, at model size: the page enlarges it
    caption: str  # plain text, shown under the picture
    detail: np.ndarray | None = None  # [h, w, 3] uint8, shown as it is between the picture and its caption


def png_data_url(image: np.ndarray) -> str:
    """[H, W, 3] uint8 -> a PNG data URL (fast compression: a frame of a stream is a few kB)."""
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG", compress_level=1)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def picture_grid(pictures: Sequence[Picture], height: int) -> str:
    """Pictures side by side (wrapping), each enlarged by a whole factor to at least `height` pixels high."""
    figures = []
    for picture in pictures:
        h, w = picture.image.shape[:2]
        scale = max(1, -(-height // h))  # the whole factor that reaches `height`
        caption = html.escape(picture.caption)
        width, detail = w * scale, ""
        if picture.detail is not None:
            width = max(width, picture.detail.shape[1])
            detail = (
                f'<img class="detail" src="{png_data_url(picture.detail)}" width="{picture.detail.shape[1]}" '
                f'height="{picture.detail.shape[0]}" alt="{caption}, magnified">'
            )
        figures.append(
            f'<figure style="--caption-width: {width}px"><img src="{png_data_url(picture.image)}" '
            f'width="{w * scale}" height="{h * scale}" alt="{caption}">{detail}<figcaption>{caption}</figcaption>'
            "</figure>"
        )
    return f'<div class="pictures">{"".join(figures)}</div>'


def picture_rows(rows: Sequence[tuple[str, Sequence[Picture]]], height: int) -> str:
    """One titled row of pictures per entry: (title, pictures)."""
    return (
        '<div class="picture-rows">'
        + "".join(f"<h4>{html.escape(title)}</h4>{picture_grid(pictures, height)}" for title, pictures in rows)
        + "</div>"
    )
