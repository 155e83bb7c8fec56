"""Model tab: the bundle card, the provider actually in use, and the bundle picker."""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr
import numpy as np

from studio.action_codes import agreement
from studio.evaluation import PROBES_KEY, RANK_KEY
from studio.games import ACTION_COLUMN
from studio.labels import LabelsError
from studio.metrics import code_perplexity
from studio.runtime import WorldModel
from studio.ui.state import BundleShelf, ClipState, discard_clip
from studio.ui.tab import Moment, PageEvents, Tab, Updates

REANCHORED = ", each prediction re-anchored through decoder and encoder"
QUANTISED = ", each channel one of {} levels"
FAMILY_MEANING = {  # how each recipe of studio.bundle.MODEL_FAMILIES learnt its latents, in a line
    "reconstruction": "latents learnt by reconstructing pixels (an autoencoder, as Genie)",
    "jepa": "latents learnt by predicting a moving-average target encoder's latents of hidden and future frames, "
    "never pixels (as V-JEPA); the decoder was trained afterwards on the frozen latents, only to look",
}


@dataclass(frozen=True)
class Figure:
    name: str  # what a reader calls it
    unit: str
    meaning: str  # one line: what it says about the model


# The figures `studio evaluate` writes (flattened keys), in the order the card lists them
FIGURES = {
    "reconstruction_psnr_db": Figure(
        "Reconstruction PSNR",
        "dB",
        "how closely the decoder redraws a frame from its "
        "latents (higher is better; above ~40 the eye sees no difference)",
    ),
    "reconstruction_sprite_psnr_db": Figure(
        "Reconstruction PSNR, moving pixels",
        "dB",
        "the same over the paddle, ball and broken bricks only: most of a frame never changes",
    ),
    "next_frame_psnr_db.t1": Figure(
        "Prediction PSNR, 1 step",
        "dB",
        "the predicted next frame, under the codes read off the clip, against the true one",
    ),
    "next_frame_psnr_db.t4": Figure("Prediction PSNR, 4 steps", "dB", "the same four steps ahead"),
    "next_frame_sprite_psnr_db.t1": Figure("Prediction PSNR, 1 step, moving pixels", "dB", "over the moving pixels"),
    "next_frame_sprite_psnr_db.t4": Figure("Prediction PSNR, 4 steps, moving pixels", "dB", "over the moving pixels"),
    "decoded_copy_baseline_psnr_db.t1": Figure(
        "Copy baseline, 1 step",
        "dB",
        "doing nothing: the start frame taken as the prediction; the predictor must beat it",
    ),
    "decoded_copy_baseline_psnr_db.t4": Figure("Copy baseline, 4 steps", "dB", "the same four steps ahead"),
    "decoded_copy_baseline_sprite_psnr_db.t1": Figure(
        "Copy baseline, 1 step, moving pixels", "dB", "over the moving pixels"
    ),
    "decoded_copy_baseline_sprite_psnr_db.t4": Figure(
        "Copy baseline, 4 steps, moving pixels", "dB", "over the moving pixels"
    ),
    "random_codes_psnr_db.t4": Figure(
        "Prediction PSNR under random codes, 4 steps", "dB", "the predictor fed random codes instead of the clip's"
    ),
    "delta_t_psnr_db.t4": Figure(
        "ΔtPSNR, 4 steps",
        "dB",
        "how much better the clip's own codes predict than random ones: how much the codes control the game (Genie)",
    ),
    "teacher_forced_psnr_db.t16": Figure(
        "Prediction PSNR, 16 steps", "dB", "16 steps ahead under the codes read off the clip (teacher-forced)"
    ),
    "teacher_forced_psnr_db.t32": Figure("Prediction PSNR, 32 steps", "dB", "the same 32 steps ahead"),
    "teacher_forced_copy_baseline_psnr_db.t16": Figure(
        "Copy baseline, 16 steps", "dB", "the start frame taken as the prediction 16 steps ahead"
    ),
    "teacher_forced_copy_baseline_psnr_db.t32": Figure("Copy baseline, 32 steps", "dB", "the same 32 steps ahead"),
    "code_consistency.mean": Figure(
        "Code consistency",
        "%",
        "held two steps from real frames, how often a code "
        "moves the player its commonest way (mean over the codes in use)",
    ),
    "code_consistency.best_left": Figure(
        "Code consistency, best left code", "%", "the most consistent code that moves the player left"
    ),
    "code_consistency.best_right": Figure(
        "Code consistency, best right code", "%", "the most consistent code that moves the player right"
    ),
    "frame_check.real_frames": Figure(
        "Frame check, real frames",
        "%",
        "real frames that pass the game's frame check (walls, top bar, dark playfield, a paddle)",
    ),
    "frame_check.rollouts.pass_rate": Figure(
        "Frame check, 1,000-step rollouts",
        "%",
        "frames of long rollouts under random codes that still pass it: does the imagined game hold together",
    ),
    "frame_check.rollouts.familiar_rate": Figure(
        "Familiarity, 1,000-step rollouts",
        "%",
        "frames of the same rollouts that the studio's familiarity check calls familiar, as Play judges its frames",
    ),
    "tolerance_psnr_db.clean": Figure(
        "Tolerance: clean frames", "dB", "reconstruction of the emulator's own frames, resized as the studio does"
    ),
    "tolerance_psnr_db.cut_2_rows": Figure(
        "Tolerance: 2 rows cut", "dB", "the same frames with their bottom 2 rows cut, against the clean frame"
    ),
    "tolerance_psnr_db.cut_4_rows": Figure("Tolerance: 4 rows cut", "dB", "2 rows cut at the top and 2 at the bottom"),
    "tolerance_psnr_db.upscaled_2x": Figure("Tolerance: upscaled 2×", "dB", "upscaled twice (nearest neighbour)"),
    "tolerance_psnr_db.upscaled_3x": Figure("Tolerance: upscaled 3×", "dB", "upscaled three times (bilinear)"),
    "tolerance_psnr_db.reencoded_480x360_crf30": Figure(
        "Tolerance: re-uploaded", "dB", "stretched to 480×360 and H.264-encoded at CRF 30, as a shared clip might be"
    ),
    RANK_KEY: Figure(
        "Effective rank of the latents",
        "dims",
        "how many directions the frames' latents spread over (exp of the entropy of their singular values; 1: "
        "collapsed)",
    ),
    "codebook_perplexity": Figure(
        "Codebook perplexity", "codes", "how many codes are in use, in effect (K codes used equally give K)"
    ),
    "codes_used": Figure("Codes used", "codes", "codes read off at least one transition"),
    "code_action_nmi": Figure(
        "Codes ↔ true actions, NMI", "0–1", "how much the code says of the action pressed (1: everything)"
    ),
    "code_action_accuracy": Figure(
        "Codes ↔ true actions, accuracy", "%", "the best one-to-one matching of codes to actions, over transitions"
    ),
    "code_movement_nmi": Figure(
        "Codes ↔ movement class, NMI",
        "0–1",
        "how much the code says of what the action asked of the player (left, none, right; jump)",
    ),
    "code_movement_accuracy": Figure(
        "Codes ↔ movement class, accuracy", "%", "the best one-to-one matching of codes to movement classes"
    ),
    "action_motion_nmi_ceiling": Figure(
        "True actions ↔ player motion, NMI",
        "0–1",
        "how much the action pressed says of how the player moved: the most a code could say",
    ),
    "code_nmi_share_of_ceiling": Figure("Codes' share of that ceiling", "%", "code NMI over the ceiling"),
}


def linear_probe_figure(label: str) -> Figure:
    """The figure `studio evaluate` writes as `linear_probe_r2.<label>`, for any label a game names."""
    words = label.replace("_", " ")
    return Figure(
        f"Linear probe R², {words}",
        "R²",
        f"held-out R² of a linear map from a frame's latents to its {words} (1: read off exactly; 0: no better "
        "than the mean); what the latent space carries, linearly",
    )


PROBE_PREFIX = f"{PROBES_KEY}."
# what the measurement was rather than a figure of the model: the card says it under the table, or leaves it out
DETAILS = (
    "measured_on.",
    "code_consistency.codes_in_use",
    "code_consistency.steps_held",
    "code_consistency.per_code.",
    "frame_check.rollouts.first_failing_step",
    "frame_check.rollouts.first_unfamiliar_step",
    "frame_check.rollouts.starts",
    "frame_check.rollouts.steps",
    "frame_check.rollouts.codes_held",
    "tolerance_psnr_db.frames",
)
PERCENT = {key for key, figure in FIGURES.items() if figure.unit == "%"}  # stored as shares, shown as percentages
SET_NAMES = {"heldout": "held-out episodes", "examples": "example clips"}
CLIP_COLUMN = "this clip"


def bundle_card(model: WorldModel, clip_figures: dict[str, float] | None = None) -> str:
    """The model card of a loaded bundle, as Markdown; `clip_figures` (flattened keys of FIGURES) are the
    analyzed clip's own, shown beside the bundle's."""
    m = model.manifest
    providers = sorted(set(model.providers.values()))
    lines = [
        f"## {m.name}",
        m.description,
        "",
        f"**Runs on:** `{', '.join(providers)}` (the provider onnxruntime actually uses) · **License:** {m.license}",
        "",
        f"**Family:** `{m.family}`: {FAMILY_MEANING[m.family]}.",
        "",
        "| frame | latent | actions | predictor context |",
        "| --- | --- | --- | --- |",
        f"| {m.frame.height}×{m.frame.width} RGB, {m.frame.resize} | {m.latent.tokens} tokens × {m.latent.dim} "
        f"(grid {'×'.join(map(str, m.latent.grid))}){QUANTISED.format(m.latent.levels) if m.latent.levels else ''} | "
        f"{m.action.codebook_size} codes × {m.action.dim}, read off "
        f"{m.action.window} latent frames | "
        f"{m.predictor.context} frames{REANCHORED if m.predictor.reanchor else ''} |",
    ]
    if m.training.get("action_labels", "").startswith("weak supervision"):
        lines += ["", f"**Action labels:** {m.training['action_labels']}. These codes are not label-free."]
    if m.trained_on:
        lines += ["", "### Trained on", "", *[f"- **{k}:** {v}" for k, v in m.trained_on.items()]]
    if m.metrics or clip_figures:
        lines += ["", "### Measured figures", "", *_metrics_table(m.metrics, clip_figures or {})]
    if m.training:
        lines += ["", "### Training", "", *[f"- **{k}:** {_format(v)}" for k, v in _flatten(m.training).items()]]
    lines += ["", "### Graphs", "", "| graph | inputs | outputs | sha256 |", "| --- | --- | --- | --- |"]
    for role, spec in m.graphs.items():
        inputs = ", ".join(f"`{t.name}` {t.shape}" for t in spec.inputs)
        outputs = ", ".join(f"`{t.name}` {t.shape}" for t in spec.outputs)
        lines.append(f"| {role} (`{spec.file}`) | {inputs} | {outputs} | `{spec.sha256[:16]}…` |")
    return "\n".join(lines)


def clip_figures(state: ClipState) -> dict[str, float]:
    """The figures of FIGURES an analyzed clip gives of itself, as far as the tabs have measured them."""
    codes = state.analysis.actions.codes
    figures = {
        "codebook_perplexity": code_perplexity(codes, state.model.codebook_size),
        "codes_used": len(np.unique(codes)),
    }
    if state.reconstruction is not None:
        figures["reconstruction_psnr_db"] = float(state.reconstruction.psnr.mean())
    if state.delta_t_psnr is not None:
        figures["delta_t_psnr_db.t4"] = state.delta_t_psnr
    if state.labels is not None and ACTION_COLUMN in state.labels.columns:
        try:
            clip = state.analysis.clip
            truth = state.labels.at(ACTION_COLUMN, np.asarray(clip.indices)[:-1], clip.source_frames)
        except LabelsError:
            return figures
        result = agreement(codes, truth, state.model.codebook_size)
        figures |= {"code_action_nmi": result.nmi, "code_action_accuracy": result.accuracy}
    return figures


def _metrics_table(metrics: dict, clip: dict[str, float]) -> list[str]:
    """One row per figure: its name, unit, a column per set it was measured on (and the clip's), its meaning."""
    known_first = sorted(metrics, key=lambda name: list(SET_NAMES).index(name) if name in SET_NAMES else len(SET_NAMES))
    sets = {
        SET_NAMES.get(name, name): _flatten(metrics[name]) for name in known_first if isinstance(metrics[name], dict)
    }
    if clip:
        sets[CLIP_COLUMN] = clip
    lines = [
        "| figure | unit | " + " | ".join(sets) + " | what it says |",
        "| --- | --- |" + " ---: |" * len(sets) + " --- |",
    ]
    probed = dict.fromkeys(key for values in sets.values() for key in values if key.startswith(PROBE_PREFIX))
    named = {**FIGURES, **{key: linear_probe_figure(key.removeprefix(PROBE_PREFIX)) for key in probed}}
    for key, figure in named.items():
        if any(key in values for values in sets.values()):
            values = [_figure_value(figure, key, values.get(key)) for values in sets.values()]
            lines.append(f"| **{figure.name}** | {figure.unit} | " + " | ".join(values) + f" | {figure.meaning} |")
    for key in _unnamed_figures(sets.values()):  # a figure this card has no name for yet still shows, by its key
        lines.append(f"| `{key}` | | " + " | ".join(_format(values.get(key, "–")) for values in sets.values()) + " | |")
    measured = [
        f"{name}: {values['measured_on.episodes']} episodes, {values['measured_on.frames']:,} frames"
        for name, values in sets.items()
        if "measured_on.frames" in values
    ]
    if measured:
        lines += ["", "Measured on the " + "; the ".join(measured) + "."]
    return lines


def _unnamed_figures(sets) -> list[str]:
    """The flattened keys of measured figures that FIGURES does not name and DETAILS does not account for."""
    keys = dict.fromkeys(key for values in sets for key in values)
    return [key for key in keys if key not in FIGURES and not key.startswith((*DETAILS, PROBE_PREFIX))]


def _figure_value(figure: Figure, key: str, value) -> str:
    if value is None:
        return "–"
    if key in PERCENT:
        return f"{100 * value:.1f}"
    digits = {"dB": 1, "0–1": 2, "R²": 2, "codes": 1, "dims": 1}[figure.unit]
    return str(value) if isinstance(value, int) else f"{value:.{digits}f}"


def _flatten(values: dict, prefix: str = "") -> dict:
    flat = {}
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def _format(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list) and len(value) > 8:
        return f"[{len(value)} values]"
    return str(value)


def load_errors_markdown(shelf: BundleShelf) -> str:
    if not shelf.errors:
        return ""
    rows = [f"- **{name}**: {error}" for name, error in sorted(shelf.errors.items())]
    return "### Bundles that could not be loaded\n\n" + "\n".join(rows)


class ModelTab(Tab):
    title, id = "Model", "model"
    css = "#model-card td:nth-child(2) { overflow-wrap: normal; word-break: keep-all; }"  # a unit is never cut

    def build(self, events: PageEvents) -> None:
        """The picker sets the user's bundle, which every other tab reads; picking drops the clip state, and every
        tab its results, which belonged to the previous model (the page's CLEARED moment)."""
        shelf = self.page.shelf
        picker = gr.Dropdown(
            choices=shelf.names,
            value=shelf.default_name,
            label="Bundle",
            info=f"bundles in {shelf.exported_dir.name}/",
            elem_id="model-picker",
        )
        self.card = gr.Markdown(bundle_card(shelf.get(shelf.default_name)), elem_id="model-card")
        gr.Markdown(load_errors_markdown(shelf))
        picked = picker.change(
            self.pick, inputs=picker, outputs=[self.page.bundle, self.card], api_name="select_bundle"
        )
        clip = self.page.clip
        events.publish(Moment.CLEARED, picked.then(_drop_clip, inputs=clip, outputs=clip, api_name=False))

    def opened(self, select) -> None:
        # the analyzed clip's own figures join the card whenever the tab is opened
        select(
            self.show_card,
            inputs=[self.page.clip, self.page.bundle],
            outputs=self.card,
            api_name=False,
            show_progress="hidden",
        )

    def pick(self, name: str) -> Updates:
        return {self.page.bundle: name, self.card: bundle_card(self.page.shelf.get(name))}

    def show_card(self, state: ClipState | None, name: str) -> str:
        model = self.page.shelf.get(name)
        return bundle_card(model, clip_figures(state) if state is not None and state.bundle == name else None)


def _drop_clip(state: ClipState | None) -> None:
    discard_clip(state)
