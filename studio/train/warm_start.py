"""A trained model read back from a bundle's ONNX graphs, so a run can start from it (`warm_start` in the config).

`studio.train.export` writes each module's parameters into its graph under the module's own names, with two
rewrites (`studio.train.export_rewrites`): every GroupNorm's affine sits under `<norm>.norm.weight/bias`, and
the affine of each predictor block's first GroupNorm is kept as two unnamed [W, 1, 1] tensors that the
folded FiLM multiplies by, its scale then its shift. Reading them back gives the same functions; the loader
checks that by running the bundle's graphs and the loaded modules on the same latents.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import numpy_helper

from studio.bundle import load_bundle
from studio.train.export import ExportError, check_graph, example_inputs
from studio.train.world_model import TrainableWorldModel


class WarmStartError(ValueError):
    """A bundle whose graphs do not fit the model the config describes."""


def load_bundle_weights(model: TrainableWorldModel, bundle_dir: str | Path) -> None:
    """Set every parameter of `model` from the bundle's four graphs, and check each graph against its module."""
    bundle_dir = Path(bundle_dir)
    bundle = load_bundle(bundle_dir)
    state = model.state_dict()
    loaded: set[str] = set()
    for role, module_name in (("encoder", "encoder"), ("decoder", "decoder"), ("actions", ""), ("predictor", "")):
        graph = onnx.load(str(bundle.graph_paths[role]))
        prefix = f"{module_name}." if module_name else ("predictor." if role == "predictor" else "")
        for name, value in _named_weights(graph, role).items():
            key = prefix + name
            if key not in state:
                raise WarmStartError(f"{bundle_dir.name}/{role}.onnx: '{name}' has no place in this model")
            loaded.add(key)
            state[key] = _fitted(torch.from_numpy(value.copy()), state[key], key, bundle_dir.name)
    missing = [k for k in state if k not in loaded and not k.endswith("background") and not k.endswith("usage")]
    if missing:
        raise WarmStartError(f"{bundle_dir.name}: its graphs hold no weights for {', '.join(missing[:4])}")
    model.load_state_dict(state)
    model.lam.usage.fill_(1.0 / len(model.lam.usage))
    _check_against_graphs(model.eval(), bundle_dir, bundle)


def _named_weights(graph: onnx.ModelProto, role: str) -> dict[str, np.ndarray]:
    """The graph's weights under the trained module's state-dict names (relative to the module)."""
    weights = {}
    unnamed = []  # the predictor's folded first-norm affines, in the order the graph uses them
    for tensor in graph.graph.initializer:
        name, value = tensor.name, numpy_helper.to_array(tensor)
        if name.endswith((".zeros", ".ones")) or name.startswith("onnx::Expand"):
            continue  # the export's constant zero mean and unit variance, and a shape
        if name.startswith("onnx::Mul"):
            unnamed.append(value.reshape(-1))
            continue
        name = name.replace(".norm.weight", ".weight").replace(".norm.bias", ".bias").replace(".block.", ".")
        weights[name] = value
    if role == "predictor":
        if len(unnamed) % 2:
            raise WarmStartError("predictor.onnx: its blocks' first-norm affines do not come in pairs")
        for block in range(len(unnamed) // 2):
            weights[f"blocks.{block}.norm1.weight"] = unnamed[2 * block]
            weights[f"blocks.{block}.norm1.bias"] = unnamed[2 * block + 1]
    return weights


def _fitted(value: torch.Tensor, like: torch.Tensor, key: str, bundle: str) -> torch.Tensor:
    if value.shape != like.shape:
        raise WarmStartError(f"{bundle}: '{key}' is {list(value.shape)} in the bundle, {list(like.shape)} here")
    return value.to(like.dtype)


def _check_against_graphs(model: TrainableWorldModel, bundle_dir: Path, bundle) -> None:
    """Run the bundle's graphs and the loaded modules on the same inputs, as export checks a graph it writes;
    refuse a difference."""
    span = max(model.config.context, model.config.action_window - 1) + 2
    size = model.config.frame_size
    frames = np.random.default_rng(0).integers(0, 256, (span, size, size, 3), dtype=np.uint8)  # [S, H, W, 3]
    inputs = example_inputs(model, frames)
    for role, module in model.graphs().items():
        try:
            check_graph(module, inputs[role], bundle.graph_paths[role])
        except ExportError as error:
            raise WarmStartError(f"{bundle_dir.name}: the weights read back do not give its graph: {error}") from error
