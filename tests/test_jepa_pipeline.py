"""The "jepa" family end to end on a tiny config: latent prediction -> dynamics -> decoder -> bundle -> studio."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from studio.bundle import load_bundle
from studio.cli import main as studio
from studio.runtime import WorldModel
from studio.train.config import load_config
from studio.ui.model_tab import bundle_card

REPO = Path(__file__).resolve().parent.parent
GUARD = ("latent_std", "token_effective_rank", "frame_effective_rank")
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def jepa_run(tmp_path_factory) -> Path:
    """configs/tiny.json as a JEPA model, trained: its run folder."""
    folder = tmp_path_factory.mktemp("tiny-jepa")
    config = json.loads((REPO / "configs" / "tiny.json").read_text())
    config.update(name="tiny-jepa", data_dir=str(folder / "data"), run_dir=str(folder / "run"))
    config["model"].update(family="jepa", predictor_change_gain=30.0)  # stage 2 as configs/breakout-jepa.json's
    config["optim"].update(decoder_steps=10, eval_every=1000, log_every=5, latent_loss_over_change=True)
    config["jepa"] = {"predictor_width": 16, "predictor_blocks": 1, "changed_token_weight": 4.0, "change_floor": 0.1}
    path = folder / "tiny-jepa.json"
    path.write_text(json.dumps(config))
    assert studio(["train", str(path)]) == 0
    return folder / "run"


def log_rows(run: Path) -> list[dict]:
    with open(run / "log.csv") as handle:
        return list(csv.DictReader(handle))


def test_the_encoder_learns_by_latent_prediction_with_the_collapse_guard_logged(jepa_run):
    rows = log_rows(jepa_run)
    stage1 = [r for r in rows if r["stage"] == "jepa"]
    names = {r["name"] for r in stage1}
    assert {"masked_loss", "future_loss", "change_loss", "variance_loss", "covariance_loss", *GUARD} <= names
    # no pixel is drawn before the decoder stage: neither reconstructed nor decoded from a prediction
    assert not {"ae_loss", "pixel_loss", "decoder_loss"} & {r["name"] for r in rows if r["stage"] != "decoder"}
    guard = {name: [float(r["value"]) for r in stage1 if r["name"] == name] for name in GUARD}
    assert all(len(values) == 4 and np.isfinite(values).all() for values in guard.values())  # steps 0, 5, 10, 15
    assert all(v > 0 for v in guard["latent_std"]) and all(v >= 1 for v in guard["token_effective_rank"])
    assert {r["stage"] for r in rows} == {"jepa", "dynamics", "decoder"}


def test_the_exported_jepa_bundle_says_its_family_in_the_manifest_and_on_the_card(jepa_run, tmp_path):
    bundle_dir = tmp_path / "bundle"
    assert studio(["export", str(jepa_run / "checkpoint.pt"), str(bundle_dir)]) == 0
    assert json.loads((bundle_dir / "manifest.json").read_text())["family"] == "jepa"
    assert load_bundle(bundle_dir).manifest.family == "jepa"
    model = WorldModel.load(bundle_dir, device="cpu")
    frames = np.random.default_rng(0).integers(0, 255, (4, 64, 64, 3), dtype=np.uint8)
    latents = model.encode(frames)
    assert latents.shape == (4, model.manifest.latent.tokens, model.manifest.latent.dim)
    assert model.decode(latents).shape == (4, 3, 64, 64)
    assert "**Family:** `jepa`" in bundle_card(model)


@pytest.mark.parametrize(
    ("model", "optim", "message"),
    [
        ({"family": "diffusion"}, {}, "model.family must be one of reconstruction, jepa, not 'diffusion'"),
        ({"family": "jepa"}, {"decoder_steps": 0}, "model.family 'jepa' trains its decoder after the dynamics"),
    ],
)
def test_a_config_of_an_unknown_family_or_a_jepa_model_without_decoder_steps_is_refused(
    tmp_path, capsys, model, optim, message
):
    config = json.loads((REPO / "configs" / "tiny.json").read_text())
    config["model"].update(model)
    config["optim"].update(optim)
    path = tmp_path / "refused.json"
    path.write_text(json.dumps(config))
    assert studio(["train", str(path)]) == 2
    assert message in capsys.readouterr().err


def test_a_jepa_config_that_gave_its_first_stage_autoencoder_steps_still_reads(tmp_path):
    """Before the JEPA stage had `optim.jepa_steps`, it ran `optim.autoencoder_steps`: such configs and
    checkpoints keep their step count."""
    config = json.loads((REPO / "configs" / "breakout-jepa.json").read_text())
    steps = config["optim"]["jepa_steps"]
    config["optim"]["autoencoder_steps"] = config["optim"].pop("jepa_steps")
    path = tmp_path / "older.json"
    path.write_text(json.dumps(config))
    assert load_config(path).optim.jepa_steps == steps
    assert load_config(REPO / "configs" / "breakout-jepa.json").optim.jepa_steps == steps
