"""The shipped default bundle: it loads, and measured through its ONNX graphs on its example clips, its
recorded figures hold and it beats its baselines."""

from __future__ import annotations

from pathlib import Path

import pytest

from recorded_figures import RECORDED, assert_recorded_figures_hold, probes_of
from studio import figures as F
from studio.bundle import load_bundle
from studio.evaluation import evaluate_bundle
from studio.figures import FigureSet

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
def measured() -> FigureSet:
    """The bundle's figures, measured now through its graphs on its example clips (~10 s on 2 cores)."""
    return evaluate_bundle(BUNDLE)


def test_recorded_figures_hold_on_the_example_clips(measured):
    recorded = FigureSet.from_manifest(load_bundle(BUNDLE).manifest.metrics["examples"])
    figures = [*RECORDED, F.CODE_ACTION_ACCURACY, F.CODES_USED, F.EFFECTIVE_RANK, *probes_of(recorded)]
    assert_recorded_figures_hold(measured, recorded, figures)
    assert_recorded_figures_hold(measured, recorded, [F.LATENT_ERROR_VS_COPY.at(t) for t in range(1, 5)])


def test_the_model_beats_its_baselines_on_the_examples(measured):
    assert measured.get(F.CODES_USED) >= 3
    # predicting beats copying the start frame where the game moves (the paddle, the ball, the bricks) by a
    # margin; on the whole frame the quantised predictor stays within about a dB of the copy (see the README)
    for t in F.PREDICTION_STEPS:
        sprite_gain = measured.get(F.NEXT_FRAME_SPRITE_PSNR.at(t)) - measured.get(F.COPY_BASELINE_SPRITE_PSNR.at(t))
        assert sprite_gain > 2.0, t
        whole_gap = measured.get(F.COPY_BASELINE_PSNR.at(t)) - measured.get(F.NEXT_FRAME_PSNR.at(t))
        assert whole_gap < 1.5, t
    assert measured.get(F.DELTA_T_PSNR.at(4)) > 1.0  # the inferred codes beat random codes by a margin
    # the codes say something of the true actions: codes independent of them score about 0.02 on 447 transitions
    assert measured.get(F.CODE_ACTION_NMI) > 0.1


def test_long_rollouts_keep_the_games_sprites(measured):
    """1,000 steps of random codes, each held 10 steps, from each example, judged by Breakout's sprite checks
    (studio/games/breakout.py) against each example's own background. The bar issue 29 sets (a live ball in
    0.7x real play's share, the paddle drawn in 99% of frames, at most 2% smeared) is not this bundle's: it
    draws a live ball in about a fifth of real play's share and the paddle in about a quarter of the frames
    (README, "The shipped bundle"). These floors keep any bundle shipped as the default from doing worse."""
    assert measured.detail(f"{F.ROLLOUT_CHECKS}.steps") == 1000 and measured.detail(f"{F.ROLLOUT_CHECKS}.starts") == 3
    real = measured.get(F.LIVE_BALL_REAL)
    assert real > 0.5  # the examples themselves show a live ball in most transitions
    assert measured.get(F.LIVE_BALL_ROLLOUTS) >= 0.15 * real
    assert measured.get(F.PADDLE_DRAWN_ROLLOUTS) >= 0.2
    assert measured.get(F.FIELD_SMEARED_ROLLOUTS) <= 0.06
    assert measured.get(F.FRAME_CHECK_ROLLOUTS) >= 0.99  # walls, top bar, dark playfield, a red paddle
