"""Predicted futures: roll the predictor forward from a frame of a clip under chosen actions, and judge them.

An action source says which action drives each step: the codes inferred from the clip itself (teacher-forced
replay), one code held, a typed sequence such as `2 2 5 1` (repeated to the number of steps), random codes, or
a point between two codes' vectors. Several sources from one frame are branches, rolled out together as one
batch (`WorldModel.rollout` is the latent step of it; `predict_branches` decodes and judges the branches).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from studio.metrics import psnr
from studio.montage import captioned, enlarged, side_by_side
from studio.runtime import WorldModel, to_uint8_frames

MAX_STEPS = 64
MAX_BRANCHES = 4
DELTA_T_HORIZON = 4  # ΔtPSNR is read at this step (docs/architecture.md, how a bundle is judged)


class ActionSequenceError(ValueError):
    """Actions that cannot be played; the message says why, in plain words."""


def parse_code_sequence(text: str, codebook_size: int) -> np.ndarray:
    """'2 2 5 1' (spaces or commas) -> codes [L] int64, each in 0..K-1."""
    tokens = text.replace(",", " ").split()
    if not tokens:
        raise ActionSequenceError(
            f"type a sequence of action codes, e.g. '1 1 2 0', each from 0 to {codebook_size - 1}"
        )
    codes = []
    for token in tokens:
        if not token.lstrip("-").isdigit():
            raise ActionSequenceError(
                f"'{token[:20]}' is not an action code: use whole numbers from 0 to {codebook_size - 1}"
            )
        codes.append(_checked_code(int(token), codebook_size))
    return np.asarray(codes, np.int64)


def _checked_code(code: int, codebook_size: int) -> int:
    if not 0 <= code < codebook_size:
        raise ActionSequenceError(f"code {code} is out of range: this model has codes 0 to {codebook_size - 1}")
    return code


@dataclass(frozen=True)
class ClipCodes:
    """The codes inferred from the clip itself, from the start frame on; past the clip's end the last one is held."""

    @property
    def label(self) -> str:
        return "the clip's codes"

    def codes(self, inferred: np.ndarray, start: int, steps: int, codebook_size: int) -> np.ndarray:
        """The clip's own codes `inferred` [T-1] -> the code of each step [S] int64."""
        if len(inferred) == 0:
            raise ActionSequenceError("the clip has no transitions to replay")
        indices = np.minimum(np.arange(start, start + steps), len(inferred) - 1)
        return np.asarray(inferred, np.int64)[indices]


@dataclass(frozen=True)
class HeldCode:
    """One code pressed at every step."""

    code: int

    @property
    def label(self) -> str:
        return f"code {self.code} held"

    def codes(self, inferred: np.ndarray, start: int, steps: int, codebook_size: int) -> np.ndarray:
        return np.full(steps, _checked_code(self.code, codebook_size), np.int64)  # [S]


@dataclass(frozen=True)
class TypedSequence:
    """A typed sequence of codes such as `2 2 5 1`, repeated to the number of steps."""

    text: str

    @property
    def label(self) -> str:
        return f"sequence {' '.join(self.text.replace(',', ' ').split())}"

    def codes(self, inferred: np.ndarray, start: int, steps: int, codebook_size: int) -> np.ndarray:
        return np.resize(parse_code_sequence(self.text, codebook_size), steps)  # [S]


@dataclass(frozen=True)
class RandomCodes:
    """Codes drawn uniformly at random, reproducibly from a seed."""

    seed: int

    @property
    def label(self) -> str:
        return f"random codes (seed {self.seed})"

    def codes(self, inferred: np.ndarray, start: int, steps: int, codebook_size: int) -> np.ndarray:
        return np.random.default_rng(self.seed).integers(0, codebook_size, size=steps)  # [S]


@dataclass(frozen=True)
class BetweenCodes:
    """One action vector held at every step: a share `mix` of the way from code `first`'s vector to `second`'s."""

    first: int
    second: int
    mix: float

    @property
    def label(self) -> str:
        return f"{1 - self.mix:.2f}·code {self.first} + {self.mix:.2f}·code {self.second}"


ActionSource = ClipCodes | HeldCode | TypedSequence | RandomCodes | BetweenCodes


def action_vectors(model: WorldModel, source: ActionSource, inferred: np.ndarray, start: int, steps: int) -> np.ndarray:
    """The action vector of each of `steps` steps from frame `start` under `source` -> [S, Da] float32;
    `inferred` [T-1] are the clip's own codes."""
    if isinstance(source, BetweenCodes):
        for code in (source.first, source.second):
            _checked_code(code, model.codebook_size)
        vector = interpolated_action(model, source.first, source.second, source.mix)  # [Da]
        return np.repeat(vector[None], steps, axis=0)
    return model.action_vectors(source.codes(inferred, start, steps, model.codebook_size)).astype(np.float32)


def branch_sources(lines: str) -> list[ActionSource]:
    """Extra branches typed one per line: `clip`, `random` (seeded by the line's number) or a code sequence."""
    sources: list[ActionSource] = []
    for i, line in enumerate((line.strip() for line in lines.splitlines() if line.strip()), start=1):
        word = line.lower()
        sources.append(ClipCodes() if word == "clip" else RandomCodes(i) if word == "random" else TypedSequence(line))
    if len(sources) > MAX_BRANCHES - 1:
        raise ActionSequenceError(f"at most {MAX_BRANCHES - 1} extra branches (one per line); got {len(sources)}")
    return sources


@dataclass(frozen=True)
class BranchPlan:
    """What drives each branch of a rollout."""

    vectors: np.ndarray  # [B, S, Da] float32
    labels: list[str]  # [B]


def plan_branches(
    model: WorldModel, first: ActionSource, extra_lines: str, inferred: np.ndarray, start: int, steps: int
) -> BranchPlan:
    """The first branch's source and the extra branches typed one per line (`branch_sources`) -> their action
    vectors, each line's error named by its number; `inferred` [T-1] are the clip's own codes."""
    vectors = [action_vectors(model, first, inferred, start, steps)]
    extra = branch_sources(extra_lines)
    for i, source in enumerate(extra, start=1):
        try:
            vectors.append(action_vectors(model, source, inferred, start, steps))
        except ActionSequenceError as err:
            raise ActionSequenceError(f"branch line {i}: {err}") from None
    return BranchPlan(np.stack(vectors), [first.label, *(source.label for source in extra)])


def interpolated_action(model: WorldModel, first: int, second: int, mix: float) -> np.ndarray:
    """The action vector [Da] a share `mix` of the way from code `first`'s vector to `second`'s,
    kept at their mean length (codebook vectors may live on a sphere)."""
    a, b = model.action_vectors(np.asarray([first, second]))  # [2, Da]
    vector = (1.0 - mix) * a + mix * b
    length = 0.5 * (np.linalg.norm(a) + np.linalg.norm(b))
    return (vector * length / max(float(np.linalg.norm(vector)), 1e-8)).astype(np.float32)


@dataclass(frozen=True)
class Branches:
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


def predict_branches(
    model: WorldModel, latents: np.ndarray, frames: np.ndarray, start: int, actions: np.ndarray, labels: list[str]
) -> Branches:
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
    return Branches(
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
    last = model.rollout(np.concatenate([context, context]), model.action_vectors(np.concatenate([inferred, random])))[
        :, -1
    ]  # [2S, N, D]
    predicted = model.decode(last)  # [2S, 3, H, W]
    target = model.as_model_frames(frames[starts + h])  # [S, 3, H, W]
    return float(psnr(predicted[: len(starts)], target).mean() - psnr(predicted[len(starts) :], target).mean())


def branch_video_frames(branches: Branches, height: int, gap: int = 4) -> np.ndarray:
    """The truth then every branch, side by side, each enlarged to about `height` pixels (`enlarged`) under a
    caption naming it, one video frame per step -> [S, CAPTION_HEIGHT + s*H, (B+1)*s*W + gaps, 3] uint8.

    Past the clip's end the truth panel stays black."""
    b, steps, h, w, _ = branches.predicted.shape
    truth = np.zeros((steps, h, w, 3), np.uint8)
    truth[: len(branches.truth)] = branches.truth
    truth_captions = [
        f"the clip, step {i + 1}" if i < len(branches.truth) else "the clip has ended" for i in range(steps)
    ]
    panels = [captioned(enlarged(truth, height), truth_captions)]
    panels += [
        captioned(enlarged(predicted, height), [f"{index + 1}: {label}"] * steps)
        for index, (predicted, label) in enumerate(zip(branches.predicted, branches.labels))
    ]
    return side_by_side(panels, gap)
