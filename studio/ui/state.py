"""What the tabs share: the bundles found in `exported/`, each loaded once per process.

Models are read-only after loading and onnxruntime sessions may be run from several threads, so one
WorldModel per bundle serves every user; a user's own results live in per-session `gr.State`.
"""

from __future__ import annotations

import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from studio.analysis import analyze_clip, reconstruct
from studio.bundle import BundleError, find_bundles
from studio.examples import example_clips
from studio.latent_map import SHIPPED_MAPS, LatentMaps
from studio.plots import clip_trajectory, trajectory_figure
from studio.projection import ProjectionCache, warm_up_umap
from studio.runtime import WorldModel
from studio.video import ClipError, write_mp4

DEFAULT_BUNDLE = "breakout"
WARM_UP_DONE = "studio: maps warmed up"  # printed once the background warm-up has finished
WARM_UP_FRAMES = 16  # of a bundle's first example: one full batch through every graph


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
        """Do once, in the background, what a user's first analysis would otherwise pay for: read each
        bundle's maps (shipped, or fitted now), run the start of its first example through the pipeline
        (decord's first open, onnxruntime's first full batches, plotly's first figure, x264's first video),
        and compile UMAP for bundles without examples (their map is fitted on the first clip they are
        shown). scikit-learn is left to the first PCA map or probe (~1.5 s once): imported here, it held
        the GIL against a first analysis arriving with the page."""

        def warm_up() -> None:
            began = time.perf_counter()
            without_examples = False
            for model in self.models.values():
                maps = [self.maps.shared_map(model, config) for config in SHIPPED_MAPS]
                if None in maps:
                    without_examples = True
                    continue
                try:
                    analysis = analyze_clip(model, example_clips(model)[0], max_frames=WARM_UP_FRAMES)
                except ClipError:
                    continue  # a broken example: its bundle serves all the same, a little slower the first time
                trajectory_figure([clip_trajectory("warm-up", analysis, maps[0].transform(analysis.latents))]).to_json()
                reconstruction = reconstruct(model, analysis)
                with tempfile.TemporaryDirectory() as folder:
                    write_mp4(reconstruction.frames[:8], Path(folder) / "warm-up.mp4", fps=8, preset="ultrafast")
            if without_examples:
                warm_up_umap()
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
