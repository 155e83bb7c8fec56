"""How much arithmetic a graph is, and how fast this machine can do arithmetic at all.

Beside a measured time, the multiply-adds of a graph (counted from its ONNX convolutions and matrix
products) give the rate it ran at, and the rate of a large float32 matrix product on the same cores is the
ceiling no runtime can pass. A graph close to that ceiling has no 2x left in it for any runtime.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper

from benchmarks.harness import measure


def multiply_adds(path: str | Path) -> int:
    """Multiply-adds of one sample (batch 1) through the graph's Conv, ConvTranspose, Gemm and MatMul nodes."""
    model = onnx.load(str(path))
    counted = [n for n in model.graph.node if n.op_type in ("Conv", "ConvTranspose", "Gemm", "MatMul")]
    shapes = tensor_shapes(model, {name for n in counted for name in (n.input[0], n.output[0], *n.input[1:2])})
    total = 0
    for node in counted:
        if node.op_type == "Conv":  # weight [C_out, C_in/g, k, k]: every output sums C_in/g * k * k terms
            total += int(np.prod(shapes[node.output[0]][1:])) * int(np.prod(shapes[node.input[1]][1:]))
        elif node.op_type == "ConvTranspose":  # weight [C_in, C_out/g, k, k]: every input feeds C_out/g * k * k
            total += int(np.prod(shapes[node.input[0]][1:])) * int(np.prod(shapes[node.input[1]][1:]))
        elif node.op_type == "Gemm":  # A [M, K] (or [K, M]) times B [K, N] (or [N, K])
            a, b = shapes[node.input[0]], shapes[node.input[1]]
            attributes = {t.name: helper.get_attribute_value(t) for t in node.attribute}
            rows, inner = (a[1], a[0]) if attributes.get("transA", 0) else (a[0], a[1])
            total += rows * inner * (b[0] if attributes.get("transB", 0) else b[1])
        else:  # MatMul: [..., M, K] times [..., K, N]
            a, b = shapes[node.input[0]], shapes[node.input[1]]
            total += int(np.prod(a[:-1])) * a[-1] * b[-1]
    return total


def tensor_shapes(model: onnx.ModelProto, names: set[str]) -> dict[str, list[int]]:
    """The shapes of the named tensors at batch 1 (weights included).

    They come from running the graph once on zeros with those tensors as extra outputs: ONNX's static
    shape inference loses the spatial sizes behind GroupNorm's reshapes."""
    model = onnx.ModelProto.FromString(model.SerializeToString())
    weights = {t.name: list(t.dims) for t in model.graph.initializer}
    probed = sorted(name for name in names if name not in weights)
    known = {o.name for o in model.graph.output}
    model.graph.output.extend(
        helper.make_tensor_value_info(name, TensorProto.FLOAT, None) for name in probed if name not in known
    )
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    feeds = {
        i.name: np.zeros([d if isinstance(d, int) else 1 for d in i.shape], np.float32) for i in session.get_inputs()
    }
    outputs = [o.name for o in session.get_outputs()]
    return {**weights, **{name: list(value.shape) for name, value in zip(outputs, session.run(outputs, feeds))}}


def matmul_gflops(size: int = 2048, repeats: int = 5) -> float:
    """The machine's float32 arithmetic ceiling: GFLOP/s of the best of `repeats` size x size matrix products."""
    rng = np.random.default_rng(0)
    a, b = rng.random((size, size), dtype=np.float32), rng.random((size, size), dtype=np.float32)
    best = measure(lambda: a @ b, repeats, warm_up=1).min()  # the untimed first product starts BLAS's threads
    return 2 * size**3 / best / 1e9
