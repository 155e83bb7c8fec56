"""Predicted futures: roll the predictor forward from a frame of a clip under chosen actions, and judge them.

An action source says which code drives each step: the codes inferred from the clip itself (teacher-forced
replay), one code held, a typed sequence such as `2 2 5 1` (repeated to the number of steps), or random
codes. Several sources from one frame are branches, rolled out together as one batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from studio.metrics import psnr
from studio.runtime import WorldModel, to_uint8_frames

MAX_STEPS = 64
MAX_BRANCHES = 4
SOURCES = ("clip", "hold", "sequence", "random")
DELTA_T_HORIZON = 4  # ΔtPSNR is read at this step (DESIGN §5.1)


class ActionSequenceError(ValueError):
    """A typed action sequence that cannot be played; the message says why, in plain words."""


@dataclass(frozen=True)
class ActionSource:
    """Where the code of every rollout step comes from."""

    kind: str = "clip"  # one of SOURCES
    code: int = 0  # for "hold"
    sequence: str = ""  # for "sequence", e.g. "2 2 5 1"
    seed: int = 0  # for "random"


def parse_code_sequence(text: str, codebook_size: int) -> np.ndarray:
    """'2 2 5 1' (spaces or commas) -> codes [L] int64, each in 0..K-1."""
    tokens = text.replace(",", " ").split()
    if not tokens:
        raise ActionSequenceError(f"type a sequence of action codes, e.g. '1 1 2 0', each from 0 to {codebook_size - 1}")
    codes = []
    for token in tokens:
        if not token.lstrip("-").isdigit():
            raise ActionSequenceError(f"'{token[:20]}' is not an action code: use whole numbers from 0 to {codebook_size - 1}")
        code = int(token)
        if not 0 <= code < codebook_size:
            raise ActionSequenceError(f"code {code} is out of range: this model has codes 0 to {codebook_size - 1}")
        codes.append(code)
    return np.asarray(codes, np.int64)


def plan_codes(source: ActionSource, inferred: np.ndarray, start: int, steps: int, codebook_size: int) -> np.ndarray:
    """The code of each of `steps` steps from frame `start` -> [S] int64.

    `inferred` [T-1] are the clip's own codes; replaying them past the clip's end holds the last one.
    """
    if source.kind == "clip":
        if len(inferred) == 0:
            raise ActionSequenceError("the clip has no transitions to replay")
        indices = np.minimum(np.arange(start, start + steps), len(inferred) - 1)
        return np.asarray(inferred, np.int64)[indices]
    if source.kind == "hold":
        if not 0 <= source.code < codebook_size:
            raise ActionSequenceError(f"code {source.code} is out of range: this model has codes 0 to {codebook_size - 1}")
        return np.full(steps, source.code, np.int64)
    if source.kind == "sequence":
        codes = parse_code_sequence(source.sequence, codebook_size)
        return np.resize(codes, steps)
    if source.kind == "random":
        return np.random.default_rng(source.seed).integers(0, codebook_size, size=steps)
    raise ActionSequenceError(f"unknown action source '{source.kind}': choose one of {', '.join(SOURCES)}")


def interpolated_action(model: WorldModel, first: int, second: int, mix: float) -> np.ndarray:
    """The action vector [Da] a share `mix` of the way from code `first`'s vector to `second`'s,
    kept at their mean length (codebook vectors may live on a sphere)."""
    a, b = model.action_vectors(np.asarray([first, second]))  # [2, Da]
    vector = (1.0 - mix) * a + mix * b
    length = 0.5 * (np.linalg.norm(a) + np.linalg.norm(b))
    return (vector * length / max(float(np.linalg.norm(vector)), 1e-8)).astype(np.float32)


@dataclass(frozen=True)
class Rollout:
    """Branches rolled out from one frame of a clip, decoded, and compared with what the clip did next."""

    start: int  # the frame the rollout starts from
    labels: list[str]  # [B] what drove each branch
    predicted: np.ndarray  # [B, S, H, W, 3] uint8, decoded predictions of frames start+1 .. start+S
    latents: np.ndarray  # [B, S, N, D] predicted latents
    truth: np.ndarray  # [S', H, W, 3] uint8, the clip's frames start+1 .. start+S' (S' <= S: the clip may end)
    psnr: np.ndarray  # [B, S'] dB, each branch against the truth
    copy_psnr: np.ndarray  # [S'] dB, the decoded start frame taken as the prediction of every later frame

    @property
    def steps(self) -> int:
        return self.predicted.shape[1]


def roll_out(
    model: WorldModel, latents: np.ndarray, frames: np.ndarray, start: int, actions: np.ndarray, labels: list[str]
) -> Rollout:
    """From frame `start` of a clip (latents [T, N, D], frames [T, H, W, 3] uint8), roll every branch's
    action vectors [B, S, Da] forward and decode."""
    if not 0 <= start < len(latents):
        raise ActionSequenceError(f"the start frame must lie in 0..{len(latents) - 1}")
    b, steps, _ = actions.shape
    context = np.repeat(model.start_context(latents[: start + 1])[None], b, axis=0)  # [B, C, N, D]
    predicted_latents = model.rollout(context, actions)  # [B, S, N, D]
    decoded = model.decode(predicted_latents.reshape(b * steps, *predicted_latents.shape[2:]))  # [B*S, 3, H, W]
    predicted = to_uint8_frames(decoded).reshape(b, steps, *frames.shape[1:])  # [B, S, H, W, 3]
    truth = frames[start + 1 : start + 1 + steps]  # [S', H, W, 3]
    copy = to_uint8_frames(model.decode(latents[start : start + 1]))  # [1, H, W, 3]
    return Rollout(
        start=start,
        labels=labels,
        predicted=predicted,
        latents=predicted_latents,
        truth=truth,
        psnr=np.stack([psnr(branch[: len(truth)], truth, peak=255.0) for branch in predicted]),
        copy_psnr=psnr(np.repeat(copy, len(truth), axis=0), truth, peak=255.0),
    )


def delta_t_psnr(
    model: WorldModel, latents: np.ndarray, frames: np.ndarray, codes: np.ndarray, max_starts: int = 256, seed: int = 0
) -> float | None:
    """Genie's ΔtPSNR on one clip: PSNR at step 4 of rollouts under the clip's inferred codes minus under
    uniformly random codes, averaged over start frames; None when the clip is too short."""
    h = DELTA_T_HORIZON
    starts = np.arange(0, len(latents) - h)
    if len(starts) == 0:
        return None
    rng = np.random.default_rng(seed)
    starts = np.sort(rng.choice(starts, size=min(max_starts, len(starts)), replace=False))
    context = np.stack([model.start_context(latents[: s + 1]) for s in starts])  # [S, C, N, D]
    inferred = np.stack([codes[s : s + h] for s in starts])  # [S, 4]
    random = rng.integers(0, model.codebook_size, size=inferred.shape)  # [S, 4]
    last = model.rollout(
        np.concatenate([context, context]), model.action_vectors(np.concatenate([inferred, random]))
    )[:, -1]  # [2S, N, D]
    predicted = model.decode(last)  # [2S, 3, H, W]
    target = model.as_model_frames(frames[starts + h])  # [S, 3, H, W]
    return float(psnr(predicted[: len(starts)], target).mean() - psnr(predicted[len(starts) :], target).mean())


def branch_video_frames(rollout: Rollout, gap: int = 2) -> np.ndarray:
    """The truth then every branch, side by side, one video frame per step -> [S, H, (B+1)W + gaps, 3] uint8.

    Past the clip's end the truth panel stays black."""
    b, steps, h, w, _ = rollout.predicted.shape
    truth = np.zeros((steps, h, w, 3), np.uint8)
    truth[: len(rollout.truth)] = rollout.truth
    separator = np.full((steps, h, gap, 3), 255, np.uint8)
    panels = [truth]
    for branch in rollout.predicted:
        panels += [separator, branch]
    return np.concatenate(panels, axis=2)
