"""CoinRun through the same training side as Breakout, on a tiny config: data -> train -> export -> evaluate
(movement classes, the player's motion from the frames, code consistency sideways and vertically, the frame
check) -> the bundle's reference from fresh levels."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from studio import figures as F
from studio.behaviour import IN_USE_SHARE
from studio.bundle import load_bundle
from studio.cli import main as studio
from studio.evaluation import evaluate_bundle
from studio.labels import read_labels
from studio.reference import compute_reference, game_name

REPO = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> tuple[Path, Path]:
    """A tiny CoinRun model trained and exported: (bundle folder, held-out shards)."""
    folder = tmp_path_factory.mktemp("tiny-coinrun")
    config = json.loads((REPO / "configs" / "tiny.json").read_text())
    config.update(name="tiny-coinrun", data_dir=str(folder / "data"), run_dir=str(folder / "run"))
    config["data"].update(game="procgen:coinrun", train_episodes=3, heldout_episodes=2, max_episode_steps=80)
    config["model"]["codebook_size"] = 6  # one code per movement class, which weak supervision picks codes by
    config["optim"]["label_target"] = "motion"  # the player's move as the frames show it picks labelled codes
    path = folder / "tiny-coinrun.json"
    path.write_text(json.dumps(config))
    assert studio(["train", str(path)]) == 0
    assert studio(["export", str(folder / "run" / "checkpoint.pt"), str(folder / "bundle")]) == 0
    return folder / "bundle", folder / "data" / "heldout"


def test_the_bundle_names_its_game_and_ships_labelled_examples(bundle):
    bundle_dir, _ = bundle
    manifest = load_bundle(bundle_dir).manifest
    assert manifest.trained_on["source"] == "procgen:coinrun" and game_name(manifest) == "CoinRun"
    assert manifest.trained_on["frame_skip"] == 1
    assert "movement class of the player's move, read off the frames," in manifest.training["action_labels"]
    clips = sorted((bundle_dir / "examples").glob("coinrun_*.mp4"))
    assert clips
    labels = read_labels(clips[0].with_suffix(".csv"))
    assert {"action", "action_name", "movement_class", "movement", "player_dx", "player_dy"} <= set(labels.columns)
    assert labels.is_numeric("player_dx") and labels.is_numeric("movement_class")


def test_heldout_evaluation_judges_the_player_movement(bundle):
    bundle_dir, heldout = bundle
    figures = evaluate_bundle(bundle_dir, heldout)
    assert figures.get(F.FRAME_CHECK_REAL) == 1.0
    for figure in (F.CODE_ACTION_NMI, F.CODE_MOVEMENT_NMI, F.MOTION_NMI_CEILING):
        assert 0.0 <= figures.get(figure) <= 1.0
    assert len(figures.detail(F.CONSISTENCY_PER_CODE)) == 6
    # the game's 512×512 window recorded as an H.264 clip: read as an upload, reconstructed as a CoinRun frame
    assert 10 < figures.get(F.TOLERANCE["screen_recording"]) < 60
    vertical = figures.detail(F.CONSISTENCY_VERTICAL_PER_CODE)
    assert {c["direction"] for c in vertical.values()} <= {"down", "none", "up"}
    jumps = sum(c["direction"] == "up" and c["usage"] >= IN_USE_SHARE for c in vertical.values())
    assert (figures.get(F.CONSISTENCY_UP) is None) == (jumps == 0)  # absent where no code in use jumps
    assert figures.detail(F.TOLERANCE_FRAMES) > 0  # on the 64×64 native frames
    examples = evaluate_bundle(bundle_dir)  # the example clips: the motion read off their frames
    assert np.isfinite(examples.get(F.MOTION_NMI_CEILING))


def test_weak_supervision_by_action_is_refused_when_the_actions_outnumber_the_codes(tmp_path, capsys):
    config = json.loads((REPO / "configs" / "coinrun.json").read_text())
    config["optim"]["label_target"] = "action"
    path = tmp_path / "coinrun.json"
    path.write_text(json.dumps(config))
    assert studio(["train", str(path)]) == 2
    error = capsys.readouterr().err
    assert "15 action labels" in error and "codebook_size is 8" in error


def test_the_reference_is_computed_from_fresh_levels(bundle):
    bundle_dir, _ = bundle
    _, reference, measured_on = compute_reference(bundle_dir, episodes=2)
    assert reference.native_size == (64, 64) and reference.native.transitions_per_second == 15.0
    assert "procgen:coinrun" in measured_on["source"]
