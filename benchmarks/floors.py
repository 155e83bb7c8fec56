"""The least time onnxruntime's own kernels need for a graph's normalizations and activations.

GroupNorm is exported as InstanceNormalization over a grouped view followed by a per-channel scale and
shift, and SiLU as x * sigmoid(x), which onnxruntime fuses into one kernel. Each of the three, run once as
a single op over all of a graph's tensors of its kind, costs only its arithmetic and memory traffic, with
none of the per-op overhead the graph pays dozens of times: however the graph were rewritten, with these
kernels it cannot spend less on them. What any call costs however small its graph (an Identity of one
float) is taken off each: the graph being bounded pays it once already.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from benchmarks.flops import tensor_shapes
from studio.runtime import CPU, session_options

GROUPS = 8  # the studio's GroupNorms: min(8, channels) groups


class OneOpGraph:
    """A one-op graph over `elements` floats, opened the way the studio opens its graphs; call it to run it."""

    def __init__(self, nodes: list, shape: list[int], initializers: list, elements: int):
        graph = helper.make_graph(
            nodes,
            "floor",
            [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, shape)],
            initializers,
        )
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], ir_version=9)
        self.session = ort.InferenceSession(model.SerializeToString(), sess_options=session_options(), providers=[CPU])
        self.feeds = {"x": np.random.default_rng(0).standard_normal(shape, dtype=np.float32)}
        self.elements = elements

    def __call__(self) -> None:
        self.session.run(None, self.feeds)


@dataclass
class KernelFloor:
    """The one-op graphs whose times, less the empty call's, add up to a graph's kernel floor."""

    norm: OneOpGraph  # InstanceNormalization over every normalized element, in GROUPS groups
    scale_and_shift: OneOpGraph  # BatchNormalization (a per-channel scale and shift) over the same elements
    silu: OneOpGraph  # Sigmoid + Mul over every activated element
    empty: OneOpGraph  # Identity of one float: what a call costs with nothing to compute

    @property
    def graphs(self) -> tuple[OneOpGraph, ...]:  # in the order the benchmark's rows name them
        return self.norm, self.scale_and_shift, self.silu, self.empty


def normalized_and_activated(path: str | Path) -> tuple[int, int]:
    """Elements (batch 1) entering the graph's InstanceNormalization nodes, and its SiLUs x * sigmoid(x)."""
    model = onnx.load(str(path))
    nodes = model.graph.node
    norms = [n.input[0] for n in nodes if n.op_type == "InstanceNormalization"]
    sigmoid_of = {n.output[0]: n.input[0] for n in nodes if n.op_type == "Sigmoid"}
    silus = [
        a
        for n in nodes
        if n.op_type == "Mul" and len(n.input) == 2
        for a, b in (tuple(n.input), tuple(n.input)[::-1])
        if sigmoid_of.get(b) == a
    ]
    shapes = tensor_shapes(model, set(norms) | set(silus))
    return sum(int(np.prod(shapes[n])) for n in norms), sum(int(np.prod(shapes[n])) for n in silus)


def kernel_floor(normalized: int, activated: int) -> KernelFloor:
    """The floor's graphs for `normalized` GroupNorm elements and `activated` SiLU elements. The scale and
    shift run over GROUPS channels, not the graph's own: longer rows, if anything cheaper, as a floor must be."""
    view = [1, GROUPS, -(-normalized // GROUPS)]

    def per_group(*names: str, value: float = 1.0) -> list:
        return [numpy_helper.from_array(np.full(GROUPS, value, np.float32), name) for name in names]

    norm = OneOpGraph(
        [helper.make_node("InstanceNormalization", ["x", "scale", "bias"], ["y"])],
        view,
        per_group("scale") + per_group("bias", value=0.0),
        normalized,
    )
    scale_and_shift = OneOpGraph(
        [helper.make_node("BatchNormalization", ["x", "scale", "bias", "mean", "var"], ["y"])],
        view,
        per_group("scale", "var") + per_group("bias", "mean", value=0.0),
        normalized,
    )
    silu = OneOpGraph(
        [helper.make_node("Sigmoid", ["x"], ["s"]), helper.make_node("Mul", ["x", "s"], ["y"])],
        [1, activated],
        [],
        activated,
    )
    empty = OneOpGraph([helper.make_node("Identity", ["x"], ["y"])], [1, 1], [], 1)
    return KernelFloor(norm, scale_and_shift, silu, empty)
