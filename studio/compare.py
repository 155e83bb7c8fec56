"""Two latent spaces side by side: two bundles on one clip, or one bundle on two clips.

Each side is a bundle and a clip analyzed with it. Both are measured the same way: how familiar the clip is
to the bundle, its map, its code usage and the code consistency its manifest reports, the clip's
reconstruction PSNR, a rollout from the same frame under the clip's own codes, its ΔtPSNR, the effective rank
of its latents, and linear probes of every label column. The probes of the two sides are then set against
each other column by column. This is what the Compare tab and `/compare` run; it knows nothing of the UI.
"""

from __future__ import annotations

import csv
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from studio import figures as F
from studio.analysis import ClipAnalysis, preview_indices, reconstruct
from studio.figures import first_measured
from studio.labels import Labels, LabelsError
from studio.latent_map import LatentMaps
from studio.metrics import code_perplexity, effective_rank
from studio.montage import captioned, enlarged, side_by_side
from studio.probe import ColumnRanking, ProbeConfig, ProbeError, probe_all
from studio.projection import ProjectionConfig
from studio.reference import reference_of
from studio.rollout import DELTA_T_HORIZON, Branches, ClipCodes, delta_t_psnr, plan_branches, predict_branches
from studio.runtime import WorldModel

DEFAULT_STEPS = 6
MAX_STEPS = 16
PSNR_FRAMES = 64  # frames decoded, spread over the clip, for its reconstruction PSNR
DELTA_T_STARTS = 32  # rollout starts for the clip's ΔtPSNR(t=4)
MAP = ProjectionConfig(method="umap", dims=2)
CELL_HEIGHT = 128  # pixels: each frame of the rollout picture is enlarged to about this height


class CompareError(ValueError):
    """A comparison that cannot be made; the message says why, for the user."""


@dataclass(frozen=True)
class Side:
    """One side of a comparison: a bundle, and a clip analyzed with it, with the clip's labels if it has any."""

    bundle: str
    model: WorldModel
    clip: Path  # the clip's file
    analysis: ClipAnalysis
    labels: Labels | None = None

    @property
    def title(self) -> str:
        return f"{self.bundle} · {self.clip.name}"


@dataclass(frozen=True)
class Consistency:
    """Code consistency as `studio evaluate` measured it and wrote it in the bundle's manifest."""

    mean: float | None  # mean over the codes in use of the share of starts moving the player its code's commonest
    # way; None where no code in use moves the player
    codes_in_use: int
    measured_on: str  # the set, named, with its size
    moving_codes: (
        int  # codes in use whose commonest way moves the player (a code that leaves it still is consistent too)
    )


@dataclass(frozen=True)
class ShippedLatents:
    """What `studio evaluate` measured of the bundle's latent space and wrote in its manifest."""

    effective_rank: float | None
    probes_r2: dict[str, float]  # label -> held-out R² of a linear probe (the labels its game names)
    measured_on: str  # the set, named, with its size


@dataclass(frozen=True)
class Familiarity:
    """How far the studio can vouch for a side: the clip's familiarity to the bundle, in a sentence."""

    vouched: bool  # False for an unfamiliar clip, or a bundle that cannot judge
    median: float | None  # the frames' median familiarity (1 held-out, below 0 unfamiliar); None: not judged
    sentence: str


@dataclass(frozen=True)
class SideFigures:
    side: Side
    familiarity: Familiarity
    coords: np.ndarray  # [T, 2] the clip's frames in the bundle's map
    cloud: np.ndarray | None  # [M, 2] the bundle's reference frames in the same map
    usage: np.ndarray  # [K] share of the clip's transitions per code
    perplexity: float
    consistency: Consistency | None
    shipped_latents: ShippedLatents | None
    dynamics: tuple[dict[int, float], str] | None  # latent prediction error ÷ copying's per step, where measured
    reconstruction_psnr_db: float  # mean over PSNR_FRAMES frames spread over the clip
    start_reconstruction: np.ndarray  # [H, W, 3] uint8, the rollout's start frame decoded
    start_psnr_db: float  # the start frame's reconstruction PSNR
    rollout: Branches  # one branch: the clip's own codes from the start frame
    delta_t_psnr_db: float | None
    effective_rank: float
    probes: ColumnRanking | None  # None without labels

    @property
    def latent_size(self) -> int:
        return int(np.prod(self.side.analysis.latents.shape[1:]))  # N·D


@dataclass(frozen=True)
class ProbeDifference:
    """One label column probed on both sides."""

    column: str
    kind: str
    metric: str
    scores: tuple[float, float]  # held-out R² or accuracy of sides A and B
    baselines: tuple[float, float]  # the trivial baseline's, on the same folds
    errors_removed: tuple[float, float]  # the share of the baseline's errors each probe removes

    @property
    def difference(self) -> float:
        """B's share of the baseline's errors removed minus A's: above 0, B's latents carry the column better."""
        return self.errors_removed[1] - self.errors_removed[0]


@dataclass(frozen=True)
class Comparison:
    sides: tuple[SideFigures, SideFigures]
    probes: list[ProbeDifference]  # the columns probed on both sides, the best encoded on either first

    def summary(self) -> dict:
        """The figures of both sides, JSON-ready."""
        return {"A": _side_summary(self.sides[0]), "B": _side_summary(self.sides[1])}


def check_distinct(bundles: tuple[str, str], clips: tuple[Path, Path]) -> None:
    """Refuses a comparison of a bundle and a clip with themselves."""
    if bundles[0] == bundles[1] and Path(clips[0]) == Path(clips[1]):
        raise CompareError(
            f"both sides are {bundles[0]} on {Path(clips[0]).name}: there is nothing to compare; "
            "pick another bundle or another clip for B"
        )


def clip_columns(labels: Labels, analysis: ClipAnalysis) -> dict[str, np.ndarray]:
    """Every label column at the clip's analyzed frames -> name: [T]; refuses labels made for another clip."""
    clip = analysis.clip
    try:
        return {name: labels.at(name, np.asarray(clip.indices), clip.source_frames) for name in labels.columns}
    except LabelsError as err:
        raise CompareError(str(err)) from None


def compare(
    a: Side, b: Side, maps: LatentMaps, start: int, steps: int = DEFAULT_STEPS, map_config: ProjectionConfig = MAP
) -> Comparison:
    """Measure both sides, rolling out from frame `start` of A's clip (the same source frame of B's when the
    two sides share a clip); each side's frames are placed in its bundle's map (`map_config`)."""
    check_distinct((a.bundle, b.bundle), (a.clip, b.clip))
    if not 1 <= steps <= MAX_STEPS:
        raise CompareError(f"roll out 1 to {MAX_STEPS} steps, not {steps}")
    columns = [clip_columns(side.labels, side.analysis) if side.labels is not None else None for side in (a, b)]
    start_a = _start_frame(a.analysis, start)
    start_b = _aligned_start(a, b, start_a)
    figures = (
        measure(a, maps, map_config, start_a, steps, columns[0]),
        measure(b, maps, map_config, start_b, steps, columns[1]),
    )
    return Comparison(figures, probe_differences(figures[0].probes, figures[1].probes))


def measure(
    side: Side,
    maps: LatentMaps,
    map_config: ProjectionConfig,
    start: int,
    steps: int,
    columns: dict[str, np.ndarray] | None,
) -> SideFigures:
    model, analysis = side.model, side.analysis
    latents, codes = analysis.latents, analysis.actions.codes  # [T, N, D], [T-1]
    plan = plan_branches(model, ClipCodes(), "", codes, start, steps)
    rollout = predict_branches(model, latents, analysis.frames, start, plan.vectors, plan.labels)
    sampled = reconstruct(model, analysis, np.union1d(preview_indices(len(latents), PSNR_FRAMES), [start]))
    at = int(np.searchsorted(sampled.indices, start))
    reference = reference_of(model)
    probes = None
    if columns is not None:
        try:
            probes = probe_all(latents, columns, ProbeConfig())
        except ProbeError as err:
            raise CompareError(f"{side.title}: {err}") from None
    return SideFigures(
        side=side,
        familiarity=familiarity_of(side),
        coords=maps.project(model, latents, map_config),
        cloud=None if reference is None else maps.project(model, reference.latents, map_config, own=latents),
        usage=np.bincount(codes, minlength=model.codebook_size) / max(1, len(codes)),
        perplexity=code_perplexity(codes, model.codebook_size),
        consistency=shipped_consistency(model),
        shipped_latents=shipped_latents(model),
        dynamics=shipped_dynamics(model),
        reconstruction_psnr_db=float(sampled.psnr.mean()),
        start_reconstruction=sampled.frames[at],
        start_psnr_db=float(sampled.psnr[at]),
        rollout=rollout,
        delta_t_psnr_db=delta_t_psnr(model, latents, analysis.frames, codes, max_starts=DELTA_T_STARTS),
        effective_rank=effective_rank(latents),
        probes=probes,
    )


def familiarity_of(side: Side) -> Familiarity:
    """The Clip tab's verdict on the side's clip, in a sentence that names the bundle."""
    vouching = side.analysis.vouching
    if vouching is None or vouching.familiarity is None:
        return Familiarity(
            False, None, f"{side.bundle} cannot judge this clip (it has no reference): the studio cannot vouch for it"
        )
    median = float(np.median(vouching.familiarity))
    if vouching.familiar:
        return Familiarity(True, median, f"familiar to {side.bundle} (median familiarity {median:.2f})")
    return Familiarity(False, median, vouching.warning)


def shipped_consistency(model: WorldModel) -> Consistency | None:
    """The bundle's code consistency from its manifest: on the held-out episodes first, else the example clips;
    its mean is absent (None) where no code in use moves the player."""
    found = first_measured(model.manifest.metrics, F.CODE_CONSISTENCY)
    if found is None:
        return None
    figures, measured_on = found
    in_use, moving = figures.detail(F.CONSISTENCY_CODES_IN_USE), figures.detail(F.CONSISTENCY_MOVING_CODES)
    return Consistency(figures.get(F.CODE_CONSISTENCY), int(in_use or 0), measured_on, int(moving or 0))


def shipped_latents(model: WorldModel) -> ShippedLatents | None:
    """The latents' effective rank and linear probes from the manifest: held-out episodes first, else examples."""
    found = first_measured(model.manifest.metrics, F.EFFECTIVE_RANK)
    if found is None:
        return None
    figures, measured_on = found
    return ShippedLatents(figures.get(F.EFFECTIVE_RANK), figures.labelled(F.LINEAR_PROBE), measured_on)


def shipped_dynamics(model: WorldModel) -> tuple[dict[int, float], str] | None:
    """The bundle's latent prediction error over copying's, per step ahead, from its manifest (held-out first)."""
    found = first_measured(model.manifest.metrics, F.LATENT_ERROR_VS_COPY.at(1))
    if found is None:
        return None
    figures, measured_on = found
    per_step = {}
    for figure, value in figures.figures():
        step = F.LATENT_ERROR_VS_COPY.step_of(figure.key)
        if step is not None and value is not None:
            per_step[step] = value
    return per_step, measured_on


def probe_differences(a: ColumnRanking | None, b: ColumnRanking | None) -> list[ProbeDifference]:
    """The columns both sides probed, the best encoded on either side first."""
    if a is None or b is None:
        return []
    by_column = {result.column: result for result in b.results}
    rows = [
        ProbeDifference(
            r.column,
            r.kind,
            r.metric,
            (r.score, other.score),
            (r.baseline, other.baseline),
            (r.errors_removed, other.errors_removed),
        )
        for r in a.results
        if (other := by_column.get(r.column)) is not None and other.kind == r.kind
    ]
    return sorted(rows, key=lambda row: -max(row.errors_removed))


def _start_frame(analysis: ClipAnalysis, start: int) -> int:
    """The rollout's start, kept where at least one step of truth follows it."""
    return int(np.clip(start, 0, max(0, len(analysis.latents) - 2)))


def _aligned_start(a: Side, b: Side, start_a: int) -> int:
    """B's start: the analyzed frame nearest to A's start's source frame when both read one clip (their strides
    may differ), else the same index."""
    if a.clip != b.clip:
        return _start_frame(b.analysis, start_a)
    source = a.analysis.clip.indices[start_a]
    nearest = int(np.abs(np.asarray(b.analysis.clip.indices) - source).argmin())
    return _start_frame(b.analysis, nearest)


def _rounded(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def _side_summary(figures: SideFigures) -> dict:
    side, rollout = figures.side, figures.rollout
    return {
        "bundle": side.bundle,
        "clip": side.clip.name,
        "frames": len(side.analysis.latents),
        "stride": side.analysis.clip.stride,
        "vouched": figures.familiarity.vouched,
        "familiarity_median": figures.familiarity.median,
        "familiarity": figures.familiarity.sentence,
        F.RECONSTRUCTION_PSNR.key: round(figures.reconstruction_psnr_db, 2),
        "rollout_start_frame": rollout.start,
        "rollout_psnr_db": [round(float(v), 2) for v in rollout.psnr[0]],
        "rollout_copy_baseline_psnr_db": [round(float(v), 2) for v in rollout.copy_psnr],
        F.DELTA_T_PSNR.at(DELTA_T_HORIZON).key: _rounded(figures.delta_t_psnr_db, 2),
        F.EFFECTIVE_RANK.key: round(figures.effective_rank, 2),
        "latent_size": figures.latent_size,
        F.CODES_USED.key: int((figures.usage > 0).sum()),
        "codebook_size": len(figures.usage),
        F.CODEBOOK_PERPLEXITY.key: round(figures.perplexity, 3),
        "code_usage": [round(float(u), 4) for u in figures.usage],
        F.CODE_CONSISTENCY.key: None if figures.consistency is None else _rounded(figures.consistency.mean, 4),
        "code_consistency_measured_on": None if figures.consistency is None else figures.consistency.measured_on,
        "shipped_latents": None if figures.shipped_latents is None else asdict(figures.shipped_latents),
        "shipped_latent_error_over_copy": None if figures.dynamics is None else figures.dynamics[0],
        "columns_probed": 0 if figures.probes is None else len(figures.probes.results),
    }


PROBE_CSV_HEADER = [
    "column",
    "kind",
    "metric",
    "A_held_out",
    "A_baseline",
    "A_errors_removed",
    "B_held_out",
    "B_baseline",
    "B_errors_removed",
    "B_minus_A_errors_removed",
]


def save_probe_csv(comparison: Comparison, path: str | Path) -> Path:
    """One row per column probed on both sides (PROBE_CSV_HEADER)."""
    path = Path(path)
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(PROBE_CSV_HEADER)
        for row in comparison.probes:
            figures = [*row.scores[:1], row.baselines[0], row.errors_removed[0], row.scores[1], row.baselines[1]]
            figures += [row.errors_removed[1], row.difference]
            writer.writerow([row.column, row.kind, row.metric, *(f"{v:.4f}" for v in figures)])
    return path


def save_summary_json(comparison: Comparison, path: str | Path) -> Path:
    path = Path(path)
    path.write_text(json.dumps(comparison.summary(), indent=2))
    return path


def rollout_picture(comparison: Comparison) -> np.ndarray:
    """The rollouts of both sides beside the truth, one titled row each, the start frame (or its reconstruction)
    first, then one frame per step with its PSNR -> [H', W', 3] uint8. Sides sharing a clip share its row."""
    a, b = comparison.sides
    shared = a.side.clip == b.side.clip
    rows = [_truth_row(a), _model_row("A", a)]
    rows += [_model_row("B", b)] if shared else [_truth_row(b), _model_row("B", b)]
    width = max(row.shape[1] for row in rows)
    padded = [np.pad(row, ((0, 4), (0, width - row.shape[1]), (0, 0)), constant_values=255) for row in rows]
    return np.concatenate(padded)


def _truth_row(figures: SideFigures) -> np.ndarray:
    """[h, w, 3]: the clip's start frame and the frames that followed it."""
    rollout, frames = figures.rollout, figures.side.analysis.frames
    truth = np.zeros((rollout.steps, *frames.shape[1:]), np.uint8)  # past the clip's end: black
    truth[: len(rollout.truth)] = rollout.truth
    captions = [f"frame {rollout.start}"] + [f"+{s + 1}" for s in range(rollout.steps)]
    title = f"the clip {figures.side.clip.name}: what happened"
    return _row(np.concatenate([frames[rollout.start : rollout.start + 1], truth]), captions, title)


def _model_row(name: str, figures: SideFigures) -> np.ndarray:
    """[h, w, 3]: the start frame's reconstruction, then the rollout under the clip's own codes."""
    rollout = figures.rollout
    psnr = list(rollout.psnr[0]) + [np.nan] * (rollout.steps - rollout.psnr.shape[1])  # [S]
    captions = [f"decoded · {figures.start_psnr_db:.1f} dB"] + [
        f"+{s + 1} · {value:.1f} dB" if np.isfinite(value) else f"+{s + 1}" for s, value in enumerate(psnr)
    ]
    title = f"{name}: {figures.side.bundle}, its rollout under the clip's own codes (PSNR against the clip)"
    return _row(np.concatenate([figures.start_reconstruction[None], rollout.predicted[0]]), captions, title)


def _row(frames: np.ndarray, captions: list[str], title: str) -> np.ndarray:
    """frames [S+1, H, W, 3] -> one captioned row under a title [h, w, 3]."""
    cells = captioned(enlarged(frames, CELL_HEIGHT), captions)  # [S+1, c + s*H, s*W, 3]
    row = side_by_side(list(cells), gap=4)  # [c + s*H, w, 3]
    return captioned(row[None], [title])[0]
