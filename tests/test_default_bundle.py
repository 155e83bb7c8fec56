"""The shipped default bundle: it loads, and measured through its ONNX graphs on its example clips, its
recorded figures hold and it beats its baselines."""

from __future__ import annotations

from pathlib import Path

import pytest

from studio.bundle import load_bundle
from studio.evaluation import evaluate_bundle

BUNDLE = Path(__file__).resolve().parent.parent / "exported" / "breakout"

pytestmark = pytest.mark.skipif(not BUNDLE.is_dir(), reason="no default bundle shipped")


def test_default_bundle_loads_and_ships_three_small_examples():
    bundle = load_bundle(BUNDLE)
    clips = sorted((BUNDLE / "examples").glob("*.mp4"))
    assert len(clips) == 3
    assert all(clip.with_suffix(".csv").is_file() for clip in clips)
    assert sum(p.stat().st_size for p in (BUNDLE / "examples").iterdir()) < 3 * 2**20
    assert sum(p.stat().st_size for p in bundle.graph_paths.values()) < 20 * 2**20
    assert {"heldout", "examples"} <= set(bundle.manifest.metrics)


@pytest.fixture(scope="module")
def measured() -> dict:
    """The bundle's figures, measured now through its graphs on its example clips (~10 s on 2 cores)."""
    return evaluate_bundle(BUNDLE)


def test_recorded_figures_hold_on_the_example_clips(measured):
    recorded = load_bundle(BUNDLE).manifest.metrics["examples"]
    for key in ("reconstruction_psnr_db", "reconstruction_sprite_psnr_db"):
        assert measured[key] == pytest.approx(recorded[key], abs=0.05), key
    for key in ("next_frame_psnr_db", "decoded_copy_baseline_psnr_db", "delta_t_psnr_db"):
        for horizon, value in recorded[key].items():
            assert measured[key][horizon] == pytest.approx(value, abs=0.05), f"{key}.{horizon}"
    for key in ("code_action_nmi", "code_action_accuracy", "codebook_perplexity"):
        assert measured[key] == pytest.approx(recorded[key], abs=1e-3), key
    assert measured["codes_used"] == recorded["codes_used"]


def test_the_model_beats_its_baselines_on_the_examples(measured):
    assert measured["codes_used"] >= 3
    for horizon in ("t1", "t4"):  # predicting beats copying the start frame
        assert measured["next_frame_psnr_db"][horizon] > measured["decoded_copy_baseline_psnr_db"][horizon], horizon
        assert (
            measured["next_frame_sprite_psnr_db"][horizon] > measured["decoded_copy_baseline_sprite_psnr_db"][horizon]
        ), horizon
    assert measured["delta_t_psnr_db"]["t4"] > 1.0  # the inferred codes beat random codes by a margin
    # the codes say something of the true actions: codes independent of them score about 0.02 on 447 transitions
    assert measured["code_action_nmi"] > 0.1
