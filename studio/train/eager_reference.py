"""The same weights as a bundle's graphs, run in torch eager mode: what the benchmarks set onnxruntime beside.

Also the graphs' convolutions alone: the conv nets with every GroupNorm and SiLU made identity,
in torch and exported the bundle's way. That is not the model's function but a floor on its time: no
runtime runs a whole graph faster than it runs the graph's convolutions, so comparing the two runtimes on
the convolutions alone shows how much of a speed-up is left for everything else.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn

from studio.bundle import GRAPH_SIGNATURES
from studio.train.export import export_graph, load_checkpoint
from studio.train.export_rewrites import replace_modules
from studio.train.world_model import TrainableWorldModel

EagerGraph = Callable[[dict[str, np.ndarray]], list]
CONVOLUTION_ROLES = ("encoder", "predictor", "decoder")  # the graphs made of convolutions


def load_eager(checkpoint: str | Path, threads: int | None = None) -> TrainableWorldModel:
    """The trained model behind a bundle, in eval mode, with torch's intra-op threads set."""
    if threads:
        torch.set_num_threads(threads)
    model, _, _ = load_checkpoint(checkpoint)
    return model.eval()


def eager_graphs(model: TrainableWorldModel) -> dict[str, EagerGraph]:
    """role -> a function of the graph's numpy feeds (by input name) that runs the torch module."""
    return {role: _runner(module, GRAPH_SIGNATURES[role][0]) for role, module in model.graphs().items()}


def convolutions_only(model: TrainableWorldModel, folder: str | Path) -> dict[str, tuple[EagerGraph, Path]]:
    """role -> (torch runner, ONNX file) of the encoder, predictor and decoder with their normalizations
    and activations replaced by identity; the files are exported to `folder` exactly as the bundle's are."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    frames = torch.rand(2, 3, model.config.frame_size, model.config.frame_size)  # [2, 3, H, W]
    with torch.no_grad():
        latents = model.encoder(frames)  # [2, N, D]
    context = latents[:, None].repeat(1, model.config.context, 1, 1)  # [2, C, N, D]
    action = model.lam.codes()[:2].detach()  # [2, Da]
    inputs = {"encoder": (frames,), "predictor": (context, action), "decoder": (latents,)}
    floors = {}
    for role in CONVOLUTION_ROLES:
        module = _without_normalization(model.graphs()[role])
        path = folder / f"{role}-convolutions.onnx"
        export_graph(module, inputs[role], path, role, f"{role} convolutions")
        floors[role] = (_runner(module, GRAPH_SIGNATURES[role][0]), path)
    return floors


def _without_normalization(module: nn.Module) -> nn.Module:
    stripped = copy.deepcopy(module).eval()
    replace_modules(stripped, lambda child: nn.Identity() if isinstance(child, (nn.GroupNorm, nn.SiLU)) else None)
    return stripped


def _runner(module: nn.Module, input_names: tuple[str, ...]) -> EagerGraph:
    def run(feeds: dict[str, np.ndarray]) -> list:
        with torch.inference_mode():
            out = module(*(torch.from_numpy(feeds[name]) for name in input_names))
        return list(out) if isinstance(out, tuple) else [out]

    return run
