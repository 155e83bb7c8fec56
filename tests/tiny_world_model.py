"""A tiny world model in torch, exported as a real bundle: the fixture the runtime and app tests run on.

The modules are deliberately small and random, but every output depends on every input, so an export
that drops an input (or a runtime that feeds the wrong tensor) changes the numbers and fails the tests.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from studio.bundle import (
    GRAPH_SIGNATURES,
    ActionSpec,
    FrameSpec,
    GraphSpec,
    LatentSpec,
    Manifest,
    PredictorSpec,
    TensorSpec,
    sha256_file,
    write_manifest,
)

H = W = 16
PATCH = 4
GRID = (H // PATCH, W // PATCH)
N, D, DA, K, C = GRID[0] * GRID[1], 8, 4, 4, 2


class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.patchify = nn.Conv2d(3, D, PATCH, stride=PATCH)

    def forward(self, frames):  # [B, 3, H, W]
        return self.patchify(frames).flatten(2).transpose(1, 2)  # [B, N, D]


class Decoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.unpatchify = nn.Linear(D, 3 * PATCH * PATCH)

    def forward(self, latents):  # [B, N, D]
        b = latents.shape[0]
        patches = torch.sigmoid(self.unpatchify(latents))  # [B, N, 3*P*P]
        patches = patches.transpose(1, 2).reshape(b, 3 * PATCH * PATCH, *GRID)  # [B, 3*P*P, h, w]
        return nn.functional.pixel_shuffle(patches, PATCH)  # [B, 3, H, W]


class ActionModel(nn.Module):
    def __init__(self, encoder: Encoder):
        super().__init__()
        self.encoder = encoder
        self.head = nn.Linear(2 * N * D, DA)
        self.codebook = nn.Parameter(torch.randn(K, DA))

    def forward(self, frames, frames_next):  # [B, 3, H, W] twice
        pair = torch.cat([self.encoder(frames), self.encoder(frames_next)], dim=1)  # [B, 2N, D]
        action = self.head(pair.flatten(1))  # [B, Da]
        distances = torch.cdist(action, self.codebook)  # [B, K]
        return action, distances.argmin(dim=1), distances


class Predictor(nn.Module):
    def __init__(self):
        super().__init__()
        self.mix = nn.Linear(C * D, D)
        self.act = nn.Linear(DA, D)

    def forward(self, context, action):  # [B, C, N, D], [B, Da]
        b = context.shape[0]
        stacked = context.permute(0, 2, 1, 3).reshape(b, N, C * D)  # [B, N, C*D]
        return torch.tanh(self.mix(stacked) + self.act(action)[:, None])  # [B, N, D]


def build_modules(seed: int = 0) -> dict[str, nn.Module]:
    torch.manual_seed(seed)
    encoder = Encoder()
    return {"encoder": encoder, "actions": ActionModel(encoder), "predictor": Predictor(), "decoder": Decoder()}


def example_inputs(role: str) -> tuple[torch.Tensor, ...]:
    frames = torch.rand(2, 3, H, W)
    return {
        "encoder": (frames,),
        "actions": (frames, torch.rand(2, 3, H, W)),
        "predictor": (torch.randn(2, C, N, D), torch.randn(2, DA)),
        "decoder": (torch.randn(2, N, D),),
    }[role]


def export_tiny_bundle(out_dir: Path, modules: dict[str, nn.Module], name: str = "tiny") -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    sizes = {"H": H, "W": W, "N": N, "D": D, "C": C, "Da": DA, "K": K}
    graphs = {}
    for role, module in modules.items():
        inputs, outputs = GRAPH_SIGNATURES[role]
        file = f"{role}.onnx"
        torch.onnx.export(
            module.eval(),
            example_inputs(role),
            str(out_dir / file),
            input_names=list(inputs),
            output_names=list(outputs),
            dynamic_axes={n: {0: "B"} for n in [*inputs, *outputs]},
            opset_version=18,
            dynamo=False,  # the TorchScript exporter: simplest for these tiny fixed graphs
        )

        def spec(names: dict[str, tuple]) -> list[TensorSpec]:
            return [
                TensorSpec(
                    n,
                    [sizes.get(d, d) if isinstance(d, str) else d for d in shape],
                    "int64" if n == "code" else "float32",
                )
                for n, shape in names.items()
            ]

        graphs[role] = GraphSpec(file, sha256_file(out_dir / file), spec(inputs), spec(outputs))
    manifest = Manifest(
        name=name,
        description="A tiny random world model for tests.",
        license="MIT",
        trained_on={"source": "random weights"},
        frame=FrameSpec(height=H, width=W),
        latent=LatentSpec(tokens=N, dim=D, grid=list(GRID)),
        action=ActionSpec(codebook_size=K, dim=DA, codebook=modules["actions"].codebook.detach().tolist()),
        predictor=PredictorSpec(context=C),
        graphs=graphs,
    )
    write_manifest(manifest, out_dir)
    return out_dir
