"""`studio train --videos FOLDER --out DIR [--minutes N] [--config FILE]`: a bundle from a folder of clips.

The folder is read into episodes, clips held out by file (`studio.train.videos`); the recipe (configs/videos.json,
or FILE) is sized to the budget (`studio.train.budget`) and trained; the model is exported into DIR, its examples
cut from the held-out clips, its reference and familiarity computed on them, its maps fitted on the examples,
and it is judged on the held-out clips by the figures that need no game. The run's data, checkpoint and log are
kept in DIR/training/, so the same command after a Ctrl-C resumes from the last checkpoint, and once trained
only finishes what is left.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import time
from pathlib import Path

from tqdm import tqdm

from studio.bundle import MANIFEST_NAME, VIDEOS_SOURCE, read_manifest, write_manifest
from studio.evaluation import episodes_from_shards, evaluate
from studio.examples import EXAMPLES_DIR
from studio.figures import MEASURED_ON
from studio.latent_map import write_shipped_maps
from studio.reference import build_reference, write_reference
from studio.runtime import WorldModel
from studio.train.budget import sized_optim
from studio.train.config import TrainConfig, load_config
from studio.train.data import load_episodes
from studio.train.train import Trainer
from studio.train.videos import heldout_native_frames, native_spec
from studio.train.write_examples import write_examples

DEFAULT_RECIPE = Path(__file__).resolve().parents[2] / "configs" / "videos.json"
TRAINING_DIR = "training"  # inside DIR: the run's data, checkpoint, log and config
RUN_CONFIG = "run_config.json"


def videos_config(folder: Path, out_dir: Path, minutes: float, recipe: Path | None = None) -> TrainConfig:
    """The recipe, its data the folder and its steps sized to `minutes`, its run kept under DIR/training/."""
    base = load_config(recipe or DEFAULT_RECIPE)
    training = out_dir / TRAINING_DIR
    return dataclasses.replace(
        base,
        name=out_dir.name,
        description=f"A world model learnt from the clips in {folder.name}/ ({minutes:g} minutes' budget). "
        + base.description,
        data_dir=str(training / "data"),
        run_dir=str(training / "run"),
        data=dataclasses.replace(base.data, game="", videos=str(folder)),
        optim=sized_optim(base.optim, minutes),
    )


def train_from_videos(folder: Path, out_dir: Path, minutes: float, recipe: Path | None = None) -> Path:
    """Train, or resume, a bundle from the clips in `folder` and write it into `out_dir`."""
    folder, out_dir = folder.resolve(), out_dir.resolve()
    if not folder.is_dir():
        raise ValueError(f"{folder}: no such folder of clips")
    _check_out_dir(out_dir)
    config = _run_config(videos_config(folder, out_dir, minutes, recipe), out_dir)
    o = config.optim
    print(
        f"training {config.name} from {folder}: {o.autoencoder_steps} autoencoder, {o.dynamics_steps} dynamics and "
        f"{o.decoder_steps} decoder steps; a checkpoint every {o.checkpoint_every} steps in "
        f"{config.run_dir} (Ctrl-C, then the same command, resumes)",
        flush=True,
    )
    began = time.perf_counter()
    trainer = Trainer(config)
    seconds = {"reading the clips": time.perf_counter() - began}
    if trainer.position.step or trainer.position.stage != trainer.stages[0].name:
        print(f"resuming at {trainer.position.stage} step {trainer.position.step}", flush=True)
    trainer.run()
    seconds.update(_stage_seconds(Path(config.run_dir) / "log.csv"))
    data_dir = Path(config.data_dir)
    finishing = tqdm(total=5, desc="finishing", dynamic_ncols=True)
    for work in ("export", "examples", "reference", "maps", "evaluation"):
        finishing.set_postfix_str(work)
        began = time.perf_counter()
        if work == "export":
            trainer.export(out_dir)
        elif work == "examples":
            heldout = load_episodes(data_dir / "heldout")
            write_examples(heldout, out_dir / EXAMPLES_DIR, [], None, fps=native_spec(data_dir).transitions_per_second)
        elif work == "reference":
            model = WorldModel.load(out_dir, device="cpu", warm_up=False)
            reference, measured_on = build_reference(model, heldout_native_frames(data_dir), native_spec(data_dir))
            measured_on["source"] = "the held-out clips, never trained on"
            write_reference(out_dir, reference, measured_on)
        elif work == "maps":
            write_shipped_maps(WorldModel.load(out_dir, device="cpu", warm_up=False))
        else:
            _write_evaluation(out_dir, data_dir)
        seconds[work] = time.perf_counter() - began
        finishing.update(1)
    finishing.close()
    _record_wall_times(out_dir, seconds)
    return out_dir


def _write_evaluation(out_dir: Path, data_dir: Path) -> None:
    """Judge the bundle on the held-out clips (no game: no frame check, no true actions) and record it."""
    model = WorldModel.load(out_dir, device="cpu", warm_up=False)
    figures = evaluate(model, episodes_from_shards(data_dir / "heldout", None), game=None)
    figures.values[f"{MEASURED_ON}.source"] = "held-out clips"
    manifest = model.manifest
    write_manifest(
        dataclasses.replace(manifest, metrics={**manifest.metrics, "heldout": figures.to_manifest()}), out_dir
    )


def _stage_seconds(log: Path) -> dict[str, float]:
    """Each training stage's wall time, over every resume, from the run's log (to within `optim.log_every` steps)."""
    ends: dict[str, float] = {}
    with open(log, newline="") as handle:
        for row in csv.DictReader(handle):
            ends[row["stage"]] = max(ends.get(row["stage"], 0.0), float(row["seconds"]))
    stages, before = {}, 0.0
    for stage, end in sorted(ends.items(), key=lambda item: item[1]):
        stages[stage] = end - before
        before = end
    return stages


def _record_wall_times(out_dir: Path, seconds: dict[str, float]) -> None:
    """The wall time of reading the clips, of each training stage and of each finishing step, in the manifest."""
    manifest = read_manifest(out_dir)
    training = {**manifest.training, "wall_time_by_step_s": {k: round(v, 1) for k, v in seconds.items()}}
    write_manifest(dataclasses.replace(manifest, training=training), out_dir)


def _check_out_dir(out_dir: Path) -> None:
    """DIR must be new, empty, or a run of this command (its training/ folder, or a bundle of its own)."""
    if not out_dir.exists():
        return
    if not out_dir.is_dir():
        raise ValueError(f"{out_dir}: is a file; --out needs a folder for the bundle")
    ours = (out_dir / TRAINING_DIR).is_dir()
    if (out_dir / MANIFEST_NAME).is_file():
        source = json.loads((out_dir / MANIFEST_NAME).read_text()).get("trained_on", {}).get("source")
        ours = ours or source == VIDEOS_SOURCE
    if any(out_dir.iterdir()) and not ours:
        raise ValueError(f"{out_dir}: holds other files; choose a new or empty folder for the bundle")


def _run_config(config: TrainConfig, out_dir: Path) -> TrainConfig:
    """The config of the run in `out_dir`: the one it started with when there is one (a resumed run trains the
    model it set out to), else `config`, recorded."""
    path = out_dir / TRAINING_DIR / RUN_CONFIG
    if path.is_file():
        started = TrainConfig.from_json(json.loads(path.read_text()))
        if started != config:
            print(f"resuming the run in {out_dir} with the settings it started with ({path})", flush=True)
        return started
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(config.to_json(), indent=2) + "\n")
    return config
