"""Export a trained world model as a bundle: four ONNX graphs, checked, and the manifest of docs/architecture.md.

Every graph gets a dynamic batch axis, passes `onnx.checker`'s full check, matches torch within
`PARITY_TOLERANCE` on real frames (of the outputs' largest magnitude, where above 1), is shown to be alive (its
outputs change when its inputs do), and uses only operators onnxruntime-web runs, so that the Play tab can run it
in the visitor's browser.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch

from studio.bundle import (
    CONTINUOUS_ACTIONS,
    GRAPH_SIGNATURES,
    VERSION,
    ActionSpec,
    FrameSpec,
    LatentSpec,
    Manifest,
    PredictorSpec,
    load_bundle,
    write_manifest,
)
from studio.examples import EXAMPLES_DIR
from studio.latent_map import write_shipped_maps
from studio.runtime import WorldModel
from studio.train.config import TrainConfig, from_record
from studio.train.data import describe_data, game_of, load_episodes
from studio.train.export_rewrites import for_export
from studio.train.recipes import find_recipe
from studio.train.web_operators import operators_the_page_cannot_run
from studio.train.world_model import TrainableWorldModel
from studio.train.write_examples import write_examples

OPSET = 18
PARITY_TOLERANCE = 1e-4
CHECK_FRAMES = 16  # consecutive held-out frames the graphs are checked on


class ExportError(Exception):
    """An export that failed one of its checks."""


def load_checkpoint(path: str | Path) -> tuple[TrainableWorldModel, TrainConfig, dict]:
    checkpoint = torch.load(path, map_location="cpu", weights_only=False)
    config = from_record(checkpoint["config"])
    model = TrainableWorldModel(config.model)
    model.load_state_dict(checkpoint["model"])
    return model.eval(), config, checkpoint


def export_checkpoint(checkpoint_path: str | Path, out_dir: str | Path) -> Path:
    """`studio export`: a checkpoint of `studio train` -> a checked bundle in out_dir."""
    model, config, state = load_checkpoint(checkpoint_path)
    data_dir = Path(config.data_dir)
    train, heldout = load_episodes(data_dir / "train"), load_episodes(data_dir / "heldout")
    trained_on = describe_data(config.data, data_dir, [len(e.frames) for e in train], [len(e.frames) for e in heldout])
    out_dir = export_bundle(
        model,
        config,
        out_dir,
        heldout[0].frames[:CHECK_FRAMES],
        trained_on=trained_on,
        training=training_record(config, state.get("stage"), state.get("seconds", 0.0), state.get("processes", 1)),
    )
    write_examples(heldout, out_dir / EXAMPLES_DIR, trained_on["action_names"], game_of(config.data))
    write_shipped_maps(WorldModel.load(out_dir, device="cpu", warm_up=False))
    return out_dir


def training_record(config: TrainConfig, stage: str | None, seconds: float, processes: int) -> dict:
    """How the model was trained, for the manifest: the run's length, the stage it had reached, and where."""
    o = config.optim
    return {
        **{f"{stage.name}_steps": stage.steps(config) for stage in find_recipe(config.model.family).stages},
        "batch_size": o.batch_size,
        "stage": stage,
        "wall_time_s": round(seconds, 1),
        "processes": processes,
        "hardware": torch.cuda.get_device_name() if torch.cuda.is_available() else f"{os.cpu_count()} CPU cores",
        "retrain": "studio train config.json (the copy in this bundle)",
        "action_labels": action_labels(o.labelled_share, o.label_target),
        # the bundle whose trained model the run started from (`studio.train.warm_start`); "" for none
        "warm_start": config.warm_start,
        "recipe": {
            "perturbed_views_share": o.view_share,
            "unrolled_steps": o.unroll,
            "context_noise": o.context_noise,
            "context_dropout": o.context_dropout,
        },
    }


def action_labels(labelled_share: float, label_target: str) -> str:
    """What the codes were learnt from, in words: no labels at all, or the weak-supervision share."""
    if labelled_share <= 0:
        return "none: the codes were learnt without action labels"
    label = {
        "action": "true action",
        "movement": "movement class of the true action",
        "motion": "movement class of the player's move, read off the frames,",
    }[label_target]
    return (
        f"weak supervision: the {label} of {labelled_share:.1%} of the training transitions picked their "
        "code; all other transitions unlabelled"
    )


def export_bundle(
    model: TrainableWorldModel,
    config: TrainConfig,
    out_dir: str | Path,
    sample_frames: np.ndarray,
    *,
    trained_on: dict | None = None,
    training: dict | None = None,
    check: bool = True,
) -> Path:
    """Write the bundle; `sample_frames` [T, H, W, 3] uint8 (T >= max(C, L-1) + 2) are the real frames checked on."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model = model.eval()
    inputs = example_inputs(model, sample_frames)
    paths = {}
    for role, module in model.graphs().items():
        path = out_dir / f"{role}.onnx"
        export_graph(module, inputs[role], path, role, config.name)
        if check:
            check_graph(module, inputs[role], path)
            check_runs_in_the_page(path)
        paths[role] = path
    m = config.model
    manifest = Manifest(
        name=config.name,
        description=config.description,
        license="MIT",
        trained_on=trained_on or {},
        frame=FrameSpec(height=m.frame_size, width=m.frame_size, resize="stretch"),
        latent=LatentSpec(tokens=m.tokens, dim=m.latent_dim, grid=[m.grid, m.grid], levels=m.latent_levels),
        action=ActionSpec(
            codebook_size=m.codebook_size,
            dim=m.action_dim,
            codebook=model.lam.codes().detach().tolist(),
            window=m.action_window,
        ),
        predictor=PredictorSpec(context=m.context, reanchor=m.reanchor),
        family=find_recipe(m.family).bundle_family,
        training={
            **(training or {}),
            "exported": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "torch": torch.__version__,
            "platform": platform.platform(terse=True),
        },
    ).with_graphs(paths)
    (out_dir / "config.json").write_text(json.dumps(config.to_json(), indent=2) + "\n")
    write_manifest(manifest, out_dir)
    load_bundle(out_dir)  # the studio's own checks must accept what was written
    return out_dir


def example_inputs(model: TrainableWorldModel, frames: np.ndarray) -> dict[str, tuple[torch.Tensor, ...]]:
    """Real inputs for every graph, from consecutive frames [T, H, W, 3] uint8."""
    c, window = model.config.context, model.config.action_window
    span = max(c, window - 1) + 2
    x = torch.from_numpy(frames[:span]).permute(0, 3, 1, 2).float() / 255.0  # [S, 3, H, W]
    with torch.no_grad():
        z = model.encoder(x)  # [S, N, D]
        seen = torch.stack([z[span - 1 - window : span - 1], z[span - window : span]])  # [2, L, N, D]
        action = model.lam.encode(seen)  # [2, Da]
    context = torch.stack([z[span - 2 - c : span - 2], z[span - 1 - c : span - 1]])  # [2, C, N, D]
    return {
        "encoder": (x[:2],),
        "actions": (seen,),
        "predictor": (context, action),
        "decoder": (z[:2],),
    }


def export_graph(
    module: torch.nn.Module, inputs: tuple, path: Path, role: str, name: str, kind: str = "latent_codes"
) -> None:
    """One module as the ONNX graph of `role` (for an action `kind`): the contract's names, a dynamic batch axis,
    checked. What is exported is `for_export(module)`: the same function in the ops onnxruntime runs fastest."""
    signature = CONTINUOUS_ACTIONS if (role, kind) == ("actions", "continuous") else GRAPH_SIGNATURES[role]
    input_names, output_names = (list(names) for names in signature)
    torch.onnx.export(
        for_export(module),
        inputs,
        str(path),
        input_names=input_names,
        output_names=output_names,
        dynamic_axes={n: {0: "B"} for n in [*input_names, *output_names]},
        opset_version=OPSET,
        dynamo=False,  # the TorchScript exporter: dynamic batch via dynamic_axes, no extra graph passes
    )
    graph = onnx.load(str(path))
    onnx.helper.set_model_props(graph, {"bundle": name, "contract": f"world-model-bundle/{VERSION}", "role": role})
    onnx.save(graph, str(path))
    onnx.checker.check_model(str(path), full_check=True)


def check_runs_in_the_page(path: Path) -> None:
    """The graph uses only operators onnxruntime-web's WebAssembly backend runs (Play runs in the browser)."""
    refused = operators_the_page_cannot_run(onnx.load(str(path)))
    if refused:
        raise ExportError(
            f"{path.name}: onnxruntime-web, which plays the model in the visitor's browser, cannot run "
            f"{', '.join(refused)}"
        )


def check_graph(module: torch.nn.Module, inputs: tuple, path: Path) -> None:
    """The exported graph matches its module within PARITY_TOLERANCE, every input is live, the batch dynamic."""
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]

    def run(tensors) -> list[np.ndarray]:
        return session.run(None, {n: t.numpy() for n, t in zip(names, tensors)})

    with torch.no_grad():
        expected = module(*inputs)
    expected = expected if isinstance(expected, tuple) else (expected,)
    got = run(inputs)
    for want, have in zip(expected, got):
        want = want.numpy().astype(np.float64)
        # float32 rounding grows with the values: outputs larger than 1 are held to PARITY_TOLERANCE of their size
        allowed = PARITY_TOLERANCE * max(1.0, float(np.abs(want).max()))
        diff = np.abs(want - have.astype(np.float64)).max()
        if diff > allowed:
            raise ExportError(f"{path.name}: onnxruntime differs from torch by {diff:.2e} (> {allowed:.2e})")
    # liveness: every input must matter, and a batch of 3 must run (the batch axis is dynamic). An input is
    # changed by swapping the batch's two rows, and where that leaves the outputs alone (two real samples can be
    # alike: two frames of a game's still opening, a predictor's level picked the same for two near actions) by
    # rolling its features
    for index in range(len(inputs)):
        for changed_input in (inputs[index].flip(0), inputs[index].roll(1, dims=-1)):
            changed = list(inputs)
            changed[index] = changed_input
            if not all(np.array_equal(a, b) for a, b in zip(got, run(changed))):
                break
        else:
            raise ExportError(f"{path.name}: outputs do not change when input '{names[index]}' changes")
    triple = [torch.cat([t, t[:1]]) for t in inputs]
    if run(triple)[0].shape[0] != 3:
        raise ExportError(f"{path.name}: the batch axis is not dynamic")
