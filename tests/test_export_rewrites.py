"""The export rewrite (`studio.train.export_rewrites`) computes what the trained modules compute, in fewer ops."""

from __future__ import annotations

import copy
from collections import Counter

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from torch import nn

import tiny_world_model
from studio.train.export import example_inputs, export_graph
from studio.train.export_rewrites import FoldedActionBlock, for_export


@pytest.fixture(scope="module")
def affine_model(tiny_model):
    """The tiny model with every GroupNorm's scale and shift away from 1 and 0, so a lost affine shows."""
    model = copy.deepcopy(tiny_model)
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for norm in (m for m in model.modules() if isinstance(m, nn.GroupNorm)):
            norm.weight.copy_(0.5 + torch.rand(norm.weight.shape, generator=generator))
            norm.bias.copy_(torch.randn(norm.bias.shape, generator=generator))
    return model


@pytest.fixture(scope="module")
def inputs(affine_model):
    frames = np.random.default_rng(2).integers(0, 255, (8, tiny_world_model.H, tiny_world_model.W, 3), dtype=np.uint8)
    return example_inputs(affine_model, frames)


@pytest.mark.parametrize("role", ["encoder", "actions", "predictor", "decoder"])
def test_rewritten_graph_computes_the_same_as_the_trained_module(affine_model, inputs, role, tmp_path):
    module = affine_model.graphs()[role]
    rewritten = for_export(module)
    with torch.no_grad():
        want = module(*inputs[role])
        got = rewritten(*inputs[role])
    want, got = (out if isinstance(out, tuple) else (out,) for out in (want, got))
    for a, b in zip(want, got):
        assert torch.allclose(a.float(), b.float(), atol=1e-5)

    path = tmp_path / f"{role}.onnx"
    export_graph(module, inputs[role], path, role, "affine")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feeds = {i.name: t.numpy() for i, t in zip(session.get_inputs(), inputs[role])}
    for a, b in zip(want, session.run(None, feeds)):
        np.testing.assert_allclose(b, a.numpy(), atol=1e-4)


def test_predictor_exports_its_film_at_constant_sizes_and_affines_as_batch_norms(affine_model, inputs, tmp_path):
    predictor = affine_model.graphs()["predictor"]
    blocks = [m for m in for_export(predictor).modules() if isinstance(m, FoldedActionBlock)]
    assert len(blocks) == len(predictor.blocks)
    path = tmp_path / "predictor.onnx"
    export_graph(predictor, inputs["predictor"], path, "predictor", "affine")
    ops = Counter(node.op_type for node in onnx.load(str(path)).graph.node)
    norms = sum(isinstance(m, nn.GroupNorm) for m in predictor.modules())
    assert ops["InstanceNormalization"] == norms
    # every GroupNorm but each block's first (folded into its FiLM) scales and shifts in one op
    assert ops["BatchNormalization"] == norms - len(predictor.blocks)
    assert ops["Div"] == 0  # the FiLM's halves are not sized at run time
