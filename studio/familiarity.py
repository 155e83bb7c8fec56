"""How familiar frames are to a world model: the distance of their latents to the bundle's own.

A frame the model was trained on, or one like it, encodes near the latents of the bundle's held-out
frames; another game, or the game seen through the wrong crop, encodes far from all of them. The score is
calibrated on held-out data: 1 at the held-out frames' median distance to the nearest reference latent, 0
at `MARGIN` times their 99th percentile, negative beyond. A frame scoring below 0 is unfamiliar.

Why latent distance rather than reconstruction error (both measured on held-out clips of Breakout in eight
forms and four other games, benchmarks/RESULTS.md): both separate them, but the distance needs no
decoding (a fifth of the cost of a clip's analysis is spared), and it judges predicted latents too, so a
rollout can say at which step it left familiar ground. The clip's reconstruction PSNR is reported beside
it, in decibels an analyst knows.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

# The unfamiliar limit in units of the held-out 99th percentile: Breakout re-encoded, rescaled or cut, once
# its screen is found, stays within 1.4x of it; other games lie beyond 3x.
MARGIN = 2.0
CHUNK = 512  # frames compared with the reference latents at a time
# A clip reconstructed below this share of the held-out 1st-percentile PSNR (in dB) is unfamiliar however near its
# latents lie (the shipped Breakout bundle: below 19.2 dB, where its clips read whole with 4 rows cut score 24.1)
DRAWN_SHARE = 0.5


@dataclass(frozen=True)
class Calibration:
    """Held-out figures the score is calibrated on (stored in the manifest's `reference.familiarity`)."""

    distance_median: float  # held-out frames' distance to the nearest reference latent
    distance_q99: float
    reconstruction_psnr_db: list[float]  # held-out reconstruction PSNR: 1st percentile, median, 99th
    frames: int  # held-out frames measured
    margin: float = MARGIN

    @property
    def limit(self) -> float:
        """The distance at which a frame becomes unfamiliar (score 0)."""
        return self.margin * self.distance_q99

    def to_json(self) -> dict:
        return asdict(self)


def nearest_distances(latents: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Latents [T, N, D] -> [T] Euclidean distance of each to its nearest reference latent [M, N, D]."""
    ref = np.asarray(reference, np.float32).reshape(len(reference), -1)  # [M, F]
    ref_norms = (ref * ref).sum(axis=1)  # [M]
    flat = np.asarray(latents, np.float32).reshape(len(latents), -1)  # [T, F]
    out = np.empty(len(flat), np.float32)
    for start in range(0, len(flat), CHUNK):
        chunk = flat[start : start + CHUNK]  # [c, F]
        squared = (chunk * chunk).sum(axis=1)[:, None] + ref_norms[None] - 2.0 * chunk @ ref.T  # [c, M]
        out[start : start + CHUNK] = np.sqrt(np.maximum(squared.min(axis=1), 0.0))
    return out


def reference_within(latents: np.ndarray, reference: np.ndarray, limit: float, first: int = 0) -> int:
    """Which reference latent [M, N, D] lies within `limit` of latents [N, D], or -1 for none: `familiarity`'s
    verdict on one frame (familiar: its nearest reference is within the limit), found cheaply on the path a game
    takes. The reference at `first` (the one that held the last frame: a game's frames change little from step to
    step) is tried alone first, and all of them only when it is out of reach (play.js does the same in the page)."""
    flat = np.asarray(latents, np.float32).reshape(-1)  # [F]
    ref = reference.reshape(len(reference), -1)  # [M, F]
    near = ref[first] - flat  # [F]
    if float(near @ near) <= limit * limit:
        return first
    apart = ref - flat  # [M, F]
    squared = np.einsum("mf,mf->m", apart, apart)  # [M]
    nearest = int(np.argmin(squared))
    return nearest if squared[nearest] <= limit * limit else -1


def familiarity(distances: np.ndarray, calibration: Calibration) -> np.ndarray:
    """[T] distances -> [T] scores: 1 at the held-out median, 0 at the unfamiliar limit, higher is more familiar."""
    span = max(calibration.limit - calibration.distance_median, 1e-9)
    return ((calibration.limit - np.asarray(distances, np.float64)) / span).astype(np.float32)


def calibrate(distances: np.ndarray, reconstruction_psnr: np.ndarray) -> Calibration:
    """The calibration from held-out frames' distances [T] and reconstruction PSNR [T]."""
    q01, median, q99 = np.percentile(reconstruction_psnr, [1, 50, 99])
    return Calibration(
        distance_median=float(np.median(distances)),
        distance_q99=float(np.percentile(distances, 99)),
        reconstruction_psnr_db=[round(float(q01), 2), round(float(median), 2), round(float(q99), 2)],
        frames=int(len(distances)),
    )


@dataclass(frozen=True)
class Verdict:
    """A clip's familiarity as a whole: familiar when most of its frames are."""

    familiar: bool
    familiar_share: float  # share of frames scoring at least 0
    median_score: float
    reconstruction_psnr_db: float | None  # mean over the frames decoded for the verdict, None when none were

    def message(self, game: str, calibration: Calibration) -> str:
        """What an analyst should know, in words and figures ('' when the clip is familiar)."""
        if self.familiar:
            return ""
        low, _, high = calibration.reconstruction_psnr_db
        quality = (
            f"reconstruction {self.reconstruction_psnr_db:.1f} dB, where its held-out clips score "
            f"{low:.0f}–{high:.0f} dB; "
            if self.reconstruction_psnr_db is not None
            else ""
        )
        latents = (
            "the model cannot draw it, though its frames encode near the model's own"
            if self.familiar_share >= 0.5  # unfamiliar by its reconstruction alone
            else f"{self.familiar_share:.0%} of its frames are familiar"
        )
        return (
            f"This clip looks unlike the {game} frames this model was trained on: {quality}{latents} (familiarity "
            f"{self.median_score:.2f}, held-out frames score 1, unfamiliar below 0). The map and the codes below may "
            "mean little."
        )


def verdict(
    scores: np.ndarray, reconstruction_psnr: np.ndarray | None = None, calibration: Calibration | None = None
) -> Verdict:
    """The clip's verdict from its frames' scores [T] (and the PSNR [M] of some decoded frames): familiar when
    most frames are, unless (with the calibration) the model draws the clip back at less than `DRAWN_SHARE` of
    the decibels its held-out clips' lowest 1% reach: an encoder trained for a few minutes maps any scene near
    its own latents, but cannot draw a scene it does not know (a Breakout clip through a bundle of a textured
    scene trained for one minute: familiarity 0.79, reconstruction 8.6 dB against 19.7 dB held out)."""
    scores = np.asarray(scores, np.float64)
    share = float((scores >= 0).mean()) if len(scores) else 0.0
    quality = (
        None if reconstruction_psnr is None or not len(reconstruction_psnr) else float(np.mean(reconstruction_psnr))
    )
    drawn = quality is None or calibration is None or quality >= DRAWN_SHARE * calibration.reconstruction_psnr_db[0]
    return Verdict(share >= 0.5 and drawn, share, float(np.median(scores)) if len(scores) else 0.0, quality)


def first_unfamiliar_step(scores: np.ndarray) -> int | None:
    """The first index [0-based] of a rollout's steps [S] whose score is below 0, or None."""
    below = np.flatnonzero(np.asarray(scores) < 0)
    return int(below[0]) if len(below) else None


def departure_steps(latents: np.ndarray, reference: np.ndarray, calibration: Calibration) -> list[int | None]:
    """Predicted latents of B rollouts [B, S, N, D] -> for each, the step (1-based: step s is the state after
    the s-th action) at which it first left familiar ground, or None when it never did."""
    b, s = latents.shape[:2]
    scores = familiarity(nearest_distances(latents.reshape(b * s, *latents.shape[2:]), reference), calibration)
    return [None if (first := first_unfamiliar_step(row)) is None else first + 1 for row in scores.reshape(b, s)]


def departure_sentence(label: str, step: int | None, steps: int) -> str:
    if step is None:
        return f"**{label}** stayed on familiar ground for all {steps} steps"
    return f"**{label}** left familiar ground at step **{step}**: frames after it look unlike any the model knows"
