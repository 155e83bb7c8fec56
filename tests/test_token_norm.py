"""`model.norm = "token"`: the autoencoder normalises each position on its own, so a token's latent depends on its
receptive field only (a sprite is coded alike wherever it is); its graphs export, match, and run in the page."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from studio.train.autoencoder import Decoder, Encoder
from studio.train.config import ModelConfig
from studio.train.export import export_graph
from studio.train.web_operators import operators_the_page_cannot_run

# Three stride-2 stages to an 8×8 grid: the encoder's receptive field is 56 pixels wide (a 3×3 conv, three 4×4
# stride-2 convs, a residual block's two 3×3 convs at stride 8), so the bottom-right token's (centred at pixel 60)
# starts at pixel 32 on both axes: a change in the top-left 8×8 pixels is outside it.
CONFIG = ModelConfig(frame_size=64, channels=(8, 16, 16), latent_dim=8)


def encoder(norm: str) -> Encoder:
    torch.manual_seed(0)
    return Encoder(replace(CONFIG, norm=norm)).eval()


def corner_changed(frames: torch.Tensor) -> torch.Tensor:  # [B, 3, 64, 64] -> the same, its top-left 8×8 lit
    changed = frames.clone()
    changed[:, :, :8, :8] = 1.0
    return changed


@pytest.mark.parametrize("norm, far_token_moves", [("token", False), ("group", True)])
def test_a_far_away_change_moves_a_token_only_through_group_statistics(norm, far_token_moves):
    frames = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        before, after = (encoder(norm)(x) for x in (frames, corner_changed(frames)))  # [B, 64, D] each
    far = before.shape[1] - 1  # the bottom-right token
    moved = (after[:, far] - before[:, far]).abs().max().item()
    assert (moved > 1e-4) == far_token_moves, moved
    assert (after[:, 0] - before[:, 0]).abs().max().item() > 1e-3  # the corner's own token sees it either way


@pytest.mark.parametrize("role", ["encoder", "decoder"])
def test_token_norm_graphs_export_and_run_in_the_page(role, tmp_path):
    torch.manual_seed(2)
    config = replace(CONFIG, norm="token")
    module = (Encoder if role == "encoder" else Decoder)(config).eval()
    with torch.no_grad():  # affines away from 1 and 0, so a lost one shows
        for name, p in module.named_parameters():
            if name.endswith("weight") and p.ndim == 1:
                p.copy_(0.5 + torch.rand(p.shape))
            elif name.endswith("bias") and p.ndim == 1:
                p.copy_(torch.randn(p.shape))
    generator = torch.Generator().manual_seed(3)
    shape = (2, 3, 64, 64) if role == "encoder" else (2, config.tokens, config.latent_dim)
    inputs = (torch.rand(shape, generator=generator),)  # frames in [0, 1] [B, 3, H, W], or latents [B, N, D]
    path = tmp_path / f"{role}.onnx"
    export_graph(module, inputs, path, role, "token-norm")
    assert operators_the_page_cannot_run(onnx.load(str(path))) == []
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    with torch.no_grad():
        want = module(*inputs).numpy()
    got = session.run(None, {session.get_inputs()[0].name: inputs[0].numpy()})[0]
    np.testing.assert_allclose(got, want, atol=1e-4)
