"""A trained module rewritten, for export only, as the same function in the ops onnxruntime runs fastest.

The TorchScript exporter writes a GroupNorm as Shape, Reshape, InstanceNormalization, Reshape, then a
broadcast Mul and Add for its affine. onnxruntime's broadcast Mul and Add over a [1, C, h, w] tensor cost
about as much as the normalization itself; one BatchNormalization with zero mean and unit variance does
the same per-channel scale and shift for less. In the predictor's blocks the GroupNorm's affine and the
action's FiLM are two per-channel scale-and-shifts in a row: folded into one, the big tensor is read twice
fewer times per block. Training never sees these modules; `studio.train.export` checks every exported
graph against the original module.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from studio.train.predictor import ActionBlock


class _GroupStatistics(torch.autograd.Function):
    """x normalized by the mean and variance of each of its channel groups, with no affine."""

    @staticmethod
    def forward(ctx, x, groups: int, eps: float):  # [B, C, h, w] -> [B, C, h, w]
        return F.group_norm(x, groups, eps=eps)

    @staticmethod
    def symbolic(g, x, groups: int, eps: float):
        grouped = g.op("Reshape", x, g.op("Constant", value_t=torch.tensor([0, groups, -1])))  # [B, G, C/G*h*w]
        ones, zeros = (g.op("Constant", value_t=torch.full((groups,), value)) for value in (1.0, 0.0))
        normalized = g.op("InstanceNormalization", grouped, ones, zeros, epsilon_f=eps)
        return g.op("Reshape", normalized, g.op("Shape", x))


def group_statistics(x: torch.Tensor, norm: nn.GroupNorm) -> torch.Tensor:  # [B, C, h, w] -> [B, C, h, w]
    return _GroupStatistics.apply(x, norm.num_groups, norm.eps)


class ScaleShiftGroupNorm(nn.Module):
    """A GroupNorm exported as its group statistics and one BatchNormalization for the affine."""

    def __init__(self, norm: nn.GroupNorm):
        super().__init__()
        self.norm = norm
        self.register_buffer("zeros", torch.zeros(norm.num_channels))
        self.register_buffer("ones", torch.ones(norm.num_channels))

    def forward(self, x):  # [B, C, h, w]
        normalized = group_statistics(x, self.norm)
        return F.batch_norm(normalized, self.zeros, self.ones, self.norm.weight, self.norm.bias, False, 0.0, 0.0)


class FoldedActionBlock(nn.Module):
    """An ActionBlock whose first GroupNorm affine and FiLM are one per-channel scale and shift."""

    def __init__(self, block: ActionBlock):
        super().__init__()
        self.block = block
        block.norm2 = ScaleShiftGroupNorm(block.norm2)  # `block` is for_export's copy: the trained one is untouched

    def forward(self, x, action):  # [B, W, g, g], [B, Da]
        b = self.block
        scale, shift = b.film_of(action)  # [B, W, 1, 1] each
        gain = b.norm1.weight[:, None, None] * (1 + scale)  # [B, W, 1, 1]
        offset = b.norm1.bias[:, None, None] * (1 + scale) + shift  # [B, W, 1, 1]
        return b.convolved(x, group_statistics(x, b.norm1) * gain + offset)


def for_export(module: nn.Module) -> nn.Module:
    """A copy of `module` with every ActionBlock folded and every other GroupNorm as statistics + BatchNorm."""
    rewritten = copy.deepcopy(module).eval()
    replace_modules(
        rewritten,
        lambda child: (
            FoldedActionBlock(child)
            if isinstance(child, ActionBlock) and isinstance(child.norm1, nn.GroupNorm)
            else None
        ),
    )
    replace_modules(
        rewritten,
        lambda child: ScaleShiftGroupNorm(child) if isinstance(child, nn.GroupNorm) and child.affine else None,
        keep=(FoldedActionBlock, ScaleShiftGroupNorm),
    )
    return rewritten


def replace_modules(
    module: nn.Module, replacement: Callable[[nn.Module], nn.Module | None], keep: tuple[type, ...] = ()
) -> None:
    """Swap, in place, every submodule for which `replacement` returns a module; look inside the others, except
    those of the `keep` types (whose own submodules are read, not run)."""
    for name, child in list(module.named_children()):
        if isinstance(child, keep):
            continue
        new = replacement(child)
        if new is None:
            replace_modules(child, replacement, keep)
        else:
            setattr(module, name, new)
