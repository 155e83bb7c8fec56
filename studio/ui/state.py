"""What the tabs share: the bundles found in `exported/`, each loaded once per process.

Models are read-only after loading and onnxruntime sessions may be run from several threads, so one
WorldModel per bundle serves every user; a user's own results live in per-session `gr.State`.
"""

from __future__ import annotations

import importlib
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from studio.bundle import BundleError, find_bundles
from studio.latent_map import SHIPPED_MAPS, LatentMaps
from studio.projection import ProjectionCache, warm_up_umap
from studio.runtime import WorldModel

DEFAULT_BUNDLE = "breakout"
WARM_UP_DONE = "studio: maps warmed up"  # printed once the background warm-up has finished
# what the maps and probes import on first use, so that the page is served without waiting for them
DEFERRED_IMPORTS = ("sklearn.decomposition", "sklearn.linear_model", "sklearn.model_selection", "sklearn.pipeline")


@dataclass
class BundleShelf:
    """The bundles of one `exported/` folder: loaded models, and the error of each that failed to load."""

    exported_dir: Path
    device: str = "auto"
    cache_dir: Path | None = None  # where fitted maps are kept between runs
    models: dict[str, WorldModel] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    maps: LatentMaps = field(init=False)

    def __post_init__(self):
        self.maps = LatentMaps(ProjectionCache(self.cache_dir))

    def load_all(self) -> BundleShelf:
        for folder in find_bundles(self.exported_dir):
            try:
                model = WorldModel.load(folder, device=self.device)
            except (BundleError, ValueError) as err:
                self.errors[folder.name] = str(err)
                continue
            self.models[folder.name] = model
        return self

    def warm_up_in_background(self) -> threading.Thread:
        """Load (or fit) each bundle's maps while the page is already being served, and compile UMAP for
        bundles that ship no examples: their map is fitted on the first clip they are shown."""

        def warm_up() -> None:
            began = time.perf_counter()
            for module in DEFERRED_IMPORTS:
                importlib.import_module(module)
            for model in self.models.values():
                if self.maps.reference(model) is None:
                    warm_up_umap()
                    continue
                for config in SHIPPED_MAPS:
                    self.maps.shared_map(model, config)
            print(f"{WARM_UP_DONE} in {time.perf_counter() - began:.1f} s", flush=True)

        thread = threading.Thread(target=warm_up, name="studio-warm-up", daemon=True)
        thread.start()
        return thread

    @property
    def names(self) -> list[str]:
        return sorted(self.models)

    @property
    def default_name(self) -> str | None:
        """The shipped default bundle when it loaded, else the first by name."""
        if DEFAULT_BUNDLE in self.models:
            return DEFAULT_BUNDLE
        return self.names[0] if self.names else None

    def get(self, name: str | None) -> WorldModel:
        """The model of a bundle the picker offered; anything else is refused (no path is ever taken from a user)."""
        if name not in self.models:
            raise BundleError("no such bundle: pick one from the Model tab")
        return self.models[name]
