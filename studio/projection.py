"""Low-dimensional maps of latents and action vectors: UMAP or PCA, fitted once, then reused.

A map is fitted on a bundle's reference points (its example clips' latents) and every clip is then
*transformed* into it, so clips land in one shared map and can be compared. Latent frames are wide
(N*D features), so they are first reduced by PCA; UMAP runs on those components.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import threading
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from sklearn.decomposition import PCA

METHODS = ("umap", "pca")
# numba's workqueue threading layer (chosen because it keeps PCA fast after UMAP) aborts the process when
# two threads enter its parallel code at once: every UMAP fit and transform holds this lock.
_UMAP_LOCK = threading.Lock()


@dataclass(frozen=True)
class ProjectionConfig:
    method: str = "umap"
    dims: int = 2
    pca_components: int = 32  # features kept before UMAP
    neighbors: int = 15
    min_dist: float = 0.1
    transform_epochs: int = 30  # UMAP's layout steps when new points join a fitted map (its default: 100)
    seed: int = 0

    def __post_init__(self):
        if self.method not in METHODS:
            raise ValueError(f"projection method must be one of {METHODS}, got {self.method!r}")
        if self.dims not in (2, 3):
            raise ValueError(f"a projection has 2 or 3 dimensions, got {self.dims}")


class Projection:
    """A fitted map from [M, F] points to [M, dims] coordinates."""

    def __init__(self, config: ProjectionConfig, pca: PCA, umap_model=None):
        self.config = config
        self.pca = pca
        self.umap_model = umap_model

    @classmethod
    def fit(cls, points: np.ndarray, config: ProjectionConfig = ProjectionConfig()) -> Projection:
        points = _as_features(points)  # [M, F]
        if len(points) < 3:
            raise ValueError("a projection needs at least 3 points")
        keep = config.dims if config.method == "pca" else config.pca_components
        keep = max(1, min(keep, *points.shape))
        pca = PCA(n_components=keep, random_state=config.seed).fit(points)
        if config.method == "pca":
            return cls(config, pca)
        import umap  # deferred: importing umap pulls numba, which the PCA path does not need

        reduced = pca.transform(points)  # [M, keep]
        with _UMAP_LOCK:
            umap_model = umap.UMAP(
                n_components=config.dims,
                n_neighbors=min(config.neighbors, len(points) - 1),
                min_dist=config.min_dist,
                random_state=config.seed,
                n_jobs=1,  # seeded UMAP is single-threaded anyway; saying so silences its warning
            ).fit(reduced)
        # umap-learn runs a third of `n_epochs` when it transforms new points; a clip's points start at the
        # weighted mean of their map neighbours, so 30 steps place them (1,800 points: 5.9 s at 100 steps)
        umap_model.n_epochs = 3 * config.transform_epochs
        return cls(config, pca, umap_model)

    def transform(self, points: np.ndarray) -> np.ndarray:
        """[T, ...] points -> [T, dims] coordinates in this map."""
        reduced = self.pca.transform(_as_features(points))  # [T, keep]
        if self.umap_model is None:
            coords = reduced
            if coords.shape[1] < self.config.dims:  # fewer features than dimensions: pad with zeros
                coords = np.pad(coords, ((0, 0), (0, self.config.dims - coords.shape[1])))
            return coords.astype(np.float32)
        with _UMAP_LOCK:
            return self.umap_model.transform(reduced).astype(np.float32)


class ProjectionCache:
    """Fitted projections by (reference data, config), in memory and on disk, fitted at most once."""

    def __init__(self, folder: str | Path | None = None):
        self.folder = Path(folder) if folder else None
        self._fitted: dict[str, Projection] = {}
        self._lock = threading.Lock()

    def get(self, key: str, reference: np.ndarray, config: ProjectionConfig) -> Projection:
        """The projection fitted on `reference` (identified by `key`, e.g. a bundle hash) with `config`."""
        name = hashlib.sha256(f"{key}|{sorted(asdict(config).items())}".encode()).hexdigest()[:24]
        with self._lock:
            if name not in self._fitted:
                self._fitted[name] = self._load(name) or self._fit_and_store(name, reference, config)
            return self._fitted[name]

    def _load(self, name: str) -> Projection | None:
        path = self.folder / f"{name}.pkl" if self.folder else None
        if path is None or not path.is_file():
            return None
        try:
            with open(path, "rb") as handle:
                return pickle.load(handle)
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError):
            return None  # a stale or broken cache file is refitted

    def _fit_and_store(self, name: str, reference: np.ndarray, config: ProjectionConfig) -> Projection:
        projection = Projection.fit(reference, config)
        if self.folder:
            self.folder.mkdir(parents=True, exist_ok=True)
            partial = self.folder / f"{name}.pkl.{os.getpid()}"
            with open(partial, "wb") as handle:
                pickle.dump(projection, handle)
            partial.replace(self.folder / f"{name}.pkl")
        return projection


def warm_up_umap() -> None:
    """Pay numba's compilation of UMAP's fit and transform now, not on a user's first request."""
    points = np.random.default_rng(0).standard_normal((300, 8)).astype(np.float32)
    for dims in (2, 3):
        Projection.fit(points, ProjectionConfig(dims=dims, pca_components=8)).transform(points[:50])


def _as_features(points: np.ndarray) -> np.ndarray:
    points = np.asarray(points, dtype=np.float32)
    return points.reshape(len(points), -1)  # [M, F]
