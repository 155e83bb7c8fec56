"""Low-dimensional maps of latents and action vectors: UMAP or PCA, fitted once, then reused.

A map is fitted on a bundle's reference points (its example clips' latents) and every clip is then
*transformed* into it, so clips land in one shared map and can be compared. Latent frames are wide
(N*D features), so they are first reduced by PCA; UMAP runs on those components.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

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
    seed: int = 0

    def __post_init__(self):
        if self.method not in METHODS:
            raise ValueError(f"projection method must be one of {METHODS}, got {self.method!r}")
        if self.dims not in (2, 3):
            raise ValueError(f"a projection has 2 or 3 dimensions, got {self.dims}")


class Projection:
    """A fitted map from [M, F] points to [M, dims] coordinates, held as plain arrays.

    PCA first (mean [F], components [keep, F]); for UMAP, also the reference points' components [M, keep]
    and their map coordinates [M, dims]. New points are placed the way UMAP starts its own transform: at the
    mean of their k nearest reference points' coordinates, weighted by UMAP's fuzzy membership. UMAP then
    refines that start with a few layout steps; those need numba's compiled code and cost seconds per clip
    (umap-learn's own transform of 1,800 points: 4.4 s in benchmarks/RESULTS.md), so the studio places points
    without them: no compilation, and the placement of a point never depends on the other points of its clip.
    """

    def __init__(
        self,
        config: ProjectionConfig,
        mean: np.ndarray,
        components: np.ndarray,
        reference: np.ndarray | None = None,
        coords: np.ndarray | None = None,
    ):
        self.config = config
        self.mean, self.components = mean, components  # [F], [keep, F]
        self.reference, self.coords = reference, coords  # [M, keep], [M, dims] (UMAP only)

    @classmethod
    def fit(cls, points: np.ndarray, config: ProjectionConfig = ProjectionConfig()) -> Projection:
        points = _as_features(points)  # [M, F]
        if len(points) < 3:
            raise ValueError("a projection needs at least 3 points")
        keep = config.dims if config.method == "pca" else config.pca_components
        keep = max(1, min(keep, *points.shape))
        from sklearn.decomposition import PCA  # deferred: importing scikit-learn would lengthen the studio's start

        pca = PCA(n_components=keep, random_state=config.seed).fit(points)
        mean, components = pca.mean_.astype(np.float32), pca.components_.astype(np.float32)
        if config.method == "pca":
            return cls(config, mean, components)
        import umap  # deferred: importing umap pulls numba, which the PCA path does not need

        reduced = (points - mean) @ components.T  # [M, keep]
        with _UMAP_LOCK:
            coords = umap.UMAP(
                n_components=config.dims,
                n_neighbors=min(config.neighbors, len(points) - 1),
                min_dist=config.min_dist,
                random_state=config.seed,
                n_jobs=1,  # seeded UMAP is single-threaded anyway; saying so silences its warning
            ).fit_transform(reduced)  # [M, dims]
        return cls(config, mean, components, reduced.astype(np.float32), coords.astype(np.float32))

    def transform(self, points: np.ndarray) -> np.ndarray:
        """[T, ...] points -> [T, dims] coordinates in this map."""
        points = _as_features(points)  # [T, F]
        if points.shape[1] != self.features:
            raise ValueError(f"this map places points of {self.features} features, not {points.shape[1]}")
        # in parts of ~2,048 points: a centred copy of a 10-minute clip's latents alone would be 150 MB
        parts = np.array_split(np.arange(len(points)), max(1, len(points) // 2048))
        reduced = [(points[part] - self.mean) @ self.components.T for part in parts]  # [t, keep] each
        if self.coords is None:
            reduced = np.concatenate(reduced)  # [T, keep]
            if reduced.shape[1] < self.config.dims:  # fewer features than dimensions: pad with zeros
                reduced = np.pad(reduced, ((0, 0), (0, self.config.dims - reduced.shape[1])))
            return reduced.astype(np.float32)
        return np.concatenate([self._place(part) for part in reduced])

    def _place(self, reduced: np.ndarray) -> np.ndarray:  # [T, keep] -> [T, dims]
        k = min(self.config.neighbors, len(self.reference))
        squared = (
            (reduced**2).sum(1, keepdims=True) - 2 * reduced @ self.reference.T + (self.reference**2).sum(1)
        )  # [T, M]
        nearest = np.argpartition(squared, k - 1, axis=1)[:, :k]  # [T, k]
        distance = np.sqrt(np.maximum(np.take_along_axis(squared, nearest, axis=1), 0.0))  # [T, k]
        weights = fuzzy_membership(distance)  # [T, k]
        weights /= weights.sum(axis=1, keepdims=True)
        return np.einsum("tk,tkd->td", weights, self.coords[nearest]).astype(np.float32)

    def save(self, path: str | Path) -> None:
        arrays = {"mean": self.mean, "components": self.components}
        if self.coords is not None:
            arrays.update(reference=self.reference, coords=self.coords)
        partial = Path(f"{path}.{os.getpid()}.npz")
        np.savez(partial, **arrays)
        partial.replace(path)

    @classmethod
    def load(cls, path: str | Path, config: ProjectionConfig) -> Projection | None:
        """A saved map, or None when the file is missing, unreadable or not a map made with `config`."""
        try:
            with np.load(path, allow_pickle=False) as saved:
                arrays = {name: saved[name].astype(np.float32) for name in saved.files}
        except (OSError, ValueError, KeyError, EOFError):
            return None
        mean, components = arrays.get("mean"), arrays.get("components")
        if mean is None or components is None or mean.ndim != 1 or components.shape[1:] != mean.shape:
            return None
        reference, coords = arrays.get("reference"), arrays.get("coords")
        if config.method == "pca":
            return cls(config, mean, components) if len(components) <= config.dims else None
        if reference is None or coords is None or reference.shape != (len(coords), len(components)):
            return None
        if coords.shape[1] != config.dims or not np.isfinite(coords).all():
            return None
        return cls(config, mean, components, reference, coords)

    @property
    def features(self) -> int:
        return len(self.mean)


def fuzzy_membership(distance: np.ndarray, iterations: int = 48) -> np.ndarray:
    """UMAP's smooth k-NN weights: distances [T, k] -> exp(-(d - rho) / sigma), sigma set per row so that
    the weights sum to log2(k) (rho: the nearest distance), found by bisection as umap-learn does."""
    rho = distance.min(axis=1, keepdims=True)  # [T, 1]
    excess = distance - rho  # [T, k]
    target = np.log2(distance.shape[1])
    low, high = np.zeros_like(rho), np.full_like(rho, np.inf)
    sigma = np.ones_like(rho)
    for _ in range(iterations):
        total = np.exp(-excess / sigma).sum(axis=1, keepdims=True)
        too_wide = total > target
        high = np.where(too_wide, sigma, high)
        low = np.where(too_wide, low, sigma)
        sigma = np.where(np.isinf(high), sigma * 2, (low + high) / 2)
    return np.exp(-excess / np.maximum(sigma, 1e-12))


class ProjectionCache:
    """Fitted projections by (reference data, config), in memory and on disk, fitted at most once.

    A bundle may ship its maps (`studio maps BUNDLE` writes them into the bundle's `maps/` folder); they are
    read first, so a fresh machine draws the bundle's map without fitting anything."""

    def __init__(self, folder: str | Path | None = None):
        self.folder = Path(folder) if folder else None
        self._fitted: dict[str, Projection] = {}
        self._lock = threading.Lock()

    def get(
        self, key: str, points: Callable[[], np.ndarray | None], config: ProjectionConfig, shipped: Path | None = None
    ) -> Projection | None:
        """The projection fitted with `config` on the reference points `key` names (e.g. a bundle's hash):
        shipped, saved or fitted now. `points()` [M, ...] is called only to fit; None when it has none."""
        name = map_file_name(key, config)
        with self._lock:
            if name not in self._fitted:
                candidates = [folder / name for folder in (shipped, self.folder) if folder]
                loaded = next((p for p in (Projection.load(path, config) for path in candidates) if p), None)
                if loaded is None:
                    reference = points()
                    if reference is None:
                        return None
                    loaded = self._fit_and_store(name, reference, config)
                self._fitted[name] = loaded
            return self._fitted[name]

    def _fit_and_store(self, name: str, reference: np.ndarray, config: ProjectionConfig) -> Projection:
        projection = Projection.fit(reference, config)
        if self.folder:
            self.folder.mkdir(parents=True, exist_ok=True)
            projection.save(self.folder / name)
        return projection


def map_file_name(key: str, config: ProjectionConfig) -> str:
    """The file a map fitted on the reference `key` with `config` is saved as."""
    return hashlib.sha256(f"{key}|{sorted(asdict(config).items())}".encode()).hexdigest()[:24] + ".npz"


def warm_up_umap() -> None:
    """Pay numba's compilation of UMAP's fit now, not when a bundle without examples meets its first clip."""
    points = np.random.default_rng(0).standard_normal((300, 8)).astype(np.float32)
    for dims in (2, 3):
        Projection.fit(points, ProjectionConfig(dims=dims, pca_components=8))


def _as_features(points: np.ndarray) -> np.ndarray:
    points = np.asarray(points, dtype=np.float32)
    return points.reshape(len(points), -1)  # [M, F]
