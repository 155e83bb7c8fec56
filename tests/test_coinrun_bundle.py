"""The shipped CoinRun bundle: it loads with labelled examples, its recorded figures hold when measured again
through its graphs on those examples, and the two shipped bundles tell each other's game apart."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from recorded_figures import RECORDED, assert_recorded_figures_hold
from studio import figures as F
from studio.bundle import load_bundle
from studio.cli import main
from studio.evaluation import evaluate_bundle
from studio.figures import FigureSet
from studio.labels import read_labels

EXPORTED = Path(__file__).resolve().parent.parent / "exported"
COINRUN, BREAKOUT = EXPORTED / "coinrun", EXPORTED / "breakout"

pytestmark = pytest.mark.skipif(not COINRUN.is_dir(), reason="no CoinRun bundle shipped")


def test_the_bundle_loads_and_ships_small_labelled_examples():
    bundle = load_bundle(COINRUN)
    clips = sorted((COINRUN / "examples").glob("*.mp4"))
    assert len(clips) == 3
    for clip in clips:
        labels = read_labels(clip.with_suffix(".csv"))
        assert {"action", "action_name", "movement_class", "movement"} <= set(labels.columns)
    assert sum(p.stat().st_size for p in (COINRUN / "examples").iterdir()) < 3 * 2**20
    assert sum(p.stat().st_size for p in bundle.graph_paths.values()) < 20 * 2**20
    assert {"heldout", "examples"} <= set(bundle.manifest.metrics)
    assert "movement class" in bundle.manifest.training["action_labels"]  # weak supervision, said so


@pytest.fixture(scope="module")
def measured() -> FigureSet:
    """The bundle's figures, measured now through its graphs on its example clips."""
    return evaluate_bundle(COINRUN)


def test_recorded_figures_hold_on_the_example_clips(measured):
    recorded = FigureSet.from_manifest(load_bundle(COINRUN).manifest.metrics["examples"])
    assert_recorded_figures_hold(measured, recorded, [*RECORDED, F.CODE_MOVEMENT_NMI])


def analyze(clip: Path, bundle: Path, tmp_path: Path) -> dict:
    out = tmp_path / f"{clip.stem}-{bundle.name}.npz"
    assert main(["analyze", str(clip), "--bundle", str(bundle), "--out", str(out), "--device", "cpu"]) == 0
    with np.load(out) as result:
        return {key: result[key] for key in result.files}


@pytest.mark.skipif(not BREAKOUT.is_dir(), reason="no Breakout bundle shipped")
def test_a_coinrun_clip_is_familiar_to_its_bundle_and_unfamiliar_to_breakouts(tmp_path):
    coinrun_clip = sorted((COINRUN / "examples").glob("*.mp4"))[0]
    assert bool(analyze(coinrun_clip, COINRUN, tmp_path)["familiar"])
    assert not bool(analyze(coinrun_clip, BREAKOUT, tmp_path)["familiar"])


@pytest.mark.skipif(not BREAKOUT.is_dir(), reason="no Breakout bundle shipped")
def test_a_breakout_clip_is_unfamiliar_to_the_coinrun_bundle(tmp_path):
    breakout_clip = sorted((BREAKOUT / "examples").glob("*.mp4"))[0]
    assert not bool(analyze(breakout_clip, COINRUN, tmp_path)["familiar"])


def test_coinrun_clips_are_read_whole_as_the_game_has_no_fixed_layout_to_find(tmp_path):
    """The third example once matched a piece of itself better than the whole (crop 27,-12,188,137: 18 dB)."""
    assert load_bundle(COINRUN).manifest.reference.screen_match < 0.8
    result = analyze(COINRUN / "examples" / "coinrun_3.mp4", COINRUN, tmp_path)
    assert result["crop"].tolist() == [0, 0, 256, 256]
    assert float(result["psnr"].mean()) > 25
