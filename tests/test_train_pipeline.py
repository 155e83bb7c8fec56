"""The training side end to end on a tiny config: data -> train -> export -> studio runtime -> evaluate."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from studio import figures as F
from studio.bundle import load_bundle
from studio.cli import main as studio
from studio.evaluation import evaluate_bundle
from studio.figures import FigureSet
from studio.runtime import WorldModel
from studio.train.config import TrainConfig, from_record, load_config
from studio.train.world_model import TrainableWorldModel

REPO = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tiny_config(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("tiny-run")
    config = json.loads((REPO / "configs" / "tiny.json").read_text())
    config.update(data_dir=str(folder / "data"), run_dir=str(folder / "run"))
    path = folder / "tiny.json"
    path.write_text(json.dumps(config))
    return path


@pytest.fixture(scope="module")
def trained(tiny_config) -> Path:
    assert studio(["train", str(tiny_config)]) == 0
    return Path(json.loads(tiny_config.read_text())["run_dir"]) / "checkpoint.pt"


def test_data_is_stored_by_episode_with_actions_and_ram(trained, tiny_config):
    data_dir = Path(json.loads(tiny_config.read_text())["data_dir"])
    train, heldout = sorted((data_dir / "train").glob("*.npz")), sorted((data_dir / "heldout").glob("*.npz"))
    assert len(train) == 2 and len(heldout) == 1
    assert not {p.name for p in train} & {p.name for p in heldout}  # held out by episode
    with np.load(train[0]) as shard:
        assert shard["frames"].shape[1:] == (64, 64, 3) and shard["frames"].dtype == np.uint8
        assert shard["ram"].shape == (len(shard["frames"]), 128)
        assert set(np.unique(shard["actions"][:-1])) <= {0, 1, 2, 3}
        assert shard["views"].shape == shard["frames"].shape  # each frame as a shared clip might show it
    with np.load(heldout[0]) as shard:
        assert shard["native"].shape == (len(shard["frames"]), 210, 160, 3)  # the source frames, for tolerance


def test_checkpoint_export_loads_in_the_studio_and_evaluates(trained, tmp_path):
    bundle_dir = tmp_path / "bundle"
    assert studio(["export", str(trained), str(bundle_dir)]) == 0
    bundle = load_bundle(bundle_dir)
    assert bundle.manifest.name == "tiny-breakout"
    assert (bundle_dir / "config.json").is_file()
    assert list((bundle_dir / "examples").glob("*.mp4")) and list((bundle_dir / "examples").glob("*.csv"))
    model = WorldModel.load(bundle_dir, device="cpu")
    frames = np.random.default_rng(0).integers(0, 255, (6, 64, 64, 3), dtype=np.uint8)
    assert model.encode(frames).shape == (6, bundle.manifest.latent.tokens, bundle.manifest.latent.dim)
    figures = evaluate_bundle(bundle_dir, write=True)
    assert figures.detail(f"{F.MEASURED_ON}.transitions") > 50
    for figure in (F.RECONSTRUCTION_PSNR, F.CODE_ACTION_NMI, F.MOTION_NMI_CEILING, F.LATENT_ERROR_VS_COPY.at(1)):
        assert np.isfinite(figures.get(figure)), figure.key
    recorded = FigureSet.from_manifest(load_bundle(bundle_dir).manifest.metrics["examples"])  # hashes still valid
    assert recorded.get(F.CODES_USED) >= 1


def test_each_quick_evaluation_keeps_its_weights_and_logs_the_sprites(trained, tmp_path):
    evaluated = trained.parent / "evaluated"  # tiny.json: 20 dynamics steps, judged every 10, no decoder stage
    assert sorted(p.name for p in evaluated.glob("*.pt")) == ["dynamics-10.pt", "dynamics-20.pt"]
    first, last, final = (
        torch.load(p, weights_only=False) for p in (evaluated / "dynamics-10.pt", evaluated / "dynamics-20.pt", trained)
    )
    assert (first["stage"], first["step"], first["optimizer"]) == ("dynamics", 10, None)
    assert all(torch.equal(tensor, final["model"][name]) for name, tensor in last["model"].items())
    assert not all(torch.equal(tensor, final["model"][name]) for name, tensor in first["model"].items())
    assert studio(["export", str(evaluated / "dynamics-10.pt"), str(tmp_path / "bundle")]) == 0
    assert WorldModel.load(tmp_path / "bundle", device="cpu").encode(np.zeros((1, 64, 64, 3), np.uint8)).shape[0] == 1
    rows = list(csv.DictReader((trained.parent / "log.csv").open()))
    logged = {(row["step"], row["name"]) for row in rows}
    for figure in (F.LIVE_BALL_ROLLOUTS, F.PADDLE_DRAWN_ROLLOUTS, F.FIELD_SMEARED_ROLLOUTS):
        assert {("9", figure.key), ("19", figure.key)} <= logged, figure.key


def test_heldout_evaluation_measures_consistency_stability_and_tolerance(trained, tiny_config, tmp_path):
    bundle_dir = tmp_path / "bundle"
    assert studio(["export", str(trained), str(bundle_dir)]) == 0
    heldout = Path(json.loads(tiny_config.read_text())["data_dir"]) / "heldout"
    figures = evaluate_bundle(bundle_dir, heldout)
    assert figures.get(F.FRAME_CHECK_REAL) == 1.0  # the game's frame check holds on every real frame
    assert figures.detail("frame_check.rollouts.steps") == 1000 and 0.0 <= figures.get(F.FRAME_CHECK_ROLLOUTS) <= 1.0
    assert len(figures.detail(F.CONSISTENCY_PER_CODE)) == 4
    mean = figures.get(F.CODE_CONSISTENCY)  # absent where no code in use moves the paddle
    assert (mean is None) == (figures.detail(F.CONSISTENCY_MOVING_CODES) == 0) and (mean is None or 0 <= mean <= 1)
    *forms, recording = F.TOLERANCE.values()
    assert all(np.isfinite(figures.get(figure)) for figure in forms)
    assert figures.get(recording) is None  # Breakout's window draws nothing finer than its frames
    assert all(np.isfinite(figures.get(F.TEACHER_FORCED_PSNR.at(t))) for t in F.LONG_STEPS)


def test_training_resumes_from_its_checkpoint(trained, tiny_config):
    before = torch.load(trained, weights_only=False)
    assert before["stage"] == "done"
    assert studio(["train", str(tiny_config)]) == 0  # a finished run has nothing left to do
    after = torch.load(trained, weights_only=False)
    for name, tensor in before["model"].items():
        assert torch.equal(tensor, after["model"][name]), name


def test_the_same_config_trains_to_identical_weights(trained, tiny_config, tmp_path):
    """Every stage's batches, losses, codebook upkeep and quick evaluations run in one loop, the same way twice."""
    config = json.loads(tiny_config.read_text())
    config["run_dir"] = str(tmp_path / "again")
    path = tmp_path / "again.json"
    path.write_text(json.dumps(config))
    assert studio(["train", str(path)]) == 0
    first, second = (torch.load(p, weights_only=False)["model"] for p in (trained, path.parent / "again/checkpoint.pt"))
    assert first.keys() == second.keys()
    for name, tensor in first.items():
        assert torch.equal(tensor, second[name]), name

    def logged(run: Path) -> list[list[str]]:  # every row but its wall time
        return [row[:2] + row[3:] for row in csv.reader((run / "log.csv").open())]

    assert logged(trained.parent) == logged(tmp_path / "again")


def test_a_run_started_from_a_bundle_trains_on_only_the_stages_given_steps(trained, tiny_config, tmp_path):
    """`warm_start`: the bundle's four graphs become the model; with only decoder steps, the decoder alone learns
    (here with the worst-pixel term) and the encoder, action model and predictor stay the bundle's."""
    bundle_dir = tmp_path / "bundle"
    assert studio(["export", str(trained), str(bundle_dir)]) == 0
    config = json.loads(tiny_config.read_text())
    config["run_dir"] = str(tmp_path / "warm")
    config["warm_start"] = str(bundle_dir)
    config["optim"] |= {"autoencoder_steps": 0, "dynamics_steps": 0, "decoder_steps": 6, "worst_pixel_weight": 0.1}
    path = tmp_path / "warm.json"
    path.write_text(json.dumps(config))
    assert studio(["train", str(path)]) == 0
    before, after = (torch.load(p, weights_only=False)["model"] for p in (trained, tmp_path / "warm/checkpoint.pt"))
    for name, tensor in before.items():
        if name.startswith(("encoder.", "predictor.")):
            assert torch.allclose(tensor, after[name], atol=1e-6), name  # read back from the graphs: float32 exact
    assert any(not torch.allclose(before[n], after[n]) for n in before if n.startswith("decoder."))
    rows = list(csv.DictReader((tmp_path / "warm/log.csv").open()))
    assert {row["stage"] for row in rows} == {"decoder"}
    assert {"decoder_loss", "worst_pixel_error"} <= {row["name"] for row in rows}
    warm = tmp_path / "warm-bundle"
    assert studio(["export", str(tmp_path / "warm/checkpoint.pt"), str(warm)]) == 0
    assert load_bundle(warm).manifest.training["warm_start"] == str(bundle_dir)


def test_a_checkpoint_config_with_the_frame_size_of_older_runs_is_read(trained):
    recorded = torch.load(trained, weights_only=False)["config"]
    older = {**recorded, "model": {**recorded["model"], "frame_size": 64}}  # every checkpoint wrote it once
    assert from_record(older) == from_record(recorded) == TrainConfig.from_json(recorded)


def test_a_run_folder_of_another_family_is_refused_in_one_line(trained, tiny_config, tmp_path, capsys):
    config = json.loads(tiny_config.read_text())
    config["model"]["family"] = "jepa"
    config["optim"]["decoder_steps"] = 1
    path = tmp_path / "other-family.json"
    path.write_text(json.dumps(config))
    assert studio(["train", str(path)]) == 2
    error = capsys.readouterr().err.strip()
    assert "is a run of model.family 'reconstruction', not 'jepa'" in error and "\n" not in error


@pytest.mark.parametrize(
    ("section", "key", "value", "named"),
    [
        ("optim", "learning_rate", 0.01, ["'optim.learning_rate'", "lr", "lr_floor", "batch_size"]),
        ("model", "frame_size", 128, ["'model.frame_size' is not a setting", "64×64"]),
        ("optim", "batch_size", "64", ["'optim.batch_size'", "int"]),
        (None, "run_directory", "runs/x", ["'run_directory'", "run_dir", "data_dir"]),
    ],
)
def test_a_mistyped_config_is_refused_in_one_line_naming_the_key(
    tiny_config, tmp_path, capsys, section, key, value, named
):
    config = json.loads(tiny_config.read_text())
    (config[section] if section else config)[key] = value
    path = tmp_path / "mistyped.json"
    path.write_text(json.dumps(config))
    assert studio(["train", str(path)]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("studio train: ") and "\n" not in error
    for text in named:
        assert text in error


def test_two_processes_train_one_model(tiny_config, trained, tmp_path):
    """torchrun with 2 CPU processes (gloo): both ranks end with identical weights."""
    config = json.loads(tiny_config.read_text())
    config["run_dir"] = str(tmp_path / "ddp-run")
    path = tmp_path / "ddp.json"
    path.write_text(json.dumps(config))
    script = tmp_path / "train_and_dump.py"
    script.write_text(
        textwrap.dedent(f"""
        import torch
        from studio.train.config import TrainConfig, from_record, load_config
        from studio.train.train import Trainer
        trainer = Trainer(load_config({str(path)!r}))
        trainer.run()
        torch.save(trainer.model.state_dict(), {str(tmp_path)!r} + f"/rank{{trainer.rank}}.pt")
    """)
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_port=29517", str(script)],
        check=True,
        env=env,
        timeout=600,
    )
    rank0, rank1 = (torch.load(tmp_path / f"rank{r}.pt") for r in (0, 1))
    for name in rank0:
        assert torch.equal(rank0[name], rank1[name]), name
    torch.manual_seed(config["seed"])
    initial = TrainableWorldModel(load_config(path).model).state_dict()  # the weights both ranks started from
    assert not torch.equal(rank0["predictor.stem.weight"], initial["predictor.stem.weight"])
    assert not torch.equal(rank0["encoder.net.0.weight"], initial["encoder.net.0.weight"])
