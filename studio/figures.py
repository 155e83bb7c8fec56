"""The figures a bundle is judged by, declared once: each figure's key, name, unit and meaning.

`studio evaluate` writes them (`studio.evaluation`), a manifest records them per measured set (`metrics.heldout`,
`metrics.examples`), and the Model and Compare tabs, the Play buttons, the training log, the README's table
and the tests read them back through this module. A key is spelled here and nowhere else: code names a figure
by its constant (`RECONSTRUCTION_PSNR`, `NEXT_FRAME_PSNR.at(4)`), never by its string.

A figure a set lacks is absent (`FigureSet.get` gives None), never 0 or 100%: a bundle whose codes all leave the
player still has no code consistency, rather than a perfect one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Figure:
    key: str  # its dotted path in a measured set, e.g. "next_frame_psnr_db.t1"
    name: str  # what a reader calls it
    unit: str  # "dB", "%" (stored as a share), "0–1", "R²", "codes", "dims", "×" (a ratio)
    meaning: str  # one line: what it says about the model

    @property
    def is_share(self) -> bool:
        return self.unit == "%"

    def format(self, value: float | int | None) -> str:
        """The value as the card shows it: a share as a percentage; absent as an en dash."""
        if value is None:
            return "–"
        if self.is_share:
            return f"{100 * value:.1f}"
        if isinstance(value, int):
            return str(value)
        return f"{value:.{UNIT_DIGITS.get(self.unit, 2)}f}"


UNIT_DIGITS = {"dB": 1, "0–1": 2, "R²": 2, "codes": 1, "dims": 1, "×": 2}


@dataclass(frozen=True)
class Series:
    """A figure measured at several steps ahead: `at(t)` is the figure at step t (key `<prefix>.t<t>`)."""

    prefix: str
    name: str  # "Prediction PSNR" -> "Prediction PSNR, 4 steps"
    unit: str
    meaning: str  # said once, on the series' first step in the card

    def at(self, step: int) -> Figure:
        return Figure(
            f"{self.prefix}.t{step}", f"{self.name}, {step} step{'s' if step > 1 else ''}", self.unit, self.meaning
        )

    def step_of(self, key: str) -> int | None:
        """The step of a key of this series, or None when the key is not one of its."""
        head, _, tail = key.rpartition(".t")
        return int(tail) if head == self.prefix and tail.isdigit() else None


@dataclass(frozen=True)
class Labelled:
    """A figure measured per label the game names (`<prefix>.<label>`), such as a linear probe's R²."""

    prefix: str
    name: str  # "Linear probe R²" -> "Linear probe R², paddle x"
    unit: str
    meaning: str  # with "{label}" where the label's words go

    def of(self, label: str) -> Figure:
        words = label.replace("_", " ")
        return Figure(f"{self.prefix}.{label}", f"{self.name}, {words}", self.unit, self.meaning.format(label=words))

    def label_of(self, key: str) -> str | None:
        head, _, tail = key.partition(".")
        return tail if head == self.prefix and tail and "." not in tail else None


# ---- reconstruction -------------------------------------------------------------------------------
RECONSTRUCTION_PSNR = Figure(
    "reconstruction_psnr_db",
    "Reconstruction PSNR",
    "dB",
    "how closely the decoder redraws a frame from its latents (higher is better; above ~40 the eye sees no difference)",
)
RECONSTRUCTION_SPRITE_PSNR = Figure(
    "reconstruction_sprite_psnr_db",
    "Reconstruction PSNR, moving pixels",
    "dB",
    "the same over the pixels that differ from the background (paddle, ball, broken bricks; the player) only: "
    "most of a frame never changes",
)

# ---- prediction ------------------------------------------------------------------------------------
NEXT_FRAME_PSNR = Series(
    "next_frame_psnr_db",
    "Prediction PSNR",
    "dB",
    "the predicted frame, under the codes read off the clip, against the true one",
)
NEXT_FRAME_SPRITE_PSNR = Series(
    "next_frame_sprite_psnr_db", "Prediction PSNR, moving pixels", "dB", "the same over the moving pixels"
)
COPY_BASELINE_PSNR = Series(
    "decoded_copy_baseline_psnr_db",
    "Copy baseline",
    "dB",
    "doing nothing: the start frame taken as the prediction; the predictor must beat it",
)
COPY_BASELINE_SPRITE_PSNR = Series(
    "decoded_copy_baseline_sprite_psnr_db", "Copy baseline, moving pixels", "dB", "the same over the moving pixels"
)
RANDOM_CODES_PSNR = Series(
    "random_codes_psnr_db",
    "Prediction PSNR under random codes",
    "dB",
    "the predictor fed random codes instead of the clip's",
)
DELTA_T_PSNR = Series(
    "delta_t_psnr_db",
    "ΔtPSNR",
    "dB",
    "how much better the clip's own codes predict than random ones: how much the codes control the game (Genie)",
)
LATENT_ERROR_VS_COPY = Series(
    "latent_error_over_copy",
    "Latent prediction error ÷ copying",
    "×",
    "the predicted latents' squared error against the true frame's, over the error of copying the start frame's "
    "latents; below 1 the predictor learnt something copying does not (dynamics)",
)
TEACHER_FORCED_PSNR = Series(
    "teacher_forced_psnr_db",
    "Prediction PSNR, teacher-forced",
    "dB",
    "far ahead under the codes read off the clip",
)
TEACHER_FORCED_COPY_PSNR = Series(
    "teacher_forced_copy_baseline_psnr_db",
    "Copy baseline, far ahead",
    "dB",
    "the start frame taken as the prediction that far ahead",
)

# ---- codes -----------------------------------------------------------------------------------------
CONSISTENCY = "code_consistency"  # the group `studio.behaviour.code_consistency` writes its table under
CODE_CONSISTENCY = Figure(
    f"{CONSISTENCY}.mean",
    "Code consistency",
    "%",
    "held two steps from real frames, how often a code moves the player its commonest way (mean over the codes in "
    "use; absent when no code in use moves the player)",
)
CONSISTENCY_LEFT = Figure(
    f"{CONSISTENCY}.best_left",
    "Code consistency, best left code",
    "%",
    "the most consistent code that moves the player left (absent: no code does)",
)
CONSISTENCY_RIGHT = Figure(
    f"{CONSISTENCY}.best_right",
    "Code consistency, best right code",
    "%",
    "the most consistent code that moves the player right (absent: no code does)",
)
CONSISTENCY_UP = Figure(
    f"{CONSISTENCY}.vertical.best_up",
    "Code consistency, best jump code",
    "%",
    "the most consistent code that moves the player up (a jump; absent: no code does)",
)
CONSISTENCY_CODES_IN_USE = f"{CONSISTENCY}.codes_in_use"  # details of the consistency figures, not figures
CONSISTENCY_MOVING_CODES = f"{CONSISTENCY}.moving_codes"
CONSISTENCY_PER_CODE = f"{CONSISTENCY}.per_code"
CONSISTENCY_VERTICAL_PER_CODE = f"{CONSISTENCY}.vertical.per_code"
CODEBOOK_PERPLEXITY = Figure(
    "codebook_perplexity", "Codebook perplexity", "codes", "how many codes are in use, in effect (K used equally: K)"
)
CODES_USED = Figure("codes_used", "Codes used", "codes", "codes read off at least one transition")
CODE_ACTION_NMI = Figure(
    "code_action_nmi", "Codes ↔ true actions, NMI", "0–1", "how much the code says of the action pressed (1: all)"
)
CODE_ACTION_ACCURACY = Figure(
    "code_action_accuracy",
    "Codes ↔ true actions, accuracy",
    "%",
    "the best one-to-one matching of codes to actions, over transitions",
)
CODE_MOVEMENT_NMI = Figure(
    "code_movement_nmi",
    "Codes ↔ movement class, NMI",
    "0–1",
    "how much the code says of what the action asked of the player (left, none, right; jump)",
)
CODE_MOVEMENT_ACCURACY = Figure(
    "code_movement_accuracy",
    "Codes ↔ movement class, accuracy",
    "%",
    "the best one-to-one matching of codes to movement classes",
)
MOTION_NMI_CEILING = Figure(
    "action_motion_nmi_ceiling",
    "True actions ↔ player motion, NMI",
    "0–1",
    "how much the action pressed says of how the player moved: what a code that reads the player's move alone can say",
)
NMI_SHARE_OF_CEILING = Figure(
    "code_nmi_share_of_ceiling",
    "Code NMI ÷ the motion's",
    "%",
    "code NMI over the motion's; above 100% the codes also read what the player's move does not show (a launch)",
)

# ---- stability -------------------------------------------------------------------------------------
ROLLOUT_CHECKS = "frame_check.rollouts"  # the group `studio.behaviour.rollout_frame_check` writes under
FRAME_CHECK_REAL = Figure(
    "frame_check.real_frames",
    "Frame check, real frames",
    "%",
    "real frames that pass the game's frame check (its layout drawn as the game draws it)",
)
FRAME_CHECK_ROLLOUTS = Figure(
    f"{ROLLOUT_CHECKS}.pass_rate",
    "Frame check, 1,000-step rollouts",
    "%",
    "frames of long rollouts under random codes that still pass it: does the imagined game hold together",
)
FAMILIAR_ROLLOUTS = Figure(
    f"{ROLLOUT_CHECKS}.familiar_rate",
    "Familiarity, 1,000-step rollouts",
    "%",
    "frames of the same rollouts that the studio's familiarity check calls familiar, as Play judges its frames",
)

# ---- the game's moving sprites (a game that defines `sprite_checks`; Breakout: studio/games/breakout.py) -------
SPRITES = "sprites"  # `studio.evaluation` writes under it: the real frames' and the rollouts' checks, the ball kept
SPRITE_CHECKS = ("live_ball", "paddle_drawn", "field_smeared")  # what `Game.sprite_checks` judges on each frame
LIVE_BALL_REAL = Figure(
    f"{SPRITES}.real_frames.live_ball",
    "Live ball, real frames",
    "%",
    "transitions of the real frames whose ball shows in both frames and moves as a ball does: what rollouts aim at",
)
LIVE_BALL_ROLLOUTS = Figure(
    f"{SPRITES}.rollouts.live_ball",
    "Live ball, 1,000-step rollouts",
    "%",
    "steps of the long rollouts whose ball shows in both frames (1–3 px of the open field) and moves 0.5–8 px",
)
PADDLE_DRAWN_ROLLOUTS = Figure(
    f"{SPRITES}.rollouts.paddle_drawn",
    "Paddle drawn, 1,000-step rollouts",
    "%",
    "frames of the same rollouts whose paddle is one red run of 2–9 px, as the game draws it",
)
FIELD_SMEARED_ROLLOUTS = Figure(
    f"{SPRITES}.rollouts.field_smeared",
    "Field smeared, 1,000-step rollouts",
    "%",
    "frames of the same rollouts with more than 6 open-field pixels off the background (a ball lights at most 3)",
)
SPRITE_ROLLOUTS = {  # by the check's name in SPRITE_CHECKS
    "live_ball": LIVE_BALL_ROLLOUTS,
    "paddle_drawn": PADDLE_DRAWN_ROLLOUTS,
    "field_smeared": FIELD_SMEARED_ROLLOUTS,
}
BALL_KEPT = Series(
    f"{SPRITES}.ball_kept",
    "Ball kept",
    "%",
    "true-ball frames whose prediction under the clip's inferred codes draws the ball within 4 px of the true one",
)

# ---- tolerance -------------------------------------------------------------------------------------
TOLERANCE = {  # by the perturbed form's name in studio.perturb.TOLERANCE_FORMS, "clean" first, a screen recording last
    "clean": Figure(
        "tolerance_psnr_db.clean",
        "Tolerance: clean frames",
        "dB",
        "reconstruction of the game's own frames (the emulator's, Procgen's), resized as the studio does",
    ),
    "cut_2_rows": Figure(
        "tolerance_psnr_db.cut_2_rows",
        "Tolerance: 2 rows cut",
        "dB",
        "the same frames with their bottom 2 rows cut, against the clean frame",
    ),
    "cut_4_rows": Figure(
        "tolerance_psnr_db.cut_4_rows", "Tolerance: 4 rows cut", "dB", "2 rows cut at the top and 2 at the bottom"
    ),
    "upscaled_2x": Figure(
        "tolerance_psnr_db.upscaled_2x", "Tolerance: upscaled 2×", "dB", "upscaled twice (nearest neighbour)"
    ),
    "upscaled_3x": Figure(
        "tolerance_psnr_db.upscaled_3x", "Tolerance: upscaled 3×", "dB", "upscaled three times (bilinear)"
    ),
    "reencoded_480x360_crf30": Figure(
        "tolerance_psnr_db.reencoded_480x360_crf30",
        "Tolerance: re-uploaded",
        "dB",
        "stretched to 480×360 and H.264-encoded at CRF 30, as a shared clip might be",
    ),
    "screen_recording": Figure(
        "tolerance_psnr_db.screen_recording",
        "Tolerance: screen recording",
        "dB",
        "fresh levels drawn as the game's window draws them (CoinRun: 512×512), recorded as an H.264 clip and read "
        "as an upload is, against the frames read",
    ),
}
TOLERANCE_FRAMES = "tolerance_psnr_db.frames"

# ---- latents ---------------------------------------------------------------------------------------
EFFECTIVE_RANK = Figure(
    "latent_effective_rank",
    "Effective rank of the latents",
    "dims",
    "how many directions the frames' latents spread over (exp of the entropy of their singular values; 1: collapsed)",
)
LINEAR_PROBE = Labelled(
    "linear_probe_r2",
    "Linear probe R²",
    "R²",
    "held-out R² of a linear map from a frame's latents to its {label} (1: read off exactly; 0: no better than "
    "the mean); what the latent space carries, linearly",
)

# ---- what a measurement was run on (details, not figures) -----------------------------------------
MEASURED_ON = "measured_on"
DETAILS = (  # keys (or prefixes) that record how a figure was measured rather than a figure of the model
    f"{MEASURED_ON}.",
    CONSISTENCY_CODES_IN_USE,
    CONSISTENCY_MOVING_CODES,
    f"{CONSISTENCY}.steps_held",
    f"{CONSISTENCY_PER_CODE}.",
    f"{CONSISTENCY}.vertical.",  # the vertical axis's table; its best jump is CONSISTENCY_UP
    *(f"{ROLLOUT_CHECKS}.{detail}" for detail in ("first_failing_step", "first_unfamiliar_step", "starts", "steps")),
    f"{ROLLOUT_CHECKS}.codes_held",
    TOLERANCE_FRAMES,
)

# The card's order; the series at the steps `studio evaluate` measures (any other step is named on sight).
PREDICTION_STEPS = (1, 4)
LONG_STEPS = (16, 32)
REGISTRY: tuple[Figure, ...] = (
    RECONSTRUCTION_PSNR,
    RECONSTRUCTION_SPRITE_PSNR,
    *(s.at(t) for s in (NEXT_FRAME_PSNR, NEXT_FRAME_SPRITE_PSNR) for t in PREDICTION_STEPS),
    *(s.at(t) for s in (COPY_BASELINE_PSNR, COPY_BASELINE_SPRITE_PSNR) for t in PREDICTION_STEPS),
    RANDOM_CODES_PSNR.at(4),
    DELTA_T_PSNR.at(4),
    *(LATENT_ERROR_VS_COPY.at(t) for t in range(1, 5)),
    *(s.at(t) for s in (TEACHER_FORCED_PSNR, TEACHER_FORCED_COPY_PSNR) for t in LONG_STEPS),
    CODE_CONSISTENCY,
    CONSISTENCY_LEFT,
    CONSISTENCY_RIGHT,
    CONSISTENCY_UP,
    FRAME_CHECK_REAL,
    FRAME_CHECK_ROLLOUTS,
    FAMILIAR_ROLLOUTS,
    LIVE_BALL_REAL,
    *SPRITE_ROLLOUTS.values(),
    BALL_KEPT.at(4),
    *TOLERANCE.values(),
    EFFECTIVE_RANK,
    CODEBOOK_PERPLEXITY,
    CODES_USED,
    CODE_ACTION_NMI,
    CODE_ACTION_ACCURACY,
    CODE_MOVEMENT_NMI,
    CODE_MOVEMENT_ACCURACY,
    MOTION_NMI_CEILING,
    NMI_SHARE_OF_CEILING,
)
SERIES = (
    NEXT_FRAME_PSNR,
    NEXT_FRAME_SPRITE_PSNR,
    COPY_BASELINE_PSNR,
    COPY_BASELINE_SPRITE_PSNR,
    RANDOM_CODES_PSNR,
    DELTA_T_PSNR,
    LATENT_ERROR_VS_COPY,
    TEACHER_FORCED_PSNR,
    TEACHER_FORCED_COPY_PSNR,
    BALL_KEPT,
)
LABELLED = (LINEAR_PROBE,)
_BY_KEY = {figure.key: figure for figure in REGISTRY}
_ORDER = {figure.key: i for i, figure in enumerate(REGISTRY)}


def in_registry_order(figures: Iterable[Figure]) -> list[Figure]:
    """The figures in the card's order (the registry's), any other after them, each once."""
    unique = {figure.key: figure for figure in figures}
    return sorted(unique.values(), key=lambda figure: _ORDER.get(figure.key, len(_ORDER)))


def figure_of(key: str) -> Figure | None:
    """The figure a measured key stands for: a registered one, a series at any step, a label's; None for a
    detail of a measurement (per-code tables, sizes) or a key no one declared."""
    if key in _BY_KEY:
        return _BY_KEY[key]
    for series in SERIES:
        step = series.step_of(key)
        if step is not None:
            return series.at(step)
    for labelled in LABELLED:
        label = labelled.label_of(key)
        if label is not None:
            return labelled.of(label)
    return None


@dataclass
class FigureSet:
    """The figures measured on one set of episodes or clips, by key, with the details of the measurement
    (per-code tables, first failing steps, sizes) kept beside them as recorded."""

    values: dict[str, Any] = field(default_factory=dict)  # flat: dotted key -> number (figures and details)

    def get(self, figure: Figure) -> float | int | None:
        return self.values.get(figure.key)

    def set(self, figure: Figure, value: float | int | None) -> None:
        self.values[figure.key] = value

    def detail(self, key: str) -> Any:
        """A detail recorded under `key` (a dotted prefix gives the nested part), or None."""
        if key in self.values:
            return self.values[key]
        inner = {k.removeprefix(key + "."): v for k, v in self.values.items() if k.startswith(key + ".")}
        return nest(inner) if inner else None

    def figures(self) -> list[tuple[Figure, float | int | None]]:
        """(figure, value) for every key that names a figure, in the registry's order, others after."""
        named = [figure for figure in map(figure_of, self.values) if figure is not None]
        return [(figure, self.values[figure.key]) for figure in in_registry_order(named)]

    def undeclared(self) -> list[str]:
        """Keys recorded here that neither name a figure of the registry nor a detail of a measurement (a
        figure a newer version wrote, say): shown by their key rather than hidden."""
        return [key for key in self.values if figure_of(key) is None and not key.startswith(DETAILS)]

    def labelled(self, kind: Labelled) -> dict[str, float]:
        """label -> value of a per-label figure (e.g. each probed label's R²)."""
        out = {}
        for key, value in self.values.items():
            label = kind.label_of(key)
            if label is not None and value is not None:
                out[label] = value
        return out

    def size(self) -> str:
        """'30 episodes, 7,130 frames', or '' when the set does not say."""
        episodes, frames = self.values.get(f"{MEASURED_ON}.episodes"), self.values.get(f"{MEASURED_ON}.frames")
        return f"{episodes} episodes, {frames:,} frames" if frames is not None else ""

    def to_manifest(self) -> dict:
        return nest(self.values)

    @classmethod
    def from_manifest(cls, nested: dict) -> FigureSet:
        return cls(flatten(nested))

    def __or__(self, other: FigureSet) -> FigureSet:
        return FigureSet({**self.values, **other.values})


MEASURED_SETS = {"heldout": "held-out episodes", "examples": "example clips"}  # a manifest's sets, in this order


def measured_sets(metrics: dict) -> dict[str, FigureSet]:
    """A manifest's `metrics`, one FigureSet per measured set, the known sets first."""
    order = list(MEASURED_SETS)
    names = sorted(metrics, key=lambda name: order.index(name) if name in order else len(order))
    return {name: FigureSet.from_manifest(metrics[name]) for name in names if isinstance(metrics[name], dict)}


def first_measured(metrics: dict, figure: Figure) -> tuple[FigureSet, str] | None:
    """The first set (held-out episodes, else the example clips) that recorded `figure`, named with its size."""
    for name, figures in measured_sets(metrics).items():
        if figure.key in figures.values:
            size = figures.size()
            return figures, MEASURED_SETS.get(name, name) + (f" ({size})" if size else "")
    return None


def flatten(values: dict, prefix: str = "") -> dict[str, Any]:
    flat = {}
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def nest(flat: dict[str, Any]) -> dict:
    nested: dict = {}
    for key, value in flat.items():
        *parents, last = key.split(".")
        inner = nested
        for part in parents:
            inner = inner.setdefault(part, {})
        inner[last] = value
    return nested


def markdown_table() -> str:
    """The registry as the README's table: name, unit, key and meaning of every figure."""
    rows = ["| figure | unit | key | what it says |", "| --- | --- | --- | --- |"]
    for figure in REGISTRY:
        rows.append(f"| {figure.name} | {figure.unit} | `{figure.key}` | {figure.meaning} |")
    for kind in LABELLED:
        figure = kind.of("<label>")
        rows.append(f"| {figure.name} | {figure.unit} | `{figure.key}` | {figure.meaning} |")
    return "\n".join(rows)
