"""Familiarity scores, their calibration, the stride rule, and a bundle's reference written and read back."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from studio.bundle import BundleError, NativeSpec, load_bundle
from studio.familiarity import (
    Calibration,
    calibrate,
    familiarity,
    first_unfamiliar_step,
    nearest_distances,
    reference_within,
    verdict,
)
from studio.reference import build_reference, load_reference, stride_for, write_reference
from studio.runtime import WorldModel


def test_nearest_distances_match_a_brute_force_search():
    rng = np.random.default_rng(0)
    latents, reference = rng.normal(size=(700, 4, 3)), rng.normal(size=(50, 4, 3))
    brute = np.linalg.norm(latents.reshape(700, 1, 12) - reference.reshape(1, 50, 12), axis=2).min(axis=1)
    np.testing.assert_allclose(nearest_distances(latents, reference), brute, rtol=1e-4, atol=1e-4)


def test_a_reference_within_the_limit_is_found_from_where_the_last_frame_was_and_agrees_with_the_score():
    rng = np.random.default_rng(1)
    reference = rng.normal(size=(40, 4, 3)).astype(np.float32)  # [M, N, D]
    calibration = calibrate(np.linspace(1.0, 2.0, 11), np.full(11, 40.0))
    for latents in [*(reference[::7] + 0.1), *rng.normal(scale=1.5, size=(60, 4, 3)).astype(np.float32)]:
        familiar = familiarity(nearest_distances(latents[None], reference), calibration)[0] >= 0
        for first in (0, 13, 39):
            found = reference_within(latents, reference, calibration.limit, first)
            assert (found >= 0) == familiar
            if familiar:
                assert np.linalg.norm(reference[found] - latents) <= calibration.limit
    near_first = reference[13] + 0.01
    assert reference_within(near_first, reference, calibration.limit, 13) == 13  # the last one found is tried first


def test_scores_are_one_at_the_heldout_median_and_zero_at_the_limit():
    calibration = calibrate(np.linspace(1.0, 3.0, 101), np.full(101, 40.0))
    limit = calibration.limit
    scores = familiarity(np.array([calibration.distance_median, limit, 2 * limit]), calibration)
    np.testing.assert_allclose(scores[:2], [1.0, 0.0], atol=1e-6)
    assert scores[2] < 0


def test_the_verdict_follows_most_frames_and_says_what_is_wrong():
    calibration = Calibration(1.0, 2.0, [44.0, 49.0, 51.0], frames=100)
    familiar = verdict(np.array([0.9, 0.8, -0.1]))
    assert familiar.familiar and familiar.message("Breakout", calibration) == ""
    strange = verdict(np.array([-0.5, -0.4, 0.1]), np.array([7.8, 7.9]))
    assert not strange.familiar
    message = strange.message("Breakout", calibration)
    assert "unlike the Breakout frames" in message and "7.8 dB" in message and "44–51 dB" in message


def test_a_clip_the_model_cannot_draw_is_unfamiliar_however_near_its_latents():
    calibration = Calibration(1.0, 2.0, [19.7, 20.7, 21.3], frames=40)
    near = np.array([0.9, 0.8, 0.7])
    undrawn = verdict(near, np.array([8.6]), calibration)
    assert not undrawn.familiar and "cannot draw it" in undrawn.message("sprites", calibration)
    assert verdict(near, np.array([12.0]), calibration).familiar  # drawn less well than held out, still drawn
    assert verdict(near, np.array([8.6])).familiar  # without a calibration, the latents alone judge


def test_a_rollout_says_where_it_left_familiar_ground():
    assert first_unfamiliar_step(np.array([0.9, 0.5, 0.1, -0.2, 0.3])) == 3
    assert first_unfamiliar_step(np.array([0.9, 0.5])) is None


@pytest.mark.parametrize(
    "fps, stride", [(60, 4), (59.94, 4), (30, 2), (29.97, 2), (15, 1), (25, 2), (50, 3), (120, 8), (10, 1), (0, 1)]
)
def test_the_stride_matches_the_rate_the_model_learnt(fps, stride):
    assert stride_for(fps, 15.0) == stride


@pytest.fixture
def bundle(tiny_bundle, tmp_path):
    copy = tmp_path / "bundle"
    shutil.copytree(tiny_bundle, copy)
    return copy


def tiny_episodes(count: int = 4) -> list[np.ndarray]:
    """Episodes of a 'game' at a native 42×32: a bright square moving on a grey field."""
    rng = np.random.default_rng(1)
    episodes = []
    for _ in range(count):
        frames = np.full((30, 42, 32, 3), 90, np.uint8)
        for t in range(30):
            y, x = rng.integers(0, 36), rng.integers(0, 26)
            frames[t, y : y + 6, x : x + 6] = 230
        episodes.append(frames)
    return episodes


def test_a_reference_is_written_and_read_back_without_touching_the_graphs(bundle):
    model = WorldModel.load(bundle, device="cpu")
    assert model.manifest.reference is None and load_reference(model) is None  # optional: loads without it
    graphs_before = json.loads((bundle / "manifest.json").read_text())["graphs"]
    reference, measured_on = build_reference(model, tiny_episodes(), NativeSpec(42, 32, 60.0, 4))
    write_reference(bundle, reference, measured_on)
    assert json.loads((bundle / "manifest.json").read_text())["graphs"] == graphs_before
    model = WorldModel.load(load_bundle(bundle), device="cpu")
    loaded = load_reference(model)
    assert loaded.image.shape == (42, 32, 3) and loaded.native.transitions_per_second == 15.0
    assert loaded.stride_for(60) == 4
    np.testing.assert_allclose(loaded.latents, reference.latents, atol=1e-2)  # stored as float16
    assert loaded.calibration.distance_median <= loaded.calibration.distance_q99 < loaded.calibration.limit


def test_a_changed_reference_file_is_refused(bundle):
    model = WorldModel.load(bundle, device="cpu")
    write_reference(bundle, *build_reference(model, tiny_episodes(), NativeSpec(42, 32, 60.0, 4)))
    with open(bundle / "reference.npz", "ab") as handle:
        handle.write(b"\0")
    with pytest.raises(BundleError, match="reference.npz: sha256 mismatch"):
        load_reference(WorldModel.load(bundle, device="cpu"))
