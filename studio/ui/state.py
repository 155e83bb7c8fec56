"""What the tabs share: the bundles found in `exported/` (and any other folders of bundles), each loaded once per
process, and one user's clip.

Models are read-only after loading and onnxruntime may run a graph from several threads at once, so one
WorldModel per bundle serves every user; a user's own results live in a `ClipState`, held per browser tab in a
`gr.State` that every tab reads.

Per-user state lives in `gr.State` alone, never in a dict keyed by session on a shared object. Gradio deletes a
closed tab's states (after its delete callbacks) only if a handler has set them as an output: a state that a
handler changes in place starts as None, and the first handler that needs it makes it and returns it.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import gradio as gr
import numpy as np

from studio.analysis import ClipAnalysis, Reconstruction, analyze_clip, reconstruct
from studio.bundle import MANIFEST_NAME, BundleError, find_bundles
from studio.examples import example_clips, example_labels
from studio.labels import Labels
from studio.latent_map import SHIPPED_MAPS, LatentMaps
from studio.plots import clip_trajectory, probe_figure, trajectory_figure
from studio.probe import warm_up_probes
from studio.projection import ProjectionCache, ProjectionConfig, warm_up_umap
from studio.reference import reference_of
from studio.runtime import WorldModel
from studio.video import ClipError, write_mp4

DEFAULT_BUNDLE = "breakout"
WARM_UP_DONE = "studio: maps warmed up"  # printed once the background warm-up has finished
WARM_UP_FRAMES = 16  # of a bundle's first example: one full batch through every graph


@dataclass
class BundleShelf:
    """The bundles of some folders (`exported/` first; each a folder of bundles, or a bundle itself): loaded models,
    and the error of each that failed to load. A bundle is known by its folder's name; a second bundle of a name
    already taken is refused."""

    folders: tuple[Path, ...]
    device: str = "auto"
    cache_dir: Path | None = None  # where fitted maps are kept between runs
    models: dict[str, WorldModel] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    maps: LatentMaps = field(init=False)

    def __post_init__(self):
        self.maps = LatentMaps(ProjectionCache(self.cache_dir))

    def load_all(self) -> BundleShelf:
        for folder in (bundle for given in self.folders for bundle in bundles_in(given)):
            if folder.name in self.models:
                self.errors[f"{folder.name} in {folder.parent}"] = (
                    f"a bundle named {folder.name} is already open from {self.models[folder.name].bundle.root.parent}"
                )
                continue
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
        probe its latents as the Probe tab does, and compile UMAP for bundles without examples (their map is
        fitted on the first clip they are shown). scikit-learn is left to the first PCA map: imported here, it
        held the GIL against a first analysis arriving with the page."""

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
                for result in warm_up_probes(analysis.latents):
                    probe_figure(result, "warm-up").to_json()
            if without_examples:
                warm_up_umap()
            print(f"{WARM_UP_DONE} in {time.perf_counter() - began:.1f} s", flush=True)

        thread = threading.Thread(target=warm_up, name="studio-warm-up", daemon=True)
        thread.start()
        return thread

    @property
    def folder_names(self) -> str:
        """The folders the bundles are read from, as the page names them: 'exported/, mine/'."""
        return ", ".join(f"{folder.name}/" for folder in self.folders)

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


def bundles_in(folder: Path) -> list[Path]:
    """The bundle `folder` is, or the bundles directly inside it."""
    return [folder] if (folder / MANIFEST_NAME).is_file() else find_bundles(folder)


@dataclass
class ClipState:
    """One user's analyzed clip, with the model that analyzed it, and what the tabs computed for it so far:
    its optional overlay, labels, maps and the files written for it."""

    bundle: str  # the name of the bundle that analyzed the clip
    model: WorldModel
    maps: LatentMaps  # the process's maps, shared by every user
    path: Path  # the clip's file (Gradio's copy of an upload): the Compare tab reads it again with other bundles
    analysis: ClipAnalysis
    out_dir: Path  # this user's previews, downloads and rollouts; deleted with the state
    overlay: ClipAnalysis | None = None
    overlay_name: str = ""
    labels: Labels | None = None  # per-frame ground truth: an upload, or the labels of a shipped example
    delta_t_psnr: float | None = None  # the clip's ΔtPSNR(t=4), measured at its first rollout
    reconstruction: Reconstruction | None = None  # the frames the preview shows, decoded after the analysis
    coords: dict[tuple[str, int, str], np.ndarray] = field(default_factory=dict)  # (method, dims, clip) -> [T, d]
    # set once another analysis or bundle replaced the clip: what is still being computed for it must not reach
    # the page, where it would show beside the next clip
    discarded: bool = False

    @classmethod
    def open(cls, shelf: BundleShelf, bundle: str, path: str, analysis: ClipAnalysis) -> ClipState:
        """The state of a clip at `path` just analyzed with `bundle`, with a fresh folder for its files."""
        model = shelf.get(bundle)
        return cls(
            bundle,
            model,
            shelf.maps,
            Path(path),
            analysis,
            Path(tempfile.mkdtemp(prefix="studio-clip-")),
            labels=example_labels(model, path),
        )

    @property
    def name(self) -> str:
        return self.path.name

    def discard(self) -> None:
        """Delete the files written for this clip (previews, downloads, rollouts)."""
        self.discarded = True
        shutil.rmtree(self.out_dir, ignore_errors=True)

    def coordinates(self, method: str, dims: int, which: str = "main") -> np.ndarray | None:
        """[T, dims] map coordinates of the main clip, the overlay, or the bundle's reference frames ("reference":
        None for a bundle without a reference)."""
        key = (method, dims, which)
        if key not in self.coords:
            if which == "reference":
                reference = reference_of(self.model)
                latents = None if reference is None else reference.latents
            else:
                latents = (self.analysis if which == "main" else self.overlay).latents
            config = ProjectionConfig(method=method, dims=dims)
            self.coords[key] = (
                None if latents is None else self.maps.project(self.model, latents, config, own=self.analysis.latents)
            )
        return self.coords[key]

    def set_overlay(self, name: str, analysis: ClipAnalysis) -> None:
        self.overlay, self.overlay_name = analysis, name
        self.coords = {key: coords for key, coords in self.coords.items() if key[2] != "overlay"}

    def reconstructed(self, t: int) -> tuple[np.ndarray, float]:
        """Frame t's reconstruction [H, W, 3] uint8 and its PSNR: from the preview's, or decoded now."""
        reconstruction = self.reconstruction
        if reconstruction is None or t not in reconstruction.indices:
            reconstruction = reconstruct(self.model, self.analysis, [t])
        at = int(np.searchsorted(reconstruction.indices, t))
        return reconstruction.frames[at], float(reconstruction.psnr[at])

    def figure(self, method: str, dims: int, color_by: str, highlight: int | None):
        trajectories = [clip_trajectory(self.name, self.analysis, self.coordinates(method, dims))]
        if self.overlay is not None:
            coords = self.coordinates(method, dims, which="overlay")
            trajectories.append(clip_trajectory(self.overlay_name, self.overlay, coords))
        title = f"{method.upper()} of the frame latents · {self.bundle}"
        cloud = self.coordinates(method, dims, which="reference")
        return trajectory_figure(trajectories, color_by=color_by, highlight=highlight, title=title, cloud=cloud)


@dataclass
class Refusals:
    """Why one user's last request was refused, kept in their own `gr.State` until the page says so: a handler that
    refuses raises `gr.Error`, which sets none of its outputs, so it leaves the reason here, in place, for the
    handler that shows it. The page's first step of the request puts a fresh one in the state (see the module's
    note on per-user state)."""

    reason: object = None

    def leave(self, reason: object) -> None:
        self.reason = reason

    @staticmethod
    @contextmanager
    def noting(refusals: Refusals | None) -> Iterator[None]:
        """Leave the message of a `gr.Error` raised inside in `refusals` (when the page made one), and raise it on."""
        try:
            yield
        except gr.Error as err:
            if refusals is not None:
                refusals.leave(err.message)
            raise

    @staticmethod
    def read(refusals: Refusals | None, otherwise: object) -> object:
        """The reason left in `refusals` since the request began, or `otherwise`."""
        reason = None if refusals is None else refusals.reason
        return otherwise if reason is None else reason


def discard_clip(state: ClipState | None) -> None:
    """What the page does with a user's clip state when the browser tab closes or a new analysis replaces it."""
    if state is not None:
        state.discard()
