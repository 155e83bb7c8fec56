"""The Compare tab's computation: two bundles on one clip, one bundle on two clips, and what each side vouches for."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

import tiny_world_model
from clips import moving_square_frames
from studio import figures as F
from studio.analysis import analyze_clip
from studio.compare import (
    PROBE_CSV_HEADER,
    CompareError,
    Side,
    clip_columns,
    compare,
    rollout_picture,
    save_probe_csv,
    save_summary_json,
)
from studio.examples import example_clips, example_labels
from studio.labels import parse_labels
from studio.latent_map import LatentMaps
from studio.metrics import effective_rank
from studio.projection import ProjectionCache, ProjectionConfig
from studio.runtime import WorldModel
from studio.video import write_mp4

FRAMES = 40
PCA = ProjectionConfig(method="pca", dims=2)  # the tiny bundles ship no map: PCA fits in no time
SHIPPED = Path(__file__).resolve().parents[1] / "exported" / "breakout"


def test_effective_rank_counts_the_directions_the_latents_spread_over():
    rng = np.random.default_rng(0)
    spread = rng.normal(size=(400, 30))  # [T, F]: every direction alike
    assert 25 < effective_rank(spread) <= 30
    flat = rng.normal(size=(400, 3)) @ rng.normal(size=(3, 30))  # three directions
    assert 1.5 < effective_rank(flat) <= 3.0
    assert effective_rank(np.ones((50, 4, 8))) == 1.0  # [T, N, D] all alike: collapsed
    singular = np.linalg.svd(spread - spread.mean(axis=0), compute_uv=False)
    p = singular / singular.sum()
    assert effective_rank(spread) == pytest.approx(np.exp(-(p * np.log(p)).sum()))


@pytest.fixture(scope="module")
def tiny_pair(tmp_path_factory, tiny_bundle) -> dict[str, WorldModel]:
    """The tiny bundle and another of different weights: two latent spaces of one game."""
    other = tmp_path_factory.mktemp("other") / "tiny_b"
    tiny_world_model.export_tiny_bundle(other, tiny_world_model.build_model(1))
    return {"tiny": WorldModel.load(tiny_bundle, device="cpu"), "tiny_b": WorldModel.load(other, device="cpu")}


@pytest.fixture(scope="module")
def square(tmp_path_factory) -> Path:
    return write_mp4(moving_square_frames(FRAMES, 48, 64), tmp_path_factory.mktemp("clips") / "square.mp4", fps=12)


def square_labels(frames: int = FRAMES):
    """The square's position (which a linear probe reads off any latents that see it), a side, a constant."""
    rows = "".join(f"{t},{t * 2.5},{'left' if t < frames // 2 else 'right'},3\n" for t in range(frames))
    return parse_labels("frame,x,side,lives\n" + rows)


def test_two_bundles_on_one_clip_side_by_side(tiny_pair, square, tmp_path):
    labels = square_labels()
    sides = [Side(name, model, square, analyze_clip(model, square), labels) for name, model in tiny_pair.items()]
    comparison = compare(*sides, LatentMaps(ProjectionCache(None)), start=10, steps=4, map_config=PCA)

    for figures in comparison.sides:
        assert figures.coords.shape == (FRAMES, 2) and figures.cloud is None  # no reference frames to draw
        assert figures.rollout.start == 10 and figures.rollout.predicted.shape[:2] == (1, 4)
        assert figures.usage.sum() == pytest.approx(1.0) and len(figures.usage) == tiny_world_model.K
        assert 1.0 <= figures.effective_rank <= FRAMES
        assert not figures.familiarity.vouched and "cannot vouch" in figures.familiarity.sentence  # no reference
        assert figures.consistency is None  # the tiny bundles were never evaluated
    # the two latent spaces differ, and the same clip is read by both
    a, b = comparison.sides
    assert a.effective_rank != b.effective_rank
    assert {row.column for row in comparison.probes} == {"x", "side"}  # 'lives' is constant: not probed
    x = next(row for row in comparison.probes if row.column == "x")
    for score, baseline, removed in zip(x.scores, x.baselines, x.errors_removed):  # as the Probe tab ranks them
        assert x.metric == "R²" and removed == pytest.approx((score - baseline) / (1 - baseline))
    assert x.difference == pytest.approx(x.errors_removed[1] - x.errors_removed[0])

    picture = rollout_picture(comparison)  # one shared truth row, then A's and B's: each frame and 4 steps
    assert picture.ndim == 3 and picture.shape[1] >= 5 * 16 and picture.dtype == np.uint8

    rows = list(csv.reader(save_probe_csv(comparison, tmp_path / "probes.csv").open()))
    assert rows[0] == PROBE_CSV_HEADER and len(rows) == 3
    summary = json.loads(save_summary_json(comparison, tmp_path / "summary.json").read_text())
    assert summary["A"]["bundle"] == "tiny" and summary["B"]["bundle"] == "tiny_b"
    assert summary["A"][F.EFFECTIVE_RANK.key] == round(a.effective_rank, 2) and summary["B"]["vouched"] is False


def test_bad_comparisons_are_refused_with_a_sentence(tiny_pair, square):
    model = tiny_pair["tiny"]
    analysis = analyze_clip(model, square)
    side = Side("tiny", model, square, analysis)
    maps = LatentMaps(ProjectionCache(None))
    with pytest.raises(CompareError, match="nothing to compare"):
        compare(side, side, maps, start=0, map_config=PCA)
    with pytest.raises(CompareError, match=r"run to frame 99, past the clip.s last frame, 39 \(frames count from 0\)"):
        clip_columns(square_labels(100), analysis)  # a labels CSV longer than the clip
    with pytest.raises(CompareError, match="no row for frame 30"):
        clip_columns(square_labels(30), analysis)  # shorter
    other = Side("tiny_b", tiny_pair["tiny_b"], square, analyze_clip(tiny_pair["tiny_b"], square), square_labels(30))
    with pytest.raises(CompareError, match="no row for frame 30"):
        compare(side, other, maps, start=0, map_config=PCA)


def test_one_shipped_bundle_on_two_of_its_examples():
    """The shipped bundle judges both clips familiar, reports its consistency with the set it was measured on, and
    its latents carry the paddle's position (RAM byte 72) linearly on both clips."""
    model = WorldModel.load(SHIPPED, device="cpu")
    clips = example_clips(model)[:2]
    sides = [
        Side("breakout", model, clip, analyze_clip(model, clip), example_labels(model, clip.name)) for clip in clips
    ]
    comparison = compare(*sides, LatentMaps(ProjectionCache(None)), start=40, steps=3)
    for figures in comparison.sides:
        assert figures.familiarity.vouched and "familiar to breakout" in figures.familiarity.sentence
        assert figures.consistency is not None and "held-out episodes" in figures.consistency.measured_on
        assert figures.cloud is not None and figures.coords.shape[1] == 2
        assert figures.reconstruction_psnr_db > 35 and 2 < figures.effective_rank < figures.latent_size
    paddle = next(row for row in comparison.probes if row.column == "ram_72")
    assert min(paddle.errors_removed) > 0.5
    assert rollout_picture(comparison).shape[0] > 4 * 128  # two truth rows, two model rows
