"""Projections fit once on reference points and place new points in the same map."""

from __future__ import annotations

import numpy as np
import pytest

from studio.projection import Projection, ProjectionCache, ProjectionConfig, map_file_name


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
    first = ProjectionCache(tmp_path).get("bundle-a", lambda: reference, config)
    reloaded = ProjectionCache(tmp_path).get("bundle-a", lambda: pytest.fail("a saved map is not refitted"), config)
    assert reloaded is not first
    np.testing.assert_allclose(reloaded.transform(reference), first.transform(reference), atol=1e-5)
    cache = ProjectionCache(tmp_path)
    assert cache.get("bundle-a", lambda: reference, config) is cache.get("bundle-a", lambda: reference, config)
    assert len(list(tmp_path.glob("*.npz"))) == 1
    assert ProjectionCache(tmp_path).get("bundle-without-points", lambda: None, config) is None


def test_points_are_placed_where_umap_itself_would_put_them():
    reference, labels = two_blobs(300, seed=3)
    config = ProjectionConfig(method="umap", dims=2, pca_components=8)
    projection = Projection.fit(reference, config)
    import umap

    fresh, _ = two_blobs(60, seed=4)
    reduced = (fresh.reshape(60, -1) - projection.mean) @ projection.components.T
    own = umap.UMAP(n_neighbors=15, random_state=0, n_jobs=1).fit(projection.reference)
    own.embedding_ = projection.coords  # the same map, so both placements can be compared point by point
    theirs = own.transform(reduced)
    ours = projection.transform(fresh)
    extent = np.ptp(projection.coords, axis=0).max()
    assert np.median(np.linalg.norm(ours - theirs, axis=1)) < 0.1 * extent


def test_a_shipped_map_is_used_without_fitting(tmp_path, monkeypatch):
    reference, _ = two_blobs(80, seed=5)
    config = ProjectionConfig(method="umap", dims=2, pca_components=8)
    shipped = tmp_path / "maps"
    shipped.mkdir()
    fitted = Projection.fit(reference, config)
    fitted.save(shipped / map_file_name("bundle-b", config))
    monkeypatch.setattr(Projection, "fit", lambda *a, **k: pytest.fail("a shipped map must not be refitted"))
    cache = ProjectionCache(tmp_path / "cache")
    np.testing.assert_allclose(
        cache.get("bundle-b", lambda: reference, config, shipped=shipped).transform(reference[:5]),
        fitted.transform(reference[:5]),
        atol=1e-5,
    )


def test_a_broken_map_file_is_refitted_and_a_map_refuses_points_of_another_width(tmp_path):
    reference, _ = two_blobs(60, seed=6)
    config = ProjectionConfig(method="umap", dims=2, pca_components=8)
    (tmp_path / map_file_name("bundle-c", config)).write_bytes(b"not a map")
    projection = ProjectionCache(tmp_path).get("bundle-c", lambda: reference, config)
    assert projection.transform(reference).shape == (60, 2)
    with pytest.raises(ValueError, match="24 features, not 12"):
        projection.transform(reference.reshape(60, -1)[:, :12])


def test_bad_configs_are_refused():
    with pytest.raises(ValueError, match="method"):
        ProjectionConfig(method="tsne")
    with pytest.raises(ValueError, match="2 or 3"):
        ProjectionConfig(dims=4)


def test_without_examples_an_overlay_lands_in_the_main_clips_map(tiny_bundle, tmp_path):
    from studio.latent_map import LatentMaps
    from studio.runtime import WorldModel

    model = WorldModel.load(tiny_bundle, device="cpu")
    main, _ = two_blobs(40, seed=7)
    main = main.reshape(40, -1)[:, : model.manifest.latent.tokens * model.manifest.latent.dim]
    main = np.resize(main, (40, model.manifest.latent.tokens, model.manifest.latent.dim)).astype(np.float32)
    maps = LatentMaps(ProjectionCache(tmp_path))
    config = ProjectionConfig(method="umap", dims=2, pca_components=8)
    coords = maps.project(model, main, config, own=main)
    overlay = maps.project(model, main[:10], config, own=main)  # the first frames again, as an overlay
    extent = np.ptp(coords, axis=0).max()
    assert np.median(np.linalg.norm(overlay - coords[:10], axis=1)) < 0.1 * extent
