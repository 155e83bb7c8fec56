"""A transformer world model on discrete patch tokens, from PyPI (`improving-transformers-world-model`, an
implementation of Dedieu et al. 2025, "Improving Transformer World Models for Data-Efficient RL"), trained on
Breakout frames with the package's own loss and wrapped into the studio's graph shapes.

The package's model cuts each frame into patches, gives each patch the id of the nearest patch it has memorised
(a nearest-neighbour tokenizer that adds a patch when none lies within `distance_threshold`), and predicts the
next frame's ids with a block-causal transformer, one block of tokens a frame, a button embedding added to each
block. As the studio sees it:
- latents of a frame: its memorised patches, [N = (64 / patch)², D = patch² · 3] (a quantised latent: each row
  is one of the tokenizer's codes);
- encoder: the package's tokenizer (nearest memorised patch);
- predictor: the context's ids through the package's forward, the button on the last block, the most likely
  id of each patch of the next frame, as its memorised patch;
- decoder: the package's patches-to-frame rearrangement (exact: the latents are pixels).

The package adds frame t's button to block t - 1 (it conditions a policy on the block, which must not see the
action it is about to take), so block t would predict frame t + 1 without the button that moves it there; the
buttons are fed one frame early here so that block t carries the button pressed at frame t. The exported
predictor receives one button, the last frame's, so the context's earlier blocks get none (the package's
padding, -1); training drops each button with probability `button_dropout` so that the model has seen blocks
without one.

The package's metadata requires pufferlib and evolutionary-policy-optimization, which its world model never
imports (its agent's training loop does): `make` installs it without dependencies into `.venv/outside/`, outside
pip's view (as Procgen), and what its world model does import is in the `outside` extra.

Run: `python -m studio.train.outside.patch_transformer_breakout --data data/breakout --out exported/NAME`.
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from adam_atan2_pytorch import AdoptAtan2
from torch import nn

from studio.train.outside.breakout_windows import (
    ACTION_NAMES,
    SOURCE,
    Windows,
    as_images,
    example_labels,
    read_split,
)

PACKAGE_HOME = Path(sys.prefix) / "outside"  # where `make` installs improving-transformers-world-model (see above)
if PACKAGE_HOME.is_dir() and str(PACKAGE_HOME) not in sys.path:
    sys.path.append(str(PACKAGE_HOME))
import improving_transformers_world_model.world_model as package_world_model  # noqa: E402
from improving_transformers_world_model import WorldModel  # noqa: E402

FRAME_SIZE = 64
NO_BUTTON = -1  # the package's padding for a block without an action


@dataclass(frozen=True)
class PatchTransformerConfig:
    patch_size: int = 8
    distance_threshold: float = 0.5  # squared distance within which a patch reuses a memorised one
    max_codes: int = 512  # memorised patches at most (the prediction head has one output per code)
    dim: int = 96
    depth: int = 2
    heads: int = 3
    dim_head: int = 32
    context: int = 4  # frames the predictor sees
    steps: int = 1000
    batch_size: int = 8
    lr: float = 3e-4
    button_dropout: float = 0.5
    train_episodes: int = 60
    seed: int = 0

    def __post_init__(self):
        if FRAME_SIZE % self.patch_size:
            raise ValueError(f"patch_size must divide the frame size {FRAME_SIZE}")
        if self.context < 2:
            raise ValueError("context must be 2 frames or more (the button rides on the last block but one)")
        if not 0.0 <= self.button_dropout < 1.0:
            raise ValueError("button_dropout must lie in [0, 1)")

    @property
    def side(self) -> int:
        """Patches along each side of a frame."""
        return FRAME_SIZE // self.patch_size


def build(config: PatchTransformerConfig) -> WorldModel:
    side = config.side
    return WorldModel(
        image_size=FRAME_SIZE,
        patch_size=config.patch_size,
        channels=3,
        num_actions=len(ACTION_NAMES),
        tokenizer=dict(
            dim=config.patch_size**2 * 3, distance_threshold=config.distance_threshold, max_codes=config.max_codes
        ),
        transformer=dict(
            dim=config.dim, depth=config.depth, block_size=side * side, heads=config.heads, dim_head=config.dim_head
        ),
    )


def buttons_one_frame_early(actions: np.ndarray) -> torch.Tensor:
    """actions [B, L] (action t moves frame t to t + 1) -> the package's actions [B, L, 1], shifted so that
    the block of frame t carries the button pressed at frame t (see the module's docstring)."""
    early = np.concatenate([actions[:, 1:], np.full_like(actions[:, :1], NO_BUTTON)], axis=1)  # [B, L]
    return torch.from_numpy(early).long().unsqueeze(-1)


def memorise_patches(model: WorldModel, episodes, chunk: int = 512) -> int:
    """Give the tokenizer every distinct patch of the training frames, by its own rule (add_codes_: a patch
    farther than the threshold from every code becomes a code), before the transformer trains. The package
    memorises during its forward instead, but its forward fails on a batch that brings a new patch once codes
    exist (masked_fill_ with a tensor value, 0.0.59), so the codes are settled first and the tokenizer then
    only looks them up. -> the number of codes."""
    tokenizer = model.tokenizer
    with torch.no_grad():
        for episode in episodes:
            for start in range(0, len(episode.frames), chunk):
                frames = as_images(episode.frames[start : start + chunk]).transpose(0, 1).unsqueeze(0)  # [1,3,T,H,W]
                patches = model.state_to_patches(frames).reshape(-1, tokenizer._codes.shape[1])  # [P, D]
                if int(tokenizer.num_codes):
                    near = (torch.cdist(patches, tokenizer.codes) ** 2 <= tokenizer.distance_threshold).any(-1)
                    patches = patches[~near]
                tokenizer.add_codes_(patches)
    return int(tokenizer.num_codes)


def train(model: WorldModel, windows: Windows, config: PatchTransformerConfig, log=print) -> list[float]:
    """The package's loss (next-frame token cross-entropy) on windows of context + 1 frames, with the
    optimizer its agent uses (AdoptAtan2), once the tokenizer has memorised the patches. -> the loss at every
    step."""
    rng = np.random.default_rng(config.seed)
    codes = memorise_patches(model, windows.episodes)
    log(f"{codes} patches memorised")
    optimizer = AdoptAtan2(model.parameters(), lr=config.lr)
    model.train()
    model.tokenizer.eval()  # look the codes up; memorising is done
    losses, started = [], time.monotonic()
    for step in range(config.steps):
        frames, actions = windows.sample(config.batch_size, rng)  # [B, L, H, W, 3], [B, L]
        dropped = rng.random(actions.shape) < config.button_dropout
        state = as_images(frames).transpose(1, 2)  # [B, 3, L, H, W]
        loss = model(state, actions=buttons_one_frame_early(np.where(dropped, NO_BUTTON, actions)))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        if step % 50 == 0 or step == config.steps - 1:
            log(f"step {step}: loss {loss.item():.3f}, {time.monotonic() - started:.0f} s")
    model.eval()
    return losses


def memorised_patches(model: WorldModel) -> torch.Tensor:
    """The tokenizer's codes so far [K, D] (its buffer holds max_codes rows, the rest unused)."""
    return model.tokenizer.codes.detach().clone()


def nearest_ids(patches: torch.Tensor, codebook: torch.Tensor) -> torch.Tensor:
    """patches [..., D], codebook [K, D] -> the id of the nearest code [...] (the tokenizer's rule once it has
    stopped memorising), by squared distance written out so that it traces to ONNX."""
    distance = (patches**2).sum(-1, keepdim=True) - 2 * patches @ codebook.T + (codebook**2).sum(-1)  # [..., K]
    return distance.argmin(-1)


class WrittenOutRMSNorm(nn.Module):
    """An nn.RMSNorm as the arithmetic it does, which the TorchScript ONNX exporter knows (it has no aten::rms_norm
    at opset 18): x / sqrt(mean(x²) + eps) · weight, eps as RMSNorm picks it when given none."""

    def __init__(self, norm: nn.RMSNorm):
        super().__init__()
        self.weight = norm.weight
        self.eps = norm.eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [..., D] -> [..., D]
        eps = torch.finfo(x.dtype).eps if self.eps is None else self.eps
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * self.weight


class BroadcastingEinx:
    """The package's einx calls on the predictor's path (`add` and `where` of operands whose axes appear in the
    output's order) as plain broadcasting. einx compiles each call for the shapes it first sees, so a traced
    graph would keep the batch size of the trace; broadcasting keeps the batch axis dynamic."""

    @staticmethod
    def _aligned(axes: str, output: str, value):  # operand -> operand with size-1 axes where output has more
        if not torch.is_tensor(value):
            return value
        have, want = axes.split(), output.split()
        if [a for a in want if a in have] != have:
            raise ValueError(f"einx pattern operand '{axes}' is not in the order of '{output}'")
        return value[tuple(slice(None) if a in have else None for a in want)]

    def _operands(self, pattern: str, values) -> list:
        inputs, output = pattern.split("->")
        return [self._aligned(axes, output, v) for axes, v in zip(inputs.split(","), values)]

    def add(self, pattern: str, *values):
        first, second = self._operands(pattern, values)
        return first + second

    def where(self, pattern: str, *values):
        condition, chosen, otherwise = self._operands(pattern, values)
        return torch.where(condition, chosen, otherwise)


@contextmanager
def traceable_shapes():
    """While tracing, the package's einx calls broadcast (BroadcastingEinx), so the graphs keep a dynamic batch."""
    imported_einx = package_world_model.einx
    package_world_model.einx = BroadcastingEinx()
    try:
        yield
    finally:
        package_world_model.einx = imported_einx


def for_export(model: WorldModel) -> WorldModel:
    """A copy of the model whose RMSNorms are written out (same function; the exporter checks parity)."""
    model = copy.deepcopy(model).eval()
    for parent in list(model.modules()):
        for name, child in parent.named_children():
            if isinstance(child, nn.RMSNorm):
                setattr(parent, name, WrittenOutRMSNorm(child))
    return model


class PatchEncoder(nn.Module):
    """frames [B, 3, H, W] in [0, 1] -> latents [B, N, D]: each patch replaced by its nearest memorised patch."""

    def __init__(self, model: WorldModel, codebook: torch.Tensor):
        super().__init__()
        self.to_patches = model.state_to_patches
        self.register_buffer("codebook", codebook)  # [K, D]

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        patches = self.to_patches(frames.unsqueeze(2)).flatten(1, 3)  # [B, N, D]
        return self.codebook[nearest_ids(patches, self.codebook)]  # [B, N, D]


class PatchPredictor(nn.Module):
    """(context latents [B, C, N, D], button one-hot [B, A]) -> the next frame's latents [B, N, D]: the
    package's transformer on the context's ids, the button on the last block, the most likely id per patch."""

    def __init__(self, model: WorldModel, codebook: torch.Tensor, side: int):
        super().__init__()
        self.model = model
        self.register_buffer("codebook", codebook)  # [K, D]
        self.side = side  # patches along each side of the frame

    def forward(self, context: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        frames = context.shape[1]
        # reshape with -1 rather than unflatten: after an unflatten, the traced graph would keep the batch's size
        ids = nearest_ids(context, self.codebook).reshape(-1, frames, self.side, self.side)  # [B, C, h, w]
        button = action.argmax(-1, keepdim=True)  # [B, 1]
        none = torch.full_like(button, NO_BUTTON)  # [B, 1]
        # the last block reads the button from position C - 2 (the package shifts buttons one block on)
        buttons = torch.cat([none.expand(-1, frames - 2), button, none], dim=1).unsqueeze(-1)  # [B, C, 1]
        logits, _, _ = self.model(ids, actions=buttons, return_loss=False)  # [B, C, h, w, max_codes]
        known = logits[:, -1, :, :, : self.codebook.shape[0]].flatten(1, 2)  # [B, N, K]
        return self.codebook[known.argmax(-1)]  # [B, N, D]


class PatchDecoder(nn.Module):
    """latents [B, N, D] -> frames [B, 3, H, W]: the memorised patches put back in place."""

    def __init__(self, model: WorldModel, side: int):
        super().__init__()
        self.to_frames = model.patches_to_state
        self.side = side  # patches along each side of the frame

    def forward(self, latents: torch.Tensor) -> torch.Tensor:
        # reshape with -1 rather than unflatten: after an unflatten, the traced graph would keep the batch's size
        grid = latents.reshape(-1, 1, self.side, self.side, latents.shape[-1])  # [B, 1, h, w, D]
        return self.to_frames(grid).squeeze(2).clamp(0.0, 1.0)  # [B, 3, H, W]


def export(model: WorldModel, config: PatchTransformerConfig, heldout, out_dir: Path, name: str, losses) -> Path:
    """The trained model as a studio bundle (format 3, action kind buttons), with held-out examples."""
    from studio.train.export_any import Buttons, export_world_model

    codebook = memorised_patches(model)
    with traceable_shapes():
        return export_world_model(
            out_dir,
            name=name,
            episodes=[e.frames for e in heldout],
            encoder=PatchEncoder(model, codebook),
            predictor=PatchPredictor(for_export(model), codebook, config.side),
            context=config.context,
            actions=Buttons(names=ACTION_NAMES, encoding="one_hot"),
            decoder=PatchDecoder(model, config.side),
            labels=[example_labels(e) for e in heldout],
            description=(
                "A transformer world model on memorised 8×8 patches (improving-transformers-world-model 0.0.59), "
                "trained briefly on Breakout with its own loss, conditioned on the game's buttons."
            ),
            license="MIT",
            trained_on={
                "source": SOURCE,
                "package": "improving-transformers-world-model==0.0.59",
                "config": asdict(config),
                "final_loss": float(np.mean(losses[-20:])),
                "memorised_patches": int(codebook.shape[0]),
            },
            fps=15.0,
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("data/breakout"))
    parser.add_argument("--out", type=Path, default=Path("exported/breakout-patch-transformer"))
    parser.add_argument("--steps", type=int, default=PatchTransformerConfig.steps)
    parser.add_argument("--examples", type=int, default=3, help="held-out episodes shipped as example clips")
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    config = PatchTransformerConfig(steps=args.steps)
    model = build(config)
    windows = Windows(read_split(args.data, "train", config.train_episodes), config.context + 1)
    losses = train(model, windows, config)
    print(export(model, config, read_split(args.data, "heldout", args.examples), args.out, args.out.name, losses))


if __name__ == "__main__":
    main()
