"""The same weights as a bundle's graphs, run in torch eager mode: what the benchmarks set onnxruntime beside."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from studio.bundle import GRAPH_SIGNATURES
from studio.train.export import load_checkpoint


def eager_graphs(checkpoint: str | Path, threads: int | None = None) -> dict[str, Callable[[dict[str, np.ndarray]], list]]:
    """role -> a function of the graph's numpy feeds (by input name) that runs the torch module."""
    if threads:
        torch.set_num_threads(threads)
    model, _, _ = load_checkpoint(checkpoint)
    model.eval()

    def runner(module: torch.nn.Module, input_names: tuple[str, ...]):
        def run(feeds: dict[str, np.ndarray]) -> list:
            with torch.inference_mode():
                out = module(*(torch.from_numpy(feeds[name]) for name in input_names))
            return list(out) if isinstance(out, tuple) else [out]

        return run

    return {role: runner(module, GRAPH_SIGNATURES[role][0]) for role, module in model.graphs().items()}
