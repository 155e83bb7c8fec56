"""`studio bench --quick` runs every suite end to end (the figures themselves live in benchmarks/RESULTS.md)."""

from __future__ import annotations

import json

import pytest
import torch

import tiny_world_model
from benchmarks.harness import HAND_WRITTEN
from studio.cli import main

pytestmark = pytest.mark.slow


def test_quick_benchmark_runs_every_suite_and_writes_its_files(tiny_bundle, tiny_model, tmp_path):
    checkpoint = tmp_path / "checkpoint.pt"  # what `studio train` writes, for the torch eager rows
    torch.save({"config": tiny_world_model.CONFIG.to_json(), "model": tiny_model.state_dict()}, checkpoint)
    quick_bench = ["bench", "--quick", "--bundle", str(tiny_bundle), "--checkpoint", str(checkpoint)]
    assert main([*quick_bench, "--out", str(tmp_path / "out")]) == 0
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    suites = {row["suite"] for row in results["rows"]}
    assert suites == {
        "graphs",
        "floor",
        "play",
        "rollout",
        "projection",
        "decoding",
        "analyze",
        "play through the API",
        "load",
        "probe",
    }
    assert all(row["runs"] > 0 and row["median_ms"] > 0 for row in results["rows"])
    names = {row["name"] for row in results["rows"]}
    for role in ("encoder", "decoder"):
        assert {
            f"{role} batch 1 (onnxruntime)",
            f"{role} batch 1 (torch eager)",
            f"{role} batch 1, convolutions alone (onnxruntime)",
            f"{role} batch 1, convolutions alone (torch eager)",
        } <= names
        assert (
            f"{role} batch 1: what a 2x over torch eager leaves for the normalizations and activations"
            in results["facts"]
        )
    assert any(row["name"].startswith("play step through the API") for row in results["rows"])
    assert "cold start: launch → page served" in results["facts"]
    facts = results["facts"]
    one = facts[
        "Run mode: frames per second one player asks for and gets (/run_step, HTTP + SSE, one at a time, at most 20 "
        "on the page); the app's CPU"
    ]
    assert float(one.split(";")[0]) > 0
    each = facts["Run mode, 2 players at once: frames per second each gets; the app's CPU"].split(";")[0]
    assert all(float(rate) > 0 for rate in each.split(","))
    page = tmp_path / "out" / "RESULTS.md"
    assert "| measurement |" in page.read_text()
    by_hand = "\n## Measured apart\n\nA figure written by hand.\n"
    page.write_text(page.read_text() + "\n" + HAND_WRITTEN + "\n" + by_hand)
    # one suite again: its rows are replaced, every other suite's and the hand-written section stay, the page
    # names both commands
    probe_rows = [row for row in results["rows"] if row["suite"] == "probe"]
    assert main([*quick_bench, "--suite", "probes", "--out", str(tmp_path / "out")]) == 0
    again = json.loads((tmp_path / "out" / "results.json").read_text())
    others = [row for row in results["rows"] if row["suite"] != "probe"]
    assert [row for row in again["rows"] if row["suite"] != "probe"] == others
    assert len([row for row in again["rows"] if row["suite"] == "probe"]) == len(probe_rows)
    assert again["command"] == results["command"] and again["later_runs"][0]["suites"] == ["probe"]
    assert "measured later, alone, by `studio bench --quick --suite probes" in page.read_text()
    assert page.read_text().endswith(HAND_WRITTEN + "\n" + by_hand)
    with pytest.raises(SystemExit, match="no suite probe; the suites are graphs"):
        main(["bench", "--suite", "probe", "--bundle", str(tiny_bundle)])


def test_multiply_adds_are_counted_from_the_graphs_own_shapes(tmp_path):
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from benchmarks.flops import multiply_adds

    weights = [
        numpy_helper.from_array(np.zeros(shape, np.float32), name)
        for name, shape in (("conv_w", (4, 3, 3, 3)), ("up_w", (4, 2, 4, 4)), ("fc_w", (5, 512)))
    ]
    nodes = [
        helper.make_node("Conv", ["x", "conv_w"], ["h"], pads=[1, 1, 1, 1]),  # [B, 4, 8, 8]: 4*8*8 outputs x 3*3*3
        helper.make_node(
            "ConvTranspose", ["h", "up_w"], ["u"], strides=[2, 2], pads=[1, 1, 1, 1]
        ),  # 4*8*8 inputs x 2*4*4
        helper.make_node("Flatten", ["u"], ["f"]),  # [B, 2*16*16]
        helper.make_node("Gemm", ["f", "fc_w"], ["y"], transB=1),  # 512 x 5
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["B", 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["B", 5])],
        initializer=weights,
    )
    path = tmp_path / "g.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), path)
    assert multiply_adds(path) == 4 * 8 * 8 * 27 + 4 * 8 * 8 * 2 * 16 + 512 * 5


def test_convolutions_alone_are_the_same_convolutions_in_both_runtimes(tiny_model, tmp_path):
    import numpy as np
    import onnx
    import onnxruntime as ort

    from studio.train.eager_reference import convolutions_only, eager_graphs

    whole = eager_graphs(tiny_model)
    feeds = {
        "encoder": {
            "frames": np.random.default_rng(0).random((3, 3, tiny_world_model.H, tiny_world_model.W), np.float32)
        }
    }
    latents = whole["encoder"](feeds["encoder"])[0].numpy()  # [3, N, D]
    feeds["decoder"] = {"latents": latents}
    feeds["predictor"] = {
        "context": np.repeat(latents[:, None], tiny_world_model.C, axis=1),
        "action": np.eye(tiny_world_model.K, tiny_world_model.DA, dtype=np.float32)[:3],
    }
    for role, (eager, path) in convolutions_only(tiny_model, tmp_path).items():
        ops = [node.op_type for node in onnx.load(str(path)).graph.node]
        assert "Conv" in ops and "InstanceNormalization" not in ops
        assert ops.count("Sigmoid") == (role == "decoder")  # SiLU's gone; the decoder's output squashing stays
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        convolutions = session.run(None, feeds[role])[0]
        np.testing.assert_allclose(convolutions, eager(feeds[role])[0].numpy(), atol=1e-5)
        assert not np.allclose(convolutions, whole[role](feeds[role])[0].numpy(), atol=1e-3)  # something was taken out


def test_targets_are_judged_on_the_runs_own_figures():
    from benchmarks.targets import API_STEP, TARGETS

    def figure(name, median, p95=0.0, ratio=None):
        return {"name": name, "median_ms": median, "p95_ms": p95, "ratio": ratio}

    payload = {
        "rows": [
            figure(API_STEP, 15.0, 95.0),
            figure("encoder batch 1 (onnxruntime)", 1.0, ratio=2.5),
            figure("decoder batch 1 (onnxruntime)", 1.0, ratio=1.4),
        ],
        "facts": {"cold start: launch → page served": "3.63 s"},
    }
    verdicts = {t.what: t.judge(payload) for t in TARGETS}
    assert verdicts["play step through the API, p50"] == ("15.00 ms", "met")
    assert verdicts["play step through the API, p95"] == ("95.00 ms", "missed")
    assert verdicts["onnxruntime over torch eager, encoder batch 1"] == ("2.50 x", "met")
    assert verdicts["onnxruntime over torch eager, decoder batch 1"] == ("1.40 x", "missed")
    assert verdicts["cold start: launch → page served"] == ("3.63 s", "met")
    assert verdicts["play step in process"] == ("", "not measured")


def test_the_kernel_floor_counts_every_groupnorm_and_silu_of_a_graph(tiny_bundle):
    from benchmarks.floors import kernel_floor, normalized_and_activated

    # the tiny encoder (16x16 frames, widths 8 and 16): GroupNorm + SiLU before each downsampling conv
    # (8x16x16, then 8x8x8), two in the residual block and one before the last conv (16x4x4 each)
    elements = 8 * 16 * 16 + 8 * 8 * 8 + 3 * 16 * 4 * 4
    assert normalized_and_activated(tiny_bundle / "encoder.onnx") == (elements, elements)
    floor = kernel_floor(elements, elements)
    assert floor.norm.elements == floor.scale_and_shift.elements == floor.silu.elements == elements
    for graph in floor.graphs:
        graph()  # each runs
