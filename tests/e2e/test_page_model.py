"""The page's model steps as the server's does: the shipped bundles' predictor and decoder (and the encoder of a
bundle that re-anchors) run in headless Chromium by play.js on onnxruntime-web, compared with onnxruntime on the
server, step by step and free-running."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from benchmarks.page_model import PAGE_STEPS_JS, PAGE_WITHIN_JS, PageFilesServer, server_steps
from studio.analysis import analyze_clip
from studio.examples import example_clips
from studio.familiarity import nearest_distances
from studio.play import ImaginedGame
from studio.reference import reference_of
from studio.runtime import WorldModel

pytestmark = pytest.mark.slow
EXPORTED = Path(__file__).resolve().parents[2] / "exported"
BUNDLES = [name for name in ("breakout", "breakout-jepa", "coinrun") if (EXPORTED / name).is_dir()]
STEPS = 30
# Measured on the three shipped bundles over 30 steps: the quantised bundles' predicted latents are identical (the
# predictor rounds them to the latent levels), so their free-running rollouts stay identical; the JEPA bundle's
# continuous latents, re-anchored through its decoder and encoder each step, differ by float rounding in three
# graphs (at most 3.3e-5, forced or free-running, on latents whose channels spread about 0.6); a decoded pixel
# differs by at most one level of 255.
LATENT_TOLERANCE = {"quantised": 1e-5, "continuous": 2e-4}
PIXEL_TOLERANCE = 1  # of 255
# the page judges familiarity alike on every frame more than this (relative) from the limit: float32 sums in
# another order
DISTANCE_TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def models() -> dict[str, WorldModel]:
    return {name: WorldModel.load(EXPORTED / name, device="cpu") for name in BUNDLES}


@pytest.fixture(scope="module")
def served(tmp_path_factory, models):
    server = PageFilesServer(tmp_path_factory.mktemp("page") / "root", list(models.values()))
    yield server
    server.close()


@pytest.mark.parametrize("name", BUNDLES)
def test_the_page_steps_the_shipped_bundles_as_the_server_does(page, models, served, name):
    model = models[name]
    latents = analyze_clip(model, example_clips(model)[0], max_frames=8).latents  # [8, N, D]
    game = ImaginedGame.start(model, latents, len(latents) - 1)
    start = served.start(model, game)
    codes = [int(c) for c in np.random.default_rng(0).integers(0, model.codebook_size, STEPS)]
    contexts, want_latents, want_frames = server_steps(model, game, codes)  # [S, N, D], [S, H, W, 3]

    page.goto(served.url)
    got = page.evaluate(
        PAGE_STEPS_JS,
        {"src": served.script, "start": start, "contexts": [c.ravel().tolist() for c in contexts], "codes": codes},
    )
    tolerance = LATENT_TOLERANCE["quantised" if model.manifest.latent.levels else "continuous"]
    for run in ("forced", "free"):
        page_latents = np.asarray(got[run]["latents"], np.float32).reshape(want_latents.shape)
        page_frames = np.asarray(got[run]["frames"], np.int16).reshape(*want_frames.shape[:3], 4)[..., :3]
        assert np.abs(page_latents - want_latents).max() <= tolerance, run
        assert np.abs(page_frames - want_frames).max() <= PIXEL_TOLERANCE, run
    # familiarity, judged alike: each frame's limit put just beyond and just short of its nearest reference latent,
    # the references tried from anywhere
    reference = reference_of(model).latents  # [M, N, D]
    distances = nearest_distances(want_latents, reference)  # [S]
    first = [int(m) for m in np.random.default_rng(1).integers(0, len(reference), STEPS)]
    for side, verdict in ((1 + 10 * DISTANCE_TOLERANCE, True), (1 - 10 * DISTANCE_TOLERANCE, False)):
        limits = (distances * side).tolist()
        args = {"src": served.script, "start": start, "latents": got["free"]["latents"], "limits": limits}
        found = np.asarray(page.evaluate(PAGE_WITHIN_JS, {**args, "first": first})["found"])
        assert ((found >= 0) == verdict).all(), side
    assert want_frames.std() > 0  # real pictures, not a blank screen
