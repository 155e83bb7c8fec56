"""The shared latent map of a bundle: fitted on its reference latents, the encoded frames of its examples.

Fitting the map once per bundle on the same points lets every clip be transformed into one shared map, so
clips can be compared. A bundle without examples falls back to the first clip it is shown. A bundle can
ship its fitted maps (`maps/` in its folder, written by `studio maps BUNDLE` and by `studio export`), so
the studio draws them on a fresh machine without fitting UMAP.
"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

import numpy as np

from studio.examples import example_clips
from studio.projection import Projection, ProjectionCache, ProjectionConfig, map_file_name
from studio.runtime import WorldModel
from studio.video import ClipError, read_clip

FRAMES_PER_EXAMPLE = 600
SHIPPED_MAPS = (ProjectionConfig(method="umap", dims=2), ProjectionConfig(method="umap", dims=3))
MAPS_DIR = "maps"


def reference_key(model: WorldModel) -> str:
    """What a bundle's shared maps are saved under: its name and its encoder's hash."""
    return f"{model.manifest.name}:{model.manifest.graphs['encoder'].sha256}:examples"


def reference_latents(model: WorldModel) -> np.ndarray | None:
    """Latents [M, N, D] of the bundle's example clips, or None when it ships none that can be read."""
    latents = []
    for clip_path in example_clips(model):
        try:
            clip = read_clip(
                clip_path,
                max_frames=FRAMES_PER_EXAMPLE,
                size=model.frame_size,
                resize=model.manifest.frame.resize,
            )
        except ClipError:
            continue  # a broken example does not stop the others from serving as reference
        latents.append(model.encode(clip.frames))
    return np.concatenate(latents) if latents else None


class LatentMaps:
    """Per bundle, the map its reference latents define; clips are transformed into it."""

    def __init__(self, cache: ProjectionCache):
        self.cache = cache
        self._references: dict[str, np.ndarray | None] = {}
        self._lock = threading.Lock()

    def reference(self, model: WorldModel) -> np.ndarray | None:
        """The bundle's reference latents, encoded once, and only when a map has to be fitted on them."""
        name = model.manifest.name
        with self._lock:
            if name not in self._references:
                self._references[name] = reference_latents(model)
            return self._references[name]

    def project(
        self, model: WorldModel, latents: np.ndarray, config: ProjectionConfig, own: np.ndarray | None = None
    ) -> np.ndarray:
        """Latents [T, N, D] -> coordinates [T, dims] in the bundle's shared map. A bundle without examples
        has none: the map is then fitted on `own` [M, N, D] (the user's main clip, so that an overlay lands
        in the same map), or on the latents themselves."""
        shared = self.shared_map(model, config)
        if shared is not None:
            return shared.transform(latents)
        own = latents if own is None else own
        key = "clip:" + hashlib.sha256(np.ascontiguousarray(own).tobytes()).hexdigest()
        fitted = self.cache.get(key, lambda: own, config)
        if fitted.coords is not None and own is latents:
            return fitted.coords  # UMAP: where the fit put them
        return fitted.transform(latents)

    def shared_map(self, model: WorldModel, config: ProjectionConfig) -> Projection | None:
        """The bundle's map: shipped with it, cached, or fitted now on its examples; None without examples."""
        if not example_clips(model):
            return None
        return self.cache.get(
            reference_key(model), lambda: self.reference(model), config, shipped=model.bundle.root / MAPS_DIR
        )


def write_shipped_maps(model: WorldModel) -> list[Path]:
    """Fit the bundle's maps on its examples and save them into its `maps/` folder; [] without examples."""
    points = reference_latents(model)
    if points is None:
        return []
    folder = model.bundle.root / MAPS_DIR
    folder.mkdir(exist_ok=True)
    written = []
    for config in SHIPPED_MAPS:
        path = folder / map_file_name(reference_key(model), config)
        Projection.fit(points, config).save(path)
        written.append(path)
    return written
