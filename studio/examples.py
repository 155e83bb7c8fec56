"""The example clips a bundle ships in `examples/`, each with its per-frame labels CSV of the same stem."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from studio.labels import Labels, read_labels
from studio.runtime import WorldModel
from studio.video import CLIP_SUFFIXES

EXAMPLES_DIR = "examples"


def example_clips(model: WorldModel) -> list[Path]:
    folder = model.bundle.root / EXAMPLES_DIR
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in CLIP_SUFFIXES)


def distinct_files(paths) -> list[Path]:
    """The paths in order, leaving out a file of the same name and bytes as one already kept (two bundles
    trained on the same data ship the same example clips)."""
    kept, seen = [], set()
    for path in paths:
        key = (path.name, path.read_bytes())
        if key not in seen:
            seen.add(key)
            kept.append(path)
    return kept


def bundles_shipping(models: Mapping[str, WorldModel], clip: str | Path) -> list[str]:
    """The names, in order, of the bundles among `models` that ship `clip` as an example: a file of the same name
    and bytes (an example picked on the page arrives as Gradio's copy of it)."""
    clip = Path(clip)
    if not clip.is_file():
        return []
    size, content = clip.stat().st_size, None
    shipping = []
    for name, model in models.items():
        for example in example_clips(model):
            if example.name != clip.name or example.stat().st_size != size:
                continue
            content = clip.read_bytes() if content is None else content
            if example.read_bytes() == content:
                shipping.append(name)
                break
    return shipping


def example_labels(model: WorldModel, clip_name: str) -> Labels | None:
    """The labels shipped beside the example clip called `clip_name` (the name of an upload, whose folder
    is Gradio's copy), or None when it is not one of the bundle's examples or has no labels."""
    for clip in example_clips(model):
        labels = clip.with_suffix(".csv")
        if clip.name == Path(clip_name).name and labels.is_file():
            return read_labels(labels)
    return None
