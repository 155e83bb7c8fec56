"""Projections fit once on reference points and place new points in the same map."""

from __future__ import annotations

import numpy as np
import pytest

from studio.projection import Projection, ProjectionCache, ProjectionConfig


def two_blobs(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, count)
    points = rng.standard_normal((count, 4, 6)) * 0.3 + labels[:, None, None] * 3.0  # [M, 4, 6]
    return points.astype(np.float32), labels


@pytest.mark.parametrize("method", ["pca", "umap"])
@pytest.mark.parametrize("dims", [2, 3])
def test_new_points_land_beside_their_kind(method, dims):
    reference, labels = two_blobs(200, seed=0)
    projection = Projection.fit(reference, ProjectionConfig(method=method, dims=dims, pca_components=8))
    fresh, fresh_labels = two_blobs(40, seed=1)
    coords = projection.transform(fresh)
    assert coords.shape == (40, dims) and np.isfinite(coords).all()
    centres = [projection.transform(reference[labels == k]).mean(axis=0) for k in (0, 1)]
    nearest = np.argmin([np.linalg.norm(coords - c, axis=1) for c in centres], axis=0)
    assert (nearest == fresh_labels).mean() > 0.95


def test_cache_fits_once_and_reloads_from_disk(tmp_path):
    reference, _ = two_blobs(60, seed=2)
    config = ProjectionConfig(method="pca", dims=2)
    first = ProjectionCache(tmp_path).get("bundle-a", reference, config)
    assert ProjectionCache(tmp_path).get("bundle-a", reference, config) is not first  # loaded from disk
    np.testing.assert_allclose(
        ProjectionCache(tmp_path).get("bundle-a", reference, config).transform(reference),
        first.transform(reference),
        atol=1e-5,
    )
    cache = ProjectionCache(tmp_path)
    assert cache.get("bundle-a", reference, config) is cache.get("bundle-a", reference, config)
    assert len(list(tmp_path.glob("*.pkl"))) == 1


def test_bad_configs_are_refused():
    with pytest.raises(ValueError, match="method"):
        ProjectionConfig(method="tsne")
    with pytest.raises(ValueError, match="2 or 3"):
        ProjectionConfig(dims=4)
