"""The shipped default bundle: it loads, and measured through its ONNX graphs on its example clips, its
recorded figures hold and it beats its baselines."""

from __future__ import annotations

from pathlib import Path

import pytest

from recorded_figures import CODE_FIGURE, PSNR_DB, RANK_RELATIVE, ROLLOUT_SHARE, check_probes
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
    """Within the tolerances measured across threads, BLAS kernels and moved graph outputs (recorded_figures)."""
    recorded = load_bundle(BUNDLE).manifest.metrics["examples"]
    for key in ("reconstruction_psnr_db", "reconstruction_sprite_psnr_db"):
        assert measured[key] == pytest.approx(recorded[key], abs=PSNR_DB), key
    for key in ("next_frame_psnr_db", "decoded_copy_baseline_psnr_db", "delta_t_psnr_db"):
        for horizon, value in recorded[key].items():
            assert measured[key][horizon] == pytest.approx(value, abs=PSNR_DB), f"{key}.{horizon}"
    for key in ("code_action_nmi", "code_action_accuracy", "codebook_perplexity"):
        assert measured[key] == pytest.approx(recorded[key], abs=CODE_FIGURE), key
    assert measured["codes_used"] == recorded["codes_used"]
    rollouts, kept = measured["frame_check"]["rollouts"], recorded["frame_check"]["rollouts"]
    for key in ("pass_rate", "familiar_rate"):
        assert rollouts[key] == pytest.approx(kept[key], abs=ROLLOUT_SHARE), key
    assert measured["latent_effective_rank"] == pytest.approx(recorded["latent_effective_rank"], rel=RANK_RELATIVE)
    check_probes(measured["linear_probe_r2"], recorded["linear_probe_r2"])


def test_the_model_beats_its_baselines_on_the_examples(measured):
    assert measured["codes_used"] >= 3
    # predicting beats copying the start frame where the game moves (the paddle, the ball, the bricks) by a
    # margin; on the whole frame the quantised predictor stays within about a dB of the copy (see the README)
    for horizon in ("t1", "t4"):
        sprite_gain = (
            measured["next_frame_sprite_psnr_db"][horizon] - measured["decoded_copy_baseline_sprite_psnr_db"][horizon]
        )
        assert sprite_gain > 2.0, horizon
        whole_gap = measured["decoded_copy_baseline_psnr_db"][horizon] - measured["next_frame_psnr_db"][horizon]
        assert whole_gap < 1.5, horizon
    assert measured["delta_t_psnr_db"]["t4"] > 1.0  # the inferred codes beat random codes by a margin
    # the codes say something of the true actions: codes independent of them score about 0.02 on 447 transitions
    assert measured["code_action_nmi"] > 0.1


def test_long_rollouts_still_look_like_breakout(measured):
    """1,000 steps of random codes, each held 10 steps, from each example: the frame check (walls, top bar, a
    dark playfield under the bricks, a red paddle) passes on at least 99% of the frames."""
    rollouts = measured["frame_check"]["rollouts"]
    assert rollouts["steps"] == 1000 and rollouts["starts"] == 3
    assert rollouts["pass_rate"] >= 0.99
