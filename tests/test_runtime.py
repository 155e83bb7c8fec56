"""The onnxruntime world model against the torch modules it was exported from."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

import tiny_world_model as tiny
from studio.runtime import WorldModel, to_uint8_frames


@pytest.fixture(scope="module")
def model(tiny_bundle) -> WorldModel:
    return WorldModel.load(tiny_bundle, device="auto")


def frames(count: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).random((count, 3, tiny.H, tiny.W), dtype=np.float32)


def test_reports_the_provider_actually_used(model):
    assert set(model.providers) == {"encoder", "actions", "predictor", "decoder"}
    for provider in model.providers.values():
        assert provider in ("CPUExecutionProvider", "CUDAExecutionProvider")
    assert model.device == ("cuda" if "CUDAExecutionProvider" in model.providers.values() else "cpu")


def test_encode_and_decode_match_torch(model, tiny_modules):
    x = frames(70, seed=1)  # more than one batch of 64
    with torch.no_grad():
        z_torch = tiny_modules["encoder"](torch.from_numpy(x)).numpy()
        y_torch = tiny_modules["decoder"](torch.from_numpy(z_torch)).numpy()
    z = model.encode(x)
    assert z.shape == (70, tiny.N, tiny.D)
    np.testing.assert_allclose(z, z_torch, atol=1e-4)
    np.testing.assert_allclose(model.decode(z), y_torch, atol=1e-4)


def test_infer_actions_matches_torch(model, tiny_modules):
    z = model.encode(frames(9, seed=2))  # [9, N, D]
    padded = np.concatenate([np.repeat(z[:1], tiny.L - 2, axis=0), z])  # frame 0 stands in before the clip
    windows = np.stack([padded[t : t + tiny.L] for t in range(8)])  # [8, L, N, D]
    with torch.no_grad():
        action, code, distances = tiny_modules["actions"](torch.from_numpy(windows))
    inferred = model.infer_actions(z)
    assert inferred.codes.dtype == np.int64 and inferred.codes.shape == (8,)
    np.testing.assert_allclose(inferred.vectors, action.numpy(), atol=1e-4)
    np.testing.assert_allclose(inferred.distances, distances.numpy(), atol=1e-4)
    np.testing.assert_array_equal(inferred.codes, code.numpy())


def test_predict_and_rollout_match_torch(model, tiny_modules):
    rng = np.random.default_rng(3)
    context = rng.standard_normal((3, tiny.C, tiny.N, tiny.D)).astype(np.float32)
    actions = model.action_vectors(rng.integers(0, tiny.K, size=(3, 5)))  # [3, 5, Da]
    predicted = model.rollout(context, actions)
    assert predicted.shape == (3, 5, tiny.N, tiny.D)
    with torch.no_grad():
        window = torch.from_numpy(context)
        for step in range(5):
            z_next = tiny_modules["predictor"](window, torch.from_numpy(actions[:, step]))
            np.testing.assert_allclose(predicted[:, step], z_next.numpy(), atol=1e-4)
            window = torch.cat([window[:, 1:], z_next[:, None]], dim=1)


def test_outputs_change_when_inputs_change(model):
    a, b = frames(4, seed=4), frames(4, seed=5)
    assert np.abs(model.encode(a) - model.encode(b)).max() > 1e-3
    assert np.abs(model.decode(model.encode(a)) - model.decode(model.encode(b))).max() > 1e-3
    assert (
        np.abs(model.infer_actions(model.encode(a)).vectors - model.infer_actions(model.encode(b)).vectors).max() > 1e-3
    )
    context = model.start_context(model.encode(a))[None]  # [1, C, N, D]
    by_code = [model.predict(context, model.action_vectors([k])) for k in range(tiny.K)]
    assert max(np.abs(by_code[0] - other).max() for other in by_code[1:]) > 1e-3
    other_context = model.start_context(model.encode(b))[None]
    assert np.abs(model.predict(other_context, model.action_vectors([0])) - by_code[0]).max() > 1e-3


def test_uint8_frames_are_accepted_and_returned(model):
    pictures = to_uint8_frames(frames(3, seed=6))  # [3, H, W, 3]
    assert pictures.shape == (3, tiny.H, tiny.W, 3) and pictures.dtype == np.uint8
    np.testing.assert_allclose(model.encode(pictures), model.encode(pictures.transpose(0, 3, 1, 2) / 255.0), atol=1e-5)
    with pytest.raises(ValueError, match="must be"):
        model.encode(np.zeros((2, 8, 8, 3), np.uint8))


def test_out_of_range_codes_are_refused(model):
    with pytest.raises(ValueError, match="0..3"):
        model.action_vectors([0, tiny.K])


def test_start_context_pads_short_histories(model):
    latents = model.encode(frames(1, seed=7))  # [1, N, D]
    context = model.start_context(latents)
    assert context.shape == (tiny.C, tiny.N, tiny.D)
    np.testing.assert_array_equal(context[0], context[-1])


def test_studio_never_imports_torch():
    code = (
        "import sys, studio, studio.bundle, studio.runtime, studio.video, studio.cli, app\n"
        "assert 'torch' not in sys.modules, sorted(m for m in sys.modules if m.startswith('torch'))"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("chunk", [7, 29])  # 30 frames: chunks of 7 ending in 2; or 29 and a single frame
def test_a_clip_analyzed_in_chunks_matches_one_pass(model, tmp_path, monkeypatch, chunk):
    import studio.analysis as analysis
    from clips import moving_square_frames
    from studio.video import write_mp4

    clip = write_mp4(moving_square_frames(30, 48, 64), tmp_path / "square.mp4", fps=12)
    monkeypatch.setattr(analysis, "CHUNK", chunk)
    result = analysis.analyze_clip(model, clip)
    frames = model.as_model_frames(result.frames)
    whole = model.infer_actions(model.encode(frames))
    np.testing.assert_array_equal(result.actions.codes, whole.codes)
    np.testing.assert_allclose(result.actions.vectors, whole.vectors, atol=1e-5)
    np.testing.assert_allclose(result.latents, model.encode(frames), atol=1e-5)


def test_reconstructing_some_frames_matches_decoding_them(model, tmp_path, monkeypatch):
    import studio.analysis as analysis
    from clips import moving_square_frames
    from studio.metrics import psnr
    from studio.runtime import to_uint8_frames
    from studio.video import write_mp4

    clip = write_mp4(moving_square_frames(30, 48, 64), tmp_path / "square.mp4", fps=12)
    monkeypatch.setattr(analysis, "CHUNK", 7)
    result = analysis.analyze_clip(model, clip)
    everything = analysis.reconstruct(model, result)
    assert everything.frames.shape == result.frames.shape and everything.psnr.shape == (30,)
    decoded = model.decode(result.latents)  # [T, 3, H, W]
    np.testing.assert_array_equal(everything.frames, to_uint8_frames(decoded))
    np.testing.assert_allclose(everything.psnr, psnr(decoded, model.as_model_frames(result.frames)))
    some = analysis.reconstruct(model, result, [29, 3, 3, 11])
    assert some.indices.tolist() == [3, 11, 29]
    np.testing.assert_array_equal(some.frames, everything.frames[[3, 11, 29]])
    per_frame = some.psnr_per_frame(30)
    assert np.isnan(per_frame).sum() == 27 and per_frame[11] == everything.psnr[11]
    with pytest.raises(IndexError):
        analysis.reconstruct(model, result, [30])


@pytest.mark.parametrize("kind", ["cut", "gif"])
def test_a_clip_read_in_one_go_or_cut_short_is_analyzed_as_it_was_read(model, tmp_path, monkeypatch, kind):
    """The model runs on frames while the rest of the clip is read; a GIF (read in one go by PyAV) and a
    clip whose end is damaged (fewer frames than planned) must come out as the frames actually read."""
    import studio.analysis as analysis
    from clips import moving_square_frames
    from studio.video import read_clip, write_gif, write_mp4

    frames = moving_square_frames(60, 48, 64)
    if kind == "gif":
        path = write_gif(frames[:20], tmp_path / "square.gif", fps=10)
    else:
        whole = write_mp4(frames, tmp_path / "whole.mp4", fps=15).read_bytes()
        path = tmp_path / "cut.mp4"
        path.write_bytes(whole[: int(len(whole) * 0.8)])  # the stream opens; its last frames are lost
    monkeypatch.setattr(analysis, "CHUNK", 7)
    expected = read_clip(path, size=model.frame_size, resize=model.manifest.frame.resize)
    result = analysis.analyze_clip(model, path)
    assert len(result.frames) == len(expected.frames) >= 2
    if kind == "cut":
        assert len(result.frames) < 60  # the frames past the damage are gone, not invented
    np.testing.assert_array_equal(result.frames, expected.frames)
    np.testing.assert_allclose(result.latents, model.encode(expected.frames), atol=1e-5)
    np.testing.assert_array_equal(result.actions.codes, model.infer_actions(model.encode(expected.frames)).codes)
    assert set(result.timings) == {"screen", "read", "encode", "actions"}  # the tiny bundle judges no familiarity


def test_a_clip_cut_too_short_to_open_is_refused_by_the_analysis(model, tmp_path):
    import studio.analysis as analysis
    from clips import moving_square_frames
    from studio.video import ClipError, write_mp4

    whole = write_mp4(moving_square_frames(60, 48, 64), tmp_path / "whole.mp4", fps=15).read_bytes()
    path = tmp_path / "cut.mp4"
    path.write_bytes(whole[: int(len(whole) * 0.4)])
    with pytest.raises(ClipError, match="not a video"):
        analysis.analyze_clip(model, path)
