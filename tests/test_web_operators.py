"""Export's check that a graph runs in onnxruntime-web: the shipped graphs pass, and what the browser's backend
does not run is named."""

from __future__ import annotations

from pathlib import Path

import onnx
import pytest
from onnx import TensorProto, helper

from studio.bundle import GRAPH_ROLES
from studio.train.web_operators import operators_the_page_cannot_run

EXPORTED = Path(__file__).resolve().parents[1] / "exported"
SHIPPED = sorted(EXPORTED.glob("*/*.onnx"))


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_the_shipped_graphs_run_in_the_page(path):
    assert path.stem in GRAPH_ROLES
    assert operators_the_page_cannot_run(onnx.load(str(path))) == []


def test_a_contrib_operator_and_an_unknown_one_are_named_once_each():
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])
    nodes = [
        helper.make_node("FusedMatMul", ["x", "x"], ["a"], domain="com.microsoft"),
        helper.make_node("Relu", ["a"], ["b"]),
        helper.make_node("Wobble", ["b"], ["c"]),
        helper.make_node("Wobble", ["c"], ["y"]),
    ]
    graph = helper.make_model(
        helper.make_graph(nodes, "g", [x], [y]),
        opset_imports=[helper.make_opsetid("", 18), helper.make_opsetid("com.microsoft", 1)],
    )
    assert operators_the_page_cannot_run(graph) == ["com.microsoft::FusedMatMul", "Wobble"]


def test_an_operator_newer_than_the_graphs_opset_is_named():
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 4, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    graph = helper.make_model(
        helper.make_graph([helper.make_node("Gelu", ["x"], ["y"])], "g", [x], [y]),  # Gelu is opset 20
        opset_imports=[helper.make_opsetid("", 18)],
    )
    assert operators_the_page_cannot_run(graph) == ["Gelu"]
