"""Whether a graph runs in the visitor's browser: onnxruntime-web's WebAssembly backend, which the Play tab uses,
runs every operator of the standard `ai.onnx` and `ai.onnx.ml` domains (its README, "Operators: WebAssembly
backend") and nothing it does not vouch for; tests/e2e/test_page_model.py runs the shipped graphs there."""

from __future__ import annotations

import onnx

WEB_DOMAINS = ("", "ai.onnx", "ai.onnx.ml")  # "" is ai.onnx


def operators_the_page_cannot_run(graph: onnx.ModelProto) -> list[str]:
    """The operators of `graph` (and of its subgraphs) outside what onnxruntime-web's WebAssembly backend runs,
    as 'domain::Op' (or 'Op' for ai.onnx), each once, in the order met."""
    opsets = {entry.domain: entry.version for entry in graph.opset_import}
    refused: list[str] = []
    for node in _nodes(graph.graph):
        name = f"{node.domain}::{node.op_type}" if node.domain else node.op_type
        if name in refused:
            continue
        version = opsets.get(node.domain) or (opsets.get("ai.onnx") if node.domain == "" else None)
        if node.domain not in WEB_DOMAINS or version is None or not _defined(node.op_type, version, node.domain):
            refused.append(name)
    return refused


def _defined(op_type: str, version: int, domain: str) -> bool:
    try:
        onnx.defs.get_schema(op_type, max_inclusive_version=version, domain=domain)
    except onnx.defs.SchemaError:
        return False
    return True


def _nodes(graph: onnx.GraphProto):
    for node in graph.node:
        yield node
        for attribute in node.attribute:
            for sub in [attribute.g, *attribute.graphs] if attribute.type in _GRAPH_ATTRIBUTES else []:
                yield from _nodes(sub)


_GRAPH_ATTRIBUTES = (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS)
