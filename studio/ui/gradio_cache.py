"""Image outputs written to Gradio's cache atomically.

Gradio 6.31 saves an image output under a path named by the hash of its bytes with a plain `write_bytes`.
Two users whose outputs hold the same picture (the first frame of the same example clip) rewrite that one
file while the other's browser downloads it, and the download breaks ("Too little data for declared
Content-Length", seen in the 20-user load test). Gradio already copies *file* outputs under a temporary name
and renames them into place; `install()` makes image outputs do the same, and skip a picture already cached.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from gradio import processing_utils


def save_pil_to_cache(img, cache_dir: str, name: str = "image", format: str = "webp") -> str:
    """What `gradio.processing_utils.save_pil_to_cache` does (same path, same bytes), written atomically."""
    data = processing_utils.encode_pil_to_bytes(img, format)
    folder = Path(cache_dir) / processing_utils.hash_bytes(data)
    folder.mkdir(exist_ok=True, parents=True)
    path = (folder / f"{name}.{format}").resolve()
    if not path.exists():
        handle, staging = tempfile.mkstemp(dir=folder, prefix=f".{name}.")
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        os.replace(staging, path)
    return str(path)


def install() -> None:
    processing_utils.save_pil_to_cache = save_pil_to_cache
