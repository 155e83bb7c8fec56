"""Bundle loading refuses, with a message naming the file, every way a bundle can be wrong."""

from __future__ import annotations

import json
import shutil

import pytest

from studio.bundle import BundleError, load_bundle, sha256_file


@pytest.fixture
def bundle(tiny_bundle, tmp_path):
    copy = tmp_path / "bundle"
    shutil.copytree(tiny_bundle, copy)
    return copy


def edit_manifest(bundle, change) -> None:
    path = bundle / "manifest.json"
    manifest = json.loads(path.read_text())
    change(manifest)
    path.write_text(json.dumps(manifest))


def test_a_valid_bundle_loads(bundle):
    loaded = load_bundle(bundle)
    assert loaded.name == "tiny"
    assert set(loaded.graph_paths) == {"encoder", "actions", "predictor", "decoder"}
    assert loaded.manifest.sizes()["K"] == 4


def test_tampered_graph_is_refused(bundle):
    with open(bundle / "decoder.onnx", "ab") as handle:
        handle.write(b"\0")
    with pytest.raises(BundleError, match=r"decoder\.onnx: sha256 mismatch"):
        load_bundle(bundle)


@pytest.mark.parametrize("escape", ["../outside.onnx", "/etc/passwd", "sub/../../x.onnx"])
def test_graph_path_escaping_the_folder_is_refused(bundle, escape):
    edit_manifest(bundle, lambda m: m["graphs"]["encoder"].update(file=escape))
    with pytest.raises(BundleError, match="inside the bundle folder"):
        load_bundle(bundle)


def test_symlink_out_of_the_folder_is_refused(bundle, tmp_path):
    outside = tmp_path / "elsewhere.onnx"
    shutil.copy(bundle / "encoder.onnx", outside)
    (bundle / "link.onnx").symlink_to(outside)
    edit_manifest(bundle, lambda m: m["graphs"]["encoder"].update(file="link.onnx"))
    with pytest.raises(BundleError, match="link.onnx: the encoder graph points outside"):
        load_bundle(bundle)


def test_missing_graph_is_refused(bundle):
    (bundle / "predictor.onnx").unlink()
    with pytest.raises(BundleError, match=r"predictor\.onnx: the predictor graph file is missing"):
        load_bundle(bundle)


def test_unknown_format_version_is_refused(bundle):
    edit_manifest(bundle, lambda m: m.update(version=1))
    with pytest.raises(BundleError, match="unknown format version 1"):
        load_bundle(bundle)


def test_manifest_shape_differing_from_the_contract_is_refused(bundle):
    edit_manifest(bundle, lambda m: m["graphs"]["decoder"]["outputs"][0].update(shape=["B", 3, 16, 99]))
    with pytest.raises(BundleError, match="decoder.onnx: the manifest gives output 'frames'"):
        load_bundle(bundle)


def test_manifest_with_a_fixed_batch_or_a_wrong_dtype_is_refused(bundle):
    edit_manifest(bundle, lambda m: m["graphs"]["encoder"]["inputs"][0].update(shape=[1, 3, 16, 16]))
    with pytest.raises(BundleError, match="encoder.onnx: the manifest gives input 'frames' .* a fixed batch size 1"):
        load_bundle(bundle)
    edit_manifest(bundle, lambda m: m["graphs"]["encoder"]["inputs"][0].update(shape=["B", 3, 16, 16], dtype="int64"))
    with pytest.raises(BundleError, match="encoder.onnx: the manifest gives input 'frames' .* dtype int64"):
        load_bundle(bundle)


def test_manifest_with_the_retired_fields_still_loads(bundle):
    def as_first_written(m):
        m["frame"].update(range=[0.0, 1.0], layout="NCHW", color="RGB")
        m["action"].update(convention="action[t] moves frame t to frame t+1")

    edit_manifest(bundle, as_first_written)
    loaded = load_bundle(bundle).manifest
    assert loaded.frame.resize == "stretch" and loaded.action.window >= 2
    assert "range" not in loaded.to_json()["frame"] and "convention" not in loaded.to_json()["action"]


def test_a_manifest_without_a_family_is_read_as_reconstruction_and_an_unknown_family_is_refused(bundle):
    edit_manifest(bundle, lambda m: m.pop("family", None))
    assert load_bundle(bundle).manifest.family == "reconstruction"
    edit_manifest(bundle, lambda m: m.update(family="diffusion"))
    with pytest.raises(BundleError, match="manifest.json: family must be one of .*'diffusion'"):
        load_bundle(bundle)


def test_graph_whose_shape_differs_from_the_manifest_is_refused(bundle):
    # Swap in the encoder graph as the decoder (hash updated): its shapes cannot match the decoder contract.
    shutil.copy(bundle / "encoder.onnx", bundle / "decoder.onnx")
    edit_manifest(bundle, lambda m: m["graphs"]["decoder"].update(sha256=sha256_file(bundle / "decoder.onnx")))
    with pytest.raises(BundleError, match="decoder.onnx: the decoder graph has inputs"):
        load_bundle(bundle)


def test_graph_of_the_wrong_size_is_refused(bundle):
    # A manifest that consistently claims latents of dim 9, while the graphs were exported with dim 8.
    def claim_dim_nine(m):
        m["latent"]["dim"] = 9
        for graph in m["graphs"].values():
            for tensor in graph["inputs"] + graph["outputs"]:
                if tensor["name"] in ("latents", "context", "latents_next"):
                    tensor["shape"][-1] = 9

    edit_manifest(bundle, claim_dim_nine)
    with pytest.raises(BundleError, match=r"\.onnx: (input|output) '\w+' of the \w+ graph has shape .*needs .*9\]"):
        load_bundle(bundle)


def test_unreadable_graph_is_refused(bundle):
    (bundle / "actions.onnx").write_bytes(b"not an onnx graph")
    edit_manifest(bundle, lambda m: m["graphs"]["actions"].update(sha256=sha256_file(bundle / "actions.onnx")))
    with pytest.raises(BundleError, match="actions.onnx: onnxruntime cannot open the actions graph"):
        load_bundle(bundle)


def test_broken_manifest_is_refused(bundle):
    (bundle / "manifest.json").write_text("{not json")
    with pytest.raises(BundleError, match="manifest.json: not valid JSON"):
        load_bundle(bundle)
    (bundle / "manifest.json").unlink()
    with pytest.raises(BundleError, match="manifest.json: missing"):
        load_bundle(bundle)


def test_graph_that_needs_a_custom_operator_is_refused(bundle):
    import onnx

    graph = onnx.load(str(bundle / "decoder.onnx"))
    node = graph.graph.node[-1]
    custom = onnx.helper.make_node("SecretSauce", list(node.input), list(node.output), domain="com.example.custom")
    graph.graph.node.remove(node)
    graph.graph.node.append(custom)
    graph.opset_import.append(onnx.helper.make_opsetid("com.example.custom", 1))
    onnx.save(graph, str(bundle / "decoder.onnx"))
    edit_manifest(bundle, lambda m: m["graphs"]["decoder"].update(sha256=sha256_file(bundle / "decoder.onnx")))
    with pytest.raises(BundleError, match="decoder.onnx: onnxruntime cannot open the decoder graph"):
        load_bundle(bundle)
